package workqueue

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Queue runs items in per-key lanes. Create it with [New]; it must be closed
// with [Queue.Close]. All methods are safe for concurrent use.
type Queue struct {
	// Read-only after New, and read without q.mu by Submit and the workers
	// for every item. They are kept off the cache lines of the fields that
	// change (q.mu above all), which another core writes all the time:
	// sharing a line with them would cost a cache miss on every read.
	cfg    Config
	log    *slog.Logger
	obs    Observer
	epoch  time.Time     // origin of the times kept in Handles
	seed   maphash.Seed  // q.lanes.seed, for hashing keys without q.mu
	kick   chan struct{} // wakes the scheduler
	stop   chan struct{}
	exited chan struct{} // closed when goroutines drops to 0 (after stop)
	_      cacheLinePad

	// schedAt is when the scheduler's timer fires next, as an offset from
	// epoch (noTimer: not armed); a worker whose attempt's deadline is
	// before it kicks the scheduler. Every attempt reads it; the scheduler
	// writes it only when it re-arms its timer.
	schedAt atomic.Int64
	_       cacheLinePad

	mu     sync.Mutex
	cond   sync.Cond // workers wait here for ready lanes; L is &mu
	lanes  laneTable
	ready  ring // lanes whose head item can be dispatched, FIFO
	timers laneHeap
	// slots publish the workers' running attempts; the scheduler cancels
	// those whose deadline passes.
	slots []*workerSlot
	seq   uint64

	total      int // items held by lanes
	pending    int // items admitted and not yet published
	inflight   int
	orphans    int  // attempts cut short whose Run has not returned
	workers    int  // worker goroutines in their loop, orphans included
	idle       int  // workers waiting on cond
	goroutines int  // workers and scheduler not exited yet
	capLog     bool // the orphan cap was reached; log it (outside q.mu)
	capLogged  bool

	closed   bool
	aborted  bool
	stopping bool
	drained  chan struct{} // closed when closed && pending == 0
	isDrain  bool

	heldCh    <-chan struct{} // gate channel of the current hold, nil if none
	holdStart time.Time
	bypass    bool
	holdTotal time.Duration

	freeLanes []*lane

	warned     map[string]time.Time // last overload warning per key
	globalWarn time.Time

	st counters

	stopOnce sync.Once
}

// cacheLinePad separates fields that different cores write from those they
// only read (64-byte cache lines).
type cacheLinePad struct{ _ [64]byte }

type counters struct {
	admitted, rejected, attempts, retries          uint64
	succeeded, failed, purged, canceled, abandoned uint64
	holds, bypasses, orphaned                      uint64
}

type laneState uint8

const (
	laneIdle    laneState = iota // no item
	laneReady                    // head item can be dispatched; lane is in the ready ring
	laneRunning                  // head item's attempt is running or finishing
	laneWaiting                  // head item waits for its retry; lane is in the timer heap
)

// lane is the per-key FIFO. It exists while it holds items, an unreported
// critical failure or a WaitLane waiter, and is dropped from q.lanes as
// soon as it has none of them, so idle keys cost nothing.
type lane struct {
	key        string
	hash       uint64 // of key, in q.lanes
	head, tail *Handle
	n, ncrit   int
	state      laneState
	inReady    bool
	heapIdx    int // index in q.timers, -1 if absent
	retryAt    time.Time
	failure    error         // first critical failure not yet reported by WaitLane
	idle       chan struct{} // closed when n drops to 0; made by WaitLane
}

// closedChan is handed out by Done for items finished before anyone asked.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

type outcome uint8

const (
	outSucceeded outcome = iota + 1
	outFailed
	outPurged
	outCanceled
	outAbandoned
)

// cause returns the sentinel error of a cut-short outcome.
func (o outcome) cause() error {
	switch o {
	case outPurged:
		return ErrPurged
	case outCanceled:
		return ErrCanceled
	case outAbandoned:
		return ErrClosed
	}
	return nil
}

func outcomeOf(cause error) outcome {
	switch cause {
	case ErrPurged:
		return outPurged
	case ErrCanceled:
		return outCanceled
	case ErrClosed:
		return outAbandoned
	}
	return outFailed
}

