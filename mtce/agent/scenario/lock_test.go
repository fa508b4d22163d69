package scenario

import (
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestStartupOnline: after the inventory load every host's mtcAlive
// makes it online in the agent, and SysInv keeps its states.
func TestStartupOnline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		e.eventually(10*time.Second, "all hosts online", func() bool {
			for _, h := range e.agent.Hosts() {
				if !h.Online {
					return false
				}
			}
			return len(e.agent.Hosts()) == 4
		})
		for _, n := range []string{"controller-0", "controller-1", "worker-0", "worker-1"} {
			if s := e.states(n); s != "unlocked-enabled-available" {
				t.Errorf("%s: %s", n, s)
			}
		}
	})
}

// lockUnlock runs lock (or force-lock) then unlock of host through
// SysInv and checks every step of the exchange.
func lockUnlock(t *testing.T, e *env, name string, force bool) {
	t.Helper()
	h := e.hosts[name]
	cfg := h.Config()
	aio := cfg.Subfunctions.Has(mtce.FunctionController | mtce.FunctionWorker)
	var stops []wire.Command
	for _, fn := range []mtce.NodeFunctions{mtce.FunctionController, mtce.FunctionWorker, mtce.FunctionStorage} {
		if cfg.Subfunctions.Has(fn) {
			c, _ := wire.HostServicesCommand(fn, false)
			stops = append(stops, c)
		}
	}
	e.eventually(15*time.Second, name+" online", func() bool { return e.agentHost(name).Online })
	boots := h.State().Boots
	t0 := time.Now()
	act := "lock"
	if force {
		act = "force-lock"
	}
	e.mustAction(name, act)
	sawOffline := false
	e.eventually(2*time.Minute, name+" locked-disabled-online", func() bool {
		s := e.states(name)
		sawOffline = sawOffline || s == "locked-disabled-offline"
		return s == "locked-disabled-online" && e.simHost(name).Task == "" && e.agentHost(name).Running == "" &&
			(!force || h.State().Boots > boots)
	})
	if force && !sawOffline {
		t.Errorf("force-lock %s: SysInv never showed the reset host offline", name)
	}
	cmds := e.commandsSince(name, t0)
	want := append(append([]wire.Command{}, stops...), wire.CmdLocked)
	if force {
		want = append(want, wire.CmdReset)
	}
	if !ordered(cmds, want...) {
		t.Fatalf("%s %s: host got %v, want %v in order", act, name, cmds, want)
	}
	t.Logf("%s %s: %v after %v; host got %v", act, name, e.states(name), time.Since(t0), cmds)
	st := h.State()
	if !st.Locked || !st.LockPersist || st.ServicesStarted != 0 {
		t.Fatalf("%s %s: host state %+v", act, name, st)
	}
	if force && st.Boots != boots+1 {
		t.Fatalf("force-lock %s: host booted %d times, want 1 (the reset)", name, st.Boots-boots)
	}
	if aio {
		if s := e.subfStates(name); s != "disabled-online" {
			t.Errorf("%s %s: subfunction %s", act, name, s)
		}
	}
	e.notified(name, t0, "disabled")
	// Locked hosts stay locked-disabled-online: nothing else happens.
	e.during(time.Minute, name+" stays locked", func() bool { return e.states(name) == "locked-disabled-online" })
	boots = h.State().Boots

	// Unlock: unlocked (24) first, then reboot; back configured and
	// goenabled with its services started by its own client.
	t1 := time.Now()
	e.mustAction(name, "unlock")
	sawOffline = false
	e.eventually(20*time.Minute, name+" unlocked-enabled-available", func() bool {
		s := e.states(name)
		sawOffline = sawOffline || e.simHost(name).Availability == "offline"
		return s == "unlocked-enabled-available" && e.simHost(name).Task == "" && e.agentHost(name).Running == ""
	})
	if !sawOffline {
		t.Errorf("unlock %s: SysInv never showed the rebooting host offline", name)
	}
	cmds = e.commandsSince(name, t1)
	if !ordered(cmds, wire.CmdUnlocked, wire.CmdReboot) || len(cmds) < 2 || cmds[0] != wire.CmdUnlocked {
		t.Fatalf("unlock %s: host got %v, want unlocked then reboot", name, cmds)
	}
	t.Logf("unlock %s: %v after %v; host got %v", name, e.states(name), time.Since(t1), cmds)
	st = h.State()
	if st.Locked || st.LockPersist || st.Boots != boots+1 {
		t.Fatalf("unlock %s: host state %+v (boots before %d)", name, st, boots)
	}
	if aio {
		if s := e.subfStates(name); s != "enabled-available" {
			t.Errorf("unlock %s: subfunction %s", name, s)
		}
	}
	e.notified(name, t1, "enabled")
	// Its services were started by its own client (E.3), controller then
	// worker on AIO.
	e.eventually(time.Minute, name+" services started", func() bool {
		return h.State().ServicesStarted == h.Config().Subfunctions&(mtce.FunctionController|mtce.FunctionWorker|mtce.FunctionStorage) ||
			!aio && h.State().ServicesStarted == cfg.Personality.Function()
	})
	e.during(time.Minute, name+" stays enabled", func() bool { return e.states(name) == "unlocked-enabled-available" })
}

func TestLockUnlockWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		lockUnlock(t, e, "worker-0", false)
		if s := e.states("worker-1"); s != "unlocked-enabled-available" {
			t.Errorf("worker-1 disturbed: %s", s)
		}
	})
}

func TestForceLockUnlockWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		lockUnlock(t, e, "worker-1", true)
	})
}

func TestLockUnlockAIOController(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{aio: true})
		lockUnlock(t, e, "controller-1", false)
	})
}

func TestForceLockUnlockAIOController(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{aio: true})
		lockUnlock(t, e, "controller-1", true)
	})
}

// notified checks that the VIM got a state change of host with
// operational oper since t, and SM a PATCH of a controller's service node.
func (e *env) notified(name string, t time.Time, oper string) {
	e.t.Helper()
	ok := false
	for _, c := range e.sim.VIMStateChanges() {
		if c.Hostname == name && !c.Time.Before(t) && c.State.Operational == oper {
			ok = true
		}
	}
	if !ok {
		e.t.Errorf("%s: no VIM state change to %s since %v: %+v", name, oper, t, e.sim.VIMStateChanges())
	}
	if !e.hosts[name].Config().Subfunctions.Has(mtce.FunctionController) {
		return
	}
	sm := e.sim.RequestsMatching(func(r sim.Record) bool {
		return r.Service == sim.SM && r.Method == "PATCH" && r.Host == name && !r.Time.Before(t) && r.Status/100 == 2
	})
	if len(sm) == 0 {
		e.t.Errorf("%s: no SM service-node PATCH since %v", name, t)
	}
}
