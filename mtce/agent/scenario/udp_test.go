package scenario

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestStopFailureDoesNotFailLock (K.4): a host that never ACKs, and one
// that ACKs its stop but never sends the result (an empty script
// directory at StarlingX's HEAD), are locked anyway: after the 10 s ACK
// wait, and after host_services_timeout + 5 s.
func TestStopFailureDoesNotFailLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{hostFn: func(name string, c *agenttest.HostConfig) {
			switch name {
			case "worker-0":
				c.NoAck = true
			case "worker-1":
				c.NoResult = true
			}
		}})
		e.eventually(15*time.Second, "online", func() bool {
			return e.agentHost("worker-0").Online && e.agentHost("worker-1").Online
		})
		t0 := time.Now()
		e.mustAction("worker-0", "lock")
		e.mustAction("worker-1", "lock")
		e.eventually(time.Minute, "worker-0 locked", func() bool { return e.states("worker-0") == "locked-disabled-online" })
		d0 := time.Since(t0)
		e.eventually(10*time.Minute, "worker-1 locked", func() bool { return e.states("worker-1") == "locked-disabled-online" })
		d1 := time.Since(t0)
		t.Logf("locked after %v (no ACK) and %v (no result)", d0, d1)
		if d0 < 2*wire.AckTimeout { // stop, then locked, each waits 10 s for its ACK
			t.Errorf("worker-0 locked after %v, before two ACK timeouts", d0)
		}
		hst := 300 * time.Second // mtc.conf host_services_timeout
		if d1 < hst+wire.ResultTimeoutExtension || d1 > hst+wire.ResultTimeoutExtension+30*time.Second {
			t.Errorf("worker-1 locked after %v, want host_services_timeout + 5 s", d1)
		}
		if !e.hosts["worker-1"].State().Locked {
			t.Errorf("worker-1 did not get the locked message")
		}
	})
}

// TestUDPGarbageAndStrangers: garbage datagrams, an mtcAlive from an
// unknown host and a failure result from a locked host are dropped and
// counted, and change nothing (Part 4, E.2).
func TestUDPGarbageAndStrangers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, options{})
		e.eventually(15*time.Second, "online", func() bool { return e.agentHost("worker-0").Online })
		e.mustAction("worker-0", "lock")
		e.eventually(2*time.Minute, "locked", func() bool { return e.states("worker-0") == "locked-disabled-online" })
		before := e.agent.Status().UDP

		stranger := netip.MustParseAddrPort("192.168.204.99:2118")
		e.net.Inject(mtce.NetworkMgmt, stranger, agentMgmt, []byte("garbage"))
		e.net.Inject(mtce.NetworkMgmt, stranger, agentMgmt, make([]byte, 100)) // zero signature
		alive, _ := wire.NewMtcAlive(wire.Alive{Uptime: 5, Sequence: 1, Identity: wire.Identity{Hostname: "intruder", Personality: "worker",
			MgmtIP: "192.168.204.99", Interface: mtce.NetworkMgmt, Sequence: 1}})
		b, _ := alive.MarshalBinary()
		e.net.Inject(mtce.NetworkMgmt, stranger, agentMgmt, b)
		res, _ := wire.NewHostServicesResult(wire.Result{Kind: wire.ResultFailed, Script: "/etc/services.d/worker/x", ExitCode: 1})
		b, _ = res.MarshalBinary()
		e.net.Inject(mtce.NetworkMgmt, e.hosts["worker-0"].Config().Mgmt, agentMgmt, b)
		synctest.Wait()
		after := e.agent.Status().UDP
		t.Logf("dropped before %v after %v", before.Dropped, after.Dropped)
		delta := func(k string) uint64 { return after.Dropped[k] - before.Dropped[k] }
		if delta("transport-short") != 1 || delta("transport-signature") != 1 {
			t.Errorf("garbage not counted: %v", after.Dropped)
		}
		if delta(agent.DropUnknownSource) != 1 {
			t.Errorf("unknown mtcAlive not counted: %v", after.Dropped)
		}
		if delta(agent.DropLockedResult) != 1 {
			t.Errorf("locked host's result not counted: %v", after.Dropped)
		}
		for _, h := range e.agent.Hosts() {
			if h.Name == "intruder" {
				t.Errorf("unknown host recorded")
			}
		}
		e.during(time.Minute, "locked host unchanged", func() bool {
			return e.states("worker-0") == "locked-disabled-online" && e.agentHost("worker-0").Running == ""
		})
	})
}
