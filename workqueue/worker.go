package workqueue

import (
	"cmp"
	"container/heap"
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// worker dispatches ready lanes until the queue stops, or until it returns
// from a cut-short attempt while a replacement worker exists.
//
// It looks for a shard with ready lanes from its current one on (its home
// shard at first, spread over the shards by worker number), consults the
// gate, then locks that shard and dispatches its first ready lane. After the
// attempt it takes the lane's shard back to finish the item, and dispatches
// from the same shard while it has ready lanes, up to maxStreak times in a
// row; then it moves on to the next shard, so that no shard waits behind
// another for long.
func (q *Queue) worker() {
	slot := new(workerSlot)
	n := len(q.shards)
	cur := int(q.workerIDs.Add(1)-1) * n / q.cfg.Workers % n
	q.mu.Lock()
	q.slots = append(q.slots, slot)
	q.mu.Unlock()
	fresh := false           // the gate was consulted for the next dispatch
	var held <-chan struct{} // and found closed, with this channel
	var s *shard             // the shard whose lock this worker holds, if any
	streak := 0              // dispatches from s in a row
	for {
		if s == nil {
			if q.stopping.Load() {
				break
			}
			r := q.findReady(cur)
			if r == nil || q.gateHeld.Load() {
				q.idleWait()
				fresh, held = false, nil
				continue
			}
			cur = r.idx
			if q.cfg.Gate != nil && !fresh {
				// Consult the gate without holding a lock: it is foreign code.
				held = q.cfg.Gate.Held()
				fresh = true
				continue
			}
			s, streak = r, 0
			s.mu.Lock()
		}
		if s.ready.len() == 0 {
			s.mu.Unlock() // look elsewhere, or wait
			s = nil
			continue
		}
		if held != nil {
			// Closed, with work ready: a hold (unless bypassed, see gateHeld).
			q.mu.Lock()
			q.noteHeldLocked(held)
			q.mu.Unlock()
			held = nil
			continue
		}
		if streak >= maxStreak {
			// Let the other shards have a turn, if they have work.
			streak = 0
			if r := q.findReady(s.idx + 1); r != nil && r != s {
				cur = r.idx
				s.mu.Unlock()
				s = nil
				if q.idle.Load() > 0 {
					q.wakeOne() // for the ready lanes left behind
				}
				continue
			}
		}
		if q.gateHeld.Load() || q.stopping.Load() || (q.cfg.Gate != nil && !fresh) {
			s.mu.Unlock()
			s = nil
			continue
		}
		fresh = false
		l := s.popReady()
		l.inReady = false
		if l.state != laneReady {
			q.dropIfUnusedLocked(s, l)
			continue // stale entry: the lane was purged meanwhile
		}
		if s.ready.len() > 0 && q.idle.Load() > 0 {
			q.wakeOne() // more work: wake another worker
		}
		streak++
		var cont bool
		if cont, fresh, held = q.runLocked(s, l, slot); !cont {
			return // retired, no lock held
		}
	}
	q.mu.Lock()
	q.retireLocked(slot)
	q.mu.Unlock()
}

// maxStreak is how many items in a row a worker dispatches from one shard
// while others may have work.
const maxStreak = 8

// idleWait sleeps until work may be ready, the gate opens or the queue
// stops. The worker counts itself idle, then looks at every shard's nready,
// all under q.mu: whoever makes a lane ready stores nready, then reads
// q.idle and, if a worker is idle, signals under q.mu (wakeOne), so no wake
// is lost. Spurious wakes are harmless.
func (q *Queue) idleWait() {
	q.mu.Lock()
	q.idle.Add(1)
	if !q.stopping.Load() && (q.gateHeld.Load() || q.findReady(0) == nil) {
		q.cond.Wait()
	}
	q.idle.Add(-1)
	q.mu.Unlock()
}

// retireLocked records that a worker leaves its loop and exits.
func (q *Queue) retireLocked(slot *workerSlot) {
	q.workers--
	if i := slices.Index(q.slots, slot); i >= 0 {
		q.slots = slices.Delete(q.slots, i, i+1)
	}
	q.exitLocked()
}

// setHeldLocked publishes whether the gate holds dispatch.
func (q *Queue) setHeldLocked() { q.gateHeld.Store(q.heldCh != nil && !q.bypass) }

// noteHeldLocked records that the gate is closed, with ch as its channel.
func (q *Queue) noteHeldLocked(ch <-chan struct{}) {
	switch {
	case q.heldCh == ch:
	case q.heldCh == nil:
		q.heldCh = ch
		q.holdStart = time.Now()
		q.bypass = false
		q.st.holds++
		q.kickScheduler()
	default:
		// The gate hands out a new channel; the scheduler sorts out
		// whether the old one was closed (a new hold) or not.
		q.heldCh = ch
		q.kickScheduler()
	}
	q.setHeldLocked()
}

// runLocked runs one attempt of l's head item. It is called with s.mu held
// (l's shard) and returns with it held, unless it reports that the worker
// should not go on (it then has retired the worker). It also reports
// whether it consulted the gate just before taking s.mu back: the worker
// then uses that answer for its next dispatch, as it would after consulting
// the gate itself (Held, then the lock), which saves releasing and retaking
// the lock.
func (q *Queue) runLocked(s *shard, l *lane, slot *workerSlot) (cont, fresh bool, held <-chan struct{}) {
	h := l.head
	l.state = laneRunning
	h.state.store(stRunning)
	h.attempts++
	n := int(h.attempts)
	timeout := h.timeout(n)
	s.inflight++
	s.st.attempts++
	ctx := &h.actx
	if n > 1 {
		ctx = new(attemptCtx)
	}
	h.ctx = ctx // for Purge, Cancel and Close, which may cut it from now on
	s.mu.Unlock()

	// Outside the lock: read the clock, set the deadline, publish it.
	off := time.Since(q.epoch) // one monotonic clock read, cheaper than time.Now
	start := q.epoch.Add(off)
	ctx.setDeadline(start.Add(timeout))
	slot.ctx.Store(ctx)
	if int64(off+timeout) < q.schedAt.Load() {
		q.kickScheduler() // see scheduler: it rescans after publishing schedAt
	}

	err := h.item.Run(ctx, n)
	var dur time.Duration
	end := time.Duration(-1) // read the clock only if needed, once
	if h.item.OnAttempt != nil || q.obs != nil {
		end = time.Since(q.epoch)
		dur = end - off
	}
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = &timeoutError{after: timeout, err: err}
	}
	ctx.cancel(ctxCanceled)
	slot.ctx.Store(nil)

	// Classify outside the lock: the backoff policy is foreign code. h.bo
	// belongs to whoever runs h's attempt, which is this goroutine.
	final, wait := true, time.Duration(0)
	if err != nil && n < h.item.Attempts && !IsPermanent(err) {
		if h.bo == nil {
			h.bo = h.item.BackOff()
		}
		switch wait = h.bo.NextBackOff(); {
		case wait == backoff.Stop:
			wait = 0
		case wait < 0:
			wait, final = 0, false
		default:
			final = false
		}
	}

	h.final = final // published by the swap below
	if !h.state.cas(stRunning, stFinishing) {
		// Purge, Cancel or Close cut this attempt short and completed the
		// item; the lane has moved on. Exit if a replacement took our place
		// (more workers than Workers that are not stuck in a Run).
		q.mu.Lock()
		q.orphans--
		if q.workers-q.orphans > q.cfg.Workers {
			q.retireLocked(slot)
			q.mu.Unlock()
			return false, false, nil
		}
		q.mu.Unlock()
		s.mu.Lock()
		return true, false, nil
	}
	if err == nil && h.item.OnAttempt == nil && h.item.OnDone == nil && q.obs == nil {
		fresh, held = q.lockAfterGate(s)
		s.inflight--
		q.finishHeadLocked(s, l, h, nil, outSucceeded) // fast path: nothing to call
		return true, fresh, held
	}

	// Callbacks and logs, lock released, lane still busy: the next attempt
	// of this key starts only after they return.
	a := Attempt{Key: h.key, Seq: h.seq, Name: h.item.Name, Critical: h.item.Critical, Number: n,
		Start: start, Duration: dur, Err: err, Final: final}
	if !final {
		a.Retry = wait
	}
	if h.item.OnAttempt != nil {
		h.item.OnAttempt(a)
	}
	q.emit(Event{Kind: EventAttempt, Key: h.key, Seq: h.seq, Critical: h.item.Critical, Attempt: n, Final: final, Duration: dur, Err: err})
	var ferr error
	o := outSucceeded
	if final {
		if err != nil {
			ferr, o = h.finalError(err), outFailed
			q.logFailure(h, ferr)
		}
		q.doneCallbacks(h, ferr, end)
	} else {
		q.log.Info("work queue attempt failed, will retry", "key", h.key, "seq", h.seq, "item", h.item.Name,
			"attempt", n, "of", h.item.Attempts, "retry_in", wait, "err", err)
	}

	fresh, held = q.lockAfterGate(s)
	s.inflight--
	if !final && h.abort != 0 {
		// Purged, cancelled or abandoned while we delivered the callbacks.
		o, final = h.abort, true
		ferr = h.finalError(o.cause())
		s.mu.Unlock()
		q.doneCallbacks(h, ferr, -1)
		s.mu.Lock()
		fresh, held = false, nil
	}
	if final {
		q.finishHeadLocked(s, l, h, ferr, o)
	} else {
		q.retryLocked(s, l, h, wait)
	}
	return true, fresh, held
}

