package sim

import (
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind int

// Fault kinds. The zero value means "no fault" in a [Record].
const (
	// FaultStatus answers Fault.Code (e.g. 401, 404, 500, 503) with the
	// service's error body, without processing the request. A 2xx code
	// answers success with an empty JSON object, still without processing
	// (FIT swact-action-timeout: SM says yes, no swact happens).
	FaultStatus FaultKind = iota + 1
	// FaultDrop accepts the request and never answers: the requester sees
	// its own context's error when that context ends (or a reset when the
	// Sim closes). The request is not processed.
	FaultDrop
	// FaultHang processes the request, sends the status line, the headers
	// (with the full Content-Length) and half of the body, then stalls
	// until the requester gives up.
	FaultHang
	// FaultDelay waits Fault.Delay before processing the request; a
	// requester that gives up first gets its context's error and the
	// request is not processed.
	FaultDelay
	// FaultReset cuts the connection (TCP RST over loopback; an error
	// matching syscall.ECONNRESET through the in-memory transport) without
	// processing the request.
	FaultReset
	// FaultMalformed processes the request and answers its real status with
	// Fault.Data as the body, or, when Data is empty, the real body cut in
	// half (not valid JSON).
	FaultMalformed
	// FaultNoSubjectToken issues the token but leaves out the
	// X-Subject-Token header (FIT "header"). It only fires on
	// POST /v3/auth/tokens.
	FaultNoSubjectToken
	// FaultSlowBody processes the request and sends the body in up to 8
	// pieces, Fault.Delay apart.
	FaultSlowBody
)

var faultNames = [...]string{"", "status", "drop", "hang", "delay", "reset", "malformed", "no-subject-token", "slow-body"}

func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(faultNames) {
		if k == 0 {
			return "none"
		}
		return faultNames[k]
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// FaultID identifies an injected fault.
type FaultID uint64

// Fault is a fault to insert, in StarlingX FIT terms: Kind and Code are the
// FIT code and data, Host and Name the FIT host and name, Hits the FIT hits.
// A request matches when every non-empty selector matches; the first
// matching fault (in injection order) that fires applies, and at most one
// fault applies to a request.
type Fault struct {
	// Name labels the fault in records and logs (FIT "name").
	Name string

	// Service selects a service ("" = every service).
	Service Service
	// Method selects an HTTP method, case-insensitively ("" = any).
	Method string
	// Path selects URL paths with [path.Match] syntax, e.g.
	// "/v1/ihosts/*" or "/v1/servicenode/controller-0" ("" = any path).
	Path string
	// Host selects requests concerning a host, by hostname or UUID: the
	// host named in the URL (SysInv ihosts, sensors, SM service nodes, VIM
	// hosts) or whose UUID names the Barbican secret ("" = any).
	Host string

	Kind FaultKind
	// Code is the status of a FaultStatus (200–299 or 400–599).
	Code int
	// Delay is the wait of a FaultDelay and the gap between pieces of a
	// FaultSlowBody.
	Delay time.Duration
	// Data is the body of a FaultMalformed (empty: the real body, halved).
	Data []byte

	// Hits is how many times the fault fires before it is removed; 0 means
	// every matching request until Remove or ClearFaults. (StarlingX FIT's
	// default of one hit is Hits: 1.)
	Hits int
	// Probability, when in (0, 1), makes each matching request fire the
	// fault with that probability, drawn from the Sim's seeded generator;
	// 0 or 1 means always. A request that does not fire uses no hit.
	Probability float64
	// AfterProcessing applies a FaultStatus, FaultDrop, FaultReset or
	// FaultDelay after the service has processed the request (its state
	// changes are kept: the answer is what is lost), instead of before.
	AfterProcessing bool
}

func (f Fault) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidFault, fmt.Sprintf(format, a...))
	}
	if f.Service != "" && !f.Service.valid() {
		return bad("unknown service %q", f.Service)
	}
	if f.Path != "" {
		if _, err := path.Match(f.Path, "/"); err != nil {
			return bad("path pattern %q: %v", f.Path, err)
		}
	}
	switch f.Kind {
	case FaultStatus:
		if f.Code < 200 || f.Code > 599 || (f.Code >= 300 && f.Code < 400) {
			return bad("status code %d is not in 200..299 or 400..599", f.Code)
		}
	case FaultDelay, FaultSlowBody:
		if f.Delay <= 0 {
			return bad("%v needs a positive Delay", f.Kind)
		}
	case FaultNoSubjectToken:
		if f.Service != "" && f.Service != Keystone {
			return bad("no-subject-token only applies to Keystone")
		}
	case FaultDrop, FaultHang, FaultReset, FaultMalformed:
	default:
		return bad("unknown kind %d", int(f.Kind))
	}
	if f.Hits < 0 {
		return bad("negative Hits %d", f.Hits)
	}
	if !(f.Probability >= 0 && f.Probability <= 1) {
		return bad("probability %v is not in [0, 1]", f.Probability)
	}
	return nil
}

