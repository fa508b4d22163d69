package workqueue

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults used by [DefaultConfig]. The StarlingX values they come from are
// named in parentheses.
const (
	// DefaultWorkers is the number of attempts that may run at once, across
	// all keys.
	DefaultWorkers = 16
	// DefaultMaxPerKey is the most items a lane may hold (QUEUE_OVERLOAD 100).
	DefaultMaxPerKey = 100
	// DefaultAttempts is the total attempt budget of an item
	// (HTTP_DEFAULT_RETRIES 3).
	DefaultAttempts = 3
	// DefaultTimeout bounds one attempt (sysinv_timeout, HTTP_SMGR_TIMEOUT,
	// HTTP_VIM_TIMEOUT: 20 s).
	DefaultTimeout = 20 * time.Second
	// DefaultRetryWait is the constant wait between attempts
	// (HTTP_RETRY_WAIT_SECS 5).
	DefaultRetryWait = 5 * time.Second
	// DefaultMaxHold is how long a closed Gate may hold the queue before it is
	// bypassed (RENEW_BLOCKED_TIMEOUT_SECS = HTTP_TOKEN_TIMEOUT+10 = 40 s).
	DefaultMaxHold = 40 * time.Second
	// DefaultOverloadLogInterval is the least time between two overload
	// warnings for one key.
	DefaultOverloadLogInterval = 10 * time.Second
	// DefaultCloseTimeout bounds Close when its context has no deadline:
	// long enough for an attempt at the default 20 s timeout to finish.
	DefaultCloseTimeout = 30 * time.Second
	// DefaultMaxOrphans is how many orphaned attempts (cut short, Run not
	// returned yet) the queue replaces with new workers.
	DefaultMaxOrphans = 64
)

// CloseGrace is how long [Queue.Close] waits, once its drain has ended (all
// work done, or the context's deadline or Config.CloseTimeout reached and the
// remaining work completed with ErrClosed), for the queue's goroutines to
// exit. Attempts still running after it are left behind (see ErrStuck). So
// Close returns within ctx's deadline plus CloseGrace, or within
// Config.CloseTimeout for a context without a deadline, whatever the
// attempt functions do.
const CloseGrace = time.Second

// Config configures a [Queue]. Start from [DefaultConfig] and change what you
// need: [New] rejects zero and negative values through [Config.Validate]
// (except MaxTotal, where 0 means "no global cap", MaxOrphans, where 0 means
// "never replace a stuck worker", and the optional interface fields, where
// nil means "none").
type Config struct {
	// Workers is the number of attempts that may run at the same time,
	// across all keys (one per key at most). The queue runs Workers
	// goroutines plus one scheduler goroutine, never one per key or per
	// retry. Size it to the number of keys whose requests should be able to
	// be in flight at once.
	Workers int

	// MaxPerKey is the most items (queued plus running) one lane may hold;
	// Submit refuses the next one with ErrOverloaded. Default 100.
	//
	// StarlingX checks "size > 100" before enqueueing, which admits a 101st
	// item; here MaxPerKey is the exact maximum, so with the default the
	// 101st item is refused.
	MaxPerKey int

	// MaxTotal, when positive, caps the items held by all lanes together;
	// Submit refuses the next one with ErrOverloaded. 0 means no global cap.
	MaxTotal int

	// Attempts is the default total attempt budget of an item whose
	// Item.Attempts is 0. It counts attempts, not retries: 1 means no
	// retry. StarlingX's max_retries is the same budget, except that its 0
	// also means one attempt: map max_retries m to max(m, 1).
	Attempts int

	// Timeout is the default per-attempt timeout of an item whose
	// Item.Timeout is 0. Every attempt has a deadline.
	Timeout time.Duration

	// BackOff makes the wait policy of an item whose Item.BackOff is nil.
	// It is called once per item, lazily, when the item first needs a retry
	// wait. Default: a constant 5 s.
	BackOff func() backoff.BackOff

	// Gate, if not nil, is consulted before each attempt is dispatched.
	Gate Gate

	// MaxHold is how long a closed Gate may hold the queue before the queue
	// logs once and dispatches anyway. Default 40 s.
	MaxHold time.Duration

	// OverloadLogInterval is the least time between two overload warnings
	// for the same key (and between two warnings about the global cap).
	// Every refusal is still counted in Stats and reported to the Observer.
	OverloadLogInterval time.Duration

	// Logger receives the queue's logs. nil means silent.
	Logger *slog.Logger

	// Observer, if not nil, receives an Event for each admission, refusal,
	// attempt, completion and gate hold. See [Observer].
	Observer Observer

	// CloseTimeout bounds [Queue.Close] when its context has no deadline:
	// Close lets admitted work finish for CloseTimeout minus [CloseGrace]
	// (all of it if CloseTimeout is shorter than CloseGrace: then no drain),
	// then completes what is left with ErrClosed and waits at most the rest
	// of CloseTimeout for the goroutines. A context with a deadline sets the
	// drain's end instead. Default 30 s.
	CloseTimeout time.Duration

	// MaxOrphans caps the goroutines left in attempts that were cut short
	// (by Purge, Cancel or Close) while their Run ignores its cancelled
	// context. Each such orphan keeps its worker goroutine until Run
	// returns; the queue starts a replacement worker for each, so that
	// Workers attempts can still run, but only while it runs fewer than
	// Workers+MaxOrphans worker goroutines. Past that cap a stuck worker is
	// not replaced: fewer attempts run at once, and when all
	// Workers+MaxOrphans goroutines are stuck nothing is dispatched until a
	// Run returns (items wait in their lanes; Purge, Cancel and Close still
	// complete them). The queue logs at Error once when it reaches the cap.
	// So the queue never runs more than Workers+MaxOrphans+1 goroutines and
	// Stats.Orphans never exceeds Workers+MaxOrphans. Default 64.
	MaxOrphans int
}

