package workqueue

import (
	"context"
	"sync"
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
	// deadline is written under mu by the worker before Run is called
	// (zero until then) and never changes after.
	deadline time.Time
	err      uint8 // ctxLive, ctxCanceled or ctxExpired; guarded by mu
	mu       sync.Mutex
	w        *ctxWatchers // made by Done or AfterFunc
}

// setDeadline sets the deadline of an attempt about to run.
func (c *attemptCtx) setDeadline(d time.Time) {
	c.mu.Lock()
	c.deadline = d
	c.mu.Unlock()
}

// state returns the deadline (zero if not set yet) and whether c is live.
func (c *attemptCtx) state() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, c.err == ctxLive
}

// ctxWatchers is what only a context that someone watches needs.
type ctxWatchers struct {
	done   chan struct{} // made by Done, closed by cancel
	afters []*afterFunc
}

const (
	ctxLive uint8 = iota
	ctxCanceled
	ctxExpired
)

func ctxErr(code uint8) error {
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
	if c.w == nil {
		c.w = new(ctxWatchers)
	}
	if c.w.done == nil {
		if c.err != ctxLive {
			return closedChan
		}
		c.w.done = make(chan struct{})
	}
	return c.w.done
}

// Err returns nil, context.Canceled or context.DeadlineExceeded.
func (c *attemptCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ctxErr(c.err)
}

// Value returns nil: an attempt's context carries no values.
func (c *attemptCtx) Value(any) any { return nil }

func (c *attemptCtx) String() string { return "workqueue.attemptContext" }

// AfterFunc arranges for f to run once c is cancelled (at once, in its own
// goroutine, if it already is) and returns a function that unregisters f,
// reporting whether it did so before f was started. Package context uses it
// to propagate cancellation to derived contexts without a goroutine.
func (c *attemptCtx) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	if c.err != ctxLive {
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
func (c *attemptCtx) cancel(code uint8) {
	c.mu.Lock()
	if c.err != ctxLive {
		c.mu.Unlock()
		return
	}
	c.err = code
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
