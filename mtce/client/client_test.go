package client

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestValidate(t *testing.T) {
	root := writeRoot(t, standardController())
	good := testConfig(t, root, newFakeConn(), newFakeLauncher())
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"Hostname":   func(c *Config) { c.Hostname = "" },
		"Mtc":        func(c *Config) { c.Mtc = nil },
		"Platform":   func(c *Config) { c.Platform = nil },
		"MgmtIP":     func(c *Config) { c.MgmtIP = netip.Addr{} },
		"MgmtMAC":    func(c *Config) { c.MgmtMAC = "zz" },
		"Controller": func(c *Config) { c.Controller = netip.Addr{} },
		"Root":       func(c *Config) { c.Root = "relative" },
		"Drain":      func(c *Config) { c.Drain = -1 },
	} {
		c := good
		mod(&c)
		err := c.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want ErrConfig naming the field", name, err)
		}
	}
}

// mtcAlive: first after 1 s, then every 5 s, on mgmt and on both
// controllers' cluster-host addresses; sequence per network from 1; exact
// identity JSON; flags from the files.
func TestMtcAlivePeriodAndContent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := standardController()
		h.Files = []string{ConfigCompleteFile, hostsvc.GoEnabledFile, hostsvc.NodeLockedFile, ConfigPassFile}
		root := writeRoot(t, h)
		conn := newFakeConn()
		cfg := testConfig(t, root, conn, newFakeLauncher())
		cfg.ClusterHostIP = hostClstr
		cfg.ControllerClusterHost = agentClstr
		start(t, cfg)

		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if got := filterCmd(conn.take(), wire.CmdMtcAlive); len(got) != 0 {
			t.Fatalf("mtcAlive before 1 s: %d", len(got))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		first := filterCmd(conn.take(), wire.CmdMtcAlive)
		if len(first) != 3 {
			t.Fatalf("first round: %d mtcAlive, want 3 (mgmt + 2 cluster-host)", len(first))
		}
		mg := first[0]
		if mg.Network != mtce.NetworkMgmt || mg.To != netip.AddrPortFrom(agentMgmt, 2101) {
			t.Errorf("mgmt mtcAlive to %v on %v", mg.To, mg.Network)
		}
		wantJSON := `{"hostname":"controller-0","personality":"controller","pxeboot_ip":"","mgmt_ip":"192.168.204.10","cluster_host_ip":"192.168.206.10","mgmt_mac":"08:00:27:aa:bb:cc","interface":"Mgmnt","sequence":1}`
		if mg.Msg.Buf != wantJSON {
			t.Errorf("identity:\n got %s\nwant %s", mg.Msg.Buf, wantJSON)
		}
		a, err := mg.Msg.MtcAlive()
		if err != nil {
			t.Fatal(err)
		}
		wantFlags := wire.FlagConfigured | wire.FlagMainGoEnabled | wire.FlagLocked
		if a.Flags != wantFlags || a.Sequence != 1 || a.Uptime != 1234 || a.Health != wire.HealthHealthy {
			t.Errorf("alive = %+v, want flags %v seq 1 uptime 1234 healthy", a, wantFlags)
		}
		var to []netip.AddrPort
		for _, s := range first[1:] {
			if s.Network != mtce.NetworkClusterHost {
				t.Errorf("network %v", s.Network)
			}
			to = append(to, s.To)
		}
		if !slices.Equal(to, []netip.AddrPort{netip.AddrPortFrom(agentClstr[0], 2101), netip.AddrPortFrom(agentClstr[1], 2101)}) {
			t.Errorf("cluster destinations %v", to)
		}

		// Every 5 s after that: 12 more rounds in the next 60 s.
		time.Sleep(60 * time.Second)
		synctest.Wait()
		rest := filterCmd(conn.take(), wire.CmdMtcAlive)
		var mgmt []sent
		for _, s := range rest {
			if s.Network == mtce.NetworkMgmt {
				mgmt = append(mgmt, s)
			}
		}
		if len(mgmt) != 12 {
			t.Fatalf("mgmt mtcAlive in 60 s: %d, want 12", len(mgmt))
		}
		for i, s := range mgmt {
			if want := time.Duration(i+1) * 5 * time.Second; s.At.Sub(mg.At) != want {
				t.Errorf("mtcAlive %d at +%v, want +%v", i+2, s.At.Sub(mg.At), want)
			}
			a, _ := s.Msg.MtcAlive()
			if a.Sequence != uint32(i+2) {
				t.Errorf("sequence %d, want %d", a.Sequence, i+2)
			}
		}
	})
}