// lockAfterGate consults the gate, if any, then locks s.mu. It reports
// whether it consulted the gate, and what Held returned.
func (q *Queue) lockAfterGate(s *shard) (bool, <-chan struct{}) {
	if q.cfg.Gate == nil {
		s.mu.Lock()
		return false, nil
	}
	ch := q.cfg.Gate.Held() // foreign code: without a lock
	s.mu.Lock()
	return true, ch
}

func (q *Queue) logFailure(h *Handle, err error) {
	if h.item.Critical {
		q.log.Error("work queue critical item failed", "key", h.key, "seq", h.seq, "item", h.item.Name,
			"attempts", h.attempts, "err", err)
		return
	}
	q.log.Warn("work queue noncritical item failed, dropped", "key", h.key, "seq", h.seq, "item", h.item.Name,
		"attempts", h.attempts, "err", err)
}

// finishHeadLocked completes l's head item h and moves the lane on.
func (q *Queue) finishHeadLocked(s *shard, l *lane, h *Handle, err error, o outcome) {
	q.unlinkLocked(l, h)
	q.publishLocked(s, h, err, o)
	if o == outFailed && h.item.Critical && l.failure == nil {
		l.failure = err
	}
	if l.n > 0 {
		q.pushReadyLocked(s, l) // this worker looks for work next, here first
	} else {
		q.laneShrunkLocked(s, l)
	}
}

