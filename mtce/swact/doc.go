// Package swact is the maintenance agent's swact: it moves the active
// controller role to the mate controller by asking Service Management (SM)
// through the per-host work queue, as StarlingX's swact FSM does since
// 87b4a69 (spec C), on a typed state machine (package fsm). Its diagram is
// in DIAGRAMS.md.
//
// # Usage
//
//	cfg := swact.DefaultConfig()
//	cfg.ApplyTimeouts(mtc.Timeouts)              // swact_timeout, uptime_period
//	cfg.SM, cfg.SysInv, cfg.Queue = smClient, sysinvClient, queue
//	cfg.OnSwactable = stopHeartbeatOfOtherHosts  // C.3 step 3
//	cfg.OnActionWait = drain                     // SM is about to stop us
//	c, err := swact.New(cfg)
//	defer c.Close(ctx)
//	err = c.Request(ctx, swact.Request{Host: "controller-0", UUID: uuid, ...})
//	var rej *swact.RejectError                   // errors.As → the event-API reply
//	if c.Held() { /* reject every other admin action: swact.RejectInProgress(host) */ }
//
// # Guarantees
//
//   - One swact at a time, system-wide. Request checks, in this order: the
//     mutex (J.5 step 2: swact-in-progress, with C.3's exact text
//     [InProgressReason]); then J.5's swact row: personality controller,
//     mate enabled, the host's admin action none or add, host then mate
//     patching, and, for a plain swact, a patched-not-rebooted mate; then
//     the simplex flag, read at every request. Each rejection is a
//     [*RejectError] with the return code, unwrapping to a sentinel. Only
//     InProgressReason is StarlingX's text; the others paraphrase J.9.
//   - An accepted request holds the mutex until the final task string is
//     cleared, [TaskUpdateDelay] after the end. [Controller.Held] exposes it.
//   - Self-heal: a mutex held while no swact runs (set by
//     [Controller.HoldMutex], FIT's SET_SWACT_MUTEX) is cleared after
//     (swact_timeout/uptime_period + 1) uptime periods, at once when
//     uptime_period is 0.
//   - Stages and constants are StarlingX's (C.2, C.3), all named: query
//     (QUERY, QUERY_DONE), swact request (ACTION, ACTION_DONE), wait for SM
//     to stop this agent (ACTION_WAIT, swact_timeout/2), then [PollCount]
//     queries (ACTION_POLL, (swact_timeout/2)/5 apart), DONE. Task strings
//     "Swact: Request" and "Swact: In-Progress" are forced (critical task
//     updates); the final one ("Swact: Complete", "Swact: Failed", "Swact:
//     Timeout", "Swact: No active services", "Swact: Query Services
//     Failed") is written, and cleared TaskUpdateDelay later.
//   - Event-driven: every SM request's completion reaches the machine as an
//     event (a watcher per request in flight waits on the queue's Done
//     channel and posts it), and every wait is a state deadline in the
//     machine. There is no 1 s poll.
//   - Stale completions are ignored: a completion is bound to the state
//     occupancy (fsm epoch) and to the work-queue sequence number of the
//     request in flight; a purged, superseded or late one is dropped, so a
//     lost request costs exactly one try.
//   - A 401 that the token renewal fixes costs no try (keystone.Transport
//     renews and resends inside the attempt); a try fails on 401 only if
//     the resend also gets one.
//   - Hooks: OnSwactable when SM answers swactable "yes", OnActionWait on
//     entering ACTION_WAIT. Every stage change is logged once; a request in
//     flight is reported at 50 % and 75 % of its loss threshold (C.2).
//     [Controller.Snapshot] gives stage, try, elapsed time, last error and
//     the last outcome.
//
// # Timing model
//
// Every expected time follows from the constants (the tests derive theirs
// this way; see the table in matrix_test.go):
//
//   - Try k+1 starts [RetryDelay] (10 s) after try k's failure is known: at
//     once for an enqueue failure or an error answer, when the queue gives
//     up for a request that timed out (SM's 20 s attempt timeout), and at
//     once, without the delay, after a loss: the query is lost
//     [QueryLostAfter] (10 s) after it was queued, the swact request
//     [ActionLostAfter] (30 s) after; the controller's lane is then purged
//     (the attempt in flight is cancelled) and the request resent.
//   - The final task is written the moment the [TryThreshold]th (10th)
//     failure is known.
//   - From the swact request's success at s: at s + swact_timeout/2 a
//     query is sent, then one every (swact_timeout/2)/5; "Swact: Complete"
//     is written as soon as one answers swactable "no"; "Swact: Timeout" at
//     s + swact_timeout/2 + 5·((swact_timeout/2)/5). Those divisions are
//     integer seconds, as StarlingX's, so the timeout is exactly
//     swact_timeout when swact_timeout is a multiple of 10 s, and otherwise
//     up to 9 s earlier (125 s: 62 + 5·12 = 122 s).
//   - swact_timeout below 60 s is raised to 60 s with a warning (K.6).
//
// # Differences from StarlingX
//
//   - The self-heal never clears the mutex while a swact runs. StarlingX's
//     uptime handler clears it after 180 s (default timeouts) even mid-swact,
//     although a swact whose requests are all dropped runs about 300 s, so a
//     second swact could start while the first is still sending requests.
//   - On a simplex system the request is rejected up front with
//     [ErrSimplex] and no task is written. StarlingX accepts it and then
//     silently resets the FSM without a task string, so the user sees an
//     accepted swact that never happens.
//   - Completions are events: "Swact: Complete" is written when the
//     ACTION_POLL query answers "no", not at the next 12 s poll tick, and a
//     loss is detected exactly at its threshold instead of at a 1 s poll.
//   - StarlingX purges its "done queue" (the critical-failure record) at the
//     end of a failed swact; the work queue keeps its lane's first critical
//     failure until WaitLane reports it, and this package does not call
//     WaitLane.
//   - No freshly reset timer reads as rung: stages that StarlingX runs "at
//     once" after a timer reset have zero-delay deadlines (fsm).
//
// # Caller's duties
//
//   - Share the queue with the SM and SysInv clients; close the controller
//     before the queue. The SM and SysInv clients must use the Keystone
//     transport.
//   - Pass the host's and mate's state at each Request; call AddDone when
//     the add of a host whose swact was deferred finishes.
//   - Keep hooks short: they run on the controller's goroutine.
package swact

//go:generate go test -run=^TestDiagrams$ -fsm.update .
