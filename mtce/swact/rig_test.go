package swact

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/fsm"
	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
	"opendev.org/starlingx/metal-go/workqueue"
)

// rig is the simulator, the token manager, the queue, the clients and a
// controller, all inside one synctest bubble (the wiring of mtce/soak).
type rig struct {
	t    *testing.T
	sim  *sim.Sim
	ks   *keystone.Manager
	q    *workqueue.Queue
	sm   *sm.Client
	inv  *sysinv.Client
	fsm  *faultySM
	c    *Controller
	ends chan Stage // stage entered: Done and Idle

	mu                        sync.Mutex
	simplex                   bool
	swactable                 []string // OnSwactable calls
	waits                     []string // OnActionWait calls
	onSwactable, onActionWait func(string)
}

// faultySM refuses the next queryFails queries and swactFails swact
// requests with workqueue.ErrOverloaded (the enqueue failure the simulator
// cannot cause), and otherwise calls the real client.
type faultySM struct {
	SM
	mu                     sync.Mutex
	queryFails, swactFails int
}

func (f *faultySM) Query(c string) (*sm.Call[sm.ServiceNode], error) {
	f.mu.Lock()
	if f.queryFails != 0 {
		f.queryFails--
		f.mu.Unlock()
		return nil, workqueue.ErrOverloaded
	}
	f.mu.Unlock()
	return f.SM.Query(c)
}

func (f *faultySM) Swact(c string, a mtce.AvailStatus) (*sm.Call[struct{}], error) {
	f.mu.Lock()
	if f.swactFails != 0 {
		f.swactFails--
		f.mu.Unlock()
		return nil, workqueue.ErrOverloaded
	}
	f.mu.Unlock()
	return f.SM.Swact(c, a)
}

// newRig must run inside a synctest bubble. mod may change the
// controller's configuration.
func newRig(t *testing.T, mod func(*Config)) *rig {
	t.Helper()
	sc := sim.DefaultConfig()
	s, err := sim.New(sc)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	r := &rig{t: t, sim: s, ends: make(chan Stage, 16)}
	ep := s.MemoryEndpoints()
	kc := keystone.DefaultConfig()
	kc.AuthURL = ep.AuthURL()
	kc.Username, kc.UserDomainName = sc.Username, sc.UserDomainName
	kc.Password = keystone.Secret(sc.Password.Reveal())
	kc.ProjectName, kc.ProjectDomainName = sc.ProjectName, sc.ProjectDomainName
	kc.Transport = s.Transport()
	if r.ks, err = keystone.New(kc); err != nil {
		_ = s.Close()
		t.Fatalf("keystone.New: %v", err)
	}
	qc := workqueue.DefaultConfig()
	qc.Gate = r.ks
	if r.q, err = workqueue.New(qc); err != nil {
		_ = r.ks.Close()
		_ = s.Close()
		t.Fatalf("workqueue.New: %v", err)
	}
	withToken := &http.Client{Transport: &keystone.Transport{Manager: r.ks, Base: s.Transport()}}
	ic := sysinv.DefaultConfig()
	ic.BaseURL, ic.HTTPClient, ic.Queue = ep.SysInv, withToken, r.q
	if r.inv, err = sysinv.New(ic); err != nil {
		t.Fatalf("sysinv.New: %v", err)
	}
	mc := sm.DefaultConfig()
	mc.BaseURL, mc.HTTPClient, mc.Queue = ep.SM, withToken, r.q
	if r.sm, err = sm.New(mc); err != nil {
		t.Fatalf("sm.New: %v", err)
	}
	r.fsm = &faultySM{SM: r.sm}
	cfg := DefaultConfig()
	cfg.SM, cfg.SysInv, cfg.Queue = r.fsm, r.inv, r.q
	cfg.Simplex = func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.simplex }
	cfg.OnSwactable = func(h string) {
		r.mu.Lock()
		r.swactable = append(r.swactable, h)
		f := r.onSwactable
		r.mu.Unlock()
		if f != nil {
			f(h)
		}
	}
	cfg.OnActionWait = func(h string) {
		r.mu.Lock()
		r.waits = append(r.waits, h)
		f := r.onActionWait
		r.mu.Unlock()
		if f != nil {
			f(h)
		}
	}
	cfg.Observer = func(rec fsm.Record[Stage, Event]) {
		if rec.Kind == fsm.KindTransitioned && !rec.Internal && (rec.To == StageDone || rec.To == StageIdle) {
			r.ends <- rec.To
		}
	}
	if mod != nil {
		mod(&cfg)
	}
	if r.c, err = New(cfg); err != nil {
		t.Fatalf("New: %v", err)
	}
	// The first token, so that Keystone counts start at 1.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := r.ks.Token(ctx); err != nil {
		t.Fatalf("first token: %v", err)
	}
	return r
}

func (r *rig) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.c.Close(ctx); err != nil {
		r.t.Errorf("controller Close: %v", err)
	}
	if err := r.q.Close(ctx); err != nil {
		r.t.Errorf("queue Close: %v", err)
	}
	_ = r.ks.Close()
	_ = r.sim.Close()
}

// request is a valid swact of host.
func request(host string) Request {
	return Request{Host: host, UUID: sim.NameUUID(host), Personality: mtce.PersonalityController,
		Avail: mtce.AvailAvailable, MateEnabled: true}
}

// waitEnd waits for Done then Idle (the final task cleared).
func (r *rig) waitEnd() {
	r.t.Helper()
	for _, want := range []Stage{StageDone, StageIdle} {
		if got := <-r.ends; got != want {
			r.t.Fatalf("stage %s, want %s", got, want)
		}
	}
}

// smCount counts the SM requests the simulator received with method m.
func (r *rig) smCount(m string) int {
	return len(r.sim.RequestsMatching(func(rec sim.Record) bool { return rec.Service == sim.SM && rec.Method == m }))
}

// smAnswered counts the SM requests with method m answered other than 401.
func (r *rig) smAnswered(m string) int {
	return len(r.sim.RequestsMatching(func(rec sim.Record) bool {
		return rec.Service == sim.SM && rec.Method == m && rec.Status != http.StatusUnauthorized
	}))
}

// keystoneCalls is the number of token requests after the first.
func (r *rig) keystoneCalls() int { return r.sim.Stats().TokenRequests - 1 }

// taskTimes returns the times of each task string written for host, in
// order, relative to the first.
type taskAt struct {
	Task string
	At   time.Duration
}

func (r *rig) tasks(host string) []taskAt {
	h := r.sim.TaskHistory(host)
	for len(h) > 0 && h[0].Task != string(mtce.TaskSwactRequest) {
		h = h[1:] // the record's creation
	}
	out := make([]taskAt, 0, len(h))
	for _, c := range h {
		out = append(out, taskAt{Task: c.Task, At: c.Time.Sub(h[0].Time)})
	}
	return out
}