// retryLocked puts l's head item h back to wait for its next attempt.
func (q *Queue) retryLocked(s *shard, l *lane, h *Handle, wait time.Duration) {
	h.state.store(stQueued)
	s.st.retries++
	if wait <= 0 {
		q.pushReadyLocked(s, l) // this worker looks for work next, here first
		return
	}
	l.state = laneWaiting
	l.retryAt = time.Now().Add(wait)
	heap.Push(&s.timers, l)
	if l.heapIdx == 0 {
		q.kickScheduler()
	}
}

// workerSlot publishes the context of the attempt a worker is running.
type workerSlot struct{ ctx atomic.Pointer[attemptCtx] }

// noTimer is schedAt when the scheduler's timer is not armed.
const noTimer = math.MaxInt64

// scanDeadlinesLocked appends to expired the live attempts whose deadline
// is not after now, and returns the earliest other deadline (zero if none).
func (q *Queue) scanDeadlinesLocked(now time.Time, expired []*attemptCtx) (time.Time, []*attemptCtx) {
	var next time.Time
	for _, s := range q.slots {
		c := s.ctx.Load()
		if c == nil {
			continue
		}
		dl, live := c.state()
		switch {
		case !live || dl.IsZero():
		case !dl.After(now):
			expired = append(expired, c)
		case next.IsZero() || dl.Before(next):
			next = dl
		}
	}
	return next, expired
}