// activeFault is an injected fault with its remaining hits.
type activeFault struct {
	id        FaultID
	f         Fault
	remaining int // for Hits > 0
	fired     int
}

// ActiveFault describes an injected fault that has not run out.
type ActiveFault struct {
	ID        FaultID
	Fault     Fault
	Fired     int // times fired so far
	Remaining int // hits left; 0 = unlimited
}

func (f *Fault) matches(rq *request) bool {
	if f.Service != "" && f.Service != rq.svc {
		return false
	}
	if f.Method != "" && !strings.EqualFold(f.Method, rq.method) {
		return false
	}
	if f.Path != "" {
		if ok, _ := path.Match(f.Path, rq.path); !ok {
			return false
		}
	}
	if f.Host != "" && f.Host != rq.hostName && f.Host != rq.hostUUID && f.Host != rq.hostRaw {
		return false
	}
	if f.Kind == FaultNoSubjectToken && !(rq.svc == Keystone && rq.method == http.MethodPost && rq.path == tokensPath) {
		return false
	}
	return true
}

// Inject adds a fault and returns its ID.
func (s *Sim) Inject(f Fault) (FaultID, error) {
	if err := f.validate(); err != nil {
		return 0, err
	}
	f.Data = append([]byte(nil), f.Data...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed() {
		return 0, ErrClosed
	}
	s.nextFault++
	s.faults = append(s.faults, &activeFault{id: s.nextFault, f: f, remaining: f.Hits})
	s.log.Debug("sim: fault injected", "id", s.nextFault, "name", f.Name, "kind", f.Kind.String(),
		"service", f.Service, "path", f.Path, "host", f.Host, "hits", f.Hits)
	return s.nextFault, nil
}

// Remove removes an injected fault; it reports whether the fault was still
// active.
func (s *Sim) Remove(id FaultID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.faults {
		if af.id == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return true
		}
	}
	return false
}

// ClearFaults removes every injected fault (FIT "fitinit"). Token
// corruption and the Keystone hold are separate and not affected.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// ActiveFaults lists the injected faults that are still active.
func (s *Sim) ActiveFaults() []ActiveFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ActiveFault, 0, len(s.faults))
	for _, af := range s.faults {
		out = append(out, ActiveFault{ID: af.id, Fault: af.f, Fired: af.fired, Remaining: af.remaining})
	}
	return out
}

// pickFault returns the fault that fires for rq, using up one of its hits.
// Called with s.mu held.
func (s *Sim) pickFaultLocked(rq *request) (*activeFault, bool) {
	for i, af := range s.faults {
		if !af.f.matches(rq) {
			continue
		}
		if p := af.f.Probability; p > 0 && p < 1 && s.faultRNG.Float64() >= p {
			continue
		}
		af.fired++
		if af.f.Hits > 0 {
			af.remaining--
			if af.remaining == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		snapshot := *af
		return &snapshot, true
	}
	return nil, false
}
