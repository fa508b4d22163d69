package agent

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestHostLookupAsHosts: the agent's eventapi.HostLookup (what the event
// API reads per request) returns exactly the records of State.Hosts (the
// copy of every record it replaced), by uuid, by name and in a scan,
// with live values (uptime, pxeboot from an mtcAlive).
func TestHostLookupAsHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		s, _ := sim.New(sc)
		defer s.Close()
		n := newMemNet()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go n.addHost(t, sc.Hosts[2], false).run(ctx)
		a, _ := New(testConfig(t, s, n))
		stop := started(t, a)
		al, _ := wire.NewMtcAlive(wire.Alive{Uptime: 77, Identity: wire.Identity{Hostname: "controller-1", Interface: mtce.NetworkPxeboot}})
		n.deliver(mustAddrPort("169.254.202.9:2102"), al)
		synctest.Wait()
		err := a.Transact(ctx, func(es eventapi.State) error {
			all := es.Hosts()
			l := es.(eventapi.HostLookup)
			var ranged []eventapi.Host
			l.RangeHosts(func(h *eventapi.Host) bool { ranged = append(ranged, *h); return true })
			byName := func(x, y eventapi.Host) int { return strings.Compare(x.Name, y.Name) }
			slices.SortFunc(all, byName)
			slices.SortFunc(ranged, byName)
			if len(all) != 3 || !reflect.DeepEqual(all, ranged) {
				t.Errorf("RangeHosts %+v\nHosts %+v", ranged, all)
			}
			for _, h := range all {
				if g, ok := l.HostByUUID(h.UUID); !ok || !reflect.DeepEqual(g, h) {
					t.Errorf("HostByUUID(%s) = %+v %v, want %+v", h.UUID, g, ok, h)
				}
				if g, ok := l.HostByName(h.Name); !ok || !reflect.DeepEqual(g, h) {
					t.Errorf("HostByName(%s) = %+v %v, want %+v", h.Name, g, ok, h)
				}
			}
			if c1, _ := l.HostByName("controller-1"); c1.Uptime != 77 || c1.PxebootIP != "169.254.202.9" {
				t.Errorf("controller-1 not live: %+v", c1)
			}
			if w0, _ := l.HostByName("worker-0"); w0.Uptime < 3600 {
				t.Errorf("worker-0 not live: %+v", w0)
			}
			if _, ok := l.HostByUUID("no-such-uuid"); ok {
				t.Error("unknown uuid found")
			}
			if _, ok := l.HostByName("no-such-host"); ok {
				t.Error("unknown name found")
			}
			stopped := 0
			l.RangeHosts(func(*eventapi.Host) bool { stopped++; return false })
			if stopped != 1 {
				t.Errorf("RangeHosts went on after false: %d calls", stopped)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		stop()
	})
}

// TestUUIDHintNeverStale: the uuid lookup's hint never returns a record
// that a scan would not — after a uuid change (modify), a rename, a
// delete, and a re-add of the same uuid as a new record.
func TestUUIDHintNeverStale(t *testing.T) {
	a, err := New(testConfigNoSim(t))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.lock()
	defer a.unlock()
	const u1, u2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	h := a.addRecordLocked(mtce.Host{Name: "worker-0", UUID: u1}, 0)
	if a.hostByUUIDLocked(u1) != h || a.byUUID[u1] != h {
		t.Fatal("not found, or hint not set")
	}
	h.rec.UUID = u2 // as Modify does
	if a.hostByUUIDLocked(u1) != nil || a.hostByUUIDLocked(u2) != h {
		t.Fatal("stale after a uuid change")
	}
	delete(a.hosts, "worker-0") // as Modify renames
	h.rec.Name = "worker-9"
	a.hosts["worker-9"] = h
	if a.hostByUUIDLocked(u2) != h {
		t.Fatal("lost after a rename")
	}
	a.forgetLocked(h)
	if a.hostByUUIDLocked(u2) != nil {
		t.Fatal("deleted record returned")
	}
	h2 := a.addRecordLocked(mtce.Host{Name: "worker-9", UUID: u2}, 0)
	a.byUUID[u2] = h // a stale hint: never trusted
	if a.hostByUUIDLocked(u2) != h2 {
		t.Fatal("re-added record not returned")
	}
	if a.hostByUUIDLocked("") != nil {
		t.Fatal("empty uuid found")
	}
}
