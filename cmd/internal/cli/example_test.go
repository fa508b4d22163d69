package cli_test

import (
	"errors"
	"fmt"

	"opendev.org/starlingx/metal-go/cmd/internal/cli"
	"opendev.org/starlingx/metal-go/mtce/config"
)

func ExampleConfigError() {
	_, err := cli.ParsePort("/etc/mtc.ini", "agent", "keystone_auth_port", "abc")
	fmt.Println(cli.ConfigError("mtcagent", err))

	err = errors.Join(
		&config.MissingKeyError{File: "/etc/mtc.conf", Section: "agent", Key: "mtc_agent_port"},
		&config.MissingKeyError{File: "/etc/mtc.conf", Section: "client", Key: "mtc_rx_mgmnt_port"})
	fmt.Println(cli.ConfigError("mtcagent", err))
	// Output:
	// mtcagent: /etc/mtc.ini: [agent] keystone_auth_port: "abc" is not a port
	// mtcagent: /etc/mtc.conf: required keys missing: [agent] mtc_agent_port, [client] mtc_rx_mgmnt_port
}