// DefaultConfig returns the StarlingX-compatible defaults: 16 workers, 100
// items per key, no global cap, 3 attempts, 20 s per attempt, a constant 5 s
// between attempts, no gate, 40 s maximum hold, overload warnings at most
// every 10 s per key, no logger, no observer, 30 s CloseTimeout, 64
// replaced orphans.
func DefaultConfig() Config {
	return Config{
		Workers:             DefaultWorkers,
		MaxPerKey:           DefaultMaxPerKey,
		Attempts:            DefaultAttempts,
		Timeout:             DefaultTimeout,
		BackOff:             ConstantBackOff(DefaultRetryWait),
		MaxHold:             DefaultMaxHold,
		OverloadLogInterval: DefaultOverloadLogInterval,
		CloseTimeout:        DefaultCloseTimeout,
		MaxOrphans:          DefaultMaxOrphans,
	}
}

// ConstantBackOff returns a BackOff factory whose policies always wait d.
func ConstantBackOff(d time.Duration) func() backoff.BackOff {
	return func() backoff.BackOff { return backoff.NewConstantBackOff(d) }
}

// Validate reports every invalid field, each error naming the field and
// wrapping [ErrInvalidConfig]. It never panics.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Workers < 1 {
		bad("Workers must be at least 1, got %d", c.Workers)
	}
	if c.MaxPerKey < 1 {
		bad("MaxPerKey must be at least 1, got %d", c.MaxPerKey)
	}
	if c.MaxTotal < 0 {
		bad("MaxTotal must be 0 (no global cap) or positive, got %d", c.MaxTotal)
	}
	if c.Attempts < 1 {
		bad("Attempts must be at least 1, got %d", c.Attempts)
	}
	if c.Timeout <= 0 {
		bad("Timeout must be positive, got %v", c.Timeout)
	}
	if c.BackOff == nil {
		bad("BackOff must not be nil")
	}
	if c.MaxHold <= 0 {
		bad("MaxHold must be positive, got %v", c.MaxHold)
	}
	if c.OverloadLogInterval <= 0 {
		bad("OverloadLogInterval must be positive, got %v", c.OverloadLogInterval)
	}
	if c.CloseTimeout <= 0 {
		bad("CloseTimeout must be positive, got %v", c.CloseTimeout)
	}
	if c.MaxOrphans < 0 {
		bad("MaxOrphans must be 0 (never replace a stuck worker) or positive, got %d", c.MaxOrphans)
	}
	return errors.Join(errs...)
}
