package e2e

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/client"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

const (
	startController = "start controller host services"
	startWorker     = "start worker host services"
	stopController  = "stop controller host services"
	stopWorker      = "stop worker host services"
)

// wantAutoStart checks that boot n of h started controller services,
// then worker services, each script exactly once, and nothing else.
func wantAutoStart(t *testing.T, h *simHost, n int) {
	t.Helper()
	starts := h.launcher.of(n, "start")
	want := []string{"controller/c1.sh", "controller/c2.sh", "worker/w1.sh"}
	if got := names(starts); !slices.Equal(got, want) {
		t.Fatalf("%s boot %d: start launches %v, want %v (each once, controller first)", h.name, n, got, want)
	}
	// The worker set began only once the controller set had ended (the
	// fake scripts take 3 s).
	if d := starts[2].At.Sub(starts[0].At); d < 3*time.Second {
		t.Errorf("%s boot %d: worker scripts launched %v after the controller scripts, before they ended", h.name, n, d)
	}
	if got := h.launcher.of(n, "stop"); len(got) != 0 {
		t.Errorf("%s boot %d: stop launches %v", h.name, n, names(got))
	}
	// goenabled: the main tests, then the subfunction tests (AIO).
	if got := h.launcher.of(n, ""); len(got) != 2 {
		t.Errorf("%s boot %d: %d goenabled test runs (%v), want 2 (main, subfunction)", h.name, n, len(got), names(got))
	}
}

// wantResults checks the texts and statuses of results, in order.
func wantResults(t *testing.T, what string, rs []result, want ...string) {
	t.Helper()
	var got []string
	for _, r := range rs {
		s := r.Text
		if r.Status != mtce.Pass {
			s = "FAIL " + s
		}
		got = append(got, s)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: the agent received %d results %q, want exactly %q", what, len(got), got, want)
	}
}

// countAlives counts the mtcAlive of host received in [from, to), per
// network.
func countAlives(c *recConn, host string, from, to time.Time) map[mtce.Network]int {
	n := map[mtce.Network]int{}
	for _, r := range c.alives(host, 0) {
		if !r.At.Before(from) && r.At.Before(to) {
			n[r.Network]++
		}
	}
	return n
}

