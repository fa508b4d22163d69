package fsm

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap them, so test them
// with [errors.Is].
var (
	// ErrInvalidDefinition wraps every error returned by
	// [Definition.Validate].
	ErrInvalidDefinition = errors.New("fsm: invalid definition")

	// ErrInvalidConfig wraps every error returned by [Config.Validate].
	ErrInvalidConfig = errors.New("fsm: invalid config")

	// ErrNoTransition: the current state has no transition for the event.
	// Nothing changed.
	ErrNoTransition = errors.New("fsm: no transition")

	// ErrGuardRejected: every transition declared for the event in the
	// current state has a guard, and each one returned an error (joined in
	// the [Error]'s Cause). Nothing changed.
	ErrGuardRejected = errors.New("fsm: guard rejected")

	// ErrActionFailed: the chosen transition's Action returned an error (the
	// [Error]'s Cause). The transition was aborted: no exit or entry action
	// ran, the state and its deadline are unchanged. Events the action
	// raised before failing are still processed.
	ErrActionFailed = errors.New("fsm: action failed")

	// ErrStale: the event was posted with an epoch (Msg.Epoch) the machine
	// has left, or it is a deadline of a state occupancy that is over. It
	// was dropped; nothing changed.
	ErrStale = errors.New("fsm: stale event")

	// ErrChainLimit: one run-to-completion chain raised more than
	// Config.MaxChain events (a raise loop). The rest of the chain was
	// dropped.
	ErrChainLimit = errors.New("fsm: chain limit reached")

	// ErrQueueFull is returned by [Machine.Post], [Machine.Send] and
	// [Machine.Fire] when Config.MaxQueue events are already waiting.
	// Nothing was queued.
	ErrQueueFull = errors.New("fsm: queue full")

	// ErrClosed is returned for events posted after [Machine.Close], and
	// by [Machine.Fire] for an event that Close discarded before it ran.
	ErrClosed = errors.New("fsm: closed")

	// ErrDeferred is returned by [Machine.Fire] when it is called from the
	// machine's own goroutine (inside a guard, action, entry or exit
	// action, or the observer). Waiting there would deadlock, so the event
	// is queued as if raised with [Tx.Raise] and processed after the
	// current step; its outcome goes to the observer. Use [Tx.Raise] in
	// callbacks instead.
	ErrDeferred = errors.New("fsm: fired from a callback; event deferred")
)

// Error reports an event that did not move the machine. Kind is one of the
// sentinels ErrNoTransition, ErrGuardRejected, ErrActionFailed, ErrStale
// or ErrChainLimit; Cause, when not nil, is the guard's or action's error.
// Error unwraps to both, so errors.Is(err, ErrGuardRejected) and
// errors.Is(err, yourCause) both work; use [errors.As] with the machine's
// type parameters to read State and Event.
type Error[S, E comparable] struct {
	Kind    error  // sentinel
	Machine string // Definition.Name
	State   S      // the state the event was handled in (unchanged)
	Event   E
	Cause   error // guard or action error, or nil
}

func (e *Error[S, E]) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fsm: %s: event %v in state %v: %s", e.Machine, e.Event, e.State,
		strings.TrimPrefix(e.Kind.Error(), "fsm: "))
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns Kind and, if set, Cause.
func (e *Error[S, E]) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}
