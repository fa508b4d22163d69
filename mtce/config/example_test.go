package config_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"opendev.org/starlingx/metal-go/mtce/config"
)

// write puts content at a StarlingX path under root.
func write(root, path, content string) {
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		panic(err)
	}
}

func ExampleLoadMtc() {
	root, _ := os.MkdirTemp("", "mtc")
	defer os.RemoveAll(root)
	write(root, config.MtcConfPath, `
[agent]
mtc_agent_port = 2101        ; mtcAgent receive port
[client]
mtc_rx_mgmnt_port = 2118
mtc_rx_clstr_port = 2115
[timeouts]
swact_timeout = 10           ; below the 60 s minimum
work_queue_timeout = 900     ; above 500: mtce uses 60, not the stock 200
`)
	// Log without timestamps so that the output is stable.
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "file" {
				return slog.Attr{}
			}
			return a
		},
	}))
	m, err := config.LoadMtc(config.Config{Root: root, Role: config.RoleClient, Logger: log})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Timeouts.Swact, m.Timeouts.WorkQueue, m.Timeouts.HostServices, m.Client.MtcRxMgmtPort)
	// Output:
	// level=WARN msg="config value corrected" section=timeouts key=swact_timeout read=10 used=60 reason="(override) below the 60 s minimum"
	// level=WARN msg="config value corrected" section=timeouts key=work_queue_timeout read=900 used=60 reason="0 or above 500 s; mtce uses MTC_WORKQUEUE_TIMEOUT"
	// 1m0s 1m0s 5m0s 2118
}

func ExampleLoadPlatform() {
	root, _ := os.MkdirTemp("", "platform")
	defer os.RemoveAll(root)
	write(root, config.PlatformConfPath, "nodetype=controller\nsubfunction=controller,worker\n"+
		"system_type=All-in-one\nsystem_mode=duplex-direct\nmanagement_interface=vlan166\n")
	p, err := config.LoadPlatform(config.Config{Root: root, Role: config.RoleClient})
	if err != nil {
		panic(err)
	}
	fmt.Println(p.SystemType, p.SystemType.IsAIO(), p.Functions, p.Functions.Main(), p.Simplex, p.Ready())
	// Output:
	// duplex-direct true controller,worker controller false <nil>
}

func ExampleSecret() {
	s := config.Secret("hunter2")
	fmt.Println(s, fmt.Sprintf("%q %#v", s, s), len(s.Reveal()))
	// Output:
	// [redacted] "[redacted]" "[redacted]" 7
}
