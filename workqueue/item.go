package workqueue

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Item is one unit of work: a function run in attempts, plus its policy.
// Only Run is required; zero fields take the queue's defaults.
type Item struct {
	// Run performs one attempt. attempt counts from 1. ctx has the
	// attempt's deadline and no values; it is cancelled when the attempt
	// times out, when the item is purged or cancelled, when Close gives up
	// waiting, and when Run returns. Run should return soon after it is
	// cancelled (see "Orphans are bounded" in the package documentation).
	//
	// A nil error is success. An error wrapped with [Permanent] ends the item
	// at once. Any other error is retried while the budget lasts (and the
	// backoff policy does not say [backoff.Stop]).
	Run func(ctx context.Context, attempt int) error

	// Name labels the item in logs, errors and callbacks.
	Name string

	// Critical marks an item whose failure matters to the lane's owner: its
	// failure is logged at Error level and recorded on the lane for
	// [Queue.WaitLane], and a critical item still queued at WaitLane's
	// deadline fails the wait. A noncritical failure is logged at Warn level
	// and dropped (its handle still completes with the error).
	Critical bool

	// Attempts is the total attempt budget (first attempt included); 0
	// means Config.Attempts. StarlingX max_retries 0 and 1 both mean 1.
	Attempts int

	// Timeout bounds the first attempt; 0 means Config.Timeout.
	Timeout time.Duration

	// TimeoutStep is added to the timeout of each retry: attempt n gets
	// Timeout + (n-1)*TimeoutStep. StarlingX gives critical SysInv requests
	// a 20 s step.
	TimeoutStep time.Duration

	// BackOff makes this item's wait policy; nil means Config.BackOff. The
	// queue calls it at most once, when the first retry wait is needed, and
	// then only calls NextBackOff before each retry. [backoff.Stop] ends the
	// item with the last attempt's error. For exact timestamps in tests, set
	// an ExponentialBackOff's RandomizationFactor to 0.
	BackOff func() backoff.BackOff

	// OnAttempt, if not nil, is called after every attempt, including one
	// cut short by Purge, Cancel or Close (then Err is that cause, joined
	// with ErrAttemptAbandoned).
	OnAttempt func(Attempt)

	// OnDone, if not nil, is called once when the item is finished, before
	// the handle's Done channel is closed.
	OnDone func(Result)
}

func (it *Item) validate() error {
	switch {
	case it.Run == nil:
		return fmt.Errorf("%w: Run is nil", ErrInvalidItem)
	case it.Attempts < 0:
		return fmt.Errorf("%w: Attempts must be 0 (default) or positive, got %d", ErrInvalidItem, it.Attempts)
	case it.Timeout < 0:
		return fmt.Errorf("%w: Timeout must be 0 (default) or positive, got %v", ErrInvalidItem, it.Timeout)
	case it.TimeoutStep < 0:
		return fmt.Errorf("%w: TimeoutStep must not be negative, got %v", ErrInvalidItem, it.TimeoutStep)
	}
	return nil
}

// Attempt describes one finished attempt, for Item.OnAttempt.
type Attempt struct {
	Key      string
	Seq      uint64
	Name     string
	Critical bool
	Number   int           // attempt number, from 1
	Start    time.Time     // when the attempt was dispatched
	Duration time.Duration // until Run returned, or until the attempt was cut short
	// Err is nil on success; the error Run returned (wrapped with
	// ErrAttemptTimeout if the attempt timed out); or ErrPurged,
	// ErrCanceled or ErrClosed, joined with ErrAttemptAbandoned, if the
	// attempt was cut short.
	Err error
	// Final reports that the item ends with this attempt. When it is false,
	// Retry is the wait before the next attempt (the wait starts when the
	// callbacks return); Purge, Cancel or Close may still end the item
	// during the wait.
	Final bool
	Retry time.Duration
}

// Result describes a finished item, for Item.OnDone.
type Result struct {
	Key      string
	Seq      uint64
	Name     string
	Critical bool
	Attempts int   // attempts started
	Err      error // nil on success, else an *Error
}

type itemState uint8

const (
	stQueued    itemState = iota + 1 // in its lane, no attempt running
	stRunning                        // Run is executing
	stFinishing                      // Run returned; the worker delivers callbacks
	stDetached                       // removed by Purge/Cancel/Close; callbacks pending
	stDone                           // finished and published
)

