package workqueue

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Sentinel errors. Errors returned by this package wrap them, so test them
// with [errors.Is].
var (
	// ErrOverloaded is returned by [Queue.Submit] when the key's lane already
	// holds Config.MaxPerKey items, or the queue holds Config.MaxTotal items.
	// Nothing was enqueued.
	ErrOverloaded = errors.New("workqueue: overloaded")

	// ErrClosed is returned by [Queue.Submit] after [Queue.Close] was called,
	// and is the cause (see [Error]) of items that Close had to abandon
	// because its context ended before they finished.
	ErrClosed = errors.New("workqueue: closed")

	// ErrPurged is the cause of items removed by [Queue.Purge].
	ErrPurged = errors.New("workqueue: purged")

	// ErrCanceled is the cause of an item removed by [Handle.Cancel].
	ErrCanceled = errors.New("workqueue: canceled")

	// ErrAttemptTimeout wraps the error of an attempt that ran past its
	// per-attempt timeout (Item.Timeout plus Item.TimeoutStep per retry).
	// Such an attempt counts against the budget like any other failure.
	ErrAttemptTimeout = errors.New("workqueue: attempt timed out")

	// ErrLaneTimeout is returned by [Queue.WaitLane] when critical items are
	// still queued or running on the lane at the deadline.
	ErrLaneTimeout = errors.New("workqueue: lane timeout")

	// ErrInvalidConfig wraps every error returned by [Config.Validate].
	ErrInvalidConfig = errors.New("workqueue: invalid config")

	// ErrInvalidItem is returned by [Queue.Submit] for an [Item] that cannot
	// run (nil Run, negative Attempts, Timeout or TimeoutStep).
	ErrInvalidItem = errors.New("workqueue: invalid item")

	// ErrAttemptAbandoned is joined to ErrPurged, ErrCanceled or ErrClosed
	// in the error of an item whose attempt was running when Purge, Cancel
	// or Close ended it: the attempt's context was cancelled and its
	// outcome is ignored, but what it did (a request sent) may have taken
	// effect. Until its Run returns, the attempt is an orphan (counted in
	// Stats.Orphans; Stats.Orphaned counts them all).
	ErrAttemptAbandoned = errors.New("workqueue: running attempt abandoned")

	// ErrStuck is wrapped by the error of [Queue.Close] when attempts
	// whose Run ignores its cancelled context were still running
	// [CloseGrace] after the drain ended: Close returned without them, and
	// their goroutines end whenever their Run returns.
	ErrStuck = errors.New("workqueue: attempts stuck after Close")
)

// Error is the final error of an item that did not succeed. It is what
// [Handle.Wait], [Handle.Err], Result.Err and [Queue.WaitLane] return for
// that item. Err is the cause: the error of the last attempt (which may wrap
// [ErrAttemptTimeout] or a permanent error), or [ErrPurged], [ErrCanceled]
// or [ErrClosed] (joined with [ErrAttemptAbandoned] if an attempt was
// running). Error unwraps to Err, so errors.Is(err, ErrPurged) works.
type Error struct {
	Key      string // lane key
	Seq      uint64 // sequence number assigned by Submit
	Name     string // Item.Name
	Critical bool   // Item.Critical
	Attempts int    // attempts started before the item finished
	Err      error  // cause, never nil
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "workqueue: key %q seq %d", e.Key, e.Seq)
	if e.Name != "" {
		fmt.Fprintf(&b, " (%s)", e.Name)
	}
	fmt.Fprintf(&b, " failed after %d attempt", e.Attempts)
	if e.Attempts != 1 {
		b.WriteByte('s')
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Permanent wraps err so that the queue does not retry the attempt that
// returned it: the item fails at once with the remaining budget unused. It is
// [backoff.Permanent]; an error already made permanent by that function is
// honoured too. Permanent(nil) is nil.
func Permanent(err error) error { return backoff.Permanent(err) }

// IsPermanent reports whether err was marked with [Permanent] (or
// [backoff.Permanent]).
func IsPermanent(err error) bool {
	var p *backoff.PermanentError
	return errors.As(err, &p)
}

// timeoutError is the error of an attempt whose context reached the
// per-attempt deadline. It matches both ErrAttemptTimeout and the error the
// attempt function returned (typically context.DeadlineExceeded).
type timeoutError struct {
	after time.Duration
	err   error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("%v after %v: %v", ErrAttemptTimeout, e.after, e.err)
}

func (e *timeoutError) Unwrap() []error { return []error{ErrAttemptTimeout, e.err} }

// abandonedError is the cause of an item ended by Purge, Cancel or Close
// while its attempt was running.
type abandonedError struct{ cause error }

func (e *abandonedError) Error() string {
	return e.cause.Error() + " (running attempt abandoned)"
}

func (e *abandonedError) Unwrap() []error { return []error{e.cause, ErrAttemptAbandoned} }