// New validates cfg and starts the queue's goroutines: cfg.Workers workers
// and one scheduler.
func New(cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seed := maphash.MakeSeed()
	q := &Queue{
		cfg:     cfg,
		epoch:   time.Now(),
		log:     cfg.Logger,
		obs:     cfg.Observer,
		seed:    seed,
		lanes:   laneTable{seed: seed},
		drained: make(chan struct{}),
		warned:  make(map[string]time.Time),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	q.cond.L = &q.mu
	q.schedAt.Store(noTimer)
	q.workers = cfg.Workers
	q.goroutines = cfg.Workers + 1
	go q.scheduler()
	for range cfg.Workers {
		go q.worker()
	}
	return q, nil
}

// Submit enqueues item at the tail of key's lane and returns at once. It
// fails with an error wrapping [ErrInvalidItem] for an unusable item,
// [ErrOverloaded] when the lane holds Config.MaxPerKey items (or the queue
// Config.MaxTotal), and [ErrClosed] after Close; in all these cases nothing
// is enqueued and no callback will run.
func (q *Queue) Submit(key string, item Item) (*Handle, error) {
	if err := item.validate(); err != nil {
		return nil, err
	}
	if item.Attempts == 0 {
		item.Attempts = q.cfg.Attempts
	}
	if item.Timeout == 0 {
		item.Timeout = q.cfg.Timeout
	}
	if item.BackOff == nil {
		item.BackOff = q.cfg.BackOff
	}
	h := &Handle{q: q, key: key, item: item} // allocated outside the lock
	hash := hashKey(q.seed, key)             // computed outside the lock too
	h.state.store(stQueued)
	if q.obs != nil { // read the clock only when something needs it
		h.submitted = time.Since(q.epoch)
	}

	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.emit(Event{Kind: EventRejected, Key: key, Critical: item.Critical, Err: ErrClosed})
		return nil, ErrClosed
	}
	l := q.lanes.getHashed(key, hash)
	depth := 0
	if l != nil {
		depth = l.n
	}
	if depth >= q.cfg.MaxPerKey || (q.cfg.MaxTotal > 0 && q.total >= q.cfg.MaxTotal) {
		return nil, q.rejectLocked(key, &item, depth, time.Now())
	}
	if l == nil {
		l = q.newLaneLocked(key, hash)
	}
	q.seq++
	h.seq, h.lane = q.seq, l
	if l.tail == nil {
		l.head = h
	} else {
		l.tail.next = h
		h.prev = l.tail
	}
	l.tail = h
	l.n++
	if item.Critical {
		l.ncrit++
	}
	depth = l.n
	q.total++
	q.pending++
	q.st.admitted++
	wake := false
	if l.state == laneIdle {
		wake = q.pushReadyLocked(l)
	}
	q.mu.Unlock()
	if wake {
		q.cond.Signal() // outside the lock: shorter critical section
	}
	if q.obs != nil {
		q.obs.Observe(Event{Kind: EventAdmitted, Key: key, Seq: h.seq, Critical: item.Critical, Depth: depth})
	}
	return h, nil
}

// rejectLocked counts and reports a refused item; it unlocks q.mu.
func (q *Queue) rejectLocked(key string, item *Item, depth int, now time.Time) error {
	q.st.rejected++
	global := depth < q.cfg.MaxPerKey
	var warn bool
	var err error
	total := q.total
	if global {
		err = fmt.Errorf("%w: queue holds %d items (MaxTotal %d); key %q refused", ErrOverloaded, total, q.cfg.MaxTotal, key)
		if q.globalWarn.IsZero() || now.Sub(q.globalWarn) >= q.cfg.OverloadLogInterval {
			q.globalWarn, warn = now, true
		}
	} else {
		err = fmt.Errorf("%w: key %q holds %d items (MaxPerKey %d)", ErrOverloaded, key, depth, q.cfg.MaxPerKey)
		warn = q.shouldWarnLocked(key, now)
	}
	q.mu.Unlock()
	if warn {
		if global {
			q.log.Warn("work queue overloaded: global cap reached, item refused",
				"key", key, "item", item.Name, "total", total, "max_total", q.cfg.MaxTotal)
		} else {
			q.log.Warn("work queue overloaded: lane full, item refused",
				"key", key, "item", item.Name, "depth", depth, "max_per_key", q.cfg.MaxPerKey)
		}
	}
	q.emit(Event{Kind: EventRejected, Key: key, Critical: item.Critical, Depth: depth, Err: err})
	return err
}

