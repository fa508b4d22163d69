package swact

import (
	"context"
	"errors"
	"fmt"
	"time"

	"opendev.org/starlingx/metal-go/fsm"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sm"
)

// Stage is a state of the swact machine; the names are StarlingX's
// mtc_swactStages_enum (spec C.2), plus Idle and Deferred.
type Stage string

// Stages.
const (
	StageIdle       Stage = "idle"        // no swact (START)
	StageDeferred   Stage = "deferred"    // accepted during the host's add; waits for AddDone
	StageQuery      Stage = "query"       // QUERY: the next query try is due (at once or after RetryDelay)
	StageQueryDone  Stage = "query-done"  // QUERY_DONE: a query is in flight
	StageAction     Stage = "action"      // ACTION: the next swact-request try is due
	StageActionDone Stage = "action-done" // ACTION_DONE: the swact request is in flight
	StageActionWait Stage = "action-wait" // ACTION_WAIT: SM should stop this agent now
	StageActionPoll Stage = "action-poll" // ACTION_POLL: querying whether activity moved
	StageDone       Stage = "done"        // DONE: final task shown for TaskUpdateDelay
)

// Event is an event of the swact machine.
type Event string

// Events.
const (
	EvRequest      Event = "request"       // an admitted request (Data: Request)
	EvAddDone      Event = "add-done"      // the host's add finished
	EvSend         Event = "send"          // deadline: send the next try
	EvSubmitFailed Event = "submit-failed" // raised: the enqueue failed
	EvReply        Event = "reply"         // a request completed (Data: completion)
	EvProgress     Event = "progress"      // deadline: 50 % / 75 % of a loss threshold
	EvLost         Event = "lost"          // deadline: the request in flight is lost
	EvHalf         Event = "half-timeout"  // deadline: swact_timeout/2 in ACTION_WAIT
	EvPoll         Event = "poll"          // deadline: next ACTION_POLL tick
	EvClear        Event = "clear"         // deadline: clear the final task
	EvHold         Event = "hold"          // the mutex was set without a swact
	EvSelfHeal     Event = "self-heal"     // deadline: clear an orphan mutex
)

type tx = fsm.Tx[Stage, Event]
type step = fsm.Step[Stage, Event]

