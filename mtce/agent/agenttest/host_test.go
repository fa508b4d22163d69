package agenttest_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

const workerMAC = "08:00:27:aa:bb:01"

func workerConfig() agenttest.HostConfig {
	return agenttest.HostConfig{
		Name:         "worker-0",
		Personality:  mtce.PersonalityWorker,
		Mgmt:         netip.MustParseAddrPort("192.168.204.50:2118"),
		Cluster:      netip.MustParseAddrPort("192.168.206.50:2115"),
		MAC:          workerMAC,
		AgentMgmt:    agentMgmt,
		AgentCluster: agentCluster,
	}
}

func aioConfig() agenttest.HostConfig {
	return agenttest.HostConfig{
		Name:         "controller-1",
		Personality:  mtce.PersonalityController,
		Subfunctions: mtce.FunctionController | mtce.FunctionWorker,
		Mgmt:         netip.MustParseAddrPort("192.168.204.4:2118"),
		MAC:          "08:00:27:aa:bb:04",
		AgentMgmt:    agentMgmt,
	}
}

// rig is an agent Conn and one running host in a synctest bubble.
type rig struct {
	t *testing.T
	a *agenttest.Conn
	h *agenttest.Host
}

func newRig(t *testing.T, cfg agenttest.HostConfig) *rig {
	t.Helper()
	n := agenttest.NewNetwork()
	a := n.Agent(agentMgmt, agentCluster)
	h, err := n.AddHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		h.Close()
		a.Close()
	})
	return &rig{t: t, a: a, h: h}
}

// next returns the next packet accepted by keep within d, and how long
// it took; it fails the test if none comes.
func (r *rig) next(d time.Duration, keep func(wire.Packet) bool) (wire.Packet, time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	for {
		p, err := r.a.Recv(ctx)
		if err != nil {
			r.t.Fatalf("no packet within %v: %v", d, err)
		}
		if keep == nil || keep(p) {
			return p, time.Since(start)
		}
	}
}

// none fails if a packet accepted by keep arrives within d.
func (r *rig) none(d time.Duration, keep func(wire.Packet) bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		p, err := r.a.Recv(ctx)
		if err != nil {
			return
		}
		if keep == nil || keep(p) {
			r.t.Fatalf("unexpected packet %v %v %+v", p.Network, p.Message.Command, p.Message)
		}
	}
}

func (r *rig) send(nw mtce.Network, m wire.Message) {
	r.t.Helper()
	to := r.h.Config().Mgmt
	if nw == mtce.NetworkClusterHost {
		to = r.h.Config().Cluster
	}
	if err := r.a.Send(context.Background(), nw, to, &m); err != nil {
		r.t.Fatal(err)
	}
}

func isAlive(p wire.Packet) bool  { return p.Message.Command == wire.CmdMtcAlive }
func notAlive(p wire.Packet) bool { return !isAlive(p) }
func isResult(p wire.Packet) bool { return p.Message.Command == wire.CmdHostServicesResult }

