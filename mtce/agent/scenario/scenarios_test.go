package scenario

import (
	"errors"
	"runtime"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestAddHosts: SysInv adds two workers (POST /v1/ihosts) and hands them
// to the agent; one is already running locked, the other powers on and
// boots. Each becomes locked-disabled-online at its first mtcAlive.
func TestAddHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{hosts: standardInventory(2)})
		newHost := func(i int) sim.Host {
			name := []string{"worker-0", "worker-1"}[i]
			return sim.Host{
				Hostname: name, Personality: "worker", Subfunctions: "worker",
				Administrative: "locked", Operational: "disabled", Availability: "offline",
				MgmtIP: []string{"192.168.204.20", "192.168.204.21"}[i], MgmtMAC: []string{"08:00:27:00:01:00", "08:00:27:00:01:01"}[i],
				ClusterHostIP: []string{"192.168.206.20", "192.168.206.21"}[i],
				BMType:        "none", InvProvision: "unprovisioned",
			}
		}
		w0 := newHost(0)
		e.addHost(hostConfig(w0)) // running, locked (a freshly installed host)
		e.postHost(w0)
		w1 := newHost(1)
		c1 := hostConfig(w1)
		c1.Running = false // powers on now: silent for the boot time
		e.addHost(c1)
		e.postHost(w1)
		calls := e.sim.AgentCalls()
		adds := 0
		for _, c := range calls {
			if c.Operation == "add" && c.Outcome == "pass" {
				adds++
			}
		}
		if adds != 2 {
			t.Fatalf("agent calls %+v", calls)
		}
		if got := len(e.agent.Hosts()); got != 4 {
			t.Fatalf("agent has %d hosts", got)
		}
		t0 := time.Now()
		e.eventually(3*time.Minute, "worker-1 online", func() bool {
			return e.agentHost("worker-1").Online && e.states("worker-1") == "locked-disabled-online"
		})
		if d := time.Since(t0); d < agenttest.DefaultBootTime {
			t.Fatalf("worker-1 online after %v, before it booted", d)
		}
		// worker-0 was already sending mtcAlive when it was added (during
		// host_add_delay): it must become online in SysInv too.
		e.eventually(2*time.Minute, "worker-0 (running when added) online in SysInv", func() bool {
			return e.agentHost("worker-0").Online && e.states("worker-0") == "locked-disabled-online"
		})
		if ah := e.agentHost("worker-1"); ah.Adding {
			t.Errorf("worker-1 still adding after its first mtcAlive")
		}
		// Locked hosts get no services started and nothing else.
		e.during(2*time.Minute, "added hosts stay locked-disabled-online", func() bool {
			return e.states("worker-0") == "locked-disabled-online" && e.states("worker-1") == "locked-disabled-online"
		})
		for _, n := range []string{"worker-0", "worker-1"} {
			for _, c := range e.commands(n) {
				if c == wire.CmdReboot || c == wire.CmdReset {
					t.Errorf("%s got %v", n, c)
				}
			}
		}
	})
}

// TestSwact: a swact of the active controller through SysInv and SM;
// while the swact mutex is held any other action is refused.
func TestSwact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		e.eventually(15*time.Second, "hosts online", func() bool { return e.agentHost("controller-1").Online })
		if a := e.sim.ActiveController(); a != "controller-0" {
			t.Fatalf("active %s", a)
		}
		e.mustAction("controller-0", "swact")
		if !e.agent.Status().Swact.Held {
			t.Fatalf("swact mutex not held after acceptance: %+v", e.agent.Status().Swact)
		}
		err := e.action("worker-0", "lock")
		var se *sim.SysInvError
		if !errors.As(err, &se) || !errors.Is(err, sim.ErrRejected) {
			t.Fatalf("lock during swact: %v", err)
		}
		e.eventually(5*time.Minute, "swact done", func() bool {
			return e.sim.ActiveController() == "controller-1" && !e.agent.Status().Swact.Held
		})
		if sw := e.sim.Swacts(); len(sw) != 1 || sw[0].From != "controller-0" || sw[0].To != "controller-1" {
			t.Fatalf("swacts %+v", sw)
		}
		t.Logf("swact: %+v; controller-0 tasks %v", e.agent.Status().Swact, e.tasks("controller-0"))
		for _, want := range []mtce.Task{mtce.TaskSwactInProgress, mtce.TaskSwactComplete} {
			if !slices.ContainsFunc(e.sim.TaskHistory("controller-0"), func(c sim.TaskChange) bool { return c.Task == string(want) }) {
				t.Errorf("no %q task: %v", want, e.tasks("controller-0"))
			}
		}
		if s := e.states("worker-0"); s != "unlocked-enabled-available" {
			t.Errorf("worker-0 %s after the refused lock", s)
		}
		// The mutex is free again: a lock is accepted.
		e.mustAction("worker-0", "lock")
		e.eventually(2*time.Minute, "worker-0 locked", func() bool { return e.states("worker-0") == "locked-disabled-online" })
	})
}

