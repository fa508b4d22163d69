package fsm

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Machine runs a [Definition]. One goroutine, started by [New] and joined
// by [Machine.Close], owns the state and runs every guard, action, entry
// and exit action, deadline and observer call, one event at a time. Its
// methods are safe for concurrent use.
type Machine[S, E comparable] struct {
	def compiled[S, E]
	cfg Config[S, E]
	log *slog.Logger

	ctx    context.Context // handed to callbacks; cancelled by Close
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	owner  atomic.Uint64 // goroutine id of the owner
	inUser atomic.Bool   // the owner is running user code

	mu     sync.Mutex
	queue  []envelope[E]
	closed bool
	snap   Snapshot[S, E]

	// Owned by the owner goroutine.
	state    S
	epoch    uint64
	entered  time.Time
	raised   []pending[E] // the run-to-completion queue
	tx       *Tx[S, E]    // the transaction whose callback is running
	seq      uint64
	steps    uint64
	timer    *time.Timer
	timerArm uint64 // arm id the timer was set for; 0: timer not running
	arm      uint64 // arm id of the armed deadline; 0: none
	armSeq   uint64
	armEv    E
	armAt    time.Time
}

type envelope[E comparable] struct {
	msg   Msg[E]
	reply chan error // nil for Post
}

type pending[E comparable] struct {
	msg Msg[E]
	src Source
	arm uint64 // for SourceDeadline
}

// New validates def and cfg and starts the machine in def.Initial: its
// goroutine runs the initial entry action and arms its deadline before it
// handles any event. Close the machine to stop that goroutine.
func New[S, E comparable](def Definition[S, E], cfg Config[S, E]) (*Machine[S, E], error) {
	if err := errors.Join(def.Validate(), cfg.Validate()); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Machine[S, E]{
		def:    def.compile(),
		cfg:    cfg,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
		state:  def.Initial,
		epoch:  1,
	}
	m.log = log.With("fsm", m.def.name)
	now := time.Now()
	m.entered = now
	m.snap = Snapshot[S, E]{State: def.Initial, Epoch: 1, Entered: now}
	go m.run()
	return m, nil
}

// Send queues ev for the machine and returns at once. It is Post without
// payload or epoch.
func (m *Machine[S, E]) Send(ev E) error { return m.Post(Msg[E]{Event: ev}) }

// Post queues msg for the machine and returns at once, from any goroutine
// including the machine's own callbacks (where the event goes to the back
// of the external queue, behind events already waiting; use [Tx.Raise] to
// have it handled next). It fails only with ErrQueueFull or ErrClosed. The
// event's outcome goes to the observer.
func (m *Machine[S, E]) Post(msg Msg[E]) error { return m.enqueue(envelope[E]{msg: msg}) }

// Fire queues ev and waits until the machine has handled it and every
// event that its step raised (the whole run-to-completion chain). It
// returns nil if ev moved the machine; an [*Error] if it did not
// (wrapping ErrNoTransition, ErrGuardRejected, ErrActionFailed or
// ErrStale); ErrChainLimit if ev moved the machine but its chain was cut,
// or ErrClosed if Close cut it; ErrQueueFull or ErrClosed if ev was not
// handled; or ctx.Err() if ctx ended first (the event may still be
// handled). Called from the machine's own goroutine, it does not wait: see
// [ErrDeferred].
func (m *Machine[S, E]) Fire(ctx context.Context, ev E) error {
	return m.FireMsg(ctx, Msg[E]{Event: ev})
}