func alive(t *testing.T, p wire.Packet) wire.Alive {
	t.Helper()
	a, err := p.Message.MtcAlive()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func target(mac string) wire.Target {
	return wire.Target{MAC: mac, Address: agentMgmt.Addr().String(), Network: mtce.NetworkMgmt}
}

func TestHostAliveEveryFiveSecondsOnEachNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := workerConfig()
		cfg.Running, cfg.Uptime = true, time.Hour
		r := newRig(t, cfg)
		const ready = wire.FlagConfigured | wire.FlagHealthy | wire.FlagMainGoEnabled
		seq := map[mtce.Network]uint32{}
		for i := range 4 {
			for j, nw := range []mtce.Network{mtce.NetworkMgmt, mtce.NetworkClusterHost} { // same instant
				p, d := r.next(6*time.Second, nil)
				want := 5 * time.Second
				switch {
				case j == 1:
					want = 0
				case i == 0:
					want = time.Second
				}
				if d != want || p.Network != nw {
					t.Fatalf("mtcAlive %d on %v after %v, want %v after %v", i, p.Network, d, nw, want)
				}
				a := alive(t, p)
				seq[p.Network]++
				if a.Sequence != seq[p.Network] || a.Identity.Sequence != a.Sequence {
					t.Fatalf("sequence %d on %v, want %d", a.Sequence, p.Network, seq[p.Network])
				}
				if a.Flags != ready || a.Health != wire.HealthHealthy {
					t.Fatalf("flags %v health %v", a.Flags, a.Health)
				}
				wantFrom := cfg.Mgmt
				if p.Network == mtce.NetworkClusterHost {
					wantFrom = cfg.Cluster
				}
				id := a.Identity
				if p.From != wantFrom || id.Hostname != "worker-0" || id.Personality != "worker" ||
					id.MgmtIP != "192.168.204.50" || id.ClusterHostIP != "192.168.206.50" || id.MgmtMAC != workerMAC || id.Interface != p.Network {
					t.Fatalf("from %v identity %+v", p.From, id)
				}
				if want := uint32(3600 + 1 + 5*i); a.Uptime != want {
					t.Fatalf("uptime %d, want %d", a.Uptime, want)
				}
			}
		}
		if s := r.h.State(); s.AliveSent != 8 || s.ServicesStarted != mtce.FunctionWorker || s.Power != agenttest.PowerUp {
			t.Fatalf("state %+v", s)
		}
	})
}

func TestHostBootsConfiguresAndAutoStartsServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, workerConfig())
		start := time.Now()
		p, _ := r.next(2*time.Minute, isAlive)
		if d := time.Since(start); d != agenttest.DefaultBootTime+agenttest.DefaultFirstAlive {
			t.Fatalf("first mtcAlive after %v", d)
		}
		a := alive(t, p)
		if a.Uptime != 61 || a.Flags != 0 || a.Health != wire.HealthUnknown {
			t.Fatalf("first alive %+v", a)
		}
		// Configured 30 s after the client started, goenabled 10 s later.
		_, err := r.h.WaitState(t.Context(), func(s agenttest.HostState) bool { return s.Flags&wire.FlagConfigured != 0 })
		if err != nil || time.Since(start) != 90*time.Second {
			t.Fatalf("configured after %v (%v)", time.Since(start), err)
		}
		r.h.WaitState(t.Context(), func(s agenttest.HostState) bool { return s.Flags&wire.FlagMainGoEnabled != 0 })
		if time.Since(start) != 100*time.Second {
			t.Fatalf("goenabled after %v", time.Since(start))
		}
		if s := r.h.State(); s.Running != wire.CmdStartWorkerServices {
			t.Fatalf("running %v", s.Running)
		}
		p, _ = r.next(time.Minute, isResult)
		if time.Since(start) != 110*time.Second {
			t.Fatalf("result after %v", time.Since(start))
		}
		res, err := p.Message.HostServicesResult()
		if err != nil || res.Status != mtce.Pass || res.Command != wire.CmdStartWorkerServices || p.Network != mtce.NetworkMgmt {
			t.Fatalf("result %+v %v", res, err)
		}
		// Exactly one result: nothing floods afterwards (spec E.5).
		r.none(10*time.Minute, isResult)
		if s := r.h.State(); s.Boots != 1 || s.ServicesStarted != mtce.FunctionWorker || s.Running != wire.CmdNone {
			t.Fatalf("state %+v", s)
		}
	})
}

func TestHostAIOStartsControllerThenWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, aioConfig())
		start := time.Now()
		var got []wire.Command
		for range 2 {
			p, _ := r.next(5*time.Minute, isResult)
			res, _ := p.Message.HostServicesResult()
			got = append(got, res.Command)
			if res.Status != mtce.Pass {
				t.Fatalf("result %+v", res)
			}
		}
		if got[0] != wire.CmdStartControllerServices || got[1] != wire.CmdStartWorkerServices || time.Since(start) != 120*time.Second {
			t.Fatalf("results %v after %v", got, time.Since(start))
		}
		p, _ := r.next(10*time.Second, isAlive)
		a := alive(t, p)
		want := wire.FlagConfigured | wire.FlagHealthy | wire.FlagSubfConfigured | wire.FlagMainGoEnabled | wire.FlagSubfGoEnabled
		if a.Flags != want || a.Identity.Personality != "controller,worker" {
			t.Fatalf("flags %v personality %q", a.Flags, a.Identity.Personality)
		}
	})
}

func TestHostServicesCommandAckThenOneResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := workerConfig()
		cfg.Running = true
		r := newRig(t, cfg)
		stop, err := wire.NewHostServicesRequest(mtce.FunctionWorker, false, target(workerMAC))
		if err != nil {
			t.Fatal(err)
		}
		r.send(mtce.NetworkMgmt, stop)
		p, d := r.next(time.Second, notAlive)
		ack, err := p.Message.Ack()
		if err != nil || d != 0 || !ack.Enhanced || ack.RC != mtce.Pass || ack.Command != wire.CmdStopWorkerServices || p.Message.Len() != 100 {
			t.Fatalf("ack %+v after %v (%v)", ack, d, err)
		}
		p, d = r.next(time.Minute, notAlive)
		res, err := p.Message.HostServicesResult()
		if err != nil || d != agenttest.DefaultServicesTime || res.Status != mtce.Pass {
			t.Fatalf("result %+v after %v (%v)", res, d, err)
		}
		r.none(5*time.Minute, notAlive)
		if s := r.h.State(); s.ServicesStarted != 0 {
			t.Fatalf("services still started: %+v", s)
		}
		// The whole exchange through wire's own agent-side waiting.
		if got := r.h.Commands(); len(got) != 1 || got[0].Message.Command != wire.CmdStopWorkerServices {
			t.Fatalf("commands %+v", got)
		}
	})
}

func TestHostDropsCommandForAnotherMAC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := workerConfig()
		cfg.Running = true
		r := newRig(t, cfg)
		r.send(mtce.NetworkMgmt, reboot(t, "08:00:27:ff:ff:ff"))
		r.none(time.Minute, notAlive)
		if s := r.h.State(); s.Boots != 0 || s.Power != agenttest.PowerUp {
			t.Fatalf("rebooted: %+v", s)
		}
		got := r.h.Received()
		if len(got) != 1 || got[0].Outcome != agenttest.DroppedMAC {
			t.Fatalf("received %+v", got)
		}
		// An unaddressed (ver 0) command is for anyone.
		m := reboot(t, "")
		r.send(mtce.NetworkClusterHost, m)
		p, _ := r.next(time.Second, notAlive)
		if p.Network != mtce.NetworkClusterHost || p.Message.Command != wire.CmdReboot {
			t.Fatalf("ack %+v", p)
		}
	})
}