// An mtcAlive request gets nothing on mgmt and cluster-host (no ACK), and
// an immediate mtcAlive over pxeboot to the controller's pxeboot address.
func TestMtcAliveRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := writeRoot(t, standardController())
		conn := newFakeConn()
		cfg := testConfig(t, root, conn, newFakeLauncher())
		cfg.ClusterHostIP = hostClstr
		cfg.ControllerClusterHost = agentClstr
		cfg.PxebootIP = hostPxe
		start(t, cfg)
		time.Sleep(2 * time.Second) // past the first round
		synctest.Wait()
		conn.take()

		mm := mustMsg(t)
		pxeAgent := netip.MustParseAddr("169.254.202.2")
		req := mm(wire.NewPxebootMtcAliveRequest(wire.Target{MAC: hostMAC, Address: pxeAgent.String(), Network: mtce.NetworkPxeboot},
			wire.PxebootInfo{Controller: pxeAgent.String(), Controller0: pxeAgent.String(), Controller1: "169.254.202.3"}))
		conn.inject(t, mtce.NetworkPxeboot, netip.AddrPortFrom(pxeAgent, 5555), req)
		synctest.Wait()
		got := conn.take()
		if len(got) != 2 {
			t.Fatalf("pxeboot request: %d messages, want 2 mtcAlive (controller-0, controller-1)", len(got))
		}
		for i, want := range []string{"169.254.202.2:2102", "169.254.202.3:2102"} {
			if got[i].Msg.Command != wire.CmdMtcAlive || got[i].Network != mtce.NetworkPxeboot || got[i].To.String() != want {
				t.Errorf("reply %d: %v to %v on %v", i, got[i].Msg.Command, got[i].To, got[i].Network)
			}
		}
		id, _ := wire.ParseIdentity(got[0].Msg.Buf)
		if id.Interface != mtce.NetworkPxeboot || id.Sequence != 1 || id.PxebootIP != hostPxe.String() {
			t.Errorf("pxeboot identity %+v", id)
		}
		// Now that pxeboot addresses are known, mgmt and cluster-host
		// requests still get nothing.
		conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewMtcAliveRequest(target(mtce.NetworkMgmt))))
		conn.inject(t, mtce.NetworkClusterHost, netip.AddrPortFrom(agentClstr[0], 1), mm(wire.NewMtcAliveRequest(target(mtce.NetworkClusterHost))))
		synctest.Wait()
		if got := conn.take(); len(got) != 0 {
			t.Fatalf("mgmt/cluster mtcAlive request answered: %+v", got)
		}

	})
}

// Addressed commands with another MAC are dropped silently; ver 0 and
// messages from the host's own address pass.
func TestAddressedCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := writeRoot(t, standardController())
		conn := newFakeConn()
		cfg := testConfig(t, root, conn, newFakeLauncher())
		cfg.AliveFirst = time.Hour
		c, _ := start(t, cfg)
		synctest.Wait()
		conn.take() // the ready event
		mm := mustMsg(t)
		other := wire.Target{MAC: "08:00:27:00:00:01", Address: agentMgmt.String(), Network: mtce.NetworkMgmt}

		conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewRequest(wire.CmdLoopback, other)))
		synctest.Wait()
		if got := conn.take(); len(got) != 0 {
			t.Fatalf("mismatched MAC answered: %+v", got)
		}
		if v := counterValue(t, c, "mtcclient_packets_dropped_total", "mac-mismatch"); v != 1 {
			t.Errorf("mac-mismatch drops = %v", v)
		}
		for _, tc := range []struct {
			name string
			from netip.AddrPort
			t    wire.Target
		}{
			{"own MAC", agentFrom, target(mtce.NetworkMgmt)},
			{"ver 0 is for anyone", agentFrom, wire.Target{Address: agentMgmt.String(), Network: mtce.NetworkMgmt}},
			{"own address", netip.AddrPortFrom(hostMgmt, 1), other},
		} {
			conn.inject(t, mtce.NetworkMgmt, tc.from, mm(wire.NewRequest(wire.CmdLoopback, tc.t)))
			synctest.Wait()
			got := conn.take()
			if len(got) != 1 || got[0].Msg.Signature != wire.SigResponse || got[0].To != netip.AddrPortFrom(agentMgmt, 2101) {
				t.Errorf("%s: got %+v, want one ACK to controller:2101", tc.name, got)
			}
		}
	})
}

