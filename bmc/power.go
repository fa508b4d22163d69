package bmc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// PowerConfig configures a PowerController. The defaults are StarlingX's.
type PowerConfig struct {
	// OffRetryWait is the wait after a power-off attempt before the power
	// state is queried again (DEFAULT_POWER_OFF_RETRY_WAIT, 30 s). It also
	// applies to soft off.
	OffRetryWait time.Duration
	// OnRetryWait is the wait after a power-on attempt (5 s).
	OnRetryWait time.Duration
	// ResetRetryWait is the wait after a failed reset or power-cycle
	// attempt (10 s).
	ResetRetryWait time.Duration
	// Attempts is the budget of actions sent per request (default 3). Each
	// attempt is preceded by a power-state query, and one last query after
	// the final attempt confirms the outcome.
	Attempts int
	// Logger receives one record per attempt (nil: silent).
	Logger *slog.Logger
}

// DefaultPowerConfig returns StarlingX's retry waits and a budget of 3
// attempts.
func DefaultPowerConfig() PowerConfig {
	return PowerConfig{
		OffRetryWait:   30 * time.Second,
		OnRetryWait:    5 * time.Second,
		ResetRetryWait: 10 * time.Second,
		Attempts:       3,
	}
}

// Validate checks the configuration.
func (c PowerConfig) Validate() error {
	switch {
	case c.OffRetryWait <= 0:
		return &ConfigError{Field: "OffRetryWait", Reason: "must be > 0"}
	case c.OnRetryWait <= 0:
		return &ConfigError{Field: "OnRetryWait", Reason: "must be > 0"}
	case c.ResetRetryWait <= 0:
		return &ConfigError{Field: "ResetRetryWait", Reason: "must be > 0"}
	case c.Attempts < 1:
		return &ConfigError{Field: "Attempts", Reason: "must be >= 1"}
	}
	return nil
}

// PowerController applies StarlingX's power semantics on top of a Driver:
//
//   - the power state is queried before every attempt;
//   - a host already in the target state is a success, and nothing is sent;
//   - a reset of a powered-off host fails with ErrPoweredOff and nothing is
//     sent (a cycle of a powered-off host becomes a power-on, see Do);
//   - after an on/off attempt the controller waits the retry wait and
//     queries again, re-sending the action while the budget lasts; a failed
//     reset/cycle attempt is retried after ResetRetryWait;
//   - errors that retrying cannot fix (ErrNotSupported, ErrAuth, ErrTLS,
//     ErrNotOpen, ErrClosed, ErrInvalidConfig, context errors) end the
//     request at once.
//
// A PowerController is safe for concurrent use, but it does not serialise
// requests: two concurrent requests for one host race like two operators.
type PowerController struct {
	d   Driver
	cfg PowerConfig
	log *slog.Logger
}