func TestHostLockPersistsAcrossRebootAndUnlockClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := workerConfig()
		cfg.Running = true
		r := newRig(t, cfg)
		locked, _ := wire.NewLocked(target(workerMAC), true)
		r.send(mtce.NetworkMgmt, locked)
		if p, _ := r.next(time.Second, notAlive); p.Message.Command != wire.CmdLocked {
			t.Fatalf("ack %v", p.Message.Command)
		}
		p, _ := r.next(6*time.Second, isAlive)
		if a := alive(t, p); a.Flags&wire.FlagLocked == 0 {
			t.Fatalf("flags %v", a.Flags)
		}
		// Reboot: ACK, silence for the boot time, back locked without
		// starting services.
		r.send(mtce.NetworkMgmt, reboot(t, workerMAC))
		if p, _ := r.next(time.Second, notAlive); p.Message.Command != wire.CmdReboot {
			t.Fatalf("ack %v", p.Message.Command)
		}
		p, d := r.next(5*time.Minute, nil)
		a := alive(t, p)
		if d != agenttest.DefaultBootTime+agenttest.DefaultFirstAlive || a.Uptime != 61 || a.Flags&wire.FlagLocked == 0 || a.Sequence != 1 {
			t.Fatalf("back after %v: %+v", d, a)
		}
		r.none(5*time.Minute, isResult)
		s := r.h.State()
		if !s.Locked || !s.LockPersist || s.ServicesStarted != 0 || s.Flags&wire.FlagMainGoEnabled == 0 || s.Boots != 1 {
			t.Fatalf("state %+v", s)
		}
		// Unlocked, then reboot: back unlocked and starts its services.
		unlocked, _ := wire.NewUnlocked(target(workerMAC))
		r.send(mtce.NetworkMgmt, unlocked)
		r.send(mtce.NetworkMgmt, reboot(t, workerMAC))
		p, _ = r.next(5*time.Minute, isResult)
		if res, _ := p.Message.HostServicesResult(); res.Command != wire.CmdStartWorkerServices {
			t.Fatalf("result %+v", res)
		}
		if s := r.h.State(); s.Locked || s.LockPersist || s.ServicesStarted != mtce.FunctionWorker {
			t.Fatalf("state %+v", s)
		}
		// A lock without persistence is gone after a reboot.
		locked, _ = wire.NewLocked(target(workerMAC), false)
		r.send(mtce.NetworkMgmt, locked)
		r.h.Reboot()
		s, _ = r.h.WaitState(t.Context(), func(s agenttest.HostState) bool { return s.Power == agenttest.PowerUp })
		if s.Locked || s.Boots != 3 {
			t.Fatalf("state %+v", s)
		}
	})
}

func TestHostServicesFailureSetsFlagUntilAPassingStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := aioConfig()
		cfg.FailServices = 2
		r := newRig(t, cfg)
		for _, want := range []wire.Command{wire.CmdStartControllerServices, wire.CmdStartWorkerServices} {
			p, _ := r.next(5*time.Minute, isResult)
			res, _ := p.Message.HostServicesResult()
			if res.Status != mtce.FailOperation || res.Kind != wire.ResultFailed {
				t.Fatalf("%v: result %+v", want, res)
			}
		}
		p, _ := r.next(6*time.Second, isAlive)
		if f := alive(t, p).Flags; f&wire.FlagMainServicesFail == 0 || f&wire.FlagSubfServicesFail == 0 {
			t.Fatalf("flags %v", f)
		}
		// The next boot passes and the flags are gone.
		r.h.Reboot()
		for range 2 {
			p, _ := r.next(5*time.Minute, isResult)
			if res, _ := p.Message.HostServicesResult(); res.Status != mtce.Pass {
				t.Fatalf("result %+v", res)
			}
		}
		if s := r.h.State(); s.Flags&wire.FailureFlags != 0 || s.ServicesFailed != 0 {
			t.Fatalf("state %+v", s)
		}
		// An injected flag shows in the next mtcAlive.
		r.h.SetFlags(wire.FlagMainServicesFail, 0)
		p, _ = r.next(6*time.Second, isAlive)
		if f := alive(t, p).Flags; f&wire.FlagMainServicesFail == 0 {
			t.Fatalf("flags %v", f)
		}
	})
}

func TestHostCrashStaysSilentUntilPowerOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := workerConfig()
		cfg.Running = true
		r := newRig(t, cfg)
		r.next(2*time.Second, isAlive)
		r.next(2*time.Second, isAlive)
		r.h.Crash()
		r.none(time.Hour, nil)
		r.send(mtce.NetworkMgmt, reboot(t, workerMAC))
		r.none(time.Minute, nil)
		if got := r.h.Received(); got[len(got)-1].Outcome != agenttest.DroppedDown {
			t.Fatalf("received %+v", got)
		}
		r.h.PowerOn()
		_, d := r.next(5*time.Minute, isAlive)
		if d != agenttest.DefaultBootTime+agenttest.DefaultFirstAlive {
			t.Fatalf("back after %v", d)
		}
	})
}

func TestHostNoAckAndNoResultInjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := workerConfig()
		cfg.Running, cfg.NoAck = true, true
		r := newRig(t, cfg)
		stop, _ := wire.NewHostServicesRequest(mtce.FunctionWorker, false, target(workerMAC))
		r.send(mtce.NetworkMgmt, stop)
		r.none(time.Minute, notAlive)
		r.h.SetNoAck(false)
		r.h.SetNoResult(true)
		r.send(mtce.NetworkMgmt, stop)
		p, _ := r.next(time.Second, notAlive)
		if ack, err := p.Message.Ack(); err != nil || !ack.Enhanced {
			t.Fatalf("ack %+v %v", ack, err)
		}
		r.none(10*time.Minute, notAlive)
	})
}

func TestHostLazyRebootAndConfigHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := workerConfig()
		cfg.Running = true
		r := newRig(t, cfg)
		r.h.SetConfigHang(true)
		m, _ := wire.NewLazyReboot(target(workerMAC), 30)
		r.send(mtce.NetworkMgmt, m)
		r.next(time.Second, notAlive)
		r.h.WaitState(t.Context(), func(s agenttest.HostState) bool { return s.Power == agenttest.PowerBooting })
		start := time.Now()
		r.h.WaitState(t.Context(), func(s agenttest.HostState) bool { return s.Power == agenttest.PowerUp })
		if d := time.Since(start); d != agenttest.DefaultBootTime {
			t.Fatalf("boot took %v", d)
		}
		r.none(time.Hour, isResult)
		if s := r.h.State(); s.Flags&wire.FlagConfigured != 0 {
			t.Fatalf("configured despite the hang: %+v", s)
		}
	})
}

func TestWireRequestHostServicesAgainstHost(t *testing.T) {
	// wire's agent-side waiting (ACK then result) works against the fake
	// client through a Conn wrapped as a wire.Link.
	synctest.Test(t, func(t *testing.T) {
		cfg := workerConfig()
		cfg.Running = true
		r := newRig(t, cfg)
		l := link{r}
		req, _ := wire.NewHostServicesRequest(mtce.FunctionWorker, false, target(workerMAC))
		res, err := wire.RequestHostServices(t.Context(), l, &req, 300*time.Second)
		if err != nil || res.Status != mtce.Pass {
			t.Fatalf("result %+v %v", res, err)
		}
		r.h.SetNoResult(true)
		start := time.Now()
		_, err = wire.RequestHostServices(t.Context(), l, &req, 300*time.Second)
		if !errors.Is(err, wire.ErrNoResult) || time.Since(start) != 305*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
}

type link struct{ r *rig }

func (l link) Send(ctx context.Context, m *wire.Message) error {
	return l.r.a.Send(ctx, mtce.NetworkMgmt, l.r.h.Config().Mgmt, m)
}

func (l link) Recv(ctx context.Context) (*wire.Message, error) {
	p, err := l.r.a.Recv(ctx)
	if err != nil {
		return nil, err
	}
	return &p.Message, nil
}

func TestHostConfigValidate(t *testing.T) {
	n := agenttest.NewNetwork()
	for _, mut := range []func(*agenttest.HostConfig){
		func(c *agenttest.HostConfig) { c.Name = "" },
		func(c *agenttest.HostConfig) { c.Personality = mtce.PersonalityNone },
		func(c *agenttest.HostConfig) { c.Mgmt = netip.AddrPort{} },
		func(c *agenttest.HostConfig) { c.AgentMgmt = netip.AddrPort{} },
		func(c *agenttest.HostConfig) { c.BootTime = -1 },
	} {
		c := workerConfig()
		mut(&c)
		if _, err := n.AddHost(c); !errors.Is(err, agenttest.ErrInvalidConfig) {
			t.Errorf("%+v: err %v", c, err)
		}
	}
	h, err := n.AddHost(workerConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddHost(workerConfig()); !errors.Is(err, agenttest.ErrAddrInUse) {
		t.Errorf("duplicate: %v", err)
	}
	h.Close()
	h.Close()
	if err := h.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