// A host-services stop: enhanced ACK at once, before any script runs, then
// exactly one result when the set ends, then nothing for an hour.
func TestHostServicesAckThenOneResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := standardController()
		h.Files = []string{hostsvc.NodeLockedFile} // no auto-start
		root := writeRoot(t, h)
		conn := newFakeConn()
		l := newFakeLauncher()
		l.set("c1", fakeBehavior{Duration: 3 * time.Second})
		cfg := testConfig(t, root, conn, l)
		cfg.AliveFirst = 24 * time.Hour
		cfg.ReadyPeriod = 24 * time.Hour
		c, _ := start(t, cfg)
		synctest.Wait()
		conn.take() // ready event

		t0 := time.Now()
		req := mustMsg(t)(wire.NewHostServicesRequest(mtce.FunctionController, false, target(mtce.NetworkMgmt)))
		conn.inject(t, mtce.NetworkMgmt, agentFrom, req)
		synctest.Wait()
		got := conn.take()
		if len(got) != 1 {
			t.Fatalf("after request: %d messages, want the ACK", len(got))
		}
		ack, err := got[0].Msg.Ack()
		if err != nil || !ack.Enhanced || ack.RC != mtce.Pass || ack.Command != wire.CmdStopControllerServices || got[0].Msg.Len() != 100 {
			t.Fatalf("ACK %+v %v len %d", ack, err, got[0].Msg.Len())
		}
		if !got[0].At.Equal(t0) {
			t.Errorf("ACK at +%v, want at once", got[0].At.Sub(t0))
		}

		time.Sleep(time.Hour)
		synctest.Wait()
		res := conn.take()
		if len(res) != 1 || res[0].Msg.Command != wire.CmdHostServicesResult {
			t.Fatalf("in an hour: %d messages, want exactly one result: %+v", len(res), res)
		}
		if d := res[0].At.Sub(t0); d != 3*time.Second {
			t.Errorf("result after %v, want 3s (the script's run time)", d)
		}
		r, _ := res[0].Msg.HostServicesResult()
		if r.Status != mtce.Pass || r.Text != "stop controller host services" {
			t.Errorf("result %+v", r)
		}
		if v := counterValue(t, c, "mtcclient_results_sent_total", "pass"); v != 1 {
			t.Errorf("results_sent = %v", v)
		}
		if v := counterValue(t, c, "mtcclient_commands_total", "stop controller host services"); v != 1 {
			t.Errorf("commands_total = %v", v)
		}
	})
}

// An empty script set: ACK and one PASS result at once, then nothing
// (StarlingX: ACK, then silence for 305 s; before dab9c47, ~20 results a
// second).
func TestEmptySetOnePass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := standardController()
		h.Files = []string{hostsvc.NodeLockedFile}
		root := writeRoot(t, h)
		conn := newFakeConn()
		cfg := testConfig(t, root, conn, newFakeLauncher())
		cfg.AliveFirst, cfg.ReadyPeriod = 24*time.Hour, 24*time.Hour
		start(t, cfg)
		synctest.Wait()
		conn.take()
		t0 := time.Now()
		conn.inject(t, mtce.NetworkMgmt, agentFrom, mustMsg(t)(wire.NewHostServicesRequest(mtce.FunctionWorker, false, target(mtce.NetworkMgmt))))
		time.Sleep(time.Hour)
		synctest.Wait()
		got := conn.take()
		if len(got) != 2 || got[0].Msg.Command != wire.CmdStopWorkerServices || got[1].Msg.Command != wire.CmdHostServicesResult {
			t.Fatalf("got %d messages, want ACK then one result: %+v", len(got), got)
		}
		if !got[1].At.Equal(t0) {
			t.Errorf("result at +%v, want at once", got[1].At.Sub(t0))
		}
	})
}

