package sim

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sim is an in-process StarlingX platform: Keystone, SysInv, SM, the VIM
// and Barbican, reachable through [Sim.Transport] (in memory) and, after
// [Sim.Listen], over loopback HTTP. All methods are safe for concurrent
// use. See the package documentation for the guarantees.
type Sim struct {
	cfg Config
	log *slog.Logger
	rec *recorder

	done      chan struct{} // closed when Close starts
	closeOnce sync.Once
	life      sync.Mutex // guards closing and wg.Add
	closing   bool
	wg        sync.WaitGroup

	memHosts map[string]Service // lower-case host:port of the in-memory URLs
	agentRT  *http.Transport    // the agent transport when Config.MtcAgentTransport is nil
	closeCtx context.Context    // cancelled when Close starts: ends calls to the agent
	closeAll context.CancelFunc

	mu         sync.Mutex // guards everything below
	hosts      map[string]*hostState
	names      map[string]string // hostname → UUID
	nextHostID int64
	items      map[itemKind]map[string]*item // sensors and sensor groups by UUID
	nextItemID int64
	tokens     map[string]*token
	newest     *token
	lifetime   time.Duration
	hold       chan struct{} // non-nil while Keystone is held
	holdWait   int
	faults     []*activeFault
	nextFault  FaultID
	faultRNG   *rand.Rand
	tokenRNG   *rand.Rand
	idRNG      *rand.Rand
	sm         map[string]*smNode // by hostname
	active     string
	swact      *SwactRecord
	secrets    map[string]*secretRec // by reference
	loop       *loopback

	corruptMu  sync.Mutex // guards corrupt and corruptGen
	corrupt    *corruptLoop
	corruptGen uint64
}

type hostState struct {
	Host
	history *ring[TaskChange]
}

// New builds a simulator from cfg (zero fields take their defaults, see
// [Config]). It starts no goroutine: goroutines are started by requests,
// swacts, [Sim.CorruptTokenEvery] and [Sim.Listen], and Close joins them
// all. To use virtual time, call New and Close inside the same
// testing/synctest bubble as the requests.
func New(cfg Config) (*Sim, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		cfg:      cfg,
		log:      log,
		rec:      newRecorder(cfg.RecordLimit),
		done:     make(chan struct{}),
		memHosts: map[string]Service{},
		hosts:    map[string]*hostState{},
		names:    map[string]string{},
		items:    map[itemKind]map[string]*item{sensorItem: {}, groupItem: {}},
		tokens:   map[string]*token{},
		lifetime: cfg.TokenLifetime,
		faultRNG: rand.New(rand.NewPCG(cfg.Seed, 1)),
		tokenRNG: rand.New(rand.NewPCG(cfg.Seed, 2)),
		idRNG:    rand.New(rand.NewPCG(cfg.Seed, 3)),
		sm:       map[string]*smNode{},
		active:   cfg.ActiveController,
		secrets:  map[string]*secretRec{},
	}
	s.closeCtx, s.closeAll = context.WithCancel(context.Background())
	if cfg.MtcAgentURL != "" && cfg.MtcAgentTransport == nil {
		s.agentRT = &http.Transport{DisableKeepAlives: true}
	}
	for _, svc := range Services() {
		u, _ := url.Parse(cfg.Memory.URL(svc))
		s.memHosts[strings.ToLower(u.Host)] = svc
	}
	now := time.Now()
	for _, h := range cfg.Hosts {
		if h.CreatedAt.IsZero() {
			h.CreatedAt = now
		}
		if _, err := s.addHostLocked(h); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(cfg.Secrets))
	for name := range cfg.Secrets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s.putSecretLocked(name, []byte(cfg.Secrets[name]), "text/plain", now)
	}
	return s, nil
}

// Close stops the simulator: it fails requests still waiting on a fault or
// on the Keystone hold (their requesters see a reset unless their own
// context ended first), abandons pending swacts, stops the corruption
// timer, shuts the loopback servers down (bounded by Config.CloseTimeout,
// then cut) and waits for every goroutine the Sim started, including
// user callbacks in progress. It is idempotent and safe to call from
// several goroutines; every call returns when the first has finished.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		s.life.Lock()
		s.closing = true
		s.life.Unlock()
		close(s.done)
		s.closeAll()
		s.mu.Lock()
		loop := s.loop
		s.mu.Unlock()
		if loop != nil {
			loop.shutdown(s.cfg.CloseTimeout)
		}
		s.wg.Wait()
		if s.agentRT != nil {
			s.agentRT.CloseIdleConnections()
		}
		s.log.Debug("sim: closed")
	})
	return nil
}

func (s *Sim) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// goOwned runs f on a goroutine that Close joins; it reports false (and
// does not run f) once Close has started.
func (s *Sim) goOwned(f func()) bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// wait blocks until ch is closed, ctx ends or the Sim closes. It returns nil
// when ch was closed, ctx.Err() or ErrClosed.
func (s *Sim) wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrClosed
	}
}

// sleep waits d, or until ctx ends or the Sim closes.
func (s *Sim) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrClosed
	}
}