// TestAIOUnlockAutoStart: lock then unlock of the standby AIO controller
// through SysInv. The lock stops both sets (one result each); the unlock
// sends unlocked (24), then reboot; the real client's reboot hook reboots
// the simulated host; after its boot the fresh client auto-starts
// controller then worker services: each script launched once, exactly one
// PASS result per set at the agent, and the agent enables the host. Over
// the next virtual hour: no result, no launch, mtcAlive 720±2 per network.
func TestAIOUnlockAutoStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, nil)
		h := s.hosts["controller-1"]
		const name = "controller-1"

		mLock := s.conn.mark()
		s.action(name, "lock")
		s.eventually(2*time.Minute, "locked", func() bool {
			return s.states(name) == "locked-disabled-online" && s.agentHost(name).Running == "" && h.launcher.liveCount() == 0
		})
		// The stops: on AIO each stop runs both directories (E.1).
		if got := h.launcher.of(1, "stop"); len(got) != 6 {
			t.Errorf("lock: %d stop launches %v, want 6 (controller and worker sets, both merged on AIO)", len(got), names(got))
		}
		wantResults(t, "lock", sinceResults(s.conn.results(name, 1), mLock), stopController, stopWorker)
		if !h.exists(hostsvc.NodeLockedFile) || !h.exists(client.PersistLockedFile) {
			t.Fatalf("locked with LOCK_PERSIST: node_locked %v, persistent copy %v", h.exists(hostsvc.NodeLockedFile), h.exists(client.PersistLockedFile))
		}

		tUnlock, mUnlock := time.Now(), s.conn.mark()
		s.action(name, "unlock")
		s.eventually(20*time.Minute, "unlocked-enabled-available with both sets' results", func() bool {
			return s.states(name) == "unlocked-enabled-available" && s.agentHost(name).Running == "" &&
				len(s.conn.results(name, 2)) >= 2 && h.launcher.liveCount() == 0
		})
		if b, r := h.Boots(), h.HookReboots(); b != 2 || r != 1 {
			t.Fatalf("boots %d, client reboot actions %d; want 2 and 1 (the unlock's reboot)", b, r)
		}
		if h.exists(hostsvc.NodeLockedFile) || h.exists(client.PersistLockedFile) {
			t.Errorf("unlocked host still has a lock flag")
		}
		if st := s.subfStates(name); st != "enabled-available" {
			t.Errorf("subfunction %s", st)
		}
		wantAutoStart(t, h, 2)
		wantResults(t, "after the unlock", sinceResults(s.conn.results(name, 0), mUnlock), startController, startWorker)
		t.Logf("unlock → enabled in %v; launches %s", time.Since(tUnlock), joined(h.launcher.of(2, "*")))

		// An hour: no result flood, nothing runs again, mtcAlive goes on.
		launches := len(h.launcher.all())
		launches0 := len(s.hosts["controller-0"].launcher.all())
		tHour := time.Now()
		s.during(time.Hour, "stays enabled for an hour", func() bool {
			return s.states(name) == "unlocked-enabled-available" && s.states("controller-0") == "unlocked-enabled-available"
		})
		wantResults(t, "after an hour", sinceResults(s.conn.results(name, 0), mUnlock), startController, startWorker)
		if n := len(h.launcher.all()); n != launches {
			t.Errorf("%d launches during the hour: %v", n-launches, names(h.launcher.all()[launches:]))
		}
		// controller-0 (the agent's host): its process-start auto-start
		// only, in all this time.
		wantResults(t, "controller-0", s.conn.results("controller-0", 0), startController, startWorker)
		if n := len(s.hosts["controller-0"].launcher.all()); n != launches0 {
			t.Errorf("controller-0: %d launches during the hour", n-launches0)
		}
		for _, host := range []string{name, "controller-0"} {
			n := countAlives(s.conn, host, tHour, tHour.Add(time.Hour))
			for _, nw := range []mtce.Network{mtce.NetworkMgmt, mtce.NetworkClusterHost} {
				if n[nw] < 718 || n[nw] > 722 {
					t.Errorf("%s: %d mtcAlive on %v in an hour, want 3600/5 = 720 ± 2", host, n[nw], nw)
				}
			}
			t.Logf("%s: mtcAlive in the hour %v", host, n)
		}
		// Nothing was lost at the agent's socket (no decode failure, no
		// full queue); the network dropped only datagrams to
		// controller-1-cluster-host:2101, where no agent runs, and to the
		// rebooting host's closed sockets.
		if st := s.conn.Stats(); len(st.Dropped) != 0 || st.Received != st.Delivered {
			t.Errorf("agent socket stats %+v", st)
		}
		ns := s.net.Stats()
		for reason, n := range ns.Dropped {
			if reason != agenttest.NetDropUnknown && reason != agenttest.NetDropClosed {
				t.Errorf("network dropped %d datagrams: %v", n, reason)
			}
		}
		t.Logf("network: %d datagrams sent, dropped %v", ns.Sent, ns.Dropped)
	})
}

// sinceResults keeps the results received at or after mark.
func sinceResults(rs []result, mark int) []result {
	var out []result
	for _, r := range rs {
		if r.Index >= mark {
			out = append(out, r)
		}
	}
	return out
}