// AIO controller after a reboot: controller then worker services, one
// result each; a start request from the agent during the auto-start runs
// nothing twice; no result flood over an hour.
func TestAIOAutoStartCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := aio()
		h.Files = []string{hostsvc.GoEnabledFile, hostsvc.GoEnabledSubfFile}
		root := writeRoot(t, h)
		conn := newFakeConn()
		l := newFakeLauncher()
		for _, n := range []string{"c1", "c2", "w1"} {
			l.set(n, fakeBehavior{Duration: 10 * time.Second})
		}
		cfg := testConfig(t, root, conn, l)
		cfg.AliveFirst, cfg.ReadyPeriod = 24*time.Hour, 24*time.Hour
		start(t, cfg)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		conn.take()
		// The agent asks for controller and worker starts while the
		// controller auto-start runs.
		mm := mustMsg(t)
		conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewHostServicesRequest(mtce.FunctionController, true, target(mtce.NetworkMgmt))))
		conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewHostServicesRequest(mtce.FunctionWorker, true, target(mtce.NetworkMgmt))))
		time.Sleep(time.Hour)
		synctest.Wait()
		got := conn.take()
		acks := filterCmd(got, wire.CmdStartControllerServices)
		acks = append(acks, filterCmd(got, wire.CmdStartWorkerServices)...)
		if len(acks) != 2 {
			t.Errorf("ACKs: %d, want 2", len(acks))
		}
		res := filterCmd(got, wire.CmdHostServicesResult)
		var texts []string
		for _, r := range res {
			texts = append(texts, r.Msg.Buf)
		}
		if !slices.Equal(texts, []string{"start controller host services", "start worker host services"}) {
			t.Errorf("results %q, want controller then worker, one each", texts)
		}
		var names []string
		for _, p := range l.paths() {
			names = append(names, filepath.Base(p))
		}
		if !slices.Equal(names, []string{"c1", "c2", "w1"}) {
			t.Errorf("launched %v, want c1 c2 w1 once each", names)
		}
	})
}

// Locked with LOCK_PERSIST survives a reboot: the new client restores the
// flag and does not auto-start; unlocked removes both files.
func TestLockedAcrossReboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := writeRoot(t, standardController())
		conn := newFakeConn()
		l := newFakeLauncher()
		cfg := testConfig(t, root, conn, l)
		cfg.AliveFirst, cfg.ReadyPeriod = 24*time.Hour, 24*time.Hour
		_, stop := start(t, cfg)
		conn.inject(t, mtce.NetworkMgmt, agentFrom, mustMsg(t)(wire.NewLocked(target(mtce.NetworkMgmt), true)))
		synctest.Wait()
		if acks := filterCmd(conn.take(), wire.CmdLocked); len(acks) != 1 {
			t.Fatalf("locked ACKs %d", len(acks))
		}
		for _, f := range []string{hostsvc.NodeLockedFile, PersistLockedFile} {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}

		// Reboot: /var/run emptied; the configuration completes again.
		if err := os.RemoveAll(filepath.Join(root, "var/run")); err != nil {
			t.Fatal(err)
		}
		conn2 := newFakeConn()
		cfg2 := testConfig(t, root, conn2, l)
		cfg2.AliveFirst, cfg2.ReadyPeriod = time.Second, 24*time.Hour
		start(t, cfg2)
		for _, f := range []string{hostsvc.GoEnabledFile, ConfigCompleteFile} {
			writeFile(t, filepath.Join(root, f))
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if p := l.paths(); len(p) != 0 {
			t.Fatalf("locked host auto-started: %v", p)
		}
		alive := filterCmd(conn2.take(), wire.CmdMtcAlive)
		a, _ := alive[len(alive)-1].Msg.MtcAlive()
		if a.Flags&wire.FlagLocked == 0 {
			t.Errorf("mtcAlive flags %v lack LOCKED", a.Flags)
		}

		conn2.inject(t, mtce.NetworkMgmt, agentFrom, mustMsg(t)(wire.NewUnlocked(target(mtce.NetworkMgmt))))
		synctest.Wait()
		for _, f := range []string{hostsvc.NodeLockedFile, PersistLockedFile} {
			if _, err := os.Stat(filepath.Join(root, f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after unlocked: %v", f, err)
			}
		}
		// Locked without LOCK_PERSIST (simplex) removes the persistent copy.
		writeFile(t, filepath.Join(root, PersistLockedFile))
		conn2.inject(t, mtce.NetworkMgmt, agentFrom, mustMsg(t)(wire.NewLocked(target(mtce.NetworkMgmt), false)))
		synctest.Wait()
		if _, err := os.Stat(filepath.Join(root, PersistLockedFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("persistent lock after non-persistent locked: %v", err)
		}
	})
}

