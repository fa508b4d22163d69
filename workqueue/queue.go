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
	// Read-only after New, and read without a lock by Submit and the
	// workers for every item. They are kept off the cache lines of the
	// fields that change, which another core writes all the time: sharing
	// a line with them would cost a cache miss on every read.
	cfg    Config
	log    *slog.Logger
	obs    Observer
	epoch  time.Time     // origin of the times kept in Handles
	seed   maphash.Seed  // the lane tables' seed, for hashing keys without a lock
	kick   chan struct{} // wakes the scheduler
	stop   chan struct{}
	exited chan struct{} // closed when goroutines drops to 0 (after stop)
	// shards hold the lanes, by key hash (see shard): a power of two of
	// them; a key's shard is its hash >> shardShift.
	shards     []shard
	shardShift uint
	_          cacheLinePad

	// schedAt is when the scheduler's timer fires next, as an offset from
	// epoch (noTimer: not armed); a worker whose attempt's deadline is
	// before it kicks the scheduler. Every attempt reads it; the scheduler
	// writes it only when it re-arms its timer.
	schedAt atomic.Int64
	_       cacheLinePad

	// Written by submitters only.
	seq   atomic.Uint64
	total atomic.Int64 // items held by lanes; kept only when MaxTotal > 0
	_     cacheLinePad

	// Written rarely (a worker going idle, a hold, Close), read by Submit
	// and the workers for every item.
	idle      atomic.Int32 // workers waiting on cond; changed under mu
	gateHeld  atomic.Bool  // heldCh != nil && !bypass; changed under mu
	stopping  atomic.Bool  // set under mu
	closed    atomic.Bool  // Close has begun
	busy      atomic.Int32 // after Close: shards with pending items, +1 while Close counts them
	workerIDs atomic.Uint32
	_         cacheLinePad

	// mu guards what is not per key: the workers' lifecycle and orphans,
	// gate holds, the drain, overload warnings and the attempt slots. Lock
	// order: a shard's lock may be held when taking mu, never the reverse.
	mu   sync.Mutex
	cond sync.Cond // workers wait here for ready lanes; L is &mu
	// slots publish the workers' running attempts; the scheduler cancels
	// those whose deadline passes.
	slots []*workerSlot

	orphans    int  // attempts cut short whose Run has not returned
	workers    int  // worker goroutines in their loop, orphans included
	goroutines int  // workers and scheduler not exited yet
	capLog     bool // the orphan cap was reached; log it (outside q.mu)
	capLogged  bool

	aborted bool
	drained chan struct{} // closed when closed && pending == 0
	isDrain bool

	heldCh    <-chan struct{} // gate channel of the current hold, nil if none
	holdStart time.Time
	bypass    bool
	holdTotal time.Duration

	warned     map[string]time.Time // last overload warning per key
	globalWarn time.Time

	st counters // holds and bypasses; the shards count the rest

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
		drained: make(chan struct{}),
		warned:  make(map[string]time.Time),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	n := shardCount()
	q.shards = make([]shard, n)
	for i := range q.shards {
		s := &q.shards[i]
		s.idx = i
		// The shards share the floors of the lane table and the ready
		// ring (2,048 entries each in all, with up to 32 shards).
		s.lanes = laneTable{seed: seed, minSlots: max(64, minLaneSlots/n)}
		s.ready.min = max(64, compactMin/n)
	}
	q.shardShift = 64
	for ; n > 1; n /= 2 {
		q.shardShift--
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

	s := q.shardOf(hash)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		q.emit(Event{Kind: EventRejected, Key: key, Critical: item.Critical, Err: ErrClosed})
		return nil, ErrClosed
	}
	l := s.lanes.getHashed(key, hash)
	depth := 0
	if l != nil {
		depth = l.n
	}
	if depth >= q.cfg.MaxPerKey {
		return nil, q.rejectLocked(s, key, &item, depth, 0)
	}
	if q.cfg.MaxTotal > 0 {
		if ok, total := q.totalReserve(); !ok {
			return nil, q.rejectLocked(s, key, &item, depth, total)
		}
	}
	if l == nil {
		l = q.newLaneLocked(s, key, hash)
	}
	h.seq, h.lane, h.shard = q.seq.Add(1), l, uint8(s.idx)
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
	s.pending++
	s.st.admitted++
	wake := false
	if l.state == laneIdle {
		wake = q.pushReadyLocked(s, l)
	}
	s.mu.Unlock()
	if wake {
		q.wakeOne() // outside the shard lock: shorter critical section
	}
	if q.obs != nil {
		q.obs.Observe(Event{Kind: EventAdmitted, Key: key, Seq: h.seq, Critical: item.Critical, Depth: depth})
	}
	return h, nil
}