// TestServicesFailureAutoRecovery: a services-failure flag on an
// unlocked-enabled worker fails it; it is recovered by reboot after
// ar_hostservices_interval (30 s) up to ar_hostservices_threshold (2)
// times; then it is left failed with auto-recovery disabled for that
// cause, until a lock/unlock.
func TestServicesFailureAutoRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		h := e.hosts["worker-0"]
		e.eventually(15*time.Second, "online", func() bool { return e.agentHost("worker-0").Online })
		h.FailServices(-1) // every start fails, so every recovery fails again
		h.SetFlags(wire.FlagMainServicesFail, 0)
		t0 := time.Now()
		e.eventually(15*time.Second, "failed", func() bool { return e.states("worker-0") == "unlocked-disabled-failed" })
		if task := e.simHost("worker-0").Task; task != string(mtce.TaskMainServiceFail) {
			t.Errorf("task %q", task)
		}
		e.eventually(30*time.Minute, "threshold reached", func() bool {
			return slices.Contains(e.agentHost("worker-0").ARDisabled, "hostservices")
		})
		t.Logf("threshold after %v; tasks %v", time.Since(t0), e.tasks("worker-0"))
		reboots := 0
		var at []time.Time
		for _, r := range h.Commands() {
			if r.Message.Command == wire.CmdReboot && !r.At.Before(t0) {
				reboots++
				at = append(at, r.At)
			}
		}
		if reboots != 2 {
			t.Fatalf("%d recovery reboots, want ar_hostservices_threshold = 2 (%v)", reboots, at)
		}
		if d := at[0].Sub(t0); d < 30*time.Second || d > 40*time.Second {
			t.Errorf("first recovery reboot %v after the failure, want the 30 s interval", d)
		}
		e.eventually(time.Minute, "left failed", func() bool {
			return e.states("worker-0") == "unlocked-disabled-failed" && e.simHost("worker-0").Task == string(mtce.TaskARDisabledServices)
		})
		boots := h.State().Boots
		e.during(10*time.Minute, "stays failed, no more reboots", func() bool {
			return e.states("worker-0") == "unlocked-disabled-failed" && h.State().Boots == boots
		})
		// Lock/unlock re-arms auto-recovery; the services now start.
		h.FailServices(0)
		e.mustAction("worker-0", "lock")
		e.eventually(2*time.Minute, "locked", func() bool { return e.states("worker-0") == "locked-disabled-online" })
		e.mustAction("worker-0", "unlock")
		e.eventually(20*time.Minute, "enabled", func() bool {
			return e.states("worker-0") == "unlocked-enabled-available" && len(e.agentHost("worker-0").ARDisabled) == 0
		})
		e.during(2*time.Minute, "stays enabled", func() bool { return e.states("worker-0") == "unlocked-enabled-available" })
	})
}

// TestBootTimeout: an unlocked worker that comes back but never
// configures is rebooted again after worker_boot_timeout with task "Boot
// Failed, rebooting"; the second boot succeeds.
func TestBootTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		h := e.hosts["worker-1"]
		e.eventually(15*time.Second, "online", func() bool { return e.agentHost("worker-1").Online })
		e.mustAction("worker-1", "lock")
		e.eventually(2*time.Minute, "locked", func() bool { return e.states("worker-1") == "locked-disabled-online" })
		h.SetConfigHang(true)
		t0 := time.Now()
		e.mustAction("worker-1", "unlock")
		rebootTimes := func() []time.Time {
			var at []time.Time
			for _, r := range h.Commands() {
				if r.Message.Command == wire.CmdReboot && !r.At.Before(t0) {
					at = append(at, r.At)
				}
			}
			return at
		}
		e.eventually(30*time.Minute, "second reboot", func() bool { return len(rebootTimes()) >= 2 })
		h.SetConfigHang(false) // it is booting: this boot configures
		// The task goes to SysInv through the host's queue in the instant
		// of the reboot command: let that instant finish before reading it.
		synctest.Wait()
		at := rebootTimes()
		timeout := 720 * time.Second // mtc.ini worker_boot_timeout
		if d := at[1].Sub(at[0]); d < timeout || d > timeout+15*time.Second {
			t.Errorf("second reboot %v after the first, want worker_boot_timeout %v", d, timeout)
		}
		if !slices.ContainsFunc(e.sim.TaskHistory("worker-1"), func(c sim.TaskChange) bool { return c.Task == string(mtce.TaskBootFail) }) {
			t.Errorf("no %q task: %v", mtce.TaskBootFail, e.tasks("worker-1"))
		}
		e.eventually(10*time.Minute, "enabled", func() bool { return e.states("worker-1") == "unlocked-enabled-available" })
		if n := len(rebootTimes()); n != 2 {
			t.Errorf("%d reboots", n)
		}
	})
}