// definition builds the machine. Guards read the controller's fields,
// which only the machine's goroutine writes.
func (c *Controller) definition() fsm.Definition[Stage, Event] {
	type T = fsm.Transition[Stage, Event]
	last := func(_ context.Context, _ step) error {
		if c.fails+1 >= TryThreshold {
			return nil
		}
		return errors.New("tries left")
	}
	reply := func(pred func(completion) bool) func(context.Context, step) error {
		return func(_ context.Context, s step) error {
			d, ok := s.Data.(completion)
			if !ok || d.seq != c.seq {
				return errors.New("superseded request")
			}
			if !pred(d) {
				return errors.New("other outcome")
			}
			return nil
		}
	}
	and := func(a, b func(context.Context, step) error) func(context.Context, step) error {
		return func(ctx context.Context, s step) error {
			if err := a(ctx, s); err != nil {
				return err
			}
			return b(ctx, s)
		}
	}
	isErr := func(d completion) bool { return d.err != nil && !errors.Is(d.err, sm.ErrBadResponse) }
	yes := func(d completion) bool { return d.err == nil && d.node.Swactable }
	no := func(d completion) bool { return d.err == nil && !d.node.Swactable }
	bad := func(d completion) bool { return errors.Is(d.err, sm.ErrBadResponse) }
	ok := func(d completion) bool { return d.err == nil }
	any := func(completion) bool { return true }
	fresh := reply(any)

	// Actions.
	finish := func(task mtce.Task, purge bool) func(context.Context, *tx) error {
		return func(_ context.Context, _ *tx) error {
			if purge {
				c.purge()
			}
			c.final = task
			return nil
		}
	}
	fail := func(retry time.Duration, purge bool, task mtce.Task) func(context.Context, *tx) error {
		return func(_ context.Context, t *tx) error {
			if purge {
				c.purge()
			}
			if d, ok := t.Data.(completion); ok {
				c.noteErr(d.err)
			} else if t.Event == EvLost {
				c.noteErr(fmt.Errorf("request lost: no completion %v after it was queued", c.lostAfter(t.From)))
			}
			c.fails++
			c.seq = 0
			if c.fails >= TryThreshold {
				c.final = task
				return nil
			}
			t.Arm(retry, EvSend)
			return nil
		}
	}
	start := func(_ context.Context, t *tx) error {
		if r, ok := t.Data.(Request); ok {
			c.begin(r)
		}
		if t.To == StageQuery {
			c.log.Info("Administrative SWACT Requested", "host", c.req.Host)
			c.writeTask(mtce.TaskSwactRequest, true)
		}
		return nil
	}
	toAction := func(_ context.Context, _ *tx) error {
		c.fails = 0
		c.seq = 0
		c.writeTask(mtce.TaskSwactInProgress, true)
		if c.cfg.OnSwactable != nil {
			c.cfg.OnSwactable(c.req.Host)
		}
		return nil
	}
	progress := func(_ context.Context, t *tx) error {
		lost := c.lostAfter(t.From)
		c.prog++
		pct := 50 * c.prog // 50 %, then 75 %
		if c.prog > 1 {
			pct = 75
		}
		c.log.Info("swact: waiting for SM", "host", c.req.Host, "stage", string(t.From),
			"try", c.fails+1, "waited", lost*time.Duration(pct)/100, "lost_after", lost, "percent", pct)
		if c.prog == 1 {
			t.Arm(lost/4, EvProgress)
		} else {
			t.Arm(lost/4, EvLost)
		}
		return nil
	}
	actionOK := func(_ context.Context, _ *tx) error {
		c.seq = 0
		c.log.Info("Swact Request complete ; Swact in progress", "host", c.req.Host)
		return nil
	}
	pollNote := func(_ context.Context, t *tx) error {
		d := t.Data.(completion)
		c.pending, c.seq = false, 0
		if d.err != nil {
			c.noteErr(d.err)
		} else {
			c.log.Info("Swact: In-Progress", "host", c.req.Host, "swactable", "yes")
		}
		return nil
	}
	pollTick := func(_ context.Context, t *tx) error {
		c.fails++
		c.setTry()
		if c.pending {
			c.log.Info("Swact: In-Progress", "host", c.req.Host, "query", "still in flight")
		} else {
			c.sendQuery(t, true)
		}
		t.Arm(c.t.poll, EvPoll)
		return nil
	}
	clear := func(_ context.Context, _ *tx) error { c.clear(); return nil }
	hold := func(_ context.Context, t *tx) error {
		c.log.Warn("swact mutex held with no swact running; self-heal armed", "after", c.t.selfHeal)
		t.Arm(c.t.selfHeal, EvSelfHeal)
		return nil
	}
	selfHeal := func(_ context.Context, _ *tx) error {
		if c.Held() {
			c.log.Warn("swact mutex self-heal: cleared a mutex held with no swact running")
			c.release()
		}
		return nil
	}

	return fsm.Definition[Stage, Event]{
		Name:    "swact",
		Initial: StageIdle,
		States: []fsm.State[Stage, Event]{
			{State: StageIdle, Note: "mutex free, or held without a swact (self-heal armed)"},
			{State: StageDeferred, Note: "accepted during the host's add"},
			{State: StageQuery, Deadline: fsm.After(0, EvSend), Note: "next query try: at once, or 10 s after a failure"},
			{State: StageQueryDone, Entry: c.enterQueryDone, Deadline: fsm.After(QueryLostAfter/2, EvProgress),
				Note: "query in flight; lost after 10 s"},
			{State: StageAction, Deadline: fsm.After(0, EvSend), Note: "next swact-request try: at once, or 10 s after a failure"},
			{State: StageActionDone, Entry: c.enterActionDone, Deadline: fsm.After(ActionLostAfter/2, EvProgress),
				Note: "swact request in flight; lost after 30 s"},
			{State: StageActionWait, Entry: c.enterActionWait, Deadline: fsm.After(c.t.half, EvHalf),
				Note: "SM should stop this agent within swact_timeout/2"},
			{State: StageActionPoll, Entry: c.enterActionPoll, Deadline: fsm.After(c.t.poll, EvPoll),
				Note: "5 polls, (swact_timeout/2)/5 apart"},
			{State: StageDone, Entry: c.enterDone, Deadline: fsm.After(TaskUpdateDelay, EvClear),
				Note: "final task shown 30 s, then cleared and the mutex released"},
		},
		Transitions: []T{
			{From: StageIdle, Event: EvRequest, To: StageDeferred, GuardName: "host in add", Action: start,
				Guard: func(_ context.Context, s step) error {
					if r, ok := s.Data.(Request); ok && r.Action == mtce.ActionAdd {
						return nil
					}
					return errors.New("not in add")
				}},
			{From: StageIdle, Event: EvRequest, To: StageQuery, Action: start},
			{From: StageIdle, Event: EvHold, To: StageIdle, Internal: true, Action: hold},
			{From: StageIdle, Event: EvSelfHeal, To: StageIdle, Internal: true, Action: selfHeal},
			{From: StageDeferred, Event: EvAddDone, To: StageQuery, Action: start},

			// QUERY / QUERY_DONE
			{From: StageQuery, Event: EvSend, To: StageQueryDone},
			{From: StageQueryDone, Event: EvSubmitFailed, To: StageDone, Guard: last, GuardName: "10th try",
				Action: fail(RetryDelay, false, mtce.TaskSwactFailQuery)},
			{From: StageQueryDone, Event: EvSubmitFailed, To: StageQuery, Action: fail(RetryDelay, false, mtce.TaskSwactFailQuery)},
			{From: StageQueryDone, Event: EvReply, To: StageAction, Guard: reply(yes), GuardName: "swactable yes", Action: toAction},
			{From: StageQueryDone, Event: EvReply, To: StageDone, Guard: reply(no), GuardName: "swactable no",
				Action: func(ctx context.Context, t *tx) error {
					return finish(mtce.TaskSwactNoService, false)(ctx, t)
				}},
			{From: StageQueryDone, Event: EvReply, To: StageDone, Guard: reply(bad), GuardName: "bad answer",
				Action: func(ctx context.Context, t *tx) error {
					c.noteErr(t.Data.(completion).err)
					return finish(mtce.TaskSwactFailed, false)(ctx, t)
				}},
			{From: StageQueryDone, Event: EvReply, To: StageDone, Guard: and(reply(isErr), last), GuardName: "failed, 10th try",
				Action: fail(RetryDelay, false, mtce.TaskSwactFailQuery)},
			{From: StageQueryDone, Event: EvReply, To: StageQuery, Guard: reply(isErr), GuardName: "failed",
				Action: fail(RetryDelay, false, mtce.TaskSwactFailQuery)},
			{From: StageQueryDone, Event: EvProgress, To: StageQueryDone, Internal: true, Action: progress},
			{From: StageQueryDone, Event: EvLost, To: StageDone, Guard: last, GuardName: "10th try",
				Action: fail(0, true, mtce.TaskSwactFailQuery)},
			{From: StageQueryDone, Event: EvLost, To: StageQuery, Action: fail(0, true, mtce.TaskSwactFailQuery)},

			// ACTION / ACTION_DONE
			{From: StageAction, Event: EvSend, To: StageActionDone},
			{From: StageActionDone, Event: EvSubmitFailed, To: StageDone, Guard: last, GuardName: "10th try",
				Action: fail(RetryDelay, false, mtce.TaskSwactFailed)},
			{From: StageActionDone, Event: EvSubmitFailed, To: StageAction, Action: fail(RetryDelay, false, mtce.TaskSwactFailed)},
			{From: StageActionDone, Event: EvReply, To: StageActionWait, Guard: reply(ok), GuardName: "ok", Action: actionOK},
			{From: StageActionDone, Event: EvReply, To: StageDone, Guard: and(fresh, last), GuardName: "failed, 10th try",
				Action: fail(RetryDelay, false, mtce.TaskSwactFailed)},
			{From: StageActionDone, Event: EvReply, To: StageAction, Guard: fresh, GuardName: "failed",
				Action: fail(RetryDelay, false, mtce.TaskSwactFailed)},
			{From: StageActionDone, Event: EvProgress, To: StageActionDone, Internal: true, Action: progress},
			{From: StageActionDone, Event: EvLost, To: StageDone, Guard: last, GuardName: "10th try",
				Action: fail(0, true, mtce.TaskSwactFailed)},
			{From: StageActionDone, Event: EvLost, To: StageAction, Action: fail(0, true, mtce.TaskSwactFailed)},

			// ACTION_WAIT / ACTION_POLL
			{From: StageActionWait, Event: EvHalf, To: StageActionPoll},
			{From: StageActionPoll, Event: EvReply, To: StageDone, Guard: reply(no), GuardName: "swactable no",
				Action: finish(mtce.TaskSwactComplete, false)},
			{From: StageActionPoll, Event: EvReply, To: StageActionPoll, Internal: true, Guard: fresh, Action: pollNote},
			{From: StageActionPoll, Event: EvPoll, To: StageDone, Guard: last, GuardName: "10th try",
				Action: func(ctx context.Context, t *tx) error {
					c.fails++
					c.noteErr(fmt.Errorf("%w: SM did not move activity within swact_timeout %v", context.DeadlineExceeded, c.t.swact))
					return finish(mtce.TaskSwactTimeout, c.pending)(ctx, t)
				}},
			{From: StageActionPoll, Event: EvPoll, To: StageActionPoll, Internal: true, Action: pollTick},

			// DONE
			{From: StageDone, Event: EvClear, To: StageIdle, Action: clear},
		},
	}
}

