package agent

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLoadAndValidate(t *testing.T) {
	c := testConfigNoSim(t)
	if c.Hostname != "controller-0" || c.Mtc == nil || c.Platform == nil {
		t.Fatalf("Load: %+v", c)
	}
	if c.SysInvURL != "http://192.168.204.2:6385" || c.VIMURL != "http://localhost:30001" || c.BarbicanURL != "http://192.168.204.2:9311" {
		t.Errorf("endpoints: %s %s %s", c.SysInvURL, c.VIMURL, c.BarbicanURL)
	}
	if c.KeystoneURL != "http://localhost:5000/v3" || c.Keystone.Username != "mtce" || c.Keystone.Region != "RegionOne" {
		t.Errorf("keystone: %s %s %s", c.KeystoneURL, c.Keystone.Username, c.Keystone.Region)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	bad := c
	bad.Hostname, bad.Mtc, bad.SysInvURL = "", nil, "ftp://x"
	err := bad.Validate()
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "Hostname") || !strings.Contains(err.Error(), "SysInvURL") {
		t.Errorf("Validate of a bad config: %v", err)
	}
	if _, err := Load(Paths{Root: t.TempDir(), Hostname: "x"}, nil); err == nil || !strings.Contains(err.Error(), "mtc.conf") {
		t.Errorf("Load of an empty root: %v (want the file named)", err)
	}
}

func testConfigNoSim(t *testing.T) Config {
	t.Helper()
	c, err := Load(Paths{Root: mustAbs(t, "testdata/root"), Hostname: "controller-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOfflineRule: offline_period × offline_threshold with its clamps.
func TestOfflineRule(t *testing.T) {
	c := testConfigNoSim(t)
	a, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.offlineAfter(); got != MinOfflineAfter { // 100 ms × 90 = 9 s, raised
		t.Errorf("stock offline rule %v, want %v", got, MinOfflineAfter)
	}
	m := *c.Mtc
	m.Agent.OfflinePeriod, m.Agent.OfflineThreshold = time.Second, 20
	if err := a.Reload(&m); err != nil {
		t.Fatal(err)
	}
	if got := a.offlineAfter(); got != 20*time.Second {
		t.Errorf("offline rule %v, want 20s", got)
	}
	m.Agent.OfflineThreshold = 100000
	a.Reload(&m)
	if got := a.offlineAfter(); got != MaxOfflineAfter {
		t.Errorf("offline rule %v, want the cap", got)
	}
}

// TestStartKeystoneDownThenUp: start-up waits for Keystone (down for a
// minute) and is ready soon after it answers.
func TestStartKeystoneDownThenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := sim.New(simConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		id, _ := s.Inject(sim.Fault{Service: sim.Keystone, Kind: sim.FaultStatus, Code: 503})
		n := newMemNet()
		c := testConfig(t, s, n)
		var logs syncBuffer
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		a, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- a.Run(ctx) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case <-a.Ready():
			t.Fatal("ready while Keystone is down")
		default:
		}
		if !strings.Contains(logs.String(), "Keystone unreachable") {
			t.Errorf("no unreachable line in %s", logs.String())
		}
		if st := a.Status(); !strings.Contains(st.Phase, "token") || st.Token.Valid {
			t.Errorf("status while waiting: %+v", st)
		}
		s.Remove(id)
		<-a.Ready()
		if d := time.Since(start); d > time.Minute+5*time.Second {
			t.Errorf("ready %v after start, want within 5 s of Keystone's return", d)
		}
		if st := a.Status(); !st.Token.Valid || !st.Ready || st.Hosts != 3 {
			t.Errorf("status when ready: %+v", st)
		}
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestStartSysInv500ThenRecovery: SysInv answers 500 three times; the
// load retries 15 s apart and then succeeds.
func TestStartSysInv500ThenRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := sim.New(simConfig())
		defer s.Close()
		s.Inject(sim.Fault{Service: sim.SysInv, Method: "GET", Kind: sim.FaultStatus, Code: 500, Hits: 3})
		a, _ := New(testConfig(t, s, newMemNet()))
		start := time.Now()
		stop := started(t, a)
		if d := time.Since(start); d < 45*time.Second || d > 50*time.Second {
			t.Errorf("ready after %v, want 3 failures 15 s apart (45 s)", d)
		}
		if got := a.met.inventoryFailures.Load(); got != 3 {
			t.Errorf("inventory failures %d, want 3", got)
		}
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestStartInventoryGivesUp: after InventoryAttempts failures Run returns
// ErrInventory naming the last error.
func TestStartInventoryGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := sim.New(simConfig())
		defer s.Close()
		s.Inject(sim.Fault{Service: sim.SysInv, Method: "GET", Kind: sim.FaultStatus, Code: 500})
		c := testConfig(t, s, newMemNet())
		c.InventoryAttempts = 4
		a, _ := New(c)
		start := time.Now()
		err := a.Run(t.Context())
		if !errors.Is(err, ErrInventory) || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "4 attempts") {
			t.Errorf("Run: %v", err)
		}
		if d := time.Since(start); d != 45*time.Second {
			t.Errorf("gave up after %v, want 3 waits of 15 s", d)
		}
		select {
		case <-a.Ready():
			t.Error("ready after giving up")
		default:
		}
	})
}