// rejectLocked counts and reports a refused item; it unlocks s.mu. total
// is the global count that refused it (when depth is below MaxPerKey).
func (q *Queue) rejectLocked(s *shard, key string, item *Item, depth int, total int64) error {
	s.st.rejected++
	s.mu.Unlock()
	now := time.Now()
	global := depth < q.cfg.MaxPerKey
	var warn bool
	var err error
	q.mu.Lock()
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
	hash := hashKey(q.seed, key)
	s := q.shardOf(hash)
	s.mu.Lock()
	l := s.lanes.getHashed(key, hash)
	if l == nil {
		s.mu.Unlock()
		return 0
	}
	out, n := q.purgeLaneLocked(s, l, ErrPurged)
	s.mu.Unlock()
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
	hash := hashKey(q.seed, key)
	s := q.shardOf(hash)
	for {
		s.mu.Lock()
		l := s.lanes.getHashed(key, hash)
		if l == nil || l.n == 0 {
			err := q.takeFailureLocked(s, l)
			s.mu.Unlock()
			return err
		}
		if l.idle == nil {
			l.idle = make(chan struct{})
		}
		idle := l.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			s.mu.Lock()
			l = s.lanes.getHashed(key, hash)
			var crit, all int
			if l != nil {
				crit, all = l.ncrit, l.n
			}
			err := q.takeFailureLocked(s, l)
			s.mu.Unlock()
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

func (q *Queue) takeFailureLocked(s *shard, l *lane) error {
	if l == nil {
		return nil
	}
	err := l.failure
	l.failure = nil
	q.dropIfUnusedLocked(s, l)
	return err
}

// Len returns the number of items queued or running on key's lane.
func (q *Queue) Len(key string) int {
	hash := hashKey(q.seed, key)
	s := q.shardOf(hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.lanes.getHashed(key, hash); l != nil {
		return l.n
	}
	return 0
}

// Stats returns a snapshot of the queue's counters and non-empty lanes. It
// holds every shard's lock at once, so the snapshot is consistent.
func (q *Queue) Stats() Stats {
	q.lockAll()
	defer q.unlockAll()
	q.mu.Lock()
	defer q.mu.Unlock()
	var c counters
	var pending, inflight, waiting, lanes int
	c.add(&q.st)
	for i := range q.shards {
		sh := &q.shards[i]
		c.add(&sh.st)
		pending += sh.pending
		inflight += sh.inflight
		waiting += len(sh.timers)
		lanes += sh.lanes.len()
	}
	s := Stats{
		Admitted:  c.admitted,
		Rejected:  c.rejected,
		Attempts:  c.attempts,
		Retries:   c.retries,
		Succeeded: c.succeeded,
		Failed:    c.failed,
		Purged:    c.purged,
		Canceled:  c.canceled,
		Abandoned: c.abandoned,
		Pending:   pending,
		InFlight:  inflight,
		Orphans:   q.orphans,
		Orphaned:  c.orphaned,
		Waiting:   waiting,
		Holding:   q.heldCh != nil,
		Holds:     c.holds,
		Bypasses:  c.bypasses,
		HoldTime:  q.holdTotal,
	}
	if q.heldCh != nil {
		s.HoldTime += time.Since(q.holdStart)
	}
	s.Lanes = make([]LaneStats, 0, lanes)
	for i := range q.shards {
		for _, l := range q.shards[i].lanes.slots {
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
	if first := q.closed.CompareAndSwap(false, true); first {
		// Each shard refuses Submit from now on, so its pending count only
		// falls; those with items count in q.busy until they have none.
		q.busy.Store(1)
		pending := 0
		for i := range q.shards {
			s := &q.shards[i]
			s.mu.Lock()
			s.closed = true
			if s.pending > 0 {
				s.draining = true
				q.busy.Add(1)
				pending += s.pending
			}
			s.mu.Unlock()
		}
		q.log.Debug("work queue closing", "pending", pending)
		if q.busy.Add(-1) == 0 {
			q.setDrained()
		}
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
		q.stopping.Store(true)
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
	q.mu.Unlock()
	// All shards at once, so that no worker dispatches an item of one
	// shard while another is being purged.
	q.lockAll()
	var out []*Handle
	var n int
	for i := range q.shards {
		s := &q.shards[i]
		for _, l := range s.lanes.all() { // purging drops lanes from the table
			o, k := q.purgeLaneLocked(s, l, ErrClosed)
			out = append(out, o...)
			n += k
		}
	}
	q.unlockAll()
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

// ---- lane bookkeeping (all with the lane's shard locked) ----

func (q *Queue) newLaneLocked(s *shard, key string, hash uint64) *lane {
	var l *lane
	if n := len(s.freeLanes); n > 0 {
		l = s.freeLanes[n-1]
		s.freeLanes = s.freeLanes[:n-1]
		l.key, l.hash = key, hash
	} else {
		l = &lane{key: key, hash: hash, heapIdx: -1}
	}
	s.lanes.put(l)
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
// maxFreeLanes in all the shards together.
func (q *Queue) dropIfUnusedLocked(s *shard, l *lane) {
	if !l.unusedLocked() {
		return
	}
	s.lanes.del(l)
	if len(s.freeLanes) < maxFreeLanes/len(q.shards) {
		*l = lane{heapIdx: -1}
		s.freeLanes = append(s.freeLanes, l)
	}
}

// maxFreeLanes is how many dropped lanes the queue keeps for reuse (128
// bytes each, 128 KiB at most), to save an allocation per item when keys
// come and go.
const maxFreeLanes = 1024

// compactMin is the smallest ready ring or timer heap that shrinks when it
// is down to an eighth of its capacity (so either keeps at most 16 KiB of
// pointers once idle): as for minLaneSlots, a smaller threshold had the
// ring resized back and forth by bursts of ~1,000 ready lanes. The shards'
// rings share it (each shrinks from compactMin/shards on).
const compactMin = 2048

// pushReadyLocked marks l ready and queues it for a worker. It reports
// whether an idle worker should be woken (q.wakeOne); a worker about to
// look for work itself can ignore it.
func (q *Queue) pushReadyLocked(s *shard, l *lane) bool {
	l.state = laneReady
	if !l.inReady {
		l.inReady = true
		s.pushReady(l)
	}
	// After the store of s.nready: an idle worker counts itself in q.idle,
	// then looks at every nready before it sleeps (see idleWait), so one of
	// the two sees the other.
	return q.idle.Load() > 0
}

// wakeOne wakes an idle worker. It takes q.mu, under which a worker counts
// itself idle, looks for work and sleeps, so the wake is not lost.
func (q *Queue) wakeOne() {
	q.mu.Lock()
	q.cond.Signal()
	q.mu.Unlock()
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
	if q.cfg.MaxTotal > 0 {
		q.total.Add(-1)
	}
}

// laneShrunkLocked is called after l lost an item.
func (q *Queue) laneShrunkLocked(s *shard, l *lane) {
	if l.n > 0 {
		return
	}
	l.state = laneIdle
	if l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
	q.dropIfUnusedLocked(s, l)
}

// cutLocked ends h with cause on behalf of Purge, Cancel or Close. A queued
// or running item is detached (reported true), to be completed by the
// caller with deliverDetached; an item whose attempt is finishing is marked
// for its worker to complete, unless the attempt ended it. counted reports
// whether h will complete with cause.
func (q *Queue) cutLocked(s *shard, h *Handle, cause error) (detached, counted bool) {
	switch h.state.load() {
	case stQueued:
		h.state.store(stDetached)
		q.detachLocked(s, h, false)
		return true, true
	case stRunning:
		if h.state.cas(stRunning, stDetached) {
			q.detachLocked(s, h, true)
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
func (q *Queue) detachLocked(s *shard, h *Handle, running bool) {
	l := h.lane
	wasHead := l.head == h
	if running {
		h.cutAttempt()
		h.wasRunning = true
		s.inflight--
		s.st.orphaned++
		q.mu.Lock()
		q.orphans++
		// The cut-short Run may take a while to return; keep Workers
		// goroutines available for live attempts, up to the cap.
		if !q.aborted && !q.stopping.Load() {
			if q.workers < q.cfg.Workers+q.cfg.MaxOrphans {
				q.workers++
				q.goroutines++
				go q.worker()
			} else if !q.capLogged {
				q.capLog, q.capLogged = true, true
			}
		}
		q.mu.Unlock()
	}
	q.unlinkLocked(l, h)
	if wasHead {
		switch l.state {
		case laneWaiting:
			heap.Remove(&s.timers, l.heapIdx)
			fallthrough
		case laneRunning:
			if l.n > 0 {
				if q.pushReadyLocked(s, l) {
					q.wakeOne()
				}
			} else {
				l.state = laneIdle
			}
		}
	}
	q.laneShrunkLocked(s, l)
}

// purgeLaneLocked detaches every item of l. A head item whose attempt is
// finishing is marked instead, and completed by its worker if the attempt
// did not end it.
func (q *Queue) purgeLaneLocked(s *shard, l *lane, cause error) (out []*Handle, n int) {
	for h := l.head; h != nil; {
		next := h.next
		detached, counted := q.cutLocked(s, h, cause)
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
	for i, h := range out {
		s := &q.shards[h.shard]
		s.mu.Lock()
		q.publishLocked(s, h, errs[i], outcomeOf(cause))
		s.mu.Unlock()
	}
	q.mu.Lock()
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
func (q *Queue) publishLocked(s *shard, h *Handle, err error, o outcome) {
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
		s.st.succeeded++
	case outFailed:
		s.st.failed++
	case outPurged:
		s.st.purged++
	case outCanceled:
		s.st.canceled++
	case outAbandoned:
		s.st.abandoned++
	}
	s.pending--
	if s.draining && s.pending == 0 {
		s.draining = false
		if q.busy.Add(-1) == 0 {
			q.setDrained()
		}
	}
}

// setDrained closes q.drained: Close has begun and no item is pending.
func (q *Queue) setDrained() {
	q.mu.Lock()
	if !q.isDrain {
		q.isDrain = true
		close(q.drained)
	}
	q.mu.Unlock()
}

func (q *Queue) kickScheduler() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}
