package agent

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestFastRebootBySequence: an unlocked-enabled host that reboots within
// one mtcAlive period right after booting — so its new uptime is above
// the last one and the uptime rule cannot see it — is noticed by its mgmt
// sequence starting again: failed and recovered, in virtual time. A
// client restart without a reboot (sequence from 1, uptime in step with
// the clock) on another host is not a reboot.
func TestFastRebootBySequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := sim.New(simConfig())
		defer s.Close()
		n := newMemNet()
		a, _ := New(testConfig(t, s, n))
		stop := started(t, a)
		alive := func(from string, name string, up, seq uint32) {
			m, err := wire.NewMtcAlive(wire.Alive{Uptime: up, Health: wire.HealthHealthy, Flags: wire.FlagConfigured | wire.FlagMainGoEnabled,
				Sequence: seq, Identity: wire.Identity{Hostname: name, Interface: mtce.NetworkMgmt}})
			if err != nil {
				t.Fatal(err)
			}
			n.deliver(mustAddrPort(from), m)
			synctest.Wait()
		}
		const c1, w0 = "192.168.204.4:2118", "192.168.204.5:2118" // controller-1, worker-0: unlocked-enabled-available
		alive(c1, "controller-1", 100, 20)
		alive(w0, "worker-0", 3, 1) // worker-0's first mtcAlive after its boot
		time.Sleep(5 * time.Second)
		alive(c1, "controller-1", 105, 1) // controller-1's client restarted, no reboot
		time.Sleep(time.Second)
		alive(w0, "worker-0", 4, 1) // worker-0 rebooted in ~2 s: up 4 s, sequence 1 again
		if got := a.met.reboots.Load(); got != 1 {
			t.Fatalf("reboots detected %d, want 1 (worker-0 only)", got)
		}
		// worker-0 was failed (VIM told disabled-failed) and, back at once
		// configured and goenabled, re-enabled (the unchanged handling of
		// a host that rebooted on its own); controller-1 never failed.
		failed := func(host string) bool {
			for _, v := range s.VIMStateChanges() {
				if v.Hostname == host && v.State.Operational == "disabled" && v.State.Availability == "failed" {
					return true
				}
			}
			return false
		}
		if !failed("worker-0") || failed("controller-1") {
			t.Errorf("VIM saw worker-0 failed %v (want true), controller-1 failed %v (want false)", failed("worker-0"), failed("controller-1"))
		}
		if err := waitUntil(time.Minute, func() bool {
			h, _ := s.Host("worker-0")
			return h.Operational == "enabled" && h.Availability == "available"
		}); err != nil {
			h, _ := s.Host("worker-0")
			t.Errorf("worker-0 not re-enabled in sysinv: %s-%s-%s", h.Administrative, h.Operational, h.Availability)
		}
		stop()
	})
}

// TestMgmtRestartRule: mgmtRestartLocked fires only for a new client
// process whose boot time moved — never for a reordered, duplicated or
// late datagram (lower-or-equal sequence with lower-or-equal uptime),
// nor for a client restart without a reboot, nor across interfaces.
func TestMgmtRestartRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, err := New(testConfigNoSim(t))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		a.lock()
		defer a.unlock()
		h := a.addRecordLocked(mtce.Host{Name: "worker-0", MgmtIP: "192.168.204.5", ClusterHostIP: "192.168.206.5"}, 0)
		mgmt := netip.MustParseAddrPort("192.168.204.5:2118")
		clstr := netip.MustParseAddrPort("192.168.206.5:2115")
		type msg struct {
			after    time.Duration // since the previous message
			nw       mtce.Network
			from     netip.AddrPort
			up, seq  uint32
			restart  bool
			scenario string
		}
		for _, c := range [][]msg{
			{{0, mtce.NetworkMgmt, mgmt, 3, 1, false, "first message"}, {6 * time.Second, mtce.NetworkMgmt, mgmt, 4, 1, true, "rebooted in one period"}},
			{{0, mtce.NetworkMgmt, mgmt, 1, 1, false, "first"}, {10 * time.Second, mtce.NetworkMgmt, mgmt, 4, 1, true, "rebooted, away 10 s"}},
			{{0, mtce.NetworkMgmt, mgmt, 100, 20, false, "first"}, {5 * time.Second, mtce.NetworkMgmt, mgmt, 105, 1, false, "client restart, no reboot"}},
			{{0, mtce.NetworkMgmt, mgmt, 100, 20, false, "first"}, {5 * time.Second, mtce.NetworkMgmt, mgmt, 103, 1, false, "client restart, uptime 2 s behind (slack)"}},
			{{0, mtce.NetworkMgmt, mgmt, 100, 20, false, "first"}, {5 * time.Second, mtce.NetworkMgmt, mgmt, 105, 21, false, "next"}, {0, mtce.NetworkMgmt, mgmt, 100, 20, false, "reordered"}},
			{{0, mtce.NetworkMgmt, mgmt, 100, 20, false, "first"}, {30 * time.Second, mtce.NetworkMgmt, mgmt, 100, 20, false, "duplicate, late"}},
			{{0, mtce.NetworkMgmt, mgmt, 100, 20, false, "first"}, {9 * time.Second, mtce.NetworkMgmt, mgmt, 95, 19, false, "older, late"}},
			{{0, mtce.NetworkMgmt, mgmt, 3, 1, false, "first"}, {6 * time.Second, mtce.NetworkClusterHost, clstr, 4, 1, false, "cluster-host interface"}},
			{{0, mtce.NetworkMgmt, mgmt, 3, 1, false, "first"}, {6 * time.Second, mtce.NetworkClusterHost, mgmt, 4, 1, false, "mgmt IP, cluster-host network"}},
			{{0, mtce.NetworkMgmt, mgmt, 3, 5, false, "first"}, {6 * time.Second, mtce.NetworkMgmt, mgmt, 4, 6, false, "sequence went on"}},
		} {
			h.mgmt = mgmtAlive{}
			for _, m := range c {
				time.Sleep(m.after)
				p := wire.Packet{Network: m.nw, From: m.from}
				if got := a.mgmtRestartLocked(h, p, wire.Alive{Uptime: m.up, Sequence: m.seq}); got != m.restart {
					t.Errorf("%s: restart %v, want %v", m.scenario, got, m.restart)
				}
			}
		}
	})
}
