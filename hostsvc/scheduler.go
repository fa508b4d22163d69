package hostsvc

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// Scheduler serialises every host-services request of a node, whether it
// comes from the start-up auto-start (AutoStart) or from the agent (Submit):
//
//   - requests are keyed by Command, i.e. (function, action); a stop never
//     merges into a start;
//   - one script set runs at a time;
//   - a request identical to a pending one merges into it; a request
//     identical to the running one is answered by that run's result;
//   - pending starts run in priority order controller → worker → storage;
//     a pending stop keeps its place in arrival order, so starts requested
//     after a stop never overtake it (nor it them);
//   - each executed run produces exactly one Result, passed once to
//     OnResult and to every requester waiting on that run; an empty set is
//     a run like any other (an immediate pass, one result); when a run ends
//     nothing more is produced until a new request arrives.
//
// The C++ client gets the last two wrong in turn: before commit dab9c47 an
// empty set re-sent its PASS result on every 50 ms loop pass (~20 messages a
// second, bug 2073802); since then it sends no result at all for an empty
// set after its ACK, so the agent waits 305 s and logs a timeout (spec K.4).
// Here an empty set gives one PASS result, once.
//
// Run drives the Scheduler and must be called exactly once; Submit,
// AutoStart, Flags and Last may be called from any goroutine, before or
// during Run.
type Scheduler struct {
	cfg    SchedulerConfig
	runner *Runner
	log    *slog.Logger
	wake   chan struct{}
	closed chan struct{} // closed when Run returns

	mu      sync.Mutex
	state   schedState
	pending []*run // arrival order
	current *run
	nextID  uint64
	last    map[Command]Result

	trace func(traceEvent) // tests: called with mu held
}

type schedState uint8

const (
	stateNew schedState = iota
	stateRunning
	stateClosed
)

// run is one (pending, running or finished) execution of a command.
type run struct {
	cmd  Command
	id   uint64
	done chan struct{}
	res  Result
	err  error
}

// traceEvent records, under the Scheduler's lock, what happened to a
// request or a run; the tests check their invariants on this trace.
type traceEvent struct {
	kind traceKind
	cmd  Command
	id   uint64
}

type traceKind uint8

const (
	traceNew     traceKind = iota + 1 // a request created a pending run
	traceMerged                       // a request merged into a pending run
	traceJoined                       // a request joined the running run
	traceStart                        // a run started
	traceEnd                          // a run ended (result recorded)
	traceDropped                      // a pending run was dropped at shutdown
)

// NewScheduler validates cfg and returns an idle Scheduler; call Run.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	s := &Scheduler{
		cfg:    cfg,
		runner: cfg.Runner,
		log:    cfg.Logger,
		wake:   make(chan struct{}, 1),
		closed: make(chan struct{}),
		last:   make(map[Command]Result),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Ticket is a requester's handle on the run that will answer its request.
// Several tickets may share one run; they all get the same Result.
type Ticket struct {
	cmd Command
	run *run
}

// Command returns the requested command.
func (t *Ticket) Command() Command { return t.cmd }

// RunID returns the number of the run answering this request (Result.Run).
func (t *Ticket) RunID() uint64 { return t.run.id }

// Done is closed when the request has been answered.
func (t *Ticket) Done() <-chan struct{} { return t.run.done }

// Wait blocks until the request is answered or ctx ends. It returns the run's
// Result, or ErrClosed when the Scheduler stopped before running it, or
// ctx's error.
func (t *Ticket) Wait(ctx context.Context) (Result, error) {
	select {
	case <-t.run.done:
		return t.run.res, t.run.err
	case <-ctx.Done():
		return Result{}, context.Cause(ctx)
	}
}

// Submit requests cmd. It never blocks on a running set: it queues (or
// coalesces) the request and returns the ticket on which the answer will
// arrive. It returns an error wrapping ErrInvalidCommand for a bad command
// and ErrClosed once Run has returned.
func (s *Scheduler) Submit(cmd Command) (*Ticket, error) {
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return nil, ErrClosed
	}
	if c := s.current; c != nil && c.cmd == cmd {
		s.emit(traceJoined, c)
		s.log.Info("host services request answered by the running set", "command", cmd.String())
		return &Ticket{cmd: cmd, run: c}, nil
	}
	for _, p := range s.pending {
		if p.cmd == cmd {
			s.emit(traceMerged, p)
			s.log.Debug("host services request merged into a pending one", "command", cmd.String())
			return &Ticket{cmd: cmd, run: p}, nil
		}
	}
	s.nextID++
	r := &run{cmd: cmd, id: s.nextID, done: make(chan struct{})}
	s.pending = append(s.pending, r)
	s.emit(traceNew, r)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return &Ticket{cmd: cmd, run: r}, nil
}

