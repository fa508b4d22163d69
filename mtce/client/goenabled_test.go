package client

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

// goReplies returns the goEnabled messages (7, 8, 11, 12) in ss.
func goReplies(ss []sent) []sent {
	var out []sent
	for _, s := range ss {
		switch s.Msg.Command {
		case wire.CmdMainGoEnabled, wire.CmdSubfGoEnabled, wire.CmdMainGoEnabledFailed, wire.CmdSubfGoEnabledFailed:
			out = append(out, s)
		}
	}
	return out
}

// The agent's goEnabled request (cmd 9) is ACKed at once; the tests run
// even before the start-up gates; one goEnabled message answers, on mgmt
// to the agent, consuming a mgmt sequence number; a second request while
// the first is answered joins it (one run, one reply); a failure is
// answered by cmd 11 with the failure text and shows in mtcAlive.
func TestGoEnabledRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := standardController()
		h.GoEnabled = []string{"t1", "t2"}
		root := writeRoot(t, h)
		conn := newFakeConn()
		l := newFakeLauncher()
		l.set("t1", fakeBehavior{Duration: 2 * time.Second})
		cfg := testConfig(t, root, conn, l)
		cfg.ReadyPeriod = 24 * time.Hour
		c, _ := start(t, cfg)
		time.Sleep(time.Minute)
		synctest.Wait()
		if p := l.paths(); len(p) != 0 {
			t.Fatalf("ran before the gates or a request: %v", p)
		}
		conn.take()
		mm := mustMsg(t)
		req := mm(wire.NewRequest(wire.CmdMainGoEnabledRequest, target(mtce.NetworkMgmt)))
		conn.inject(t, mtce.NetworkMgmt, agentFrom, req)
		synctest.Wait()
		if acks := filterCmd(conn.take(), wire.CmdMainGoEnabledRequest); len(acks) != 1 || acks[0].Msg.Signature != wire.SigResponse {
			t.Fatalf("ACKs at once: %+v", acks)
		}
		time.Sleep(500 * time.Millisecond)
		conn.inject(t, mtce.NetworkMgmt, agentFrom, req)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		got := conn.take()
		if n := len(filterCmd(got, wire.CmdMainGoEnabledRequest)); n != 1 {
			t.Errorf("second request ACKs: %d, want 1", n)
		}
		// The tests once; their pass lets the auto-start run c1.
		if names := baseNames(l.paths()); !slices.Equal(names, []string{"t1", "t2", "c1"}) {
			t.Errorf("launched %v, want t1 t2 once, then the auto-start's c1", names)
		}
		rep := goReplies(got)
		if len(rep) != 1 {
			t.Fatalf("replies %+v, want one", rep)
		}
		r := rep[0]
		g, err := r.Msg.GoEnabled()
		if err != nil || r.Msg.Command != wire.CmdMainGoEnabled || !g.Passed || g.Subfunction || r.Network != mtce.NetworkMgmt ||
			r.To != netip.AddrPortFrom(agentMgmt, 2101) || r.Msg.Signature != wire.SigWorker {
			t.Fatalf("reply %+v %+v (%v)", r, g, err)
		}
		if g.Flags&wire.FlagMainGoEnabled == 0 || g.Uptime != 1234 {
			t.Errorf("reply parms %+v", g)
		}
		// The reply used a mgmt sequence number: the mtcAlive around it
		// skip it.
		var seqs []uint32
		for _, s := range got {
			if s.Msg.Command == wire.CmdMtcAlive && s.Network == mtce.NetworkMgmt {
				seqs = append(seqs, s.Msg.Parm[wire.ParmSequence])
			}
		}
		if !slices.Contains(seqs, g.Sequence-1) || !slices.Contains(seqs, g.Sequence+1) || slices.Contains(seqs, g.Sequence) {
			t.Errorf("reply sequence %d, mtcAlive sequences %v", g.Sequence, seqs)
		}
		if !c.exists(hostsvc.GoEnabledFile) {
			t.Error("goenabled flag not written")
		}

		// A failing test: cmd 11 with the text, the failure in mtcAlive.
		l.set("t2", fakeBehavior{Duration: time.Second, Code: 3})
		conn.inject(t, mtce.NetworkMgmt, agentFrom, req)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		rep = goReplies(conn.take())
		want := filepath.Join(DefaultGoEnabledDir, "t2") + " failed ; rc:3"
		if len(rep) != 1 || rep[0].Msg.Command != wire.CmdMainGoEnabledFailed || rep[0].Msg.Buf != want {
			t.Fatalf("failure replies %+v, want one cmd 11 %q", rep, want)
		}
		if f := c.Flags(); f&wire.FlagMainGoEnableFail == 0 || f&wire.FlagMainGoEnabled != 0 {
			t.Errorf("flags after the failure: %v", f)
		}
		if v := counterValue(t, c, "mtcclient_goenabled_sent_total", wire.CmdMainGoEnabledFailed.String()); v != 1 {
			t.Errorf("goenabled_sent_total{failed} = %v", v)
		}
		// A subfunction request to a host with no worker subfunction is
		// answered failed at once, nothing run.
		before := len(l.paths())
		conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewRequest(wire.CmdSubfGoEnabledRequest, target(mtce.NetworkMgmt))))
		synctest.Wait()
		rep = goReplies(conn.take())
		if len(rep) != 1 || rep[0].Msg.Command != wire.CmdSubfGoEnabledFailed || !strings.Contains(rep[0].Msg.Buf, "no worker subfunction") {
			t.Fatalf("subf reply on a standard controller: %+v", rep)
		}
		if len(l.paths()) != before {
			t.Error("subf request ran tests on a standard controller")
		}
	})
}

