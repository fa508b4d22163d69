package fsm

import (
	"errors"
	"fmt"
	"log/slog"
)

// Defaults used by [DefaultConfig].
const (
	// DefaultMaxQueue bounds the events waiting in a machine's queue.
	DefaultMaxQueue = 256
	// DefaultMaxChain bounds the events one run-to-completion chain may
	// raise (a guard against raise loops).
	DefaultMaxChain = 1000
)

// Config configures a [Machine]. Start from [DefaultConfig].
type Config[S, E comparable] struct {
	// MaxQueue is the most events that may wait for the machine; Post,
	// Send and Fire refuse more with ErrQueueFull. Raised events do not
	// count.
	MaxQueue int

	// MaxChain is the most raised (and zero-delay deadline) events one
	// run-to-completion chain may process; the rest are dropped with
	// ErrChainLimit, reported to the observer and logged at Error.
	MaxChain int

	// Logger receives the machine's logs: transitions at Debug, refused
	// events at Debug (Warn for a failed action), dropped chains at Error.
	// nil means silent.
	Logger *slog.Logger

	// Observer, if not nil, is called with a [Record] for the start and
	// for every event handled, on the machine's goroutine, after the step
	// and before the next one. It must be quick. It may call Post, Send,
	// Snapshot and Fire (which then defers, see [ErrDeferred]); it must not
	// wait for the machine.
	Observer func(Record[S, E])
}

// DefaultConfig returns a queue of 256 events, chains of at most 1000
// raised events, no logger and no observer.
func DefaultConfig[S, E comparable]() Config[S, E] {
	return Config[S, E]{MaxQueue: DefaultMaxQueue, MaxChain: DefaultMaxChain}
}

// Validate reports every invalid field, each error wrapping
// [ErrInvalidConfig].
func (c Config[S, E]) Validate() error {
	var errs []error
	if c.MaxQueue <= 0 {
		errs = append(errs, fmt.Errorf("%w: MaxQueue %d must be positive", ErrInvalidConfig, c.MaxQueue))
	}
	if c.MaxChain <= 0 {
		errs = append(errs, fmt.Errorf("%w: MaxChain %d must be positive", ErrInvalidConfig, c.MaxChain))
	}
	return errors.Join(errs...)
}