// TestStartRequestDuringAutoStart: controller-1 reboots on its own; while
// its auto-start runs the controller set (the worker set pending), start
// controller and start worker requests come from the agent's socket, and
// another start worker while the worker set runs. Each is ACKed PASS
// once; they coalesce with the auto-start (E.4): every script launched
// exactly once, exactly one result per set.
func TestStartRequestDuringAutoStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, nil)
		h := s.hosts["controller-1"]
		const name = "controller-1"
		started := make(chan launch, 16)
		h.launcher.setOnLaunch(func(l launch) {
			if l.Boot == 2 && l.Action == "start" {
				started <- l
			}
		})
		next := func(what string) launch {
			t.Helper()
			select {
			case l := <-started:
				return l
			case <-time.After(10 * time.Minute):
				t.Fatalf("%s: no start launch within 10 minutes; %s", what, s.describe())
			}
			return launch{}
		}
		request := func(fn mtce.NodeFunctions) {
			t.Helper()
			s.sendFromAgent(name, func(tg wire.Target) (wire.Message, error) { return wire.NewHostServicesRequest(fn, true, tg) })
		}

		m0 := s.conn.mark()
		h.Reboot()
		if l := next("controller set"); l.Dir != "controller" {
			t.Fatalf("first start launch %s/%s, want a controller script", l.Dir, l.Name)
		}
		// The controller set runs; the auto-start's worker start is pending.
		request(mtce.FunctionController) // = the running set
		request(mtce.FunctionWorker)     // = the pending one
		for l := next("worker set"); l.Dir != "worker"; l = next("worker set") {
		}
		request(mtce.FunctionWorker) // = the running set

		s.eventually(20*time.Minute, "re-enabled with both sets' results", func() bool {
			return s.states(name) == "unlocked-enabled-available" && len(s.conn.results(name, 2)) >= 2 && h.launcher.liveCount() == 0
		})
		s.during(10*time.Minute, "stays enabled", func() bool { return s.states(name) == "unlocked-enabled-available" })
		wantAutoStart(t, h, 2)
		wantResults(t, "after the reboot", sinceResults(s.conn.results(name, 0), m0), startController, startWorker)
		if b, r := h.Boots(), h.HookReboots(); b != 2 || r != 0 {
			t.Errorf("boots %d, client reboot actions %d; want 2 and 0", b, r)
		}
		// One enhanced PASS ACK per request.
		ctrl, _ := wire.HostServicesCommand(mtce.FunctionController, true)
		wrk, _ := wire.HostServicesCommand(mtce.FunctionWorker, true)
		acks := map[wire.Command]int{}
		for _, r := range s.conn.messages(name, func(r received) bool { return r.Boot == 2 && r.Msg.Signature == wire.SigResponse }) {
			if r.Msg.Command == wire.CmdHostServicesResult {
				continue
			}
			a, err := r.Msg.Ack()
			if err != nil || !a.Enhanced || r.Msg.Parm[0] != uint32(mtce.Pass) {
				t.Errorf("ACK %+v: %+v %v", r.Msg, a, err)
			}
			acks[r.Msg.Command]++
		}
		if acks[ctrl] != 1 || acks[wrk] != 2 || len(acks) != 2 {
			t.Errorf("ACKs %v, want 1 start controller and 2 start worker", acks)
		}
	})
}

// TestLockedRebootNoAutoStart: controller-1 is locked (the agent's locked
// message carries LOCK_PERSIST on a duplex system), then rebooted through
// SysInv. Its fresh client restores /var/run/.node_locked from
// /var/persist, runs its goenabled tests, starts no services, sends no
// result, and reports LOCKED in every mtcAlive; the agent keeps it
// locked-disabled-online.
func TestLockedRebootNoAutoStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, nil)
		h := s.hosts["controller-1"]
		const name = "controller-1"
		s.action(name, "lock")
		s.eventually(2*time.Minute, "locked", func() bool {
			return s.states(name) == "locked-disabled-online" && s.agentHost(name).Running == "" && h.launcher.liveCount() == 0
		})
		if !h.exists(client.PersistLockedFile) {
			t.Fatal("no persistent lock flag after the lock")
		}
		t0 := time.Now()
		s.action(name, "reboot")
		s.eventually(10*time.Minute, "rebooted, online, goenabled", func() bool {
			return h.Boots() == 2 && h.Up() && h.exists(hostsvc.GoEnabledSubfFile) && s.agentHost(name).Online &&
				s.agentHost(name).Running == "" && s.states(name) == "locked-disabled-online"
		})
		t.Logf("reboot of the locked host: back in %v; tasks %v", time.Since(t0), s.tasks(name))
		s.during(10*time.Minute, "stays locked-disabled-online", func() bool {
			return s.states(name) == "locked-disabled-online" && s.agentHost(name).Online
		})
		if r := h.HookReboots(); r != 1 {
			t.Errorf("client reboot actions %d, want 1", r)
		}
		if got := h.launcher.of(2, "start"); len(got) != 0 {
			t.Errorf("locked host auto-started: %v", names(got))
		}
		if got := h.launcher.of(2, "stop"); len(got) != 0 {
			t.Errorf("stop launches %v", names(got))
		}
		if got := h.launcher.of(2, ""); len(got) != 2 {
			t.Errorf("%d goenabled runs, want 2 (main, subfunction)", len(got))
		}
		if rs := s.conn.results(name, 2); len(rs) != 0 {
			t.Errorf("results from the locked host: %+v", rs)
		}
		if !h.exists(hostsvc.NodeLockedFile) || !h.exists(client.PersistLockedFile) {
			t.Errorf("lock flags after the reboot: node_locked %v, persistent %v", h.exists(hostsvc.NodeLockedFile), h.exists(client.PersistLockedFile))
		}
		alives := s.conn.alives(name, 2)
		if len(alives) < 2*2*60 { // ≥ 10 minutes on both networks
			t.Fatalf("%d mtcAlive from boot 2", len(alives))
		}
		for _, r := range alives {
			al, _ := r.Msg.MtcAlive()
			if al.Flags&wire.FlagLocked == 0 {
				t.Fatalf("mtcAlive without LOCKED at %v: %v", r.At, al.Flags)
			}
		}
		if f := s.agentHost(name).Flags; !strings.Contains(f, "locked") {
			t.Errorf("agent's flags %q", f)
		}
	})
}

