package swact

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/fsm"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
)

// Request is a user's swact of a controller, with what the agent knows of
// the host and its mate when the request arrives (spec J.5).
type Request struct {
	// Host and UUID name the controller whose services move away (the
	// active one). Required.
	Host string
	UUID string
	// Force is force-swact: the patched-not-rebooted check is skipped.
	Force bool
	// Personality is the personality the request's body gives the host.
	Personality mtce.Personality
	// Avail is the host's availability, sent in the swact body; none means
	// available.
	Avail mtce.AvailStatus
	// Action is the host's current admin action: none or add are allowed;
	// during add the swact is deferred until [Controller.AddDone].
	Action mtce.AdminAction
	// MateEnabled: the mate controller is unlocked-enabled.
	MateEnabled bool
	// HostPatching, MatePatching and MatePatchedNoReboot are the patching
	// states of the host and its mate.
	HostPatching        bool
	MatePatching        bool
	MatePatchedNoReboot bool
}

// Outcome is how a swact ended.
type Outcome struct {
	Host string
	Task mtce.Task // the final task string
	Err  error     // the last error seen (nil for Complete)
	// QueryTries and ActionTries are the tries spent in QUERY and ACTION
	// (a try is one enqueue or one request; a lost request is one try);
	// Polls the queries of ACTION_POLL.
	QueryTries, ActionTries, Polls int
	Started                        time.Time // request accepted
	Ended                          time.Time // final task written
}

// Duration is the time from the request to the final task string.
func (o Outcome) Duration() time.Duration { return o.Ended.Sub(o.Started) }

// Snapshot is the controller's state for an admin API or a demo.
type Snapshot struct {
	Stage   Stage
	Held    bool   // the swact mutex
	Host    string // the controller being swacted ("" when idle)
	Try     int    // tries spent in the current stage (failures so far)
	Started time.Time
	Elapsed time.Duration
	Task    mtce.Task // the last task string written
	LastErr error
	Last    *Outcome // the last swact that ended, if any
}

// Controller runs swacts, one at a time system-wide. Its methods are safe
// for concurrent use.
type Controller struct {
	cfg Config
	t   timing
	log *slog.Logger
	m   *fsm.Machine[Stage, Event]

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup // completion watchers

	mu     sync.Mutex // guards held and st (read by Snapshot and Held)
	held   bool
	closed bool
	st     status

	// Owned by the machine's goroutine.
	req     Request
	seq     uint64 // sequence of the request in flight; 0: none
	pending bool   // a poll query is in flight (ACTION_POLL)
	fails   int    // failed tries of the current stage (or polls in ACTION_POLL)
	prog    int    // progress logs given in the current wait
	final   mtce.Task
	out     Outcome
}

type status struct {
	host    string
	stage   Stage
	try     int
	started time.Time
	task    mtce.Task
	lastErr error
	last    *Outcome
}

// New validates cfg, applies defaults and the swact_timeout clamp, and
// starts the controller's state machine. Close it.
func New(cfg Config) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{cfg: cfg, log: log, stop: make(chan struct{})}
	c.t = c.cfg.normalise(log)
	c.st.stage = StageIdle
	fc := fsm.DefaultConfig[Stage, Event]()
	fc.Logger = cfg.Logger
	fc.Observer = c.observe
	m, err := fsm.New(c.definition(), fc)
	if err != nil {
		return nil, err
	}
	c.m = m
	return c, nil
}

// SwactTimeout returns swact_timeout as used (after the clamp).
func (c *Controller) SwactTimeout() time.Duration { return c.t.swact }