func (c *Controller) lostAfter(s Stage) time.Duration {
	if s == StageActionDone {
		return ActionLostAfter
	}
	return QueryLostAfter
}

// begin resets the per-swact state for an admitted request.
func (c *Controller) begin(r Request) {
	if r.Avail == mtce.AvailNone {
		r.Avail = mtce.AvailAvailable
	}
	c.req, c.seq, c.pending, c.fails, c.prog, c.final = r, 0, false, 0, 0, mtce.TaskNone
	now := time.Now()
	c.out = Outcome{Host: r.Host, Started: now}
	c.mu.Lock()
	c.st.host, c.st.started, c.st.try, c.st.lastErr, c.st.task = r.Host, now, 0, nil, mtce.TaskNone
	c.mu.Unlock()
}

func (c *Controller) noteErr(err error) {
	if err == nil {
		return
	}
	c.out.Err = err
	c.mu.Lock()
	c.st.lastErr = err
	c.mu.Unlock()
}

func (c *Controller) setTry() {
	c.mu.Lock()
	c.st.try = c.fails
	c.mu.Unlock()
}

// purge empties the controller's lane: the request in flight is cancelled
// (its completion, which the purge delivers, is then stale), and whatever
// else was queued for the host with it, as StarlingX purges the host's
// queue.
func (c *Controller) purge() {
	n := c.cfg.Queue.Purge(c.req.Host)
	c.seq = 0
	c.log.Info("swact: purged the host's work queue", "host", c.req.Host, "items", n)
}

