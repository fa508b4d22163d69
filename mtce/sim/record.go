package sim

import (
	"maps"
	"sync"
	"time"
)

// ring keeps the last n values pushed.
type ring[T any] struct {
	buf   []T
	next  int
	full  bool
	limit int
}

func newRing[T any](limit int) *ring[T] { return &ring[T]{limit: limit} }

func (r *ring[T]) push(v T) {
	if len(r.buf) < r.limit {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.next] = v
	r.next = (r.next + 1) % r.limit
	r.full = true
}

func (r *ring[T]) snapshot() []T {
	out := make([]T, 0, len(r.buf))
	if r.full {
		out = append(out, r.buf[r.next:]...)
		return append(out, r.buf[:r.next]...)
	}
	return append(out, r.buf...)
}

func (r *ring[T]) last() (T, bool) {
	var zero T
	if len(r.buf) == 0 {
		return zero, false
	}
	if r.full {
		return r.buf[(r.next+r.limit-1)%r.limit], true
	}
	return r.buf[len(r.buf)-1], true
}

// Record is one request as the simulator saw it.
type Record struct {
	Seq       uint64        // arrival order, from 1
	Time      time.Time     // arrival
	Elapsed   time.Duration // from arrival until the answer started (or was abandoned)
	Transport string        // "memory" or "loopback"
	Service   Service
	Method    string
	Path      string // URL path
	Host      string // hostname the request concerns (UUIDs are resolved), "" if none
	Status    int    // status code sent; 0 when no answer was sent
	Fault     FaultKind
	FaultName string
	Err       string // why no answer was sent: the requester's context error, "closed", "reset"
}

// FaultEvent is one firing of an injected fault.
type FaultEvent struct {
	Seq     uint64 // the request's Seq
	Time    time.Time
	ID      FaultID
	Name    string
	Kind    FaultKind
	Code    int // for FaultStatus
	Service Service
	Method  string
	Path    string
	Host    string
}

// TaskChange is one change of a host's task string.
type TaskChange struct {
	Time time.Time
	Task string
}

// SwactRecord is one swact accepted by SM.
type SwactRecord struct {
	From, To    string
	RequestedAt time.Time
	CompletedAt time.Time // zero while pending or if abandoned at Close
}

// Corruption is one token corruption.
type Corruption struct {
	Time        time.Time
	Fingerprint string // first 8 hex digits of the token's SHA-256
	Periodic    bool   // caused by CorruptTokenEvery
	// Effective is false when there was no valid token to corrupt (none
	// issued yet, or the newest already expired, revoked or corrupted).
	Effective bool
}

// VIMState is the "state-change" object of a VIM host update (spec D.1).
type VIMState struct {
	Administrative   string `json:"administrative"`
	Operational      string `json:"operational"`
	Availability     string `json:"availability"`
	SubfunctionOper  string `json:"subfunction_oper"`
	SubfunctionAvail string `json:"subfunction_avail"`
	DataPortsOper    string `json:"data_ports_oper,omitempty"`
	DataPortsAvail   string `json:"data_ports_avail,omitempty"`
}

// VIMStateChange is one host state change received by the VIM.
type VIMStateChange struct {
	Time         time.Time
	UUID         string // from the URL
	Hostname     string
	Personality  string
	Subfunctions string
	State        VIMState
}

// Stats are running counters; unlike the record logs they are never
// trimmed.
type Stats struct {
	Requests      int                     // every request received
	ByService     map[Service]int         // requests per service
	ByStatus      map[Service]map[int]int // answers per service and status (0 = none sent)
	Faults        int                     // fault firings
	FaultsByKind  map[FaultKind]int
	TokenRequests int // POST /v3/auth/tokens received
	TokensIssued  int // tokens created (including those whose answer was faulted)
	AuthFailures  int // 401s sent for a missing, unknown, expired, revoked or corrupted token
	// CredentialFailures counts token requests refused with 401 (wrong
	// password, unknown user or application credential, bad scope).
	// Injected 401s are counted in Faults, not here.
	CredentialFailures int
	Corruptions        int // effective corruptions
	Swacts             int // swacts completed
	VIMChanges         int
	Actions            int // user actions accepted
	AgentCalls         int // requests SysInv sent to the maintenance agent (each try)
}

func (s Stats) clone() Stats {
	s.ByService = maps.Clone(s.ByService)
	s.FaultsByKind = maps.Clone(s.FaultsByKind)
	by := make(map[Service]map[int]int, len(s.ByStatus))
	for k, v := range s.ByStatus {
		by[k] = maps.Clone(v)
	}
	s.ByStatus = by
	return s
}

// recorder holds the logs, behind its own lock so that recording never
// waits for the state lock.
type recorder struct {
	mu          sync.Mutex
	seq         uint64
	requests    *ring[Record]
	faults      *ring[FaultEvent]
	vim         *ring[VIMStateChange]
	actions     *ring[Action]
	swacts      *ring[SwactRecord]
	corruptions *ring[Corruption]
	agent       *ring[AgentCall]
	vimActions  *ring[VIMAction]
	stats       Stats
}

func newRecorder(limit int) *recorder {
	return &recorder{
		requests:    newRing[Record](limit),
		faults:      newRing[FaultEvent](limit),
		vim:         newRing[VIMStateChange](limit),
		actions:     newRing[Action](limit),
		swacts:      newRing[SwactRecord](limit),
		corruptions: newRing[Corruption](limit),
		agent:       newRing[AgentCall](limit),
		vimActions:  newRing[VIMAction](limit),
		stats: Stats{
			ByService:    map[Service]int{},
			ByStatus:     map[Service]map[int]int{},
			FaultsByKind: map[FaultKind]int{},
		},
	}
}

func (r *recorder) nextSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	return r.seq
}

func (r *recorder) request(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests.push(rec)
	r.stats.Requests++
	r.stats.ByService[rec.Service]++
	m := r.stats.ByStatus[rec.Service]
	if m == nil {
		m = map[int]int{}
		r.stats.ByStatus[rec.Service] = m
	}
	m[rec.Status]++
}

func (r *recorder) fault(ev FaultEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults.push(ev)
	r.stats.Faults++
	r.stats.FaultsByKind[ev.Kind]++
}

func (r *recorder) update(f func(s *Stats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.stats)
}

// Requests returns the recorded requests, oldest first (at most
// Config.RecordLimit). A request is recorded when its answer starts or is
// abandoned, so a request held by a fault appears when the hold ends.
func (s *Sim) Requests() []Record {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.requests.snapshot()
}

// RequestsMatching returns the recorded requests for which keep is true.
func (s *Sim) RequestsMatching(keep func(Record) bool) []Record {
	var out []Record
	for _, r := range s.Requests() {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// FaultEvents returns the recorded fault firings, oldest first.
func (s *Sim) FaultEvents() []FaultEvent {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.faults.snapshot()
}

// VIMStateChanges returns the state changes the VIM received, oldest first.
func (s *Sim) VIMStateChanges() []VIMStateChange {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.vim.snapshot()
}

// Actions returns the user host actions SysInv accepted, oldest first.
func (s *Sim) Actions() []Action {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.actions.snapshot()
}

// Swacts returns the swacts SM completed, oldest first (see SwactPending
// for one in progress).
func (s *Sim) Swacts() []SwactRecord {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.swacts.snapshot()
}

// Corruptions returns the token corruptions, oldest first.
func (s *Sim) Corruptions() []Corruption {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.corruptions.snapshot()
}

// Stats returns a copy of the running counters.
func (s *Sim) Stats() Stats {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.stats.clone()
}
