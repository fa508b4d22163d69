package swact

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"opendev.org/starlingx/metal-go/fsm"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/config"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
)

// Constants of StarlingX's swact FSM (spec C.2), with their names there.
const (
	// TryThreshold is SWACT_TRY_THRESHOLD: the tries of the query, of the
	// swact request, and the poll budget of ACTION_POLL.
	TryThreshold = 10
	// RetryDelay is SWACT_ENQUEUE_RETRY_DELAY: the wait before the next
	// try after a failed enqueue or a failed request.
	RetryDelay = 10 * time.Second
	// PollDoneDelay is SWACT_POLL_DONE_DELAY, StarlingX's 1 s poll of a
	// request's completion. Not used for polling here (completions are
	// events); it is the unit of the two loss thresholds below.
	PollDoneDelay = time.Second
	// QueryPollThreshold is SWACT_QUERY_POLL_DONE_THRESHOLD (polls).
	QueryPollThreshold = 10
	// ActionPollThreshold is SWACT_ACTION_POLL_DONE_THRESHOLD (polls).
	ActionPollThreshold = 30
	// QueryLostAfter: a query without completion this long after it was
	// queued is lost: the lane is purged and the query resent at once.
	QueryLostAfter = QueryPollThreshold * PollDoneDelay
	// ActionLostAfter: the same for the swact request.
	ActionLostAfter = ActionPollThreshold * PollDoneDelay
	// PollStartTry is the try count ACTION_POLL starts from
	// (SWACT_TRY_THRESHOLD/2), leaving PollCount polls.
	PollStartTry = TryThreshold / 2
	// PollCount is the number of queries ACTION_POLL sends, one per poll
	// interval of (swact_timeout/2)/PollCount.
	PollCount = TryThreshold - PollStartTry
	// TaskUpdateDelay is MTC_TASK_UPDATE_DELAY: how long the final task
	// string stays before it is cleared and the mutex released.
	TaskUpdateDelay = 30 * time.Second

	// DefaultSwactTimeout is mtc.conf swact_timeout (MTC_MINS_2).
	DefaultSwactTimeout = 120 * time.Second
	// MinSwactTimeout is MIN_SWACT_TIMEOUT: smaller values are raised to
	// it with a warning (spec K.6; 87b4a69's 20 s floor is superseded).
	MinSwactTimeout = 60 * time.Second
	// DefaultUptimePeriod is mtc.conf uptime_period, the self-heal tick.
	DefaultUptimePeriod = 60 * time.Second
)

// SM is what the controller needs of the SM client; *sm.Client has it.
// Both calls must return at once (they queue on the controller's lane).
type SM interface {
	Query(controller string) (*sm.Call[sm.ServiceNode], error)
	Swact(controller string, avail mtce.AvailStatus) (*sm.Call[struct{}], error)
}

// SysInv is what the controller needs of the SysInv client; *sysinv.Client
// has it.
type SysInv interface {
	UpdateTask(ref sysinv.Ref, task mtce.Task, uptime uint32) (*sysinv.Call[sysinv.Host], error)
	ForceTask(ref sysinv.Ref, task mtce.Task, uptime uint32) (*sysinv.Call[sysinv.Host], error)
}

// Purger purges a host's work-queue lane; *workqueue.Queue is one.
type Purger interface {
	Purge(key string) int
}

// Config configures a Controller. Start from DefaultConfig.
type Config struct {
	// SM, SysInv and Queue are required: the SM and SysInv clients and
	// the work queue they submit to (the controller purges the
	// controller's lane when a request is lost).
	SM     SM
	SysInv SysInv
	Queue  Purger

	// SwactTimeout is swact_timeout: the time from the swact request's
	// success to "Swact: Timeout". 0 means 120 s; less than 60 s is raised
	// to 60 s with a warning (K.6). Whole seconds count (see the package
	// documentation for the rounding).
	SwactTimeout time.Duration

	// UptimePeriod is uptime_period, the tick of the mutex self-heal:
	// a mutex held with no swact running is cleared after
	// (SwactTimeout/UptimePeriod + 1) periods; 0 clears it at once, as
	// StarlingX does. Default 60 s.
	UptimePeriod time.Duration

	// Simplex reports whether the system is simplex; it is asked at every
	// request. nil means: /etc/platform/simplex exists.
	Simplex func() bool

	// Uptime is sent with every task update; nil sends 0.
	Uptime func() uint32

	// OnSwactable is called when SM answered swactable "yes" (C.3 step 3):
	// the agent stops heartbeat for every other unlocked-enabled host. It
	// runs on the controller's goroutine and must be quick.
	OnSwactable func(host string)

	// OnActionWait is called on entering ACTION_WAIT: SM has accepted the
	// swact and is about to stop this agent, so a daemon can drain. Quick,
	// as OnSwactable.
	OnActionWait func(host string)

	// Observer, if not nil, sees every step of the state machine.
	Observer func(fsm.Record[Stage, Event])

	// Logger receives progress logs; nil means silent.
	Logger *slog.Logger
}

// DefaultConfig returns StarlingX's timeouts; set SM, SysInv and Queue.
func DefaultConfig() Config {
	return Config{SwactTimeout: DefaultSwactTimeout, UptimePeriod: DefaultUptimePeriod}
}

// ApplyTimeouts takes swact_timeout and uptime_period from mtc.conf as
// mtce/config loaded them (already clamped there).
func (c *Config) ApplyTimeouts(t config.Timeouts) {
	c.SwactTimeout, c.UptimePeriod = t.Swact, t.UptimePeriod
}

// Validate reports every unusable field, each wrapping ErrInvalidConfig. A
// SwactTimeout below the floor is not an error: New raises it.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...)))
	}
	if c.SM == nil {
		bad("SM is nil")
	}
	if c.SysInv == nil {
		bad("SysInv is nil")
	}
	if c.Queue == nil {
		bad("Queue is nil")
	}
	if c.SwactTimeout < 0 {
		bad("SwactTimeout %v is negative", c.SwactTimeout)
	}
	if c.UptimePeriod < 0 {
		bad("UptimePeriod %v is negative", c.UptimePeriod)
	}
	return errors.Join(errs...)
}

// timing is the controller's derived timing, in whole seconds as
// StarlingX computes it.
type timing struct {
	swact    time.Duration // swact_timeout after the clamp
	half     time.Duration // ACTION_WAIT: swact_timeout/2
	poll     time.Duration // ACTION_POLL interval: (swact_timeout/2)/PollCount
	selfHeal time.Duration // mutex self-heal threshold
}

// normalise applies the defaults and the clamp, logging the clamp.
func (c *Config) normalise(log *slog.Logger) timing {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.SwactTimeout == 0 {
		c.SwactTimeout = DefaultSwactTimeout
	}
	if c.SwactTimeout < MinSwactTimeout {
		log.Warn("swact_timeout (override) below the 60 s minimum", "read", c.SwactTimeout, "used", MinSwactTimeout)
		c.SwactTimeout = MinSwactTimeout
	}
	if c.Simplex == nil {
		c.Simplex = func() bool { _, err := os.Stat(config.SimplexFlagPath); return err == nil }
	}
	secs := int64(c.SwactTimeout / time.Second)
	half := secs / 2
	poll := half / PollCount
	t := timing{
		swact: time.Duration(secs) * time.Second,
		half:  time.Duration(half) * time.Second,
		poll:  time.Duration(poll) * time.Second,
	}
	if up := int64(c.UptimePeriod / time.Second); up > 0 {
		t.selfHeal = time.Duration((secs/up+1)*up) * time.Second
	}
	return t
}