// A request during the start-up run joins it: nothing runs twice and the
// reply follows the run; on an AIO controller a subfunction request runs
// the subfunction tests and is answered by cmd 8.
func TestGoEnabledRequestJoinsStartupRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := aio()
		h.GoEnabled = []string{"t1"}
		h.Files = []string{ConfigCompleteFile, GoEnabledGateFile}
		root := writeRoot(t, h)
		conn := newFakeConn()
		l := newFakeLauncher()
		l.set("t1", fakeBehavior{Duration: 10 * time.Second})
		cfg := testConfig(t, root, conn, l)
		cfg.ReadyPeriod = 24 * time.Hour
		start(t, cfg)
		t0 := time.Now()
		time.Sleep(3 * time.Second)
		mm := mustMsg(t)
		conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewRequest(wire.CmdMainGoEnabledRequest, target(mtce.NetworkMgmt))))
		time.Sleep(time.Minute)
		synctest.Wait()
		if names := baseNames(l.paths()); !slices.Equal(names, []string{"t1"}) {
			t.Fatalf("launched %v, want the start-up run only", names)
		}
		rep := goReplies(conn.take())
		if len(rep) != 1 || rep[0].Msg.Command != wire.CmdMainGoEnabled || rep[0].At.Sub(t0) != 10*time.Second {
			t.Fatalf("replies %+v, want one cmd 7 when the start-up run ends (10 s)", rep)
		}
		// The subfunction gates come; the subfunction tests pass at
		// start-up, then the agent asks: they run again and cmd 8 answers.
		writeFile(t, filepath.Join(root, WorkerConfigFile))
		writeFile(t, filepath.Join(root, GoEnabledSubfGateFile))
		time.Sleep(time.Minute)
		conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewRequest(wire.CmdSubfGoEnabledRequest, target(mtce.NetworkMgmt))))
		time.Sleep(time.Minute)
		synctest.Wait()
		rep = goReplies(conn.take())
		if len(rep) != 1 || rep[0].Msg.Command != wire.CmdSubfGoEnabled {
			t.Fatalf("subf replies %+v, want one cmd 8", rep)
		}
		if names := baseNames(l.paths()); !slices.Equal(names, []string{"t1", "t1", "c1", "c2", "w1", "t1"}) {
			t.Errorf("launched %v", names)
		}
	})
}