// failingWorker makes w1.sh's start exit 1 in the boots for which
// failing holds.
func failingWorker(failing func(boot int) bool) func(launch) int {
	return func(l launch) int {
		if l.Action == "start" && l.Name == "w1.sh" && failing(l.Boot) {
			return 1
		}
		return 0
	}
}

// wantFailedBoot checks boot n: controller PASS, worker FAIL naming the
// script and rc 1, and SUBF_SERVICES_FAIL (the worker set of an AIO
// controller) in its mtcAlive, never MAIN_SERVICES_FAIL.
func wantFailedBoot(t *testing.T, s *system, h *simHost, n int) {
	t.Helper()
	rs := s.conn.results(h.name, n)
	// The text names the script's path as the host sees it (relative
	// to the client's Root), as on a real host.
	text := "/etc/services.d/worker/w1.sh failed ; rc:1"
	if len(rs) != 2 || rs[0].Status != mtce.Pass || rs[0].Text != startController ||
		rs[1].Status != mtce.FailOperation || rs[1].Kind != wire.ResultFailed || rs[1].Text != text {
		t.Fatalf("boot %d results %+v, want start controller PASS then %q", n, rs, text)
	}
	subf, main := 0, 0
	for _, r := range s.conn.alives(h.name, n) {
		al, _ := r.Msg.MtcAlive()
		if al.Flags&wire.FlagSubfServicesFail != 0 {
			subf++
		}
		if al.Flags&wire.FlagMainServicesFail != 0 {
			main++
		}
	}
	if subf == 0 || main != 0 {
		t.Errorf("boot %d: %d mtcAlive with SUBF_SERVICES_FAIL, %d with MAIN_SERVICES_FAIL; want some and none", n, subf, main)
	}
}

// TestServicesFailureRecovers: controller-1 reboots on its own and its
// worker start script fails on that boot: one FAIL result, the
// SUBF_SERVICES_FAIL flag in its mtcAlive; the agent fails the host
// ("Service Failure") and, ar_hostservices_interval (30 s) later, reboots
// it through the client; on that boot the script passes and the host
// ends unlocked-enabled-available: exactly one recovery reboot.
func TestServicesFailureRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, nil)
		h := s.hosts["controller-1"]
		const name = "controller-1"
		h.launcher.setCode(failingWorker(func(boot int) bool { return boot == 2 }))
		h.Reboot()
		sawFailed := false
		s.eventually(30*time.Minute, "recovered: boot 3 enabled with both results", func() bool {
			if s.states(name) == "unlocked-disabled-failed" && len(s.conn.results(name, 2)) == 2 {
				sawFailed = true
			}
			return h.Boots() == 3 && s.states(name) == "unlocked-enabled-available" && s.agentHost(name).Running == "" &&
				len(s.conn.results(name, 3)) >= 2 && h.launcher.liveCount() == 0
		})
		s.during(10*time.Minute, "stays enabled", func() bool { return s.states(name) == "unlocked-enabled-available" })
		if !sawFailed {
			t.Errorf("never unlocked-disabled-failed after the failure result")
		}
		if !s.taskSeen(name, mtce.TaskMainServiceFail) {
			t.Errorf("no %q task: %v", mtce.TaskMainServiceFail, s.tasks(name))
		}
		if b, r := h.Boots(), h.HookReboots(); b != 3 || r != 1 {
			t.Fatalf("boots %d, client reboot actions %d; want 3 and 1 (one recovery reboot)", b, r)
		}
		wantAutoStart(t, h, 2)
		wantAutoStart(t, h, 3)
		wantFailedBoot(t, s, h, 2)
		fail := s.conn.results(name, 2)[1].At
		if d := h.BootAt(3).Sub(fail); d < 30*time.Second || d > 45*time.Second {
			t.Errorf("recovery reboot %v after the failure result, want ar_hostservices_interval 30 s (+ ACK)", d)
		}
		wantResults(t, "boot 3", s.conn.results(name, 3), startController, startWorker)
		for _, r := range s.conn.alives(name, 3) {
			if al, _ := r.Msg.MtcAlive(); al.Flags&(wire.FlagSubfServicesFail|wire.FlagMainServicesFail) != 0 {
				t.Fatalf("boot 3 mtcAlive with a services-failure flag: %v", al.Flags)
			}
		}
		t.Logf("tasks %v", s.tasks(name))
	})
}

