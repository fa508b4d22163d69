package eventapi

import (
	"context"
	"fmt"
	"sync"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/swact"
)

// fakeBackend records every call of the State methods that accept or
// refuse something. Add records the new host, as the agent must.
type fakeBackend struct {
	mu        sync.Mutex
	hosts     []Host
	held      bool
	swactErr  error // returned by Swact
	acceptErr error // returned by the other accepting methods
	block     bool  // Transact waits for ctx and never runs fn
	lookup    bool  // the State has HostLookup (as the agent's)
	copies    int   // Hosts calls (each a copy of every record in the agent)

	adds     []AddRequest
	modifies []ModifyRequest
	swacts   []swact.Request
	deletes  []string
	vim      []string
	sm       []string
	rejected []Rejection
}

func (b *fakeBackend) Transact(ctx context.Context, fn func(State) error) error {
	if b.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lookup {
		return fn(lookupState{fakeState{b}})
	}
	return fn(fakeState{b})
}

// lookupState is fakeState with HostLookup over the same records.
type lookupState struct{ fakeState }

func (s lookupState) Hosts() []Host {
	s.b.copies++
	return s.b.hosts
}

func (s lookupState) HostByUUID(uuid string) (Host, bool) {
	for _, h := range s.b.hosts {
		if h.UUID == uuid {
			return h, true
		}
	}
	return Host{}, false
}

func (s lookupState) HostByName(name string) (Host, bool) {
	for _, h := range s.b.hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

func (s lookupState) RangeHosts(yield func(*Host) bool) {
	for _, h := range s.b.hosts {
		if !yield(&h) { // a copy, as the agent's scratch record
			return
		}
	}
}

// changes counts the calls that change state.
func (b *fakeBackend) changes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.adds) + len(b.modifies) + len(b.swacts) + len(b.deletes) + len(b.vim) + len(b.sm)
}

func (b *fakeBackend) calls() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("adds=%d modifies=%d swacts=%d deletes=%d vim=%v sm=%v rejected=%d",
		len(b.adds), len(b.modifies), len(b.swacts), len(b.deletes), b.vim, b.sm, len(b.rejected))
}

type fakeState struct{ b *fakeBackend }

func (s fakeState) Hosts() []Host   { return s.b.hosts }
func (s fakeState) SwactHeld() bool { return s.b.held }

func (s fakeState) Add(_ context.Context, r AddRequest) error {
	if s.b.acceptErr != nil {
		return s.b.acceptErr
	}
	s.b.adds = append(s.b.adds, r)
	s.b.hosts = append(s.b.hosts, Host{Host: r.Host, Adding: true})
	return nil
}

func (s fakeState) Modify(_ context.Context, r ModifyRequest) error {
	if s.b.acceptErr != nil {
		return s.b.acceptErr
	}
	s.b.modifies = append(s.b.modifies, r)
	return nil
}

func (s fakeState) Swact(_ context.Context, r swact.Request) error {
	if s.b.swactErr != nil {
		return s.b.swactErr
	}
	s.b.swacts = append(s.b.swacts, r)
	return nil
}

func (s fakeState) Delete(_ context.Context, h Host) error {
	if s.b.acceptErr != nil {
		return s.b.acceptErr
	}
	s.b.deletes = append(s.b.deletes, h.Name)
	return nil
}

func (s fakeState) VIMFailed(_ context.Context, h Host, reboot bool) error {
	if s.b.acceptErr != nil {
		return s.b.acceptErr
	}
	s.b.vim = append(s.b.vim, fmt.Sprintf("%s reboot=%v", h.Name, reboot))
	return nil
}

func (s fakeState) SMFailed(_ context.Context, h Host) error {
	if s.b.acceptErr != nil {
		return s.b.acceptErr
	}
	s.b.sm = append(s.b.sm, h.Name)
	return nil
}

func (s fakeState) Rejected(r Rejection) { s.b.rejected = append(s.b.rejected, r) }

// Fixture hosts: a standard system, agent on controller-0.
const (
	uuidC0 = "11111111-1111-4111-8111-111111111111"
	uuidC1 = "22222222-2222-4222-8222-222222222222"
	uuidW0 = "33333333-3333-4333-8333-333333333333"
	uuidW1 = "5b6e3f0c-8a64-4d0e-9c35-2a41f1f4a9d2" // testdata/sysinv_add_worker.json
)

func ctrl(name, uuid, ip string, admin mtce.AdminState, oper mtce.OperState, avail mtce.AvailStatus) Host {
	return Host{Host: mtce.Host{Name: name, UUID: uuid, Personality: mtce.PersonalityController,
		Subfunctions: "controller", MgmtIP: ip, MgmtMAC: "52:54:00:00:00:" + ip[len(ip)-2:],
		Admin: admin, Oper: oper, Avail: avail, BMIP: None, BMUsername: None}, Uptime: 1234}
}

func fixture() *fakeBackend {
	w0 := Host{Host: mtce.Host{Name: "compute-0", UUID: uuidW0, Personality: mtce.PersonalityWorker,
		Subfunctions: "worker", MgmtIP: "192.168.204.50", MgmtMAC: "52:54:00:00:00:50",
		ClusterHostIP: "192.168.206.50", Admin: mtce.AdminUnlocked, Oper: mtce.OperEnabled,
		Avail: mtce.AvailAvailable, BMIP: "10.10.10.50", BMUsername: "root", BMType: mtce.BMCRedfish},
		PxebootIP: "169.254.202.50", Uptime: 4321}
	return &fakeBackend{hosts: []Host{
		ctrl("controller-0", uuidC0, "192.168.204.11", mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable),
		ctrl("controller-1", uuidC1, "192.168.204.12", mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable),
		w0,
	}}
}