// Request admits a swact or rejects it with a [*RejectError]: the mutex
// first (J.5 step 2), then J.5's swact checks in order, then the simplex
// flag. An accepted request holds the mutex until the final task string
// is cleared, TaskUpdateDelay after the swact ends. Request returns once
// the swact has started ("Swact: Request" is queued), or was deferred
// behind an add. It fails with ErrClosed after Close, ErrInvalidRequest
// without a host name or UUID, or ctx's error.
func (c *Controller) Request(ctx context.Context, r Request) error {
	if r.Host == "" || r.UUID == "" {
		return fmt.Errorf("%w: host name and uuid are required", ErrInvalidRequest)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if err := c.admitLocked(r); err != nil {
		c.mu.Unlock()
		c.log.Warn("swact rejected", "host", r.Host, "rc", err.Code, "reason", err.Reason)
		return err
	}
	c.held = true
	c.mu.Unlock()
	err := c.m.FireMsg(ctx, fsm.Msg[Event]{Event: EvRequest, Data: r})
	if err != nil && !errors.Is(err, ctx.Err()) {
		c.release()
		if errors.Is(err, fsm.ErrClosed) {
			return ErrClosed
		}
		return err
	}
	return err
}

// admitLocked runs the checks in their order.
func (c *Controller) admitLocked(r Request) *RejectError {
	switch {
	case c.held:
		return reject(ErrSwactInProgress, r.Host)
	case r.Personality != mtce.PersonalityController:
		return reject(ErrNodeType, r.Host)
	case !r.MateEnabled:
		return reject(ErrNoInServiceMate, r.Host)
	case r.Action != mtce.ActionNone && r.Action != mtce.ActionAdd:
		return reject(ErrOperInProgress, r.Host)
	case r.HostPatching, r.MatePatching:
		return reject(ErrPatchInProgress, r.Host)
	case !r.Force && r.MatePatchedNoReboot:
		return reject(ErrPatchedNoReboot, r.Host)
	case c.cfg.Simplex():
		return reject(ErrSimplex, r.Host)
	}
	return nil
}

// AddDone starts a swact that was deferred because its host was being
// added. It does nothing if none is deferred.
func (c *Controller) AddDone() { _ = c.m.Send(EvAddDone) }

// Held reports whether the swact mutex is held. While it is, the agent
// rejects every other admin action on the host with swact-in-progress
// (spec C.1); [RejectInProgress] builds that rejection.
func (c *Controller) Held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// RejectInProgress returns the swact-in-progress rejection for host, with
// C.3's exact text.
func RejectInProgress(host string) *RejectError { return reject(ErrSwactInProgress, host) }

// HoldMutex sets the mutex without a swact, as StarlingX's FIT
// SET_SWACT_MUTEX does. The self-heal clears it after
// (swact_timeout/uptime_period + 1) uptime periods.
func (c *Controller) HoldMutex() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
	_ = c.m.Send(EvHold)
}

func (c *Controller) release() {
	c.mu.Lock()
	c.held = false
	c.mu.Unlock()
}

// Snapshot returns the current stage, try, elapsed time and last error,
// and the last swact's outcome.
func (c *Controller) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Snapshot{Stage: c.st.stage, Held: c.held, Host: c.st.host, Try: c.st.try,
		Started: c.st.started, Task: c.st.task, LastErr: c.st.lastErr}
	if !s.Started.IsZero() && s.Stage != StageIdle {
		s.Elapsed = time.Since(s.Started)
	}
	if c.st.last != nil {
		o := *c.st.last
		s.Last = &o
	}
	return s
}

// Close stops the controller: the completion watchers end, and the state
// machine is closed (a running swact is abandoned where it is; its
// requests stay on the queue, which the caller owns). Idempotent.
func (c *Controller) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stop) })
	c.wg.Wait()
	return c.m.Close(ctx)
}

// completion is the payload of EvReply.
type completion struct {
	seq  uint64
	node sm.ServiceNode
	err  error
}

// watch posts the call's completion to the machine, bound to epoch and
// seq, when the queue completes it (a goroutine per request in flight: the
// SM client's Call offers a Done channel, not a callback).
//
// Once Close has begun no watcher is started: Close's wg.Wait must not run
// concurrently with an Add from a machine action still in progress (a
// data race, and a watcher Close would not wait for).
func (c *Controller) watch(done <-chan struct{}, epoch, seq uint64, result func() (sm.ServiceNode, error)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		select {
		case <-done:
		case <-c.stop:
			return
		}
		n, err := result()
		_ = c.m.Post(fsm.Msg[Event]{Event: EvReply, Data: completion{seq: seq, node: n, err: err}, Epoch: epoch})
	}()
}

// ref returns the sysinv reference of the swacted host.
func (c *Controller) ref() sysinv.Ref { return sysinv.Ref{Name: c.req.Host, UUID: c.req.UUID} }

func (c *Controller) uptime() uint32 {
	if c.cfg.Uptime == nil {
		return 0
	}
	return c.cfg.Uptime()
}

// writeTask queues a task update; force makes it critical (mtcInvApi_force_task).
func (c *Controller) writeTask(task mtce.Task, force bool) {
	var err error
	if force {
		_, err = c.cfg.SysInv.ForceTask(c.ref(), task, c.uptime())
	} else {
		_, err = c.cfg.SysInv.UpdateTask(c.ref(), task, c.uptime())
	}
	if err != nil {
		c.log.Warn("swact task update not queued", "host", c.req.Host, "task", string(task), "err", err)
	}
	c.mu.Lock()
	c.st.task = task
	c.mu.Unlock()
}
