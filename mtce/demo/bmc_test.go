package demo

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The agent's BMC actions go to the host's Redfish emulator through the
// real Redfish driver, and the emulator's power changes are played on the
// simulated host: power-off takes a locked host down (its client stops),
// power-on boots it again (a fresh client, locked: no auto-start).
func TestBMCPower(t *testing.T) {
	d, ev := newDemo(t, Config{ScriptTime: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	const h = "controller-1"
	wait := func(what string, cond func() string) {
		t.Helper()
		wctx, c := context.WithTimeout(ctx, 20*time.Second)
		defer c()
		if err := d.until(wctx, cond); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wait("up", func() string {
		if len(d.commands(h, 1)) < 2 {
			return "auto-start not done"
		}
		return ""
	})
	if err := d.Action(ctx, h, "lock"); err != nil {
		t.Fatal(err)
	}
	wait("locked", func() string {
		if s := d.states(h); s != "locked-disabled-online" {
			return s
		}
		return ""
	})
	if err := d.Action(ctx, h, "power-off"); err != nil {
		t.Fatal(err)
	}
	wait("powered off", func() string {
		if p := d.byName[h].bmc.PowerState(); p != "Off" {
			return "BMC power " + p
		}
		if v := d.Snapshot(); v.Hosts[1].Machine != "down" {
			return "machine " + v.Hosts[1].Machine
		}
		return ""
	})
	boots := d.Boots(h)
	if err := d.Action(ctx, h, "power-on"); err != nil {
		t.Fatal(err)
	}
	wait("powered on and booted", func() string {
		if p := d.byName[h].bmc.PowerState(); p != "On" {
			return "BMC power " + p
		}
		if d.Boots(h) != boots+1 {
			return "not booted"
		}
		return ""
	})
	// Locked: the restored /var/run/.node_locked keeps the auto-start off.
	wait("no auto-start", func() string {
		for _, e := range ev.events() {
			if e.Host == h && e.Text == "auto-start: none (node locked)" {
				return ""
			}
		}
		return "no locked auto-start event"
	})
	if got := d.commands(h, boots+1); len(got) != 0 {
		t.Errorf("a locked host ran %v after its boot", got)
	}
}

// What each Redfish reset does to the simulated host.
func TestBMCResetTypes(t *testing.T) {
	d := newUnstarted(t, DefaultConfig())
	defer d.Close()
	h := d.byName["controller-1"]
	rt := bmcTransport{h}
	reset := func(typ string) {
		t.Helper()
		req, _ := http.NewRequest("POST", "https://"+h.bmcAddr+"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
			strings.NewReader(`{"ResetType":"`+typ+`"}`))
		req.SetBasicAuth(bmcUser, bmcPassword)
		req.Header.Set("Content-Type", "application/json")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s: %s", typ, resp.Status)
		}
	}
	next := func() string {
		select {
		case c := <-h.cmds:
			return c.String()
		default:
			return "nothing"
		}
	}
	for _, c := range []struct{ reset, want string }{
		{"ForceRestart", "reboot"},
		{"On", "nothing"},
		{"Nmi", "nothing"},
		{"ForceOff", "power-off"},
		{"On", "boot"},
		{"PowerCycle", "reboot"},
		{"GracefulShutdown", "power-off"},
		{"PowerCycle", "boot"},
	} {
		reset(c.reset)
		if got := next(); got != c.want {
			t.Errorf("%s: host got %s, want %s", c.reset, got, c.want)
		}
	}
}