// sendQuery queues a query and binds its completion to the occupancy the
// step ends in. It reports whether the query was queued.
func (c *Controller) sendQuery(t *tx, poll bool) bool {
	call, err := c.cfg.SM.Query(c.req.Host)
	if err != nil {
		c.noteErr(err)
		c.log.Warn("swact: query not queued", "host", c.req.Host, "try", c.fails+1, "err", err)
		return false
	}
	c.seq = call.Handle().Seq()
	if poll {
		c.pending = true
		c.out.Polls++
	}
	c.watch(call.Done(), t.NextEpoch(), c.seq, call.Result)
	return true
}

func (c *Controller) enterQueryDone(_ context.Context, t *tx) {
	c.prog = 0
	c.setTry()
	if c.fails > 0 {
		c.log.Info("swact: query retry", "host", c.req.Host, "try", c.fails+1, "of", TryThreshold)
	}
	c.out.QueryTries++
	if !c.sendQuery(t, false) {
		t.Disarm()
		t.Raise(EvSubmitFailed)
	}
}

func (c *Controller) enterActionDone(_ context.Context, t *tx) {
	c.prog = 0
	c.setTry()
	if c.fails > 0 {
		c.log.Info("swact: swact request retry", "host", c.req.Host, "try", c.fails+1, "of", TryThreshold)
	}
	c.out.ActionTries++
	call, err := c.cfg.SM.Swact(c.req.Host, c.req.Avail)
	if err != nil {
		c.noteErr(err)
		c.log.Warn("swact: swact request not queued", "host", c.req.Host, "try", c.fails+1, "err", err)
		t.Disarm()
		t.Raise(EvSubmitFailed)
		return
	}
	c.seq = call.Handle().Seq()
	c.watch(call.Done(), t.NextEpoch(), c.seq, func() (sm.ServiceNode, error) {
		_, err := call.Result()
		return sm.ServiceNode{}, err
	})
}

func (c *Controller) enterActionWait(context.Context, *tx) {
	c.fails = 0
	c.setTry()
	if c.cfg.OnActionWait != nil {
		c.cfg.OnActionWait(c.req.Host)
	}
}

func (c *Controller) enterActionPoll(_ context.Context, t *tx) {
	c.log.Warn("swact: taking too long; polling SM", "host", c.req.Host, "waited", c.t.half)
	c.fails = PollStartTry
	c.setTry()
	c.sendQuery(t, true)
}

func (c *Controller) enterDone(context.Context, *tx) {
	c.out.Task = c.final
	c.out.Ended = time.Now()
	c.writeTask(c.final, false)
	lvl := "Swact: Completed"
	if c.final != mtce.TaskSwactComplete {
		lvl = "Swact: Failed"
	}
	c.log.Info(lvl, "host", c.req.Host, "task", string(c.final), "took", c.out.Duration(), "err", c.out.Err)
	o := c.out
	c.mu.Lock()
	c.st.last = &o
	c.mu.Unlock()
}

// clear ends the swact: task cleared, mutex released.
func (c *Controller) clear() {
	c.writeTask(mtce.TaskNone, false)
	c.mu.Lock()
	c.held = false
	c.st.host, c.st.try, c.st.started = "", 0, time.Time{}
	c.mu.Unlock()
	c.seq = 0
}

// observe logs every stage change once and keeps the snapshot's stage.
func (c *Controller) observe(r fsm.Record[Stage, Event]) {
	if r.Kind == fsm.KindTransitioned && !r.Internal {
		c.mu.Lock()
		c.st.stage = r.To
		c.mu.Unlock()
		c.log.Info("swact stage", "host", c.req.Host, "from", string(r.From), "to", string(r.To), "event", string(r.Event))
	}
	if c.cfg.Observer != nil {
		c.cfg.Observer(r)
	}
}