// TestStartDefaultAttempts: the default budget is api_retries + 10.
func TestStartDefaultAttempts(t *testing.T) {
	a, err := New(testConfigNoSim(t))
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.InventoryAttempts != 20 {
		t.Errorf("attempts %d, want 20", a.cfg.InventoryAttempts)
	}
}

// TestCancelDuringStartup: a cancelled context during the token wait ends
// Run promptly with nil.
func TestCancelDuringStartup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := sim.New(simConfig())
		defer s.Close()
		s.Inject(sim.Fault{Service: sim.Keystone, Kind: sim.FaultStatus, Code: 401})
		c := testConfig(t, s, newMemNet())
		var logs syncBuffer
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		a, _ := New(c)
		ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
		defer cancel()
		start := time.Now()
		if err := a.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
		if d := time.Since(start); d != 40*time.Second {
			t.Errorf("Run took %v, want to end at the cancel (40 s)", d)
		}
		if !strings.Contains(logs.String(), "Keystone rejects the credentials (wrong credentials)") {
			t.Errorf("no wrong-credentials line in %s", logs.String())
		}
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := a.Run(t.Context()); !errors.Is(err, ErrAlreadyRunning) {
			t.Errorf("second Run: %v", err)
		}
	})
}

// TestLockUnlockWorker: lock and unlock of worker-0 through the full
// message exchange with a fake client, results reaching SysInv and VIM.
func TestLockUnlockWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		s, _ := sim.New(sc)
		defer s.Close()
		n := newMemNet()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var fakes []*fakeHost
		for _, h := range sc.Hosts[1:] {
			f := n.addHost(t, h, false)
			fakes = append(fakes, f)
			go f.run(ctx)
		}
		w := fakes[1]
		a, _ := New(testConfig(t, s, n))
		stop := started(t, a)

		if err := a.Request(ctx, "worker-0", mtce.ActionLock); err != nil {
			t.Fatalf("lock: %v", err)
		}
		if err := waitUntil(time.Minute, func() bool {
			h, _ := s.Host("worker-0")
			return h.Administrative == "locked" && h.Operational == "disabled" && h.Availability == "online"
		}); err != nil {
			h, _ := s.Host("worker-0")
			t.Fatalf("sysinv after lock: %+v", h)
		}
		cmds := w.commands()
		if !hasCmd(cmds, wire.CmdStopWorkerServices) || !hasCmd(cmds, wire.CmdLocked) {
			t.Errorf("lock commands %v", cmds)
		}
		if r := hostRec(a, "worker-0"); r.Admin != mtce.AdminLocked || r.Action != mtce.ActionNone {
			t.Errorf("record after lock: %+v", r)
		}
		if !vimSaw(s, "worker-0", "locked", "disabled") {
			t.Errorf("VIM did not see the lock: %+v", s.VIMStateChanges())
		}

		// Unlock: unlocked message, reboot (30 s silent), back with a
		// reset uptime, configured and goenabled → enabled.
		start := time.Now()
		if err := a.Request(ctx, "worker-0", mtce.ActionUnlock); err != nil {
			t.Fatalf("unlock: %v", err)
		}
		if err := waitUntil(3*time.Minute, func() bool {
			h, _ := s.Host("worker-0")
			return h.Administrative == "unlocked" && h.Operational == "enabled" && h.Availability == "available"
		}); err != nil {
			h, _ := s.Host("worker-0")
			t.Fatalf("sysinv after unlock: %+v (record %+v)", h, hostRec(a, "worker-0"))
		}
		if d := time.Since(start); d < 30*time.Second || d > 45*time.Second {
			t.Errorf("unlock took %v, want the 30 s boot plus at most one mtcAlive period and the updates", d)
		}
		cmds = w.commands()
		if !hasCmd(cmds, wire.CmdUnlocked) || !hasCmd(cmds, wire.CmdReboot) {
			t.Errorf("unlock commands %v", cmds)
		}
		if !vimSaw(s, "worker-0", "unlocked", "enabled") {
			t.Errorf("VIM did not see the enable")
		}
		if r := hostRec(a, "worker-0"); r.Task != mtce.TaskNone || !r.Online {
			t.Errorf("record after unlock: %+v", r)
		}
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func hasCmd(cmds []wire.Command, c wire.Command) bool {
	for _, x := range cmds {
		if x == c {
			return true
		}
	}
	return false
}