// NewPowerController validates cfg and wraps d.
func NewPowerController(d Driver, cfg PowerConfig) (*PowerController, error) {
	if d == nil {
		return nil, &ConfigError{Field: "Driver", Reason: "must not be nil"}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PowerController{d: d, cfg: cfg, log: log}, nil
}

// Outcome describes how a power request ended.
type Outcome struct {
	// Action is the action performed (ActionOn when a cycle of a
	// powered-off host was turned into a power-on).
	Action PowerAction
	// Sent is the number of actions sent to the BMC (0 when the host was
	// already in the target state).
	Sent int
	// Queries is the number of power-state queries made.
	Queries int
	// Final is the last power state seen (PowerUnknown if never read).
	Final PowerState
}

// AlreadyInState reports whether the host was in the target state and no
// action was sent.
func (o Outcome) AlreadyInState() bool { return o.Sent == 0 }

// PowerOn powers the host on.
func (c *PowerController) PowerOn(ctx context.Context) (Outcome, error) {
	return c.Do(ctx, ActionOn)
}

// PowerOff powers the host off hard.
func (c *PowerController) PowerOff(ctx context.Context) (Outcome, error) {
	return c.Do(ctx, ActionOff)
}

// SoftOff asks the host OS to shut down.
func (c *PowerController) SoftOff(ctx context.Context) (Outcome, error) {
	return c.Do(ctx, ActionSoftOff)
}

// Reset hard-resets a powered-on host.
func (c *PowerController) Reset(ctx context.Context) (Outcome, error) {
	return c.Do(ctx, ActionReset)
}

// Cycle power-cycles the host.
func (c *PowerController) Cycle(ctx context.Context) (Outcome, error) {
	return c.Do(ctx, ActionCycle)
}

// Do performs action with the controller's semantics. On/off/soft succeed
// once a query shows the target state; reset and cycle succeed once the BMC
// accepts the command (there is no state to confirm). A cycle requested for
// a powered-off host is performed as a power-on: the point of a cycle is a
// host that boots afresh, and many BMCs refuse to cycle an off chassis
// (OpenIPMI's simulator powers it on anyway).
//
// When the budget is used up the error matches ErrAttemptsExhausted and
// wraps the last driver error, if any.
func (c *PowerController) Do(ctx context.Context, action PowerAction) (Outcome, error) {
	out := Outcome{Action: action, Final: PowerUnknown}
	if !action.Valid() {
		return out, fmt.Errorf("bmc: unknown power action %q: %w", action, ErrNotSupported)
	}
	var lastErr error
	for i := 0; ; i++ {
		st, qerr := c.d.PowerStateGet(ctx)
		out.Queries++
		if qerr == nil {
			out.Final = st
			if out.Action == ActionCycle && st == PowerOff {
				c.log.InfoContext(ctx, "bmc: host is powered off, power cycle becomes power on")
				out.Action = ActionOn
			}
			switch {
			case (out.Action == ActionOn || out.Action == ActionOff || out.Action == ActionSoftOff) &&
				st == out.Action.Target():
				c.log.InfoContext(ctx, "bmc: host in target state", "action", out.Action,
					"state", st, "sent", out.Sent, "queries", out.Queries)
				return out, nil
			case out.Action == ActionReset && st == PowerOff:
				return out, ErrPoweredOff
			}
		} else {
			if permanent(qerr) {
				return out, qerr
			}
			lastErr = qerr
			c.log.WarnContext(ctx, "bmc: power status query failed", "action", out.Action,
				"attempt", i+1, "err", qerr)
		}
		if i == c.cfg.Attempts {
			break // that was the confirming query after the last attempt
		}
		if qerr == nil {
			aerr := c.d.PowerSet(ctx, out.Action)
			out.Sent++
			switch {
			case aerr == nil && (out.Action == ActionReset || out.Action == ActionCycle):
				c.log.InfoContext(ctx, "bmc: power action accepted", "action", out.Action, "sent", out.Sent)
				return out, nil
			case aerr != nil && permanent(aerr):
				return out, aerr
			case aerr != nil:
				lastErr = aerr
				c.log.WarnContext(ctx, "bmc: power action failed", "action", out.Action,
					"attempt", i+1, "err", aerr)
			default:
				c.log.InfoContext(ctx, "bmc: power action sent, waiting to confirm",
					"action", out.Action, "attempt", i+1, "wait", c.wait(out.Action))
			}
		}
		if i == c.cfg.Attempts-1 && (out.Action == ActionReset || out.Action == ActionCycle) {
			break // nothing to confirm for reset/cycle: no extra wait
		}
		if err := sleep(ctx, c.wait(out.Action)); err != nil {
			if lastErr != nil {
				return out, fmt.Errorf("bmc: %s interrupted: %w (last error: %w)", out.Action, err, lastErr)
			}
			return out, fmt.Errorf("bmc: %s interrupted: %w", out.Action, err)
		}
	}
	err := fmt.Errorf("%w: %s after %d attempt(s), last state %s", ErrAttemptsExhausted,
		out.Action, c.cfg.Attempts, out.Final)
	if lastErr != nil {
		err = fmt.Errorf("%w: %w", err, lastErr)
	}
	return out, err
}

func (c *PowerController) wait(a PowerAction) time.Duration {
	switch a {
	case ActionOn:
		return c.cfg.OnRetryWait
	case ActionOff, ActionSoftOff:
		return c.cfg.OffRetryWait
	}
	return c.cfg.ResetRetryWait
}

// permanent reports whether retrying cannot help.
func permanent(err error) bool {
	for _, p := range []error{ErrNotSupported, ErrAuth, ErrTLS, ErrNotOpen, ErrClosed,
		ErrInvalidConfig, ErrPoweredOff, context.Canceled} {
		if errors.Is(err, p) {
			return true
		}
	}
	return false
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