// FireMsg is Fire with a payload and an epoch guard.
func (m *Machine[S, E]) FireMsg(ctx context.Context, msg Msg[E]) error {
	if m.onOwner() {
		p := pending[E]{msg: msg, src: SourceRaised}
		if m.tx != nil && !m.tx.closed {
			m.tx.raised = append(m.tx.raised, p)
		} else {
			m.raised = append(m.raised, p)
		}
		return ErrDeferred
	}
	reply := make(chan error, 1)
	if err := m.enqueue(envelope[E]{msg: msg, reply: reply}); err != nil {
		return err
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Machine[S, E]) enqueue(env envelope[E]) error {
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return ErrClosed
	case len(m.queue) >= m.cfg.MaxQueue:
		m.mu.Unlock()
		return ErrQueueFull
	}
	m.queue = append(m.queue, env)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

// Snapshot returns the machine's current state, epoch, entry time, armed
// deadline and last error. From inside a callback it shows the state as of
// the end of the previous step.
func (m *Machine[S, E]) Snapshot() Snapshot[S, E] {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snap
}

// State returns Snapshot().State.
func (m *Machine[S, E]) State() S { return m.Snapshot().State }

// Close stops the machine: it refuses new events, cancels the context
// handed to callbacks, lets the running step finish (dropping the rest of
// its chain), completes waiting Fire calls with ErrClosed, stops the
// deadline timer and waits for the machine's goroutine to exit, or for ctx
// to end (then it returns ctx.Err() and the goroutine exits when the
// running callback returns). It is idempotent. Called from a callback, it
// does not wait.
func (m *Machine[S, E]) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	if m.onOwner() {
		return nil
	}
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the machine's goroutine has exited.
func (m *Machine[S, E]) Done() <-chan struct{} { return m.done }

func (m *Machine[S, E]) onOwner() bool {
	return m.inUser.Load() && goid() == m.owner.Load()
}

func (m *Machine[S, E]) run() {
	defer close(m.done)
	m.owner.Store(goid())
	defer func() {
		if m.timer != nil {
			m.timer.Stop()
		}
	}()
	m.start()
	m.drain()
	for {
		// A deadline that has rung goes before waiting events, so that a
		// stream of events cannot starve it.
		if m.timerArm != 0 && m.ctx.Err() == nil {
			select {
			case <-m.timer.C:
				m.ring()
				continue
			default:
			}
		}
		m.mu.Lock()
		if m.closed {
			left := m.queue
			m.queue = nil
			m.mu.Unlock()
			for _, env := range left {
				m.record(Record[S, E]{Kind: KindDropped, Source: SourceExternal, Event: env.msg.Event, From: m.state, To: m.state, Epoch: m.epoch, Err: ErrClosed}, time.Now())
				if env.reply != nil {
					env.reply <- ErrClosed
				}
			}
			return
		}
		if len(m.queue) > 0 {
			env := m.queue[0]
			m.queue[0] = envelope[E]{}
			m.queue = m.queue[1:]
			m.mu.Unlock()
			err := m.handle(pending[E]{msg: env.msg, src: SourceExternal})
			if cerr := m.drain(); err == nil && cerr != nil {
				err = cerr
			}
			if env.reply != nil {
				env.reply <- err
			}
			continue
		}
		m.mu.Unlock()
		var tc <-chan time.Time
		if m.timerArm != 0 {
			tc = m.timer.C
		}
		select {
		case <-m.wake:
		case <-tc:
			m.ring()
		case <-m.ctx.Done():
		}
	}
}

// ring handles the deadline whose timer fired.
func (m *Machine[S, E]) ring() {
	arm := m.timerArm
	m.timerArm = 0
	m.handle(pending[E]{msg: Msg[E]{Event: m.armEv}, src: SourceDeadline, arm: arm})
	m.drain()
}

// drain handles raised events until none is left, up to Config.MaxChain.
// It returns ErrChainLimit (or ErrClosed) if it dropped some.
func (m *Machine[S, E]) drain() error {
	n := 0
	for len(m.raised) > 0 {
		var why error
		switch {
		case m.ctx.Err() != nil:
			why = ErrClosed
		case n >= m.cfg.MaxChain:
			why = ErrChainLimit
		}
		if why != nil {
			dropped := m.raised
			m.raised = nil
			if why == ErrChainLimit {
				m.log.Error("raise chain too long; dropping the rest", "limit", m.cfg.MaxChain, "dropped", len(dropped), "state", m.state)
			}
			for _, p := range dropped {
				if p.src == SourceDeadline && p.arm == m.arm {
					m.disarm() // a zero-delay deadline that will never ring
				}
				err := error(&Error[S, E]{Kind: why, Machine: m.def.name, State: m.state, Event: p.msg.Event})
				if why == ErrClosed {
					err = ErrClosed
				}
				m.record(Record[S, E]{Kind: KindDropped, Source: p.src, Event: p.msg.Event, From: m.state, To: m.state, Epoch: m.epoch, Err: err}, time.Now())
			}
			return why
		}
		p := m.raised[0]
		m.raised[0] = pending[E]{}
		m.raised = m.raised[1:]
		n++
		m.handle(p)
	}
	return nil
}

// start enters the initial state.
func (m *Machine[S, E]) start() {
	now := time.Now()
	tx := &Tx[S, E]{Step: Step[S, E]{From: m.state, To: m.state, Source: SourceStart, Epoch: m.epoch}, next: m.epoch}
	st := m.def.states[m.state]
	if st != nil && st.Entry != nil {
		m.callTx(tx, st.Entry)
	}
	tx.closed = true
	m.raised = append(m.raised, tx.raised...)
	m.armFor(st, tx, now)
	m.seq++
	m.publish(Record[S, E]{Seq: m.seq, At: now, Kind: KindStarted, Source: SourceStart, From: m.state, To: m.state, Epoch: m.epoch}, false)
}

// handle runs one step. It returns nil if the machine moved.
func (m *Machine[S, E]) handle(p pending[E]) error {
	now := time.Now()
	from := m.state
	rec := Record[S, E]{Source: p.src, Event: p.msg.Event, From: from, To: from, Epoch: m.epoch}
	refuse := func(kind Kind, sentinel, cause error) error {
		err := &Error[S, E]{Kind: sentinel, Machine: m.def.name, State: from, Event: p.msg.Event, Cause: cause}
		rec.Kind, rec.Err = kind, err
		m.record(rec, now)
		return err
	}
	if p.src == SourceDeadline {
		if p.arm == 0 || p.arm != m.arm {
			return refuse(KindStale, ErrStale, nil)
		}
		m.disarm() // a deadline rings once
	}
	if p.msg.Epoch != 0 && p.msg.Epoch != m.epoch {
		return refuse(KindStale, ErrStale, nil)
	}
	cands := m.def.trans[transKey[S, E]{from, p.msg.Event}]
	if len(cands) == 0 {
		return refuse(KindRefused, ErrNoTransition, nil)
	}
	step := Step[S, E]{From: from, Event: p.msg.Event, Data: p.msg.Data, Source: p.src, Epoch: m.epoch}
	var chosen *Transition[S, E]
	var rejections []error
	for _, tr := range cands {
		step.To, step.Internal = tr.To, tr.Internal
		if tr.Guard == nil {
			chosen = tr
			break
		}
		m.inUser.Store(true)
		err := tr.Guard(m.ctx, step)
		m.inUser.Store(false)
		if err == nil {
			chosen = tr
			break
		}
		rejections = append(rejections, err)
	}
	if chosen == nil {
		return refuse(KindRefused, ErrGuardRejected, errors.Join(rejections...))
	}
	step.To, step.Internal = chosen.To, chosen.Internal
	next := m.epoch
	if !chosen.Internal {
		next++
	}
	tx := &Tx[S, E]{Step: step, next: next}
	if chosen.Action != nil {
		m.tx = tx
		m.inUser.Store(true)
		err := chosen.Action(m.ctx, tx)
		m.inUser.Store(false)
		m.tx = nil
		if err != nil {
			tx.closed = true
			m.raised = append(m.raised, tx.raised...)
			m.log.Warn("action failed; transition aborted", "state", from, "event", p.msg.Event, "to", chosen.To, "err", err)
			return refuse(KindRefused, ErrActionFailed, err)
		}
	}
	rec.Kind, rec.To, rec.Internal = KindTransitioned, chosen.To, chosen.Internal
	if chosen.Internal {
		tx.closed = true
		m.raised = append(m.raised, tx.raised...)
		if tx.armSet {
			m.disarm()
			if tx.arm != nil {
				m.armDeadline(*tx.arm, now)
			}
		}
		m.record(rec, now)
		return nil
	}
	if st := m.def.states[from]; st != nil && st.Exit != nil {
		m.callTx(tx, st.Exit)
	}
	m.disarm()
	m.state, m.epoch, m.entered = chosen.To, next, now
	st := m.def.states[chosen.To]
	if st != nil && st.Entry != nil {
		m.callTx(tx, st.Entry)
	}
	tx.closed = true
	m.raised = append(m.raised, tx.raised...)
	m.armFor(st, tx, now)
	m.record(rec, now)
	return nil
}

// callTx runs an entry or exit action with tx current.
func (m *Machine[S, E]) callTx(tx *Tx[S, E], fn func(context.Context, *Tx[S, E])) {
	m.tx = tx
	m.inUser.Store(true)
	fn(m.ctx, tx)
	m.inUser.Store(false)
	m.tx = nil
}

// armFor arms the deadline of a new occupancy: the one the transition's
// callbacks chose, else the state's declared one.
func (m *Machine[S, E]) armFor(st *State[S, E], tx *Tx[S, E], now time.Time) {
	var dl *Deadline[E]
	switch {
	case tx.armSet:
		dl = tx.arm
	case st != nil:
		dl = st.Deadline
	}
	if dl != nil {
		m.armDeadline(*dl, now)
	}
}

func (m *Machine[S, E]) armDeadline(dl Deadline[E], now time.Time) {
	m.armSeq++
	m.arm, m.armEv, m.armAt = m.armSeq, dl.Event, now.Add(dl.After)
	if dl.After <= 0 {
		// Rings at once: behind what this step raised, but before any
		// external event (StarlingX's "a freshly reset timer reads as rung",
		// made explicit).
		m.raised = append(m.raised, pending[E]{msg: Msg[E]{Event: dl.Event}, src: SourceDeadline, arm: m.arm})
		return
	}
	if m.timer == nil {
		m.timer = time.NewTimer(dl.After)
	} else {
		m.timer.Reset(dl.After)
	}
	m.timerArm = m.arm
}

func (m *Machine[S, E]) disarm() {
	m.arm = 0
	m.armAt = time.Time{}
	if m.timerArm != 0 {
		m.timer.Stop()
		m.timerArm = 0
	}
}

// record numbers rec, updates the snapshot and calls the observer.
func (m *Machine[S, E]) record(rec Record[S, E], now time.Time) {
	m.seq++
	m.steps++
	rec.Seq, rec.At = m.seq, now
	debug := m.log.Enabled(m.ctx, slog.LevelDebug)
	switch {
	case !debug:
	case rec.Kind == KindTransitioned:
		m.log.Debug("transition", "from", rec.From, "event", rec.Event, "to", rec.To, "source", rec.Source)
	case rec.Err != nil && !errors.Is(rec.Err, ErrActionFailed) && !errors.Is(rec.Err, ErrChainLimit):
		m.log.Debug("event not taken", "state", rec.From, "event", rec.Event, "source", rec.Source, "err", rec.Err)
	}
	m.publish(rec, true)
}

func (m *Machine[S, E]) publish(rec Record[S, E], step bool) {
	m.mu.Lock()
	s := &m.snap
	s.State, s.Epoch, s.Entered, s.Steps = m.state, m.epoch, m.entered, m.steps
	s.Deadline = time.Time{}
	if m.arm != 0 {
		s.Deadline = m.armAt
	}
	if step {
		s.LastEvent = rec.Event
	}
	if rec.Err != nil {
		s.LastErr, s.LastErrAt = rec.Err, rec.At
	}
	m.mu.Unlock()
	if m.cfg.Observer != nil {
		m.inUser.Store(true)
		m.cfg.Observer(rec)
		m.inUser.Store(false)
	}
}

// Tx is a step in progress, handed to actions and entry and exit actions.
// It is valid only during the callback it was passed to.
type Tx[S, E comparable] struct {
	Step[S, E]

	next   uint64
	raised []pending[E]
	arm    *Deadline[E]
	armSet bool
	closed bool
}

func (tx *Tx[S, E]) check() {
	if tx.closed {
		panic("fsm: Tx used after its callback returned")
	}
}

// Raise queues ev to be handled right after the current step, before any
// event from another goroutine and before a zero-delay deadline armed by
// this step (run to completion: it is never handled inside the current
// step). Raised events are handled in the order raised.
func (tx *Tx[S, E]) Raise(ev E) {
	tx.check()
	tx.raised = append(tx.raised, pending[E]{msg: Msg[E]{Event: ev}, src: SourceRaised})
}

// Arm sets the deadline of the occupancy this step ends in, replacing the
// state's declared Deadline (for an external transition) or the running
// one (for an Internal transition): ev is delivered after d, or at once if
// d is 0. The last Arm or Disarm of the step wins; those of a failed
// action are discarded.
func (tx *Tx[S, E]) Arm(d time.Duration, ev E) {
	tx.check()
	if d < 0 {
		d = 0
	}
	tx.arm, tx.armSet = &Deadline[E]{After: d, Event: ev}, true
}

// Disarm leaves the occupancy this step ends in without a deadline.
func (tx *Tx[S, E]) Disarm() {
	tx.check()
	tx.arm, tx.armSet = nil, true
}

// NextEpoch is the epoch of the occupancy this step ends in if it succeeds
// (Epoch+1 for an external transition, Epoch for an internal one). Post a
// completion with Msg.Epoch set to it to have it dropped if the machine has
// left that occupancy by then.
func (tx *Tx[S, E]) NextEpoch() uint64 { return tx.next }