// scheduler moves lanes whose retry wait is over to their shard's ready
// ring (taking each shard's lock in turn, then q.mu), and
// tracks gate holds: it notices when the gate opens and when a hold reaches
// MaxHold. It is the only goroutine besides the workers.
func (q *Queue) scheduler() {
	defer func() {
		q.mu.Lock()
		q.exitLocked()
		q.mu.Unlock()
	}()
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	var announced uint64 // holds announced so far
	var expired []*attemptCtx
	for {
		now := time.Now()
		var next time.Time
		for i := range q.shards {
			s := &q.shards[i]
			s.mu.Lock()
			wake := false
			for len(s.timers) > 0 && !s.timers[0].retryAt.After(now) {
				l := heap.Pop(&s.timers).(*lane)
				wake = q.pushReadyLocked(s, l) || wake
			}
			if len(s.timers) > 0 && (next.IsZero() || s.timers[0].retryAt.Before(next)) {
				next = s.timers[0].retryAt
			}
			s.mu.Unlock()
			if wake {
				q.mu.Lock()
				q.cond.Broadcast()
				q.mu.Unlock()
			}
		}
		q.mu.Lock()
		if q.stopping.Load() {
			q.mu.Unlock()
			return
		}
		var dl time.Time
		dl, expired = q.scanDeadlinesLocked(now, expired)
		if !dl.IsZero() && (next.IsZero() || dl.Before(next)) {
			next = dl
		}
		held := q.heldCh
		var startEv, bypassEv bool
		var holdFor time.Duration
		if held != nil {
			if q.st.holds != announced {
				announced = q.st.holds
				startEv = true
			}
			if !q.bypass {
				dl := q.holdStart.Add(q.cfg.MaxHold)
				if !now.Before(dl) {
					q.bypass = true
					q.setHeldLocked()
					q.st.bypasses++
					q.cond.Broadcast()
					bypassEv, holdFor = true, now.Sub(q.holdStart)
				} else if next.IsZero() || dl.Before(next) {
					next = dl
				}
			}
		}
		// An armed timer is kept rather than stopped early (a spurious
		// wake is cheap): attempts then start without kicking the
		// scheduler as long as their deadlines come after it.
		if armed := q.epoch.Add(time.Duration(q.schedAt.Load())); q.schedAt.Load() != noTimer &&
			armed.After(now) && (next.IsZero() || armed.Before(next)) {
			next = armed
		}
		if next.IsZero() {
			q.schedAt.Store(noTimer)
		} else {
			q.schedAt.Store(int64(next.Sub(q.epoch)))
		}
		// A worker publishes its attempt, then compares its deadline with
		// schedAt; we publish schedAt, then look at the attempts again: one
		// of the two sees the other (sequentially consistent atomics), so
		// no deadline is missed. This holds for noTimer too: a worker that
		// read the old, just-expired schedAt did not kick us, and its
		// attempt may have been published after the scan above.
		if dl, _ := q.scanDeadlinesLocked(now, nil); !dl.IsZero() && (next.IsZero() || dl.Before(next)) {
			q.kickScheduler()
		}
		q.mu.Unlock()

		for i, c := range expired {
			c.cancel(ctxExpired)
			expired[i] = nil
		}
		expired = expired[:0]

		if startEv {
			q.log.Info("work queue held: gate closed")
			q.emit(Event{Kind: EventHoldStart})
		}
		if bypassEv {
			q.log.Warn("work queue gate closed longer than MaxHold; dispatching anyway",
				"held", holdFor, "max_hold", q.cfg.MaxHold)
			q.emit(Event{Kind: EventHoldBypass, Duration: holdFor})
		}
		if !next.IsZero() {
			t.Reset(next.Sub(now))
		} else {
			t.Stop()
		}
		select {
		case <-q.kick:
		case <-t.C:
		case <-held:
			q.gateOpened(held)
		case <-q.stop:
			return
		}
	}
}

// gateOpened ends the hold whose channel ch was closed.
func (q *Queue) gateOpened(ch <-chan struct{}) {
	q.mu.Lock()
	now := time.Now()
	d := now.Sub(q.holdStart)
	q.holdTotal += d
	if q.heldCh == ch {
		q.heldCh = nil
		q.bypass = false
	} else {
		// A worker saw the gate closed again, with a new channel: a new hold.
		q.holdStart = now
		q.bypass = false
		q.st.holds++
	}
	q.setHeldLocked()
	q.cond.Broadcast()
	q.mu.Unlock()
	q.log.Info("work queue released: gate open", "held", d)
	q.emit(Event{Kind: EventHoldEnd, Duration: d})
}

// ring is a FIFO of lanes.
type ring struct {
	buf  []*lane
	head int
	n    int
	min  int // never shrinks below this size; 0 means compactMin/2
}

func (r *ring) len() int { return r.n }

func (r *ring) pushBack(l *lane) {
	if r.n == len(r.buf) {
		r.resize(max(16, 2*len(r.buf)))
	}
	r.buf[(r.head+r.n)%len(r.buf)] = l
	r.n++
}

func (r *ring) popFront() *lane {
	l := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if len(r.buf) > cmp.Or(r.min, compactMin/2) && r.n < len(r.buf)/8 {
		r.resize(len(r.buf) / 2) // give memory back, amortised O(1)
	}
	return l
}

func (r *ring) resize(size int) {
	nb := make([]*lane, size)
	for i := range r.n {
		nb[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = nb, 0
}

// heapCompactMin is the smallest retry heap that shrinks when an eighth
// full: each shard has one, so 32 of them together keep at most compactMin.
const heapCompactMin = compactMin / 32

// laneHeap orders waiting lanes by retry time (container/heap).
type laneHeap []*lane

func (h laneHeap) Len() int           { return len(h) }
func (h laneHeap) Less(i, j int) bool { return h[i].retryAt.Before(h[j].retryAt) }
func (h laneHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}

func (h *laneHeap) Push(x any) {
	l := x.(*lane)
	l.heapIdx = len(*h)
	*h = append(*h, l)
}

func (h *laneHeap) Pop() any {
	old := *h
	n := len(old)
	l := old[n-1]
	old[n-1] = nil
	l.heapIdx = -1
	*h = old[:n-1]
	if c := cap(old); c >= heapCompactMin && n-1 < c/8 {
		*h = append(make(laneHeap, 0, c/2), *h...) // give memory back
	}
	return l
}