// Do submits cmd and waits for its result (see Submit and Ticket.Wait).
func (s *Scheduler) Do(ctx context.Context, cmd Command) (Result, error) {
	t, err := s.Submit(cmd)
	if err != nil {
		return Result{}, err
	}
	return t.Wait(ctx)
}

func (s *Scheduler) emit(k traceKind, r *run) {
	if s.trace != nil {
		s.trace(traceEvent{kind: k, cmd: r.cmd, id: r.id})
	}
}

// pickLocked removes and returns the next run: the oldest pending request,
// except that among the pending starts that precede the first pending stop
// the highest-priority function (controller, worker, storage) goes first.
func (s *Scheduler) pickLocked() *run {
	if len(s.pending) == 0 {
		return nil
	}
	best := 0
	if s.pending[0].cmd.Action == Start {
		for i, p := range s.pending {
			if p.cmd.Action != Start {
				break
			}
			if p.cmd.Function.priority() < s.pending[best].cmd.Function.priority() {
				best = i
			}
		}
	}
	r := s.pending[best]
	s.pending = slices.Delete(s.pending, best, best+1)
	return r
}

// Run executes the requested sets one at a time until ctx ends, then kills
// the running set (its requesters get its Canceled result), answers every
// still-pending request with ErrClosed, and returns nil. It returns
// ErrRunning if called a second time. OnRunStart and OnResult are called
// from Run's goroutine.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateNew {
		s.mu.Unlock()
		return ErrRunning
	}
	s.state = stateRunning
	s.mu.Unlock()
	defer s.shutdown()

	for {
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		r := s.pickLocked()
		if r != nil {
			s.current = r
			s.emit(traceStart, r)
		}
		s.mu.Unlock()
		if r == nil {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return nil
			}
		}

		if s.cfg.OnRunStart != nil {
			s.cfg.OnRunStart(r.cmd)
		}
		res := s.runner.Run(ctx, r.cmd)
		res.Run = r.id

		s.mu.Lock()
		s.current = nil
		if res.Outcome != Canceled {
			s.last[r.cmd] = res
		}
		s.emit(traceEnd, r)
		s.mu.Unlock()

		if s.cfg.OnResult != nil {
			s.cfg.OnResult(res)
		}
		r.res = res
		close(r.done)
	}
}

func (s *Scheduler) shutdown() {
	s.mu.Lock()
	s.state = stateClosed
	close(s.closed)
	dropped := s.pending
	s.pending = nil
	for _, r := range dropped {
		s.emit(traceDropped, r)
	}
	s.mu.Unlock()
	for _, r := range dropped {
		r.err = ErrClosed
		close(r.done)
	}
	if len(dropped) > 0 {
		s.log.Info("host services scheduler closed", "dropped_requests", len(dropped))
	}
}

// Last returns the most recent result of cmd's set (canceled runs aside).
func (s *Scheduler) Last(cmd Command) (Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.last[cmd]
	return r, ok
}

// FailureFlags are the host-services failure bits of the periodic mtcAlive
// message (section E.2): they reflect the last result of the corresponding
// start set, so a later passing run clears them.
type FailureFlags struct {
	// MainServicesFailed: the last start of the node's main function
	// (FunctionSet.Primary) did not pass (MTC_FLAG__MAIN_SERVICES_FAIL).
	MainServicesFailed bool
	// SubfServicesFailed: on an AIO controller, the last start of the
	// worker subfunction did not pass (MTC_FLAG__SUBF_SERVICES_FAIL).
	SubfServicesFailed bool
}

// Flags returns the current failure flags.
func (s *Scheduler) Flags() FailureFlags {
	node := s.runner.Node()
	s.mu.Lock()
	defer s.mu.Unlock()
	var f FailureFlags
	if r, ok := s.last[StartCommand(node.Functions.Primary())]; ok && !r.OK() {
		f.MainServicesFailed = true
	}
	if node.AIOController() {
		if r, ok := s.last[StartCommand(Worker)]; ok && !r.OK() {
			f.SubfServicesFailed = true
		}
	}
	return f
}
