package ipmi_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
	"opendev.org/starlingx/metal-go/bmc/ipmi"
	"opendev.org/starlingx/metal-go/bmc/ipmitool"
)

// BenchmarkPowerStatus measures one power-status round trip against the
// same ipmi_sim in the same run:
//
//	ipmi/reuse          go-ipmi driver, one RMCP+ session for all calls
//	ipmi/per-call       go-ipmi driver, a session opened and closed per call
//	ipmitool-driver     bmc/ipmitool driver (one ipmitool process per call)
//	ipmitool-exec       the baseline: ipmitool exec'd directly, as StarlingX
//	                    runs it (-I lanplus -R 1 -f <pwfile>)
//
// plus ipmi/reuse/device-id (Get Device ID, which ipmi_sim answers without
// running its chassis-control script) to separate protocol cost from the
// simulator's popen. Run with:
//
//	CI=true go test -run '^$' -bench PowerStatus -benchtime 200x ./bmc/ipmi/
func BenchmarkPowerStatus(b *testing.B) {
	bmctest.RequirePeer(b, "ipmi_sim", "ipmitool")
	sim := bmctest.StartIPMISim(b, bmctest.IPMISimOptions{})
	ctx := context.Background()

	goipmi := func(b *testing.B, mode ipmi.SessionMode) *ipmi.Driver {
		cfg := ipmi.DefaultConfig()
		cfg.Host, cfg.Port, cfg.Username, cfg.Password = sim.Host, sim.Port, sim.Username, sim.Password
		cfg.Session = mode
		d, err := ipmi.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Open(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close(ctx) })
		return d
	}
	status := func(b *testing.B, d bmc.Driver) {
		for b.Loop() {
			if _, err := d.PowerStateGet(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("ipmi/reuse", func(b *testing.B) { status(b, goipmi(b, ipmi.SessionReuse)) })
	b.Run("ipmi/per-call", func(b *testing.B) { status(b, goipmi(b, ipmi.SessionPerCall)) })
	b.Run("ipmi/reuse/device-id", func(b *testing.B) {
		d := goipmi(b, ipmi.SessionReuse)
		for b.Loop() {
			if _, err := d.BMCInfo(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ipmitool-driver", func(b *testing.B) {
		cfg := ipmitool.DefaultConfig()
		cfg.Host, cfg.Port, cfg.Username, cfg.Password = sim.Host, sim.Port, sim.Username, sim.Password
		d, err := ipmitool.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Open(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close(ctx) })
		status(b, d)
	})
	b.Run("ipmitool-exec", func(b *testing.B) {
		pw := filepath.Join(b.TempDir(), "pw")
		if err := os.WriteFile(pw, []byte(sim.Password.Reveal()), 0o600); err != nil {
			b.Fatal(err)
		}
		args := []string{"-I", "lanplus", "-H", sim.Host, "-p", strconv.Itoa(sim.Port), "-U", sim.Username,
			"-C", "3", "-R", "1", "-f", pw, "chassis", "power", "status"}
		for b.Loop() {
			out, err := exec.Command("ipmitool", args...).Output()
			if err != nil || !strings.HasPrefix(string(out), "Chassis Power is") {
				b.Fatalf("ipmitool: %v %q", err, out)
			}
		}
	})
}