func (q *Queue) shouldWarnLocked(key string, now time.Time) bool {
	if t, ok := q.warned[key]; ok && now.Sub(t) < q.cfg.OverloadLogInterval {
		return false
	}
	if len(q.warned) >= 64 {
		for k, t := range q.warned {
			if now.Sub(t) >= q.cfg.OverloadLogInterval {
				delete(q.warned, k)
			}
		}
	}
	q.warned[key] = now
	return true
}

// Purge removes every item of key's lane and completes each with
// [ErrPurged] (wrapped in an *Error), in FIFO order, returning how many it
// removed. The running attempt, if any, has its context cancelled and its
// OnAttempt callback called with ErrPurged; the lane is free at once, so an
// item submitted after Purge is dispatched without waiting for the cancelled
// attempt's Run to return (see "One live attempt per key" in the package
// documentation). Callbacks run in the calling goroutine before Purge
// returns, except for an item whose attempt is returning at that very
// moment: the worker completes it, right after the attempt's callbacks.
//
// Purge does not clear the lane's recorded critical failure; WaitLane
// reports it.
func (q *Queue) Purge(key string) int {
	q.mu.Lock()
	l := q.lanes.get(key)
	if l == nil {
		q.mu.Unlock()
		return 0
	}
	out, n := q.purgeLaneLocked(l, ErrPurged)
	q.mu.Unlock()
	if n > 0 {
		q.log.Info("work queue lane purged", "key", key, "items", n)
	}
	q.deliverDetached(out, ErrPurged)
	return n
}

// WaitLane waits until key's lane is empty, like StarlingX's
// workQueue_done. It returns:
//
//   - nil when the lane is empty (or at the deadline only noncritical items
//     are left) and no critical item has failed on it;
//   - the *Error of the first critical item that failed on the lane since
//     the previous WaitLane reported one (the record is then cleared);
//     noncritical failures are never reported here;
//   - an error wrapping [ErrLaneTimeout] when timeout has elapsed and
//     critical items are still queued or running (joined with the first
//     critical failure, if any); the items are left alone, so callers
//     usually Purge next;
//   - ctx.Err() if ctx ends first (the failure record is then kept).
//
// A timeout <= 0 means no deadline other than ctx.
func (q *Queue) WaitLane(ctx context.Context, key string, timeout time.Duration) error {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		q.mu.Lock()
		l := q.lanes.get(key)
		if l == nil || l.n == 0 {
			err := q.takeFailureLocked(l)
			q.mu.Unlock()
			return err
		}
		if l.idle == nil {
			l.idle = make(chan struct{})
		}
		idle := l.idle
		q.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			q.mu.Lock()
			l = q.lanes.get(key)
			var crit, all int
			if l != nil {
				crit, all = l.ncrit, l.n
			}
			err := q.takeFailureLocked(l)
			q.mu.Unlock()
			if crit == 0 {
				return err
			}
			terr := fmt.Errorf("%w: key %q: %d critical of %d items left after %v", ErrLaneTimeout, key, crit, all, timeout)
			if err != nil {
				return errors.Join(terr, err)
			}
			return terr
		}
	}
}

func (q *Queue) takeFailureLocked(l *lane) error {
	if l == nil {
		return nil
	}
	err := l.failure
	l.failure = nil
	q.dropIfUnusedLocked(l)
	return err
}

// Len returns the number of items queued or running on key's lane.
func (q *Queue) Len(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if l := q.lanes.get(key); l != nil {
		return l.n
	}
	return 0
}

// Stats returns a snapshot of the queue's counters and non-empty lanes.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := Stats{
		Admitted:  q.st.admitted,
		Rejected:  q.st.rejected,
		Attempts:  q.st.attempts,
		Retries:   q.st.retries,
		Succeeded: q.st.succeeded,
		Failed:    q.st.failed,
		Purged:    q.st.purged,
		Canceled:  q.st.canceled,
		Abandoned: q.st.abandoned,
		Pending:   q.pending,
		InFlight:  q.inflight,
		Orphans:   q.orphans,
		Orphaned:  q.st.orphaned,
		Waiting:   len(q.timers),
		Holding:   q.heldCh != nil,
		Holds:     q.st.holds,
		Bypasses:  q.st.bypasses,
		HoldTime:  q.holdTotal,
	}
	if q.heldCh != nil {
		s.HoldTime += time.Since(q.holdStart)
	}
	s.Lanes = make([]LaneStats, 0, q.lanes.len())
	for _, l := range q.lanes.slots {
		if l == nil {
			continue
		}
		if l.n == 0 && l.failure == nil {
			continue // idle, kept for reuse until swept
		}
		ls := LaneStats{Key: l.key, Depth: l.n, Critical: l.ncrit, InFlight: l.state == laneRunning && l.head != nil && l.head.state.load() == stRunning, Failure: l.failure}
		if l.state == laneWaiting {
			ls.RetryAt = l.retryAt
		}
		s.Lanes = append(s.Lanes, ls)
	}
	slices.SortFunc(s.Lanes, func(a, b LaneStats) int { return strings.Compare(a.Key, b.Key) })
	return s
}

