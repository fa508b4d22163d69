package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"opendev.org/starlingx/metal-go/mtce/client"
	"opendev.org/starlingx/metal-go/mtce/config"
)

// A Config names its first missing field.
func ExampleConfig_Validate() {
	cfg := client.DefaultConfig()
	fmt.Println(cfg.Validate())
	// Output: client: invalid configuration: Hostname: required
}

// The wiring of a daemon on a real host. Without Actions the client
// refuses to reboot the machine; client.SystemActions must be asked for.
func ExampleNew() {
	cc := config.Config{Root: "/", Role: config.RoleClient}
	mtc, err := config.LoadMtc(cc)
	if err != nil {
		fmt.Println(err)
		return
	}
	plat, err := config.LoadPlatform(cc)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := client.DefaultConfig()
	cfg.Hostname = "compute-0"
	cfg.Mtc, cfg.Platform = mtc, plat
	cfg.MgmtIP = netip.MustParseAddr("192.168.204.20")
	cfg.MgmtMAC = "08:00:27:12:34:56"
	cfg.Controller = netip.MustParseAddr("192.168.204.2")
	cfg.Actions = client.SystemActions(client.SystemCommands{}) // this host may be rebooted
	cfg.Logger = slog.Default()

	c, err := client.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_ = c.Run(ctx)
}