func writeFile(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A failing start script: FAIL result, then the services-failure flag in
// every mtcAlive; a later passing start clears it.
func TestServicesFailureFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := aio()
		h.Files = []string{hostsvc.GoEnabledFile, hostsvc.GoEnabledSubfFile}
		root := writeRoot(t, h)
		conn := newFakeConn()
		l := newFakeLauncher()
		l.set("w1", fakeBehavior{Duration: time.Second, Code: 3})
		cfg := testConfig(t, root, conn, l)
		c, _ := start(t, cfg)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		got := conn.take()
		res := filterCmd(got, wire.CmdHostServicesResult)
		if len(res) != 2 {
			t.Fatalf("results %d", len(res))
		}
		r, _ := res[1].Msg.HostServicesResult()
		wantText := "/etc/services.d/worker/w1 failed ; rc:3"
		if r.Status != mtce.FailOperation || (len(wantText) <= 63 && r.Text != wantText) {
			t.Errorf("worker result %+v, want FAIL_OPERATION %q", r, wantText)
		}
		alive := filterCmd(got, wire.CmdMtcAlive)
		a, _ := alive[len(alive)-1].Msg.MtcAlive()
		if a.Flags&wire.FlagSubfServicesFail == 0 || a.Flags&wire.FlagMainServicesFail != 0 {
			t.Errorf("flags %v: want SUBF_SERVICES_FAIL only", a.Flags)
		}
		if c.Flags()&wire.FlagSubfGoEnabled == 0 {
			t.Errorf("flags %v lack SUBF_GOENABLED", c.Flags())
		}
		l.set("w1", fakeBehavior{Duration: time.Second})
		conn.inject(t, mtce.NetworkMgmt, agentFrom, mustMsg(t)(wire.NewHostServicesRequest(mtce.FunctionWorker, true, target(mtce.NetworkMgmt))))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if f := c.Flags(); f&wire.FailureFlags != 0 {
			t.Errorf("flags after passing start %v", f)
		}
	})
}

// GoEnabled at start-up: waits for its gates, runs the tests, writes the
// flag; then, on AIO, the subfunction tests; then auto-start.
func TestGoEnabledStartup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := aio()
		h.GoEnabled = []string{"t1", "t2"}
		root := writeRoot(t, h)
		conn := newFakeConn()
		l := newFakeLauncher()
		l.set("t1", fakeBehavior{Duration: 2 * time.Second})
		cfg := testConfig(t, root, conn, l)
		c, _ := start(t, cfg)
		time.Sleep(time.Minute)
		synctest.Wait()
		if p := l.paths(); len(p) != 0 {
			t.Fatalf("ran before the gates: %v", p)
		}
		writeFile(t, filepath.Join(root, ConfigCompleteFile))
		writeFile(t, filepath.Join(root, GoEnabledGateFile))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !c.exists(hostsvc.GoEnabledFile) || c.exists(hostsvc.GoEnabledSubfFile) {
			t.Fatalf("after main gates: goenabled %v subf %v", c.exists(hostsvc.GoEnabledFile), c.exists(hostsvc.GoEnabledSubfFile))
		}
		if n := len(l.paths()); n != 2 {
			t.Fatalf("launched %d, want the 2 tests", n)
		}
		writeFile(t, filepath.Join(root, WorkerConfigFile))
		writeFile(t, filepath.Join(root, GoEnabledSubfGateFile))
		time.Sleep(time.Minute)
		synctest.Wait()
		if !c.exists(hostsvc.GoEnabledSubfFile) {
			t.Fatal("subfunction goenabled not written")
		}
		var names []string
		for _, p := range l.paths() {
			names = append(names, filepath.Base(p))
		}
		if !slices.Equal(names, []string{"t1", "t2", "t1", "t2", "c1", "c2", "w1"}) {
			t.Errorf("launched %v", names)
		}
		if v := counterValue(t, c, "mtcclient_goenabled_runs_total", "main", "pass"); v != 1 {
			t.Errorf("goenabled main pass = %v", v)
		}
	})
}