func vimSaw(s *sim.Sim, host, admin, oper string) bool {
	for _, v := range s.VIMStateChanges() {
		if v.Hostname == host && v.State.Administrative == admin && v.State.Operational == oper {
			return true
		}
	}
	return false
}

// TestRejectedRequest: the admin path uses the event API's admission: an
// unlock of an unlocked host is refused with a reason.
func TestRejectedRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		s, _ := sim.New(sc)
		defer s.Close()
		n := newMemNet()
		a, _ := New(testConfig(t, s, n))
		if err := a.Request(t.Context(), "worker-0", mtce.ActionLock); !errors.Is(err, ErrNotReady) {
			t.Errorf("before ready: %v", err)
		}
		stop := started(t, a)
		err := a.Request(t.Context(), "worker-0", mtce.ActionSwact)
		var rej *RejectedError
		if !errors.As(err, &rej) || rej.Reason == "" || !errors.Is(err, ErrRejected) {
			t.Errorf("swact of a worker: %v", err)
		}
		if err := a.Request(t.Context(), "nobody", mtce.ActionLock); !errors.Is(err, ErrUnknownHost) {
			t.Errorf("unknown host: %v", err)
		}
		stop()
	})
}

// TestSwactWired: a swact request goes to the swact controller, SM swacts,
// and the mutex then refuses every other action.
func TestSwactWired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		s, _ := sim.New(sc)
		defer s.Close()
		n := newMemNet()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		for _, h := range sc.Hosts[1:] {
			go n.addHost(t, h, false).run(ctx)
		}
		a, _ := New(testConfig(t, s, n))
		stop := started(t, a)
		if err := a.Request(ctx, "controller-0", mtce.ActionSwact); err != nil {
			t.Fatalf("swact: %v", err)
		}
		synctest.Wait()
		if st := a.Status(); !st.Swact.Held || st.Swact.Host != "controller-0" {
			t.Errorf("swact status %+v", st.Swact)
		}
		err := a.Request(ctx, "worker-0", mtce.ActionLock)
		var rej *RejectedError
		if !errors.As(err, &rej) {
			t.Errorf("lock during swact: %v (want swact-in-progress)", err)
		}
		if err := waitUntil(2*time.Minute, func() bool {
			for _, r := range s.Swacts() {
				if r.From == "controller-0" && !r.CompletedAt.IsZero() {
					return true
				}
			}
			return false
		}); err != nil {
			t.Errorf("SM never swacted: %+v", s.Swacts())
		}
		stop()
	})
}

// TestAliveOnlineOffline: a locked host is online at its first mtcAlive
// and offline after MinOfflineAfter (stock 100 ms × 90 raised to 11 s)
// without one, within the 1 s audit tick.
func TestAliveOnlineOffline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		sc.Hosts[2].Administrative, sc.Hosts[2].Operational, sc.Hosts[2].Availability = "locked", "disabled", "offline"
		s, _ := sim.New(sc)
		defer s.Close()
		n := newMemNet()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go n.addHost(t, sc.Hosts[1], false).run(ctx)
		a, _ := New(testConfig(t, s, n))
		stop := started(t, a)
		if r := hostRec(a, "worker-0"); r.Online || r.Avail != mtce.AvailOffline {
			t.Fatalf("before mtcAlive: %+v", r)
		}
		w := n.addHost(t, sc.Hosts[2], true)
		go w.run(ctx)
		synctest.Wait()
		if r := hostRec(a, "worker-0"); !r.Online || r.Avail != mtce.AvailOnline {
			t.Errorf("after mtcAlive: %+v", r)
		}
		if err := waitUntil(10*time.Second, func() bool { h, _ := s.Host("worker-0"); return h.Availability == "online" }); err != nil {
			t.Errorf("sysinv not told online")
		}
		w.set(func(f *fakeHost) { f.stopped = true })
		last := hostRec(a, "worker-0").LastAlive
		if err := waitUntil(time.Minute, func() bool { return !hostRec(a, "worker-0").Online }); err != nil {
			t.Fatal("never offline")
		}
		if d := time.Since(last); d < MinOfflineAfter || d > MinOfflineAfter+time.Second {
			t.Errorf("offline %v after the last mtcAlive, want %v..+1s", d, MinOfflineAfter)
		}
		if r := hostRec(a, "worker-0"); r.Avail != mtce.AvailOffline {
			t.Errorf("avail %v", r.Avail)
		}
		stop()
	})
}