// Close stops admission (Submit returns [ErrClosed]) and lets admitted work
// finish — queued items, retry waits and gate holds included — until ctx is
// done or, if ctx has no deadline, until Config.CloseTimeout minus
// [CloseGrace] has passed. If work remains then, it completes the remaining
// items with [ErrClosed] (wrapped in an *Error; joined with
// [ErrAttemptAbandoned] for a running attempt, whose context it cancels) and
// returns ctx.Err() (or an error wrapping context.DeadlineExceeded on
// CloseTimeout). It then stops the workers and the scheduler and waits for
// them at most CloseGrace: attempts whose Run ignores its cancelled context
// are left behind (they end when Run returns, counted in Stats.Orphans
// meanwhile) and Close's error wraps [ErrStuck].
//
// So Close returns within ctx's deadline plus CloseGrace, or within
// CloseTimeout for a context without a deadline, whatever the attempt
// functions do (callbacks and the Observer must still be quick). When every
// Run honours its context, every goroutine the queue started has exited
// when Close returns.
//
// Close is idempotent and may be called concurrently; every call returns
// within its own bound. Do not call it from a callback or an Observer (it
// would wait for itself).
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	first, pending := !q.closed, q.pending
	if first {
		q.closed = true
		q.checkDrainedLocked()
	}
	q.mu.Unlock()
	if first {
		q.log.Debug("work queue closing", "pending", pending)
	}

	grace := CloseGrace
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		drain := q.cfg.CloseTimeout - CloseGrace
		if drain < 0 {
			drain, grace = 0, q.cfg.CloseTimeout
		}
		t := time.NewTimer(drain)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case <-q.drained:
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = fmt.Errorf("workqueue: work left after CloseTimeout %v: %w", q.cfg.CloseTimeout, context.DeadlineExceeded)
	}
	if err != nil {
		q.mu.Lock()
		finished := q.isDrain && !q.aborted
		q.mu.Unlock()
		if finished {
			err = nil
		} else {
			q.abort()
		}
	}
	q.stopOnce.Do(func() {
		q.mu.Lock()
		q.stopping = true
		q.cond.Broadcast()
		q.mu.Unlock()
		close(q.stop)
	})
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-q.exited:
	case <-t.C:
		q.mu.Lock()
		left, orphans := q.goroutines, q.orphans
		q.mu.Unlock()
		q.log.Error("work queue closed with attempts still running (their Run ignores its cancelled context); goroutines left behind",
			"goroutines", left, "orphans", orphans, "grace", grace)
		err = errors.Join(err, fmt.Errorf("%w: %d goroutine(s) still running %v after the drain ended (%d orphaned attempts)",
			ErrStuck, left, grace, orphans))
	}
	return err
}

// exitLocked records that a worker or the scheduler is exiting.
func (q *Queue) exitLocked() {
	q.goroutines--
	if q.goroutines == 0 {
		close(q.exited)
	}
}

// abort completes every item still held by a lane with ErrClosed.
func (q *Queue) abort() {
	q.mu.Lock()
	if q.aborted {
		q.mu.Unlock()
		return
	}
	q.aborted = true
	var out []*Handle
	var n int
	for _, l := range q.lanes.all() { // purging drops lanes from the table
		o, k := q.purgeLaneLocked(l, ErrClosed)
		out = append(out, o...)
		n += k
	}
	q.mu.Unlock()
	if n > 0 {
		q.log.Warn("work queue closed before all work finished; items abandoned", "items", n)
	}
	slices.SortFunc(out, func(a, b *Handle) int { return cmp.Compare(a.seq, b.seq) })
	q.deliverDetached(out, ErrClosed)
}

