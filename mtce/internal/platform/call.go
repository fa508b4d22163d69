package platform

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"opendev.org/starlingx/metal-go/workqueue"
)

// Call is a request queued on a work-queue lane: a typed future.
//
// Its Handle is the queue's own; Done, Wait, Result and Cancel are
// shortcuts. The parsed value is kept from the attempt that succeeded and
// published when the item completes, so a cut-short attempt that returns
// late can never change it. All methods are safe for concurrent use.
type Call[T any] struct {
	h *workqueue.Handle

	mu      sync.Mutex
	pending T // value of the latest successful attempt
	val     T // published at completion
}

// Handle returns the work-queue handle of the call (lane key, sequence
// number, attempts, cancellation).
func (c *Call[T]) Handle() *workqueue.Handle { return c.h }

// Done returns a channel that is closed when the call has finished.
func (c *Call[T]) Done() <-chan struct{} { return c.h.Done() }

// Cancel removes the call from its lane (see workqueue.Handle.Cancel).
func (c *Call[T]) Cancel() { c.h.Cancel() }

// Wait blocks until the call has finished or ctx is done, and returns the
// parsed value and the call's error (a *workqueue.Error whose cause is the
// last attempt's error), or ctx.Err(). The call itself is not affected by
// ctx.
func (c *Call[T]) Wait(ctx context.Context) (T, error) {
	select {
	case <-c.h.Done(): // a finished call answers even if ctx is done
		return c.Result()
	default:
	}
	if err := c.h.Wait(ctx); err != nil {
		var zero T
		return zero, err
	}
	return c.Result()
}

// Result returns the value and error of a finished call without blocking;
// before the call has finished it returns ErrPending.
func (c *Call[T]) Result() (T, error) {
	var zero T
	select {
	case <-c.h.Done():
	default:
		return zero, ErrPending
	}
	if err := c.h.Err(); err != nil {
		return zero, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.val, nil
}

// Spec describes a call to submit.
type Spec[T any] struct {
	Key         string // lane key
	Name        string // item name: "<service> <op>"
	Critical    bool
	Attempts    int
	Timeout     time.Duration
	TimeoutStep time.Duration
	BackOff     func() backoff.BackOff // nil: the queue's default
	// Run performs one attempt. An error for which Permanent reports true
	// (or one already wrapped with workqueue.Permanent) ends the call.
	Run func(ctx context.Context, attempt int) (T, error)
	// OnAttempt, optional, observes every attempt (logging, metrics).
	OnAttempt func(workqueue.Attempt)
}

// Submit queues s on q and returns its Call. Submit errors are the queue's
// (workqueue.ErrOverloaded, ErrClosed, ErrInvalidItem): nothing was queued.
func Submit[T any](q *workqueue.Queue, s Spec[T]) (*Call[T], error) {
	c := &Call[T]{}
	h, err := q.Submit(s.Key, workqueue.Item{
		Name:        s.Name,
		Critical:    s.Critical,
		Attempts:    s.Attempts,
		Timeout:     s.Timeout,
		TimeoutStep: s.TimeoutStep,
		BackOff:     s.BackOff,
		OnAttempt:   s.OnAttempt,
		Run: func(ctx context.Context, attempt int) error {
			v, err := s.Run(ctx, attempt)
			if err != nil {
				if Permanent(err) && !workqueue.IsPermanent(err) {
					return workqueue.Permanent(err)
				}
				return err
			}
			c.mu.Lock()
			c.pending = v
			c.mu.Unlock()
			return nil
		},
		OnDone: func(r workqueue.Result) {
			if r.Err != nil {
				return
			}
			c.mu.Lock()
			c.val = c.pending
			c.mu.Unlock()
		},
	})
	if err != nil {
		return nil, err
	}
	c.h = h
	return c, nil
}

// IsAuth reports whether err is an authentication failure (ErrUnauthorized).
func IsAuth(err error) bool { return errors.Is(err, ErrUnauthorized) }