// TestGarbageCounted: messages from unknown sources, unknown identities
// and unsupported kinds are dropped and counted, never acted on.
func TestGarbageCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := sim.New(simConfig())
		defer s.Close()
		n := newMemNet()
		a, _ := New(testConfig(t, s, n))
		stop := started(t, a)
		stranger := mustAddrPort("10.9.9.9:2118")
		al, _ := wire.NewMtcAlive(wire.Alive{Uptime: 5, Identity: wire.Identity{Hostname: "ghost", Interface: mtce.NetworkMgmt}})
		n.deliver(stranger, al)
		ack, _ := wire.NewReboot(wire.Target{Network: mtce.NetworkMgmt})
		n.deliver(stranger, ack)
		nameless, _ := wire.NewMtcAlive(wire.Alive{Uptime: 5, Identity: wire.Identity{Interface: mtce.NetworkMgmt}})
		n.deliver(stranger, nameless)
		known := mustAddrPort("192.168.204.5:2118") // worker-0
		req, _ := wire.NewLocked(wire.Target{Network: mtce.NetworkMgmt}, true)
		n.deliver(known, req) // a request from a host: unsupported
		synctest.Wait()
		st := a.Status()
		if st.UDP.In != 4 || st.UDP.Dropped[DropUnknownSource] != 2 || st.UDP.Dropped[DropNoIdentity] != 1 || st.UDP.Dropped[DropUnsupported] != 1 {
			t.Errorf("UDP status %+v", st.UDP)
		}
		stop()
	})
}

// TestIdentityFromUnknownSource: an mtcAlive from an unknown address that
// names a known host is that host's, and its source becomes the host's
// pxeboot address (K.2).
func TestIdentityFromUnknownSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := sim.New(simConfig())
		defer s.Close()
		n := newMemNet()
		a, _ := New(testConfig(t, s, n))
		stop := started(t, a)
		from := mustAddrPort("169.254.202.7:2102")
		al, _ := wire.NewMtcAlive(wire.Alive{Uptime: 99, Flags: wire.FlagConfigured, Identity: wire.Identity{Hostname: "worker-0", Interface: mtce.NetworkPxeboot}})
		n.deliver(from, al)
		synctest.Wait()
		r := hostRec(a, "worker-0")
		if r.PxebootIP != "169.254.202.7" || r.Uptime != 99 || !r.Online {
			t.Errorf("record %+v", r)
		}
		stop()
	})
}

// TestCloseBoundedWithWorkInFlight: Close during a lock whose host never
// answers returns promptly and Run returns nil.
func TestCloseBoundedWithWorkInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		s, _ := sim.New(sc)
		defer s.Close()
		n := newMemNet()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		w := n.addHost(t, sc.Hosts[2], false)
		w.mute = true
		go w.run(ctx)
		a, _ := New(testConfig(t, s, n))
		errc := make(chan error, 1)
		go func() { errc <- a.Run(t.Context()) }()
		<-a.Ready()
		if err := a.Request(ctx, "worker-0", mtce.ActionLock); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // the stop command waits for its ACK
		if r := hostRec(a, "worker-0"); r.Running != "lock" {
			t.Fatalf("lock not in flight: %+v", r)
		}
		start := time.Now()
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if d := time.Since(start); d > a.cfg.CloseTimeout {
			t.Errorf("Close took %v", d)
		}
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestLockedResultIgnored: a host-services result from a locked host is
// ignored (E.2); an unsolicited PASS from an unlocked host is unexpected.
func TestLockedResultIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		lockedWorker(&sc)
		s, _ := sim.New(sc)
		defer s.Close()
		n := newMemNet()
		a, _ := New(testConfig(t, s, n))
		started(t, a)
		fail, _ := wire.NewHostServicesResult(wire.Result{Kind: wire.ResultFailed, Script: "/etc/services.d/worker/x", ExitCode: 1})
		n.deliver(mustAddrPort("192.168.204.5:2118"), fail) // worker-0, locked
		pass, _ := wire.NewHostServicesResult(wire.Result{Kind: wire.ResultPass})
		n.deliver(mustAddrPort("192.168.204.4:2118"), pass) // controller-1, unlocked
		synctest.Wait()
		d := a.Status().UDP.Dropped
		if d[DropLockedResult] != 1 || d[DropUnexpected] != 1 {
			t.Errorf("dropped %v", d)
		}
		if r := hostRec(a, "worker-0"); r.Running != "" || r.Avail == mtce.AvailFailed {
			t.Errorf("acted on a locked host's result: %+v", r)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