func (q *Queue) emit(e Event) {
	if q.obs != nil {
		q.obs.Observe(e)
	}
}

// ---- lane bookkeeping (all with q.mu held) ----

func (q *Queue) newLaneLocked(key string, hash uint64) *lane {
	var l *lane
	if n := len(q.freeLanes); n > 0 {
		l = q.freeLanes[n-1]
		q.freeLanes = q.freeLanes[:n-1]
		l.key, l.hash = key, hash
	} else {
		l = &lane{key: key, hash: hash, heapIdx: -1}
	}
	q.lanes.put(l)
	return l
}

// unusedLocked reports whether l is empty and nothing refers to it.
func (l *lane) unusedLocked() bool {
	return l.n == 0 && !l.inReady && l.heapIdx < 0 && l.failure == nil && l.idle == nil && l.state == laneIdle
}

// dropIfUnusedLocked forgets l if it is unused: an idle key costs nothing
// (the table shrinks as keys go idle, see laneTable). Dropping a lane and
// making it again when its key comes back costs a table delete and insert;
// the table then holds only the keys with work, which keeps lookups in
// cache with many keys. Dropped lanes are kept for reuse, up to
// maxFreeLanes.
func (q *Queue) dropIfUnusedLocked(l *lane) {
	if !l.unusedLocked() {
		return
	}
	q.lanes.del(l)
	if len(q.freeLanes) < maxFreeLanes {
		*l = lane{heapIdx: -1}
		q.freeLanes = append(q.freeLanes, l)
	}
}

// maxFreeLanes is how many dropped lanes the queue keeps for reuse (128
// bytes each, 128 KiB at most), to save an allocation per item when keys
// come and go.
const maxFreeLanes = 1024

// compactMin is the smallest ready ring or timer heap that shrinks when it
// is down to an eighth of its capacity (so either keeps at most 16 KiB of
// pointers once idle): as for minLaneSlots, a smaller threshold had the
// ring resized back and forth by bursts of ~1,000 ready lanes.
const compactMin = 2048

// pushReadyLocked marks l ready and queues it for a worker. It reports
// whether an idle worker should be woken (q.cond.Signal, which does not need
// the lock); a worker about to look for work itself can ignore it.
func (q *Queue) pushReadyLocked(l *lane) bool {
	l.state = laneReady
	if !l.inReady {
		l.inReady = true
		q.ready.pushBack(l)
	}
	return q.idle > 0
}

func (q *Queue) unlinkLocked(l *lane, h *Handle) {
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		l.head = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else {
		l.tail = h.prev
	}
	h.prev, h.next, h.lane = nil, nil, nil
	l.n--
	if h.item.Critical {
		l.ncrit--
	}
	q.total--
}

// laneShrunkLocked is called after l lost an item.
func (q *Queue) laneShrunkLocked(l *lane) {
	if l.n > 0 {
		return
	}
	l.state = laneIdle
	if l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
	q.dropIfUnusedLocked(l)
}

// cutLocked ends h with cause on behalf of Purge, Cancel or Close. A queued
// or running item is detached (reported true), to be completed by the
// caller with deliverDetached; an item whose attempt is finishing is marked
// for its worker to complete, unless the attempt ended it. counted reports
// whether h will complete with cause.
func (q *Queue) cutLocked(h *Handle, cause error) (detached, counted bool) {
	switch h.state.load() {
	case stQueued:
		h.state.store(stDetached)
		q.detachLocked(h, false)
		return true, true
	case stRunning:
		if h.state.cas(stRunning, stDetached) {
			q.detachLocked(h, true)
			return true, true
		}
		// Lost the race: Run has just returned and the worker owns it.
	}
	if h.state.load() == stFinishing && !h.final && h.abort == 0 {
		h.abort = outcomeOf(cause)
		return false, true
	}
	return false, false
}