// TestServicesFailureThreshold: the worker start script fails on every
// boot after a spontaneous reboot. The agent recovers the host by reboot
// ar_hostservices_threshold (2) times, then leaves it unlocked-disabled-
// failed with auto-recovery of that cause disabled, and reboots it no
// more.
func TestServicesFailureThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, nil)
		h := s.hosts["controller-1"]
		const name = "controller-1"
		h.launcher.setCode(failingWorker(func(boot int) bool { return boot >= 2 }))
		h.Reboot()
		s.eventually(time.Hour, "auto-recovery disabled", func() bool {
			return slices.Contains(s.agentHost(name).ARDisabled, "hostservices")
		})
		s.eventually(2*time.Minute, "left failed", func() bool {
			return s.states(name) == "unlocked-disabled-failed" && s.simHost(name).Task == string(mtce.TaskARDisabledServices) &&
				s.agentHost(name).Running == "" && h.launcher.liveCount() == 0
		})
		s.during(15*time.Minute, "stays failed, no reboot", func() bool {
			return s.states(name) == "unlocked-disabled-failed" && h.Boots() == 4
		})
		if b, r := h.Boots(), h.HookReboots(); b != 4 || r != 2 {
			t.Fatalf("boots %d, client reboot actions %d; want 4 and 2 (ar_hostservices_threshold recovery reboots)", b, r)
		}
		for n := 2; n <= 4; n++ {
			wantAutoStart(t, h, n)
			wantFailedBoot(t, s, h, n)
		}
		for n := 2; n <= 3; n++ {
			fail := s.conn.results(name, n)[1].At
			if d := h.BootAt(n + 1).Sub(fail); d < 30*time.Second || d > 45*time.Second {
				t.Errorf("recovery reboot %d: %v after the failure result, want ar_hostservices_interval 30 s", n-1, d)
			}
		}
		if rs := s.conn.results(name, 0); len(rs) != 2+3*2 {
			t.Errorf("%d results in all, want 8 (boot 1's two, then two per boot)", len(rs))
		}
		t.Logf("tasks %v", s.tasks(name))
	})
}

// TestStartRequestBeforeGate: start requests from the agent reach the
// client after its boot, while the auto-start waits for its gate
// (/var/run/goenabled_subf on an AIO controller), i.e. during the
// auto-start but before it has submitted anything. E.4's promise is the
// same as while the sets run: nothing runs twice, one result per set.
//
// This found a client bug: such a request went straight to the
// scheduler and ran at once, before the goenabled tests, and the
// auto-start then ran the same sets again (every script twice, four
// results). The client now holds it for the auto-start.
func TestStartRequestBeforeGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, nil)
		h := s.hosts["controller-1"]
		const name = "controller-1"
		t0, m0 := time.Now(), s.conn.mark()
		h.Reboot()
		s.eventually(2*time.Minute, "boot 2's client running", func() bool { return h.Boots() == 2 && h.Up() })
		if h.exists(hostsvc.GoEnabledSubfFile) {
			t.Fatal("the gate is already open")
		}
		for _, fn := range []mtce.NodeFunctions{mtce.FunctionController, mtce.FunctionWorker} {
			s.sendFromAgent(name, func(tg wire.Target) (wire.Message, error) { return wire.NewHostServicesRequest(fn, true, tg) })
		}
		s.eventually(20*time.Minute, "re-enabled", func() bool {
			return s.states(name) == "unlocked-enabled-available" && h.exists(hostsvc.GoEnabledSubfFile) && h.launcher.liveCount() == 0
		})
		s.during(10*time.Minute, "stays enabled", func() bool { return s.states(name) == "unlocked-enabled-available" })
		t.Logf("boot 2 launches: %s", joined(h.launcher.of(2, "*")))
		for _, r := range sinceResults(s.conn.results(name, 0), m0) {
			t.Logf("result at %v: %s", r.At.Sub(t0), r.Text)
		}
		wantAutoStart(t, h, 2)
		wantResults(t, "after the reboot", sinceResults(s.conn.results(name, 0), m0), startController, startWorker)
	})
}