// OnEvent reports what the client does for an AIO start-up:
// both goenabled sets, the auto-start's two requests, each set starting
// and done with its result sent.
func TestOnEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := aio()
		h.Files = []string{ConfigCompleteFile, GoEnabledGateFile, WorkerConfigFile, GoEnabledSubfGateFile}
		root := writeRoot(t, h)
		conn := newFakeConn()
		l := newFakeLauncher()
		l.set("w1", fakeBehavior{Duration: time.Second, Code: 1})
		cfg := testConfig(t, root, conn, l)
		var mu sync.Mutex
		var evs []string
		cfg.OnEvent = func(e Event) {
			s := e.Kind.String()
			switch e.Kind {
			case EventGoEnabled:
				s += " " + e.Tests + " " + e.Reason
			case EventAutoStart:
				for _, c := range e.Commands {
					s += " " + c.String()
				}
			case EventServicesStarting:
				s += " " + e.Command.String()
			case EventServicesDone:
				s += fmt.Sprintf(" %s %s sent=%v", e.Command, e.Result.Outcome, e.ResultSent)
			}
			mu.Lock()
			evs = append(evs, strings.TrimSpace(s))
			mu.Unlock()
		}
		start(t, cfg)
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		want := []string{
			"goenabled main", "goenabled subf",
			"auto-start start controller host services start worker host services",
			"services-starting start controller host services",
			"services-done start controller host services pass sent=true",
			"services-starting start worker host services",
			"services-done start worker host services failed sent=true",
		}
		// The goenabled events and the services events come from
		// different goroutines: each kind is in order, and the auto-start
		// (which waits for the flag files written before the goenabled
		// events) may report before the subfunction's goenabled event.
		part := func(ss []string, goen bool) (out []string) {
			for _, s := range ss {
				if strings.HasPrefix(s, "goenabled") == goen {
					out = append(out, s)
				}
			}
			return out
		}
		if !slices.Equal(part(evs, true), part(want, true)) || !slices.Equal(part(evs, false), part(want, false)) {
			t.Errorf("events\n%q\nwant, in this order for each of goenabled and the rest,\n%q", evs, want)
		}
	})
}

// LUKS_VOL_FAILED follows the last cryptsetup check: clear while it
// passes, set within one period of a failure, set when a hung check is
// killed at LUKSTimeout, clear again when it passes; off (never launched)
// without Config.Cryptsetup.
func TestLUKSCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := writeRoot(t, standardController())
		conn := newFakeConn()
		l := newFakeLauncher()
		l.set("cryptsetup", fakeBehavior{Duration: 100 * time.Millisecond})
		cfg := testConfig(t, root, conn, l)
		cfg.Cryptsetup = "/sbin/cryptsetup"
		cfg.LUKSTimeout = 3 * time.Second
		c, _ := start(t, cfg)
		flag := func() bool { return c.Flags()&wire.FlagLUKSVolFailed != 0 }
		time.Sleep(time.Second)
		synctest.Wait()
		if flag() {
			t.Fatal("flag set while the check passes")
		}
		l.set("cryptsetup", fakeBehavior{Duration: 100 * time.Millisecond, Code: 4})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if !flag() {
			t.Fatal("flag not set one period after the check fails")
		}
		// The next mtcAlive carries it.
		conn.take()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		alives := filterCmd(conn.take(), wire.CmdMtcAlive)
		if len(alives) == 0 || wire.AliveFlags(alives[len(alives)-1].Msg.Parm[wire.ParmFlags])&wire.FlagLUKSVolFailed == 0 {
			t.Fatalf("mtcAlive without LUKS_VOL_FAILED: %+v", alives)
		}
		l.set("cryptsetup", fakeBehavior{})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if flag() {
			t.Fatal("flag still set after the check passes again")
		}
		l.set("cryptsetup", fakeBehavior{Hang: true})
		t0 := time.Now()
		for !flag() && time.Since(t0) < time.Minute {
			time.Sleep(100 * time.Millisecond)
		}
		if !flag() || l.liveCount() != 0 {
			t.Fatalf("hung check: flag %v, %d processes alive", flag(), l.liveCount())
		}
		l.mu.Lock()
		kills := len(l.kills)
		l.mu.Unlock()
		if kills == 0 {
			t.Fatal("hung check not killed")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		root := writeRoot(t, standardController())
		l := newFakeLauncher()
		cfg := testConfig(t, root, newFakeConn(), l)
		c, _ := start(t, cfg)
		time.Sleep(time.Minute)
		synctest.Wait()
		for _, p := range l.paths() {
			if filepath.Base(p) == "cryptsetup" {
				t.Fatal("cryptsetup run without Config.Cryptsetup")
			}
		}
		if c.Flags()&wire.FlagLUKSVolFailed != 0 {
			t.Fatal("flag set without a check")
		}
	})
}