// detachLocked removes a detached item from its lane, cutting its running
// attempt short if it has one.
func (q *Queue) detachLocked(h *Handle, running bool) {
	l := h.lane
	wasHead := l.head == h
	if running {
		h.cutAttempt()
		h.wasRunning = true
		q.inflight--
		q.orphans++
		q.st.orphaned++
		// The cut-short Run may take a while to return; keep Workers
		// goroutines available for live attempts, up to the cap.
		if !q.aborted && !q.stopping {
			if q.workers < q.cfg.Workers+q.cfg.MaxOrphans {
				q.workers++
				q.goroutines++
				go q.worker()
			} else if !q.capLogged {
				q.capLog, q.capLogged = true, true
			}
		}
	}
	q.unlinkLocked(l, h)
	if wasHead {
		switch l.state {
		case laneWaiting:
			heap.Remove(&q.timers, l.heapIdx)
			fallthrough
		case laneRunning:
			if l.n > 0 {
				if q.pushReadyLocked(l) {
					q.cond.Signal()
				}
			} else {
				l.state = laneIdle
			}
		}
	}
	q.laneShrunkLocked(l)
}

// purgeLaneLocked detaches every item of l. A head item whose attempt is
// finishing is marked instead, and completed by its worker if the attempt
// did not end it.
func (q *Queue) purgeLaneLocked(l *lane, cause error) (out []*Handle, n int) {
	for h := l.head; h != nil; {
		next := h.next
		detached, counted := q.cutLocked(h, cause)
		if detached {
			out = append(out, h)
		}
		if counted {
			n++
		}
		h = next
	}
	return out, n
}

// deliverDetached runs the callbacks of detached items, then publishes them.
func (q *Queue) deliverDetached(out []*Handle, cause error) {
	if len(out) == 0 {
		return
	}
	now := time.Now()
	errs := make([]error, len(out))
	for i, h := range out {
		if h.wasRunning {
			errs[i] = h.finalError(&abandonedError{cause})
		} else {
			errs[i] = h.finalError(cause)
		}
		if h.wasRunning {
			start := now // cut before its deadline was set
			if dl, _ := h.ctx.state(); !dl.IsZero() {
				start = dl.Add(-h.timeout(int(h.attempts)))
			}
			a := Attempt{Key: h.key, Seq: h.seq, Name: h.item.Name, Critical: h.item.Critical, Number: int(h.attempts),
				Start: start, Duration: now.Sub(start), Err: errs[i].(*Error).Err, Final: true}
			if h.item.OnAttempt != nil {
				h.item.OnAttempt(a)
			}
			q.emit(Event{Kind: EventAttempt, Key: h.key, Seq: h.seq, Critical: h.item.Critical, Attempt: a.Number, Final: true, Duration: a.Duration, Err: a.Err})
		}
		q.doneCallbacks(h, errs[i], -1)
	}
	q.mu.Lock()
	for i, h := range out {
		q.publishLocked(h, errs[i], outcomeOf(cause))
	}
	capLog := q.capLog
	q.capLog = false
	q.mu.Unlock()
	if capLog {
		q.log.Error("work queue orphan cap reached: attempts cut short ignore their context; stuck workers are no longer replaced",
			"workers", q.cfg.Workers, "max_orphans", q.cfg.MaxOrphans)
	}
}

// doneCallbacks calls OnDone and reports EventDone; end is the offset from
// q.epoch at which the item ended, -1 to read the clock.
func (q *Queue) doneCallbacks(h *Handle, err error, end time.Duration) {
	if h.item.OnDone != nil {
		h.item.OnDone(Result{Key: h.key, Seq: h.seq, Name: h.item.Name, Critical: h.item.Critical, Attempts: int(h.attempts), Err: err})
	}
	if q.obs != nil {
		if end < 0 {
			end = time.Since(q.epoch)
		}
		q.obs.Observe(Event{Kind: EventDone, Key: h.key, Seq: h.seq, Critical: h.item.Critical, Attempt: int(h.attempts),
			Final: true, Duration: end - h.submitted, Err: err})
	}
}

// publishLocked records the item's outcome and closes its Done channel.
func (q *Queue) publishLocked(h *Handle, err error, o outcome) {
	h.err = err
	h.state.store(stDone)
	h.lane = nil
	if h.done == nil {
		h.done = closedChan
	} else {
		close(h.done)
	}
	switch o {
	case outSucceeded:
		q.st.succeeded++
	case outFailed:
		q.st.failed++
	case outPurged:
		q.st.purged++
	case outCanceled:
		q.st.canceled++
	case outAbandoned:
		q.st.abandoned++
	}
	q.pending--
	q.checkDrainedLocked()
}

func (q *Queue) checkDrainedLocked() {
	if q.closed && q.pending == 0 && !q.isDrain {
		q.isDrain = true
		close(q.drained)
	}
}

func (q *Queue) kickScheduler() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}