// MemoryEndpoints returns the URLs the in-memory transport answers to.
func (s *Sim) MemoryEndpoints() Endpoints { return s.cfg.Memory }

// Transport returns the in-memory [http.RoundTripper]. It serves the
// [Sim.MemoryEndpoints] URLs only (any other host fails like an unknown
// DNS name), needs no network, and works inside testing/synctest bubbles.
func (s *Sim) Transport() http.RoundTripper { return &memTransport{s: s} }

// Client returns an [http.Client] over [Sim.Transport], without a timeout:
// give each request a context deadline.
func (s *Sim) Client() *http.Client { return &http.Client{Transport: s.Transport()} }

// ---------------------------------------------------------------- hosts

// Hosts returns the SysInv inventory ordered by id.
func (s *Sim) Hosts() []Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostsLocked()
}

func (s *Sim) hostsLocked() []Host {
	out := make([]Host, 0, len(s.hosts))
	for _, hs := range s.hosts {
		out = append(out, hs.Host)
	}
	slices.SortFunc(out, func(a, b Host) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Host returns a host by UUID or hostname.
func (s *Sim) Host(id string) (Host, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.lookupLocked(id)
	if hs == nil {
		return Host{}, false
	}
	return hs.Host, true
}

func (s *Sim) lookupLocked(id string) *hostState {
	if hs := s.hosts[id]; hs != nil {
		return hs
	}
	if u, ok := s.names[id]; ok {
		return s.hosts[u]
	}
	return nil
}

// Task returns a host's current task string ("" if none or unknown host).
func (s *Sim) Task(id string) string {
	h, _ := s.Host(id)
	return h.Task
}

// TaskHistory returns the changes of a host's task string, oldest first
// (at most Config.HistoryLimit).
func (s *Sim) TaskHistory(id string) []TaskChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.lookupLocked(id)
	if hs == nil {
		return nil
	}
	return hs.history.snapshot()
}

// AddHost adds a host to the inventory. An empty UUID gets a random one
// (from the seeded generator), a zero ID the next free id. It returns
// ErrConflict for a hostname or UUID in use, ErrInvalidValue for an
// invalid record.
func (s *Sim) AddHost(h Host) (Host, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed() {
		return Host{}, ErrClosed
	}
	if h.CreatedAt.IsZero() {
		h.CreatedAt = time.Now()
	}
	return s.addHostLocked(h)
}

func (s *Sim) addHostLocked(h Host) (Host, error) {
	if h.UUID == "" || h.UUID == "none" {
		h.UUID = s.newUUIDLocked()
	}
	if h.Administrative == "" {
		h.Administrative = "locked"
	}
	if h.Operational == "" {
		h.Operational = "disabled"
	}
	if h.Availability == "" {
		h.Availability = "offline"
	}
	if h.Subfunctions == "" {
		h.Subfunctions = h.Personality
	}
	if err := h.validate(); err != nil {
		return Host{}, fmt.Errorf("sim: host %q: %w", h.Hostname, err)
	}
	if s.lookupLocked(h.Hostname) != nil {
		return Host{}, fmt.Errorf("%w: hostname %q", ErrConflict, h.Hostname)
	}
	if s.lookupLocked(h.UUID) != nil {
		return Host{}, fmt.Errorf("%w: uuid %q", ErrConflict, h.UUID)
	}
	if h.Personality == "controller" {
		n := 0
		for _, o := range s.hosts {
			if o.Personality == "controller" {
				n++
			}
		}
		if n >= 2 {
			return Host{}, fmt.Errorf("%w: a third controller %q", ErrConflict, h.Hostname)
		}
	}
	if h.ID == 0 {
		h.ID = s.nextHostID + 1
	}
	for _, o := range s.hosts {
		if o.ID == h.ID {
			return Host{}, fmt.Errorf("%w: id %d", ErrConflict, h.ID)
		}
	}
	s.nextHostID = max(s.nextHostID, h.ID)
	hs := &hostState{Host: h, history: newRing[TaskChange](s.cfg.HistoryLimit)}
	if h.Task != "" {
		hs.history.push(TaskChange{Time: h.CreatedAt, Task: h.Task})
	}
	s.hosts[h.UUID] = hs
	s.names[h.Hostname] = h.UUID
	if h.Personality == "controller" && s.active == "" {
		s.active = h.Hostname
	}
	return h, nil
}

func (s *Sim) newUUIDLocked() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.idRNG.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// DeleteHost removes a host (by UUID or hostname) with its sensors.
func (s *Sim) DeleteHost(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.lookupLocked(id)
	if hs == nil {
		return fmt.Errorf("%w: host %q", ErrNotFound, id)
	}
	s.deleteHostLocked(hs)
	return nil
}

func (s *Sim) deleteHostLocked(hs *hostState) {
	delete(s.hosts, hs.UUID)
	delete(s.names, hs.Hostname)
	delete(s.sm, hs.Hostname)
	for _, m := range s.items {
		for u, it := range m {
			if it.hostUUID == hs.UUID {
				delete(m, u)
			}
		}
	}
	if s.active == hs.Hostname {
		s.active = ""
		for _, o := range s.hostsLocked() {
			if o.Personality == "controller" {
				s.active = o.Hostname
				break
			}
		}
	}
}

// SetUUID gives a host a new UUID, as a re-provisioned host gets: requests
// naming the old UUID then get 404 (the case that makes maintenance reload
// the host by name). Its sensors follow it.
func (s *Sim) SetUUID(hostname, uuid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.lookupLocked(hostname)
	if hs == nil {
		return fmt.Errorf("%w: host %q", ErrNotFound, hostname)
	}
	if len(uuid) != 36 {
		return fmt.Errorf("%w: uuid %q is not 36 characters", ErrInvalidValue, uuid)
	}
	if o := s.lookupLocked(uuid); o != nil && o != hs {
		return fmt.Errorf("%w: uuid %q", ErrConflict, uuid)
	}
	delete(s.hosts, hs.UUID)
	for _, m := range s.items {
		for _, it := range m {
			if it.hostUUID == hs.UUID {
				it.hostUUID = uuid
				it.fields["host_uuid"] = uuid
			}
		}
	}
	hs.UUID = uuid
	hs.UpdatedAt = time.Now()
	s.hosts[uuid] = hs
	s.names[hs.Hostname] = uuid
	return nil
}

// UpdateHost changes a host record directly (not through the REST API and
// its faults): update edits a copy, which is validated and stored. The ID
// and UUID cannot change here (see SetUUID); a hostname change must not
// collide.
func (s *Sim) UpdateHost(id string, update func(h *Host)) (Host, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.lookupLocked(id)
	if hs == nil {
		return Host{}, fmt.Errorf("%w: host %q", ErrNotFound, id)
	}
	h := hs.Host
	update(&h)
	if h.ID != hs.ID || h.UUID != hs.UUID {
		return Host{}, fmt.Errorf("%w: id and uuid cannot be changed by UpdateHost", ErrInvalidValue)
	}
	if err := h.validate(); err != nil {
		return Host{}, err
	}
	if err := s.commitHostLocked(hs, h); err != nil {
		return Host{}, err
	}
	return hs.Host, nil
}

// commitHostLocked stores h as the new record of hs: it checks a rename,
// moves the SM node with it, stamps updated_at and records a task change.
func (s *Sim) commitHostLocked(hs *hostState, h Host) error {
	if h.Hostname != hs.Hostname {
		if s.lookupLocked(h.Hostname) != nil {
			return fmt.Errorf("%w: hostname %q", ErrConflict, h.Hostname)
		}
		delete(s.names, hs.Hostname)
		s.names[h.Hostname] = h.UUID
		if n, ok := s.sm[hs.Hostname]; ok {
			delete(s.sm, hs.Hostname)
			s.sm[h.Hostname] = n
		}
		if s.active == hs.Hostname {
			s.active = h.Hostname
		}
	}
	now := time.Now()
	if h.Task != hs.Task {
		hs.history.push(TaskChange{Time: now, Task: h.Task})
	}
	h.UpdatedAt = now
	hs.Host = h
	return nil
}

// UserAction hands a user's host action (lock, unlock, swact, ...) to
// SysInv exactly as a PATCH of /action through the SysInv API would: to
// the maintenance agent when Config.MtcAgentURL is set (a refusal is a
// *SysInvError), else to Config.OnAction. It returns ErrNotFound for an
// unknown host, ErrInvalidValue for an unknown action, the callback's or
// SysInv's error, or ctx's error or ErrClosed if the wait for the agent
// (or the VIM step) was cut short.
func (s *Sim) UserAction(ctx context.Context, id, action string) error {
	if s.isClosed() {
		return ErrClosed
	}
	if !hostActions[action] {
		return fmt.Errorf("%w: %q is not a host action", ErrInvalidValue, action)
	}
	h, ok := s.Host(id)
	if !ok {
		return fmt.Errorf("%w: host %q", ErrNotFound, id)
	}
	return s.runAction(ctx, Action{Time: time.Now(), Action: action, Host: h, Via: "direct"}, h)
}

// runAction hands a user's action to the agent (patched: the record with
// the request's other changes applied, which is what SysInv sends) or to
// the user's callback, with no lock held, and records an accepted action.
func (s *Sim) runAction(ctx context.Context, a Action, patched Host) error {
	var err error
	switch {
	case s.cfg.MtcAgentURL != "":
		err = s.agentAction(ctx, a.Host, patched, a.Action)
	case s.cfg.OnAction != nil:
		err = s.cfg.OnAction(ctx, a)
	}
	if err != nil {
		s.log.Debug("sim: action rejected", "host", a.Host.Hostname, "action", a.Action, "err", err)
		return err
	}
	s.rec.mu.Lock()
	s.rec.actions.push(a)
	s.rec.stats.Actions++
	s.rec.mu.Unlock()
	s.log.Debug("sim: action accepted", "host", a.Host.Hostname, "action", a.Action, "via", a.Via)
	return nil
}