// A failing goenabled test writes goenabled_failed with its text; the
// auto-start gives up; mtcAlive carries MAIN_GOENABLE_FAIL.
func TestGoEnabledFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := standardController()
		h.GoEnabled = []string{"t1", "t2"}
		h.Files = []string{ConfigCompleteFile, GoEnabledGateFile}
		root := writeRoot(t, h)
		conn := newFakeConn()
		l := newFakeLauncher()
		l.set("t2", fakeBehavior{Duration: time.Second, Code: 1})
		l.set("t1", fakeBehavior{Hang: true})
		cfg := testConfig(t, root, conn, l)
		cfg.GoEnabledTimeout = 30 * time.Second
		c, _ := start(t, cfg)
		time.Sleep(time.Hour)
		synctest.Wait()
		b, err := os.ReadFile(filepath.Join(root, hostsvc.GoEnabledFailedFile))
		if err != nil {
			t.Fatal(err)
		}
		// t1 hangs: at the timeout it is the first unfinished test.
		if want := filepath.Join(DefaultGoEnabledDir, "t1") + " timeout\n"; string(b) != want {
			t.Errorf("failed flag %q, want %q", b, want)
		}
		if n := len(l.paths()); n != 2 {
			t.Errorf("launched %v: auto-start must give up", l.paths())
		}
		if c.Flags()&wire.FlagMainGoEnableFail == 0 {
			t.Errorf("flags %v", c.Flags())
		}
		if l.liveCount() != 0 {
			t.Error("hung test not killed")
		}
	})
}

// Reboot-class commands: ACK, then refused by default (nothing run,
// logged, counted); with hooks, the hook after the ACK, lazy reboot after
// its delay, and the failsafe forced reboot.
func TestActions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := standardController()
		h.Files = []string{hostsvc.NodeLockedFile}
		root := writeRoot(t, h)
		conn := newFakeConn()
		cfg := testConfig(t, root, conn, newFakeLauncher())
		cfg.AliveFirst, cfg.ReadyPeriod = 24*time.Hour, 24*time.Hour
		c, stop := start(t, cfg)
		synctest.Wait()
		conn.take()
		mm := mustMsg(t)
		for _, m := range []wire.Message{mm(wire.NewReboot(target(mtce.NetworkMgmt))), mm(wire.NewReset(target(mtce.NetworkMgmt))),
			mm(wire.NewWipedisk(target(mtce.NetworkMgmt))), mm(wire.NewLazyReboot(target(mtce.NetworkMgmt), 3))} {
			conn.inject(t, mtce.NetworkMgmt, agentFrom, m)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := conn.take(); len(got) != 4 {
			t.Errorf("ACKs %d, want 4", len(got))
		}
		for _, a := range []string{"reboot", "reset", "wipedisk", "lazy_reboot"} {
			if v := counterValue(t, c, "mtcclient_actions_total", a, "refused"); v != 1 {
				t.Errorf("%s refused = %v", a, v)
			}
		}
		if c.exists(NodeResetFile) {
			t.Error("node reset flag written for a refused action")
		}
		_ = stop()

		// With hooks.
		var (
			mu    sync.Mutex
			calls []string
			n     atomic.Int32
		)
		hook := func(name string) func(context.Context) error {
			return func(context.Context) error {
				n.Add(1)
				mu.Lock()
				calls = append(calls, name+"@"+time.Now().Format("15:04:05"))
				mu.Unlock()
				return nil
			}
		}
		conn2 := newFakeConn()
		cfg2 := testConfig(t, root, conn2, newFakeLauncher())
		cfg2.AliveFirst, cfg2.ReadyPeriod = 24*time.Hour, 24*time.Hour
		cfg2.Actions = Actions{Reboot: hook("reboot"), ForceReboot: hook("force")}
		start(t, cfg2)
		synctest.Wait()
		t0 := time.Now()
		conn2.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewLazyReboot(target(mtce.NetworkMgmt), 3)))
		synctest.Wait()
		if n.Load() != 0 {
			t.Fatal("lazy reboot did not wait")
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n.Load() != 1 {
			t.Fatalf("reboot hook calls %d after the 3 s delay", n.Load())
		}
		time.Sleep(2 * time.Minute) // failsafe_shutdown_delay 120 s
		synctest.Wait()
		want := []string{"reboot@" + t0.Add(3*time.Second).Format("15:04:05"), "force@" + t0.Add(123*time.Second).Format("15:04:05")}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(calls, want) {
			t.Errorf("calls %v, want %v", calls, want)
		}
		if _, err := os.Stat(filepath.Join(root, NodeResetFile)); err != nil {
			t.Errorf("node reset flag: %v", err)
		}
	})
}