// TestSpontaneousReboot: an enabled worker reboots on its own. A long
// boot (offline past the offline rule) and a quick one (back with a reset
// uptime before it is offline) both fail the host while it is away and
// re-enable it when it returns configured and goenabled with its
// services started by its own client; the agent sends it nothing.
func TestSpontaneousReboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{hostFn: func(name string, c *agenttest.HostConfig) {
			if name == "worker-1" {
				c.BootTime = 3 * time.Second
			}
		}})
		for _, name := range []string{"worker-0", "worker-1"} {
			h := e.hosts[name]
			e.eventually(15*time.Second, "online", func() bool { return e.agentHost(name).Online })
			t0 := time.Now()
			n0 := len(h.Commands())
			h.Reboot()
			e.eventually(time.Minute, name+" failed", func() bool { return e.states(name) == "unlocked-disabled-failed" })
			t.Logf("%s failed after %v", name, time.Since(t0))
			e.eventually(10*time.Minute, name+" re-enabled", func() bool { return e.states(name) == "unlocked-enabled-available" })
			t.Logf("%s re-enabled after %v", name, time.Since(t0))
			if st := h.State(); st.Boots != 1 || st.Flags&wire.FlagMainGoEnabled == 0 {
				t.Errorf("%s state %+v", name, st)
			}
			if got := h.Commands()[n0:]; len(got) != 0 {
				t.Errorf("%s: the agent sent %+v", name, got)
			}
			e.eventually(time.Minute, name+" services", func() bool { return h.State().ServicesStarted == mtce.FunctionWorker })
			e.during(time.Minute, name+" stays enabled", func() bool { return e.states(name) == "unlocked-enabled-available" })
		}
	})
}

// TestStandbyControllerLockUnlockSoak: spec I.2's regression soak, 20
// lock/unlock iterations of the standby controller; goroutines do not
// grow.
func TestStandbyControllerLockUnlockSoak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		var g0 int
		for i := range 20 {
			lockUnlock(t, e, "controller-1", false)
			if i == 1 {
				g0 = runtime.NumGoroutine()
			}
		}
		if g := runtime.NumGoroutine(); g > g0+5 {
			t.Errorf("goroutines %d after 20 iterations, %d after 2", g, g0)
		}
		if b := e.hosts["controller-1"].State().Boots; b != 20 {
			t.Errorf("controller-1 booted %d times", b)
		}
		if s := e.states("controller-0"); s != "unlocked-enabled-available" {
			t.Errorf("controller-0 %s", s)
		}
	})
}

// TestKeystoneDownForAMinute: Keystone stops answering and the agent's
// token goes bad; a lock goes on over UDP, its SysInv updates wait for
// a token, and flow once Keystone is back.
func TestKeystoneDownForAMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		e.eventually(15*time.Second, "online", func() bool { return e.agentHost("worker-0").Online })
		r0 := e.agent.Status().Token.Renewals
		id, err := e.sim.Inject(sim.Fault{Name: "keystone-down", Service: sim.Keystone, Kind: sim.FaultDrop})
		if err != nil {
			t.Fatal(err)
		}
		e.sim.CorruptAllTokens()
		t0 := time.Now()
		e.mustAction("worker-0", "lock")
		h := e.hosts["worker-0"]
		e.eventually(time.Minute, "host locked over UDP", func() bool { return h.State().Locked })
		e.during(time.Until(t0.Add(time.Minute)), "SysInv not updated while Keystone is down", func() bool {
			return e.states("worker-0") != "locked-disabled-online"
		})
		e.sim.Remove(id)
		t1 := time.Now()
		e.eventually(3*time.Minute, "SysInv updated", func() bool { return e.states("worker-0") == "locked-disabled-online" })
		t.Logf("SysInv updated %v after Keystone returned", time.Since(t1))
		st := e.agent.Status()
		if !st.Token.Valid || st.Token.Renewals <= r0 {
			t.Errorf("token %+v", st.Token)
		}
		for _, n := range []string{"controller-1", "worker-1"} {
			if !e.agentHost(n).Online || e.states(n) != "unlocked-enabled-available" {
				t.Errorf("%s disturbed: %s", n, e.states(n))
			}
		}
		e.mustAction("worker-0", "unlock")
		e.eventually(20*time.Minute, "enabled", func() bool { return e.states("worker-0") == "unlocked-enabled-available" })
	})
}