// The ready event goes over mgmt from the start and, once a pxeboot
// mtcAlive request told the active controller's pxeboot address, over
// pxeboot to that address's agent port too.
func TestReadyEventOverPxeboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := writeRoot(t, standardController())
		conn := newFakeConn()
		cfg := testConfig(t, root, conn, newFakeLauncher())
		cfg.PxebootIP = hostPxe
		start(t, cfg)
		synctest.Wait()
		ready := func(ss []sent) (out []sent) {
			for _, s := range ss {
				if s.Msg.Command == wire.EventMonitorReady {
					out = append(out, s)
				}
			}
			return out
		}
		if r := ready(conn.take()); len(r) != 1 || r[0].Network != mtce.NetworkMgmt {
			t.Fatalf("ready at start: %+v", r)
		}
		pxeAgent := netip.MustParseAddr("169.254.202.2")
		req := mustMsg(t)(wire.NewPxebootMtcAliveRequest(wire.Target{MAC: hostMAC, Address: pxeAgent.String(), Network: mtce.NetworkPxeboot},
			wire.PxebootInfo{Controller: pxeAgent.String(), Controller0: pxeAgent.String()}))
		conn.inject(t, mtce.NetworkPxeboot, netip.AddrPortFrom(pxeAgent, 5555), req)
		time.Sleep(time.Minute)
		synctest.Wait()
		r := ready(conn.take())
		if len(r) != 2 || r[0].Network != mtce.NetworkMgmt || r[1].Network != mtce.NetworkPxeboot || r[1].To != netip.AddrPortFrom(pxeAgent, 2102) {
			t.Fatalf("ready after the pxeboot request: %+v", r)
		}
		if ev, err := r[1].Msg.Event(); err != nil || ev.ActiveControllerPxebootAddress != "169.254.202.2" || ev.Hostname != "controller-0" {
			t.Errorf("pxeboot ready event %+v (%v)", ev, err)
		}
	})
}

// Start requests that come while the auto-start waits for goenabled are
// held and answered by its runs: nothing before goenabled, each script
// once, one result per set. When the auto-start gives up (goenabled
// failed), the held requests run as the agent asked.
func TestStartHeldForAutoStart(t *testing.T) {
	for _, giveUp := range []bool{false, true} {
		t.Run(fmt.Sprintf("giveUp=%v", giveUp), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				root := writeRoot(t, aio())
				conn := newFakeConn()
				l := newFakeLauncher()
				cfg := testConfig(t, root, conn, l)
				cfg.AliveFirst, cfg.ReadyPeriod = 24*time.Hour, 24*time.Hour
				start(t, cfg)
				time.Sleep(10 * time.Second)
				mm := mustMsg(t)
				conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewHostServicesRequest(mtce.FunctionController, true, target(mtce.NetworkMgmt))))
				conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewHostServicesRequest(mtce.FunctionWorker, true, target(mtce.NetworkMgmt))))
				conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewHostServicesRequest(mtce.FunctionController, true, target(mtce.NetworkMgmt))))
				time.Sleep(time.Minute)
				synctest.Wait()
				got := conn.take()
				if n := len(filterCmd(got, wire.CmdStartControllerServices)) + len(filterCmd(got, wire.CmdStartWorkerServices)); n != 3 {
					t.Fatalf("ACKs %d, want 3 at once", n)
				}
				if p := l.paths(); len(p) != 0 || len(results(got)) != 0 {
					t.Fatalf("ran before goenabled: %v, results %+v", baseNames(p), results(got))
				}
				if giveUp {
					writeFile(t, filepath.Join(root, hostsvc.GoEnabledSubfFailedFile))
				} else {
					writeFile(t, filepath.Join(root, hostsvc.GoEnabledFile))
					writeFile(t, filepath.Join(root, hostsvc.GoEnabledSubfFile))
				}
				time.Sleep(time.Hour)
				synctest.Wait()
				if names := baseNames(l.paths()); !slices.Equal(names, []string{"c1", "c2", "w1"}) {
					t.Errorf("launched %v, want c1 c2 w1 once each", names)
				}
				var texts []string
				for _, r := range results(conn.take()) {
					texts = append(texts, r.Msg.Buf)
				}
				if !slices.Equal(texts, []string{"start controller host services", "start worker host services"}) {
					t.Errorf("results %q, want controller then worker, one each", texts)
				}
			})
		})
	}
}