// stateVar holds an itemState. It changes under the lock of the item's
// shard, except that the worker whose Run returned moves it from stRunning
// to stFinishing with a compare-and-swap, racing Purge/Cancel/Close, which swap stRunning to
// stDetached; whoever wins owns the end of the attempt.
type stateVar struct{ v atomic.Uint32 }

func (s *stateVar) load() itemState             { return itemState(s.v.Load()) }
func (s *stateVar) store(x itemState)           { s.v.Store(uint32(x)) }
func (s *stateVar) cas(old, new itemState) bool { return s.v.CompareAndSwap(uint32(old), uint32(new)) }

// Handle tracks a submitted item. Its methods are safe for concurrent use.
type Handle struct {
	// Times are offsets from q.epoch, to keep a Handle small: it is the
	// queue's only allocation per item (the first attempt's context is
	// embedded).
	q         *Queue
	key       string
	seq       uint64
	item      Item          // defaults applied
	submitted time.Duration // only with an Observer (EventDone's Duration)

	// Guarded by the shard's lock (state: see stateVar).
	lane       *lane   // nil once detached or done
	prev, next *Handle // lane list
	state      stateVar
	attempts   int32   // attempts started
	final      bool    // stFinishing: the attempt ended the item
	abort      outcome // stFinishing and !final: cut short by Purge/Cancel/Close
	wasRunning bool    // stDetached: an attempt was cut short
	shard      uint8   // index in q.shards of key's shard; set by Submit, then read-only
	err        error
	done       chan struct{}

	// The running attempt's context (actx for the first attempt); set
	// under the shard's lock at dispatch. Its deadline minus its timeout is
	// its start.
	ctx  *attemptCtx
	actx attemptCtx

	// Owned by the goroutine running the item's attempt.
	bo backoff.BackOff
}

// cutAttempt cancels the running attempt.
func (h *Handle) cutAttempt() { h.ctx.cancel(ctxCanceled) }

// Key returns the lane key the item was submitted to.
func (h *Handle) Key() string { return h.key }

// Seq returns the item's sequence number, unique within the queue and
// increasing in submission order.
func (h *Handle) Seq() uint64 { return h.seq }

// Done returns a channel that is closed when the item has finished and its
// OnDone callback has returned.
func (h *Handle) Done() <-chan struct{} {
	s := &h.q.shards[h.shard]
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.done == nil {
		h.done = make(chan struct{})
	}
	return h.done
}

// Wait blocks until the item has finished or ctx is done. It returns the
// item's final error (nil on success, else an *Error), or ctx.Err() if ctx
// ended first; the item itself is not affected by ctx.
func (h *Handle) Wait(ctx context.Context) error {
	select {
	case <-h.Done():
		return h.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err returns the item's final error once Done is closed: nil on success,
// else an *Error. Before that it returns nil.
func (h *Handle) Err() error {
	s := &h.q.shards[h.shard]
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.state.load() != stDone {
		return nil
	}
	return h.err
}

// Attempts returns the number of attempts started so far.
func (h *Handle) Attempts() int {
	s := &h.q.shards[h.shard]
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(h.attempts)
}

// Cancel removes the item from its lane and completes it with [ErrCanceled]
// (wrapped in an *Error). A running attempt has its context cancelled and
// the lane moves on at once, as with [Queue.Purge]. Callbacks run in the
// calling goroutine before Cancel returns, except when the item's attempt is
// returning at that very moment: the worker then completes it. Cancel does
// nothing if the item has already finished (or is finishing with its own
// outcome).
func (h *Handle) Cancel() {
	q := h.q
	s := &q.shards[h.shard]
	s.mu.Lock()
	var out []*Handle
	if detached, _ := q.cutLocked(s, h, ErrCanceled); detached {
		out = append(out, h)
	}
	s.mu.Unlock()
	q.deliverDetached(out, ErrCanceled)
}

func (h *Handle) timeout(attempt int) time.Duration {
	return h.item.Timeout + time.Duration(attempt-1)*h.item.TimeoutStep
}

// finalError wraps the non-nil cause of h's failure.
func (h *Handle) finalError(cause error) error {
	return &Error{Key: h.key, Seq: h.seq, Name: h.item.Name, Critical: h.item.Critical, Attempts: int(h.attempts), Err: cause}
}