// TestSysInv500DuringInventoryLoad: SysInv answers 500 to the first
// inventory reads; the agent retries every 15 s and becomes ready. With
// SysInv failing for good, Run gives up after api_retries + 10 attempts
// with ErrInventory.
func TestSysInv500DuringInventoryLoad(t *testing.T) {
	t.Run("recovers", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			t0 := time.Now()
			e := start(t, options{before: func(e *env) {
				if _, err := e.sim.Inject(sim.Fault{Service: sim.SysInv, Method: "GET", Kind: sim.FaultStatus, Code: 500, Hits: 3}); err != nil {
					t.Fatal(err)
				}
			}})
			d := time.Since(t0)
			n := len(e.sim.RequestsMatching(func(r sim.Record) bool { return r.Service == sim.SysInv && r.Status == 500 }))
			t.Logf("ready after %v with %d SysInv 500s", d, n)
			if n != 3 || d < agent.DefaultInventoryWait {
				t.Fatalf("ready after %v with %d 500s", d, n)
			}
			if len(e.agent.Hosts()) != 4 {
				t.Fatalf("hosts %d", len(e.agent.Hosts()))
			}
			e.eventually(15*time.Second, "online", func() bool { return e.agentHost("worker-1").Online })
		})
	})
	t.Run("gives up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			t0 := time.Now()
			e := start(t, options{noWait: true, before: func(e *env) {
				if _, err := e.sim.Inject(sim.Fault{Service: sim.SysInv, Method: "GET", Kind: sim.FaultStatus, Code: 500}); err != nil {
					t.Fatal(err)
				}
			}})
			err := <-e.runErr
			close(e.runErr)
			d := time.Since(t0)
			attempts := 10 + 10 // mtc.conf api_retries = 10
			t.Logf("gave up after %v: %v", d, err)
			if !errors.Is(err, agent.ErrInventory) {
				t.Fatalf("Run: %v", err)
			}
			if min := time.Duration(attempts-1) * agent.DefaultInventoryWait; d < min || d > min+time.Minute {
				t.Errorf("gave up after %v, want about %v", d, min)
			}
			select {
			case <-e.agent.Ready():
				t.Error("ready")
			default:
			}
		})
	})
}

// TestTokenRenewalSoak: spec I.2's leak soak, 3 virtual hours of token
// renewal every 5 s with 50 hosts sending mtcAlive; live heap and
// goroutines stay flat.
func TestTokenRenewalSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	synctest.Test(t, func(t *testing.T) {
		inv := sim.Inventory(50)
		e := start(t, options{hosts: inv, agentFn: func(c *agent.Config) {
			c.Keystone.RefreshPeriod = 5 * time.Second
		}, simCfg: func(c *sim.Config) {
			// The simulator shares the heap being measured: bound its
			// record logs so that they are full before the first
			// measurement (at the default 10,000 entries they fill for
			// the whole soak, ~200 KiB/h of growth that is not the
			// agent's).
			c.RecordLimit, c.HistoryLimit = 200, 32
		}})
		e.eventually(15*time.Second, "online", func() bool {
			for _, h := range e.agent.Hosts() {
				if !h.Online {
					return false
				}
			}
			return true
		})
		measure := func() (int, uint64) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return runtime.NumGoroutine(), ms.HeapAlloc
		}
		r0 := e.agent.Status().Token.Renewals
		time.Sleep(30 * time.Minute)
		g1, h1 := measure()
		var trend []uint64
		for range 5 {
			time.Sleep(30 * time.Minute)
			_, h := measure()
			trend = append(trend, h>>10)
		}
		g2, h2 := measure()
		t.Logf("live heap every 30 min after the first: %v KiB", trend)
		r := e.agent.Status().Token.Renewals - r0
		t.Logf("renewals %d in 3 h; goroutines %d → %d; live heap %d → %d KiB; sim token requests %d",
			r, g1, g2, h1>>10, h2>>10, e.sim.Stats().TokenRequests)
		if r < 3*3600/5*9/10 {
			t.Errorf("%d renewals in 3 h, want about one per 5 s", r)
		}
		if g2 > g1+5 {
			t.Errorf("goroutines grew %d → %d", g1, g2)
		}
		// The simulator's bounded record logs fill during the first
		// hours; the last hour must be flat.
		if last := int64(trend[4]) - int64(trend[2]); last > 256 {
			t.Errorf("live heap grew %d KiB in the last hour (%v KiB)", last, trend)
		}
		if h2 > h1+h1/4+(1<<20) {
			t.Errorf("live heap grew %d → %d KiB", h1>>10, h2>>10)
		}
		for _, h := range e.agent.Hosts() {
			if !h.Online || h.Avail != mtce.AvailAvailable {
				t.Errorf("%s online=%v %v", h.Name, h.Online, h.Avail)
			}
		}
	})
}
