package workqueue

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// attemptCtx is the context an attempt's Run receives. It is a plain
// cancellable context with a deadline, like context.WithTimeout's, built
// for the queue's hot path:
//
//   - the first attempt's context is embedded in the Handle, so it costs no
//     allocation (a retry allocates one);
//   - it has no runtime timer: each worker publishes its running attempt's
//     context in its slot (workerSlot), and the scheduler, whose one timer
//     is armed for the earliest deadline, cancels an attempt with
//     context.DeadlineExceeded when its deadline passes. A timer per
//     attempt (context.WithTimeout) was about half the cost of an item in
//     the throughput benchmark;
//   - its Done channel is made only when someone asks for it.
//
// Contexts derived from it (context.WithCancel and the like, as net/http
// makes) are cancelled with it without a goroutine: it implements the
// AfterFunc method that package context looks for on parents it does not
// know. It carries no values. It is cancelled with context.Canceled when
// Run returns, when Purge, Cancel or Close cut the attempt short, and with
// context.DeadlineExceeded at its deadline.
type attemptCtx struct {
	// deadline is written once, by the worker before Run is called, and
	// published by setting flagDeadline in flags (whoever loads flags with
	// that bit set sees it).
	deadline time.Time
	// flags holds the state (ctxLive, ctxCanceled or ctxExpired, in
	// stateMask) and the flagDeadline and flagWatched bits; see cancel for
	// why one word.
	flags atomic.Uint32
	mu    sync.Mutex
	w     *ctxWatchers // made by Done or AfterFunc; guarded by mu
}

const (
	stateMask    uint32 = 3
	flagDeadline uint32 = 4 // deadline is set
	flagWatched  uint32 = 8 // Done or AfterFunc was called: cancel must take mu
)

// setDeadline sets the deadline of an attempt about to run.
func (c *attemptCtx) setDeadline(d time.Time) {
	c.deadline = d
	c.flags.Or(flagDeadline)
}

// state returns the deadline (zero if not set yet) and whether c is live.
func (c *attemptCtx) state() (time.Time, bool) {
	f := c.flags.Load()
	live := f&stateMask == ctxLive
	if f&flagDeadline == 0 {
		return time.Time{}, live
	}
	return c.deadline, live
}

// watch marks c watched and reports whether it was live then. With mu held.
func (c *attemptCtx) watch() bool {
	return c.flags.Or(flagWatched)&stateMask == ctxLive
}

// ctxWatchers is what only a context that someone watches needs.
type ctxWatchers struct {
	done   chan struct{} // made by Done, closed by cancel
	afters []*afterFunc
}

const (
	ctxLive uint32 = iota
	ctxCanceled
	ctxExpired
)

func ctxErr(code uint32) error {
	switch code {
	case ctxCanceled:
		return context.Canceled
	case ctxExpired:
		return context.DeadlineExceeded
	}
	return nil
}

type afterFunc struct{ f func() }

// Deadline returns the attempt's deadline.
func (c *attemptCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns a channel closed when the attempt's context is cancelled.
func (c *attemptCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := c.watch()
	if c.w == nil {
		c.w = new(ctxWatchers)
	}
	if c.w.done == nil {
		if !live {
			return closedChan
		}
		c.w.done = make(chan struct{})
	}
	return c.w.done
}

// Err returns nil, context.Canceled or context.DeadlineExceeded.
func (c *attemptCtx) Err() error { return ctxErr(c.flags.Load() & stateMask) }

// Value returns nil: an attempt's context carries no values.
func (c *attemptCtx) Value(any) any { return nil }

func (c *attemptCtx) String() string { return "workqueue.attemptContext" }

// AfterFunc arranges for f to run once c is cancelled (at once, in its own
// goroutine, if it already is) and returns a function that unregisters f,
// reporting whether it did so before f was started. Package context uses it
// to propagate cancellation to derived contexts without a goroutine.
func (c *attemptCtx) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	if !c.watch() {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if c.w == nil {
		c.w = new(ctxWatchers)
	}
	a := &afterFunc{f: f}
	c.w.afters = append(c.w.afters, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.w == nil {
			return false
		}
		for i, x := range c.w.afters {
			if x == a {
				c.w.afters = append(c.w.afters[:i], c.w.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancel cancels c with code (the first call wins) and runs the registered
// functions, which are package context's propagations to derived contexts.
//
// The state and the watched bit share one word, so their updates are
// totally ordered: either a watcher (Done, AfterFunc) set flagWatched
// before the swap below, and cancel takes mu to close its channel and run
// its functions (the watcher registers them under mu), or the watcher's
// update comes after the swap and it sees c cancelled. So a context that
// nobody watches, the common case, is cancelled without taking mu.
func (c *attemptCtx) cancel(code uint32) {
	var f uint32
	for {
		f = c.flags.Load()
		if f&stateMask != ctxLive {
			return
		}
		if c.flags.CompareAndSwap(f, f|code) {
			break
		}
	}
	if f&flagWatched == 0 {
		return
	}
	c.mu.Lock()
	var fs []*afterFunc
	if w := c.w; w != nil {
		if w.done != nil {
			close(w.done)
		}
		fs, w.afters = w.afters, nil
	}
	c.mu.Unlock()
	for _, a := range fs {
		a.f()
	}
}

var _ context.Context = (*attemptCtx)(nil)