// SIGTERM-like drain: a running set finishes within the bound and its
// result is sent; a set outliving the bound is killed at the bound.
func TestDrain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       fakeBehavior
		wantEnd time.Duration
		wantRC  mtce.RC
	}{
		{"finishes", fakeBehavior{Duration: 8 * time.Second}, 8 * time.Second, mtce.Pass},
		{"killed at bound", fakeBehavior{Hang: true}, 2*time.Second + 20*time.Second, mtce.FailOperation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := standardController()
				h.Files = []string{hostsvc.NodeLockedFile}
				root := writeRoot(t, h)
				conn := newFakeConn()
				l := newFakeLauncher()
				l.set("c1", tc.b)
				cfg := testConfig(t, root, conn, l)
				cfg.AliveFirst, cfg.ReadyPeriod = 24*time.Hour, 24*time.Hour
				_, stop := start(t, cfg)
				t0 := time.Now()
				mm := mustMsg(t)
				conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewHostServicesRequest(mtce.FunctionController, false, target(mtce.NetworkMgmt))))
				// A second request, pending behind the first: must not run.
				conn.inject(t, mtce.NetworkMgmt, agentFrom, mm(wire.NewHostServicesRequest(mtce.FunctionController, true, target(mtce.NetworkMgmt))))
				time.Sleep(2 * time.Second)
				synctest.Wait()
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(t0); d != tc.wantEnd {
					t.Errorf("Run returned after %v, want %v", d, tc.wantEnd)
				}
				res := filterCmd(conn.take(), wire.CmdHostServicesResult)
				if len(res) != 1 || res[0].Msg.Parm[0] != uint32(tc.wantRC) {
					t.Fatalf("results %+v, want one with status %v", res, tc.wantRC)
				}
				if n := len(l.paths()); n != 1 {
					t.Errorf("launched %d, want 1 (the pending start must not run)", n)
				}
				if l.liveCount() != 0 {
					t.Error("script still running")
				}
			})
		})
	}
}

func TestRunTwiceAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := writeRoot(t, standardController())
		cfg := testConfig(t, root, newFakeConn(), newFakeLauncher())
		c, stop := start(t, cfg)
		if err := c.Run(context.Background()); !errors.Is(err, ErrRunning) {
			t.Errorf("second Run: %v", err)
		}
		_ = stop()
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		c2, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_ = c2.Close()
		if err := c2.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Close: %v", err)
		}
	})
}

// AIO simplex never sends mtcAlive over pxeboot, even when asked.
func TestNoPxebootOnSimplex(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := aio()
		h.SystemMode = "simplex"
		h.Files = []string{hostsvc.NodeLockedFile}
		root := writeRoot(t, h)
		conn := newFakeConn()
		cfg := testConfig(t, root, conn, newFakeLauncher())
		cfg.PxebootIP = hostPxe
		cfg.ControllerPxeboot = []netip.Addr{netip.MustParseAddr("169.254.202.2")}
		start(t, cfg)
		pxe := netip.MustParseAddr("169.254.202.2")
		conn.inject(t, mtce.NetworkPxeboot, netip.AddrPortFrom(pxe, 1), mustMsg(t)(wire.NewPxebootMtcAliveRequest(
			wire.Target{MAC: hostMAC, Address: pxe.String(), Network: mtce.NetworkPxeboot}, wire.PxebootInfo{Controller0: pxe.String()})))
		time.Sleep(time.Minute)
		synctest.Wait()
		for _, s := range conn.take() {
			if s.Network == mtce.NetworkPxeboot {
				t.Fatalf("pxeboot message on simplex: %+v", s)
			}
		}
	})
}
