// Package workqueue runs attempts of work items in per-key lanes, with
// bounded admission, retries, a hold gate and lane waiting. It is the Go
// form of the StarlingX maintenance agent's per-host HTTP work queue: every
// SysInv, VIM and SM request for a host goes through that host's lane, so
// that no call blocks the caller and a token renewal can finish before the
// retries run out.
//
// # Guarantees
//
//   - Lanes are FIFO. Items submitted with the same key are dispatched in
//     submission order, and an item's retries run before the next item of
//     the key starts (head of line, as in StarlingX).
//   - One live attempt per key. At most one attempt per key runs with a
//     context that is not cancelled. [Queue.Purge], [Handle.Cancel] and a
//     forced [Queue.Close] cancel the running attempt's context before they
//     free the lane; the next item may then start while the cut-short Run
//     is still returning, and that Run's result is ignored. This is what
//     lets a request resent after a purge go out at once, as the swact
//     controller needs.
//   - Keys proceed concurrently, up to Config.Workers attempts at once.
//     The queue runs Config.Workers goroutines plus one scheduler, whatever
//     the number of keys or retries. Retry waits, gate holds and attempt
//     deadlines occupy no goroutine and no runtime timer each: the
//     scheduler, with one timer, keeps the waits in a heap and cancels the
//     attempts whose deadline passes (each worker publishes its running
//     attempt's context).
//   - Orphans are bounded. An attempt cut short whose Run has not returned
//     yet (an orphan, Stats.Orphans) keeps its goroutine until it does; the
//     queue replaces it with a new worker while it runs fewer than
//     Config.Workers+Config.MaxOrphans worker goroutines (default 16+64).
//     Past that cap stuck workers are not replaced: fewer attempts run, and
//     if all of them are stuck nothing is dispatched until a Run returns
//     (items wait; Purge, Cancel and Close still complete them). The queue
//     never runs more than Workers+MaxOrphans+1 goroutines.
//   - Idle keys cost nothing. A lane is dropped as soon as it holds no item
//     (unless it keeps an unreported critical failure or a WaitLane
//     waiter), and the lane tables, the ready rings and the retry heaps
//     shrink as lanes go idle (each halves when an eighth full, until the
//     tables of all the shards are down to 2,048 slots, 16 KiB, in all,
//     and the rings and heaps to as much; 64 per shard when there are more
//     than 32 shards). Up to 1,024 dropped lanes (128 KiB) are kept for
//     reuse.
//   - Submit never blocks. It admits the item or refuses it at once with
//     [ErrOverloaded] (lane at Config.MaxPerKey, or queue at
//     Config.MaxTotal), [ErrClosed] or [ErrInvalidItem]. A refused item is
//     not enqueued and gets no callback. An overload refusal is counted in
//     Stats.Rejected and logged at Warn at most once per
//     Config.OverloadLogInterval per key (and once per interval for the
//     global cap); overload and ErrClosed refusals are reported to the
//     Observer; an invalid item is only returned its error.
//   - Every admitted item completes exactly once: it succeeds, or it fails
//     with an [*Error] whose cause is its last attempt's error, [ErrPurged],
//     [ErrCanceled] or [ErrClosed] (joined with [ErrAttemptAbandoned] when
//     an attempt was running: its outcome is ignored, counted in
//     Stats.Orphaned). Its OnDone callback runs once and then
//     its [Handle.Done] channel closes. Nothing is dropped silently: a
//     critical failure is logged at Error level and recorded for
//     [Queue.WaitLane]; a noncritical one is logged at Warn level.
//   - Callbacks are ordered. For one item: OnAttempt for each attempt in
//     order, then OnDone, then Done. For one key, the callbacks that workers
//     deliver are in lane order, and the key's next attempt starts only
//     after they return. Purge, Cancel and Close deliver the callbacks of the
//     items they remove in the calling goroutine before returning (except for
//     an item whose attempt is returning at that very moment: its worker
//     completes it).
//   - The gate is consulted before every dispatch. While [Gate.Held]
//     returns a channel, no attempt is dispatched and none is spent; after
//     Config.MaxHold the queue logs once and dispatches anyway until the
//     gate opens.
//   - Close is bounded. It stops admission, lets admitted work finish until
//     its context ends (or, for a context without a deadline, for
//     Config.CloseTimeout minus [CloseGrace]; default 30 s in all),
//     completes whatever is left with ErrClosed, and waits at most
//     CloseGrace (1 s) for the queue's goroutines. So it returns within
//     ctx's deadline plus CloseGrace, or within CloseTimeout, whatever the
//     attempt functions do; goroutines stuck in Runs that ignore their
//     context are left behind (at most Workers+MaxOrphans, reported with
//     [ErrStuck]) and end when their Run returns. When every Run honours
//     its context, Close joins every goroutine. It is idempotent.
//
// # Concurrency
//
// The lanes are spread over shards by key hash (32 shards, or four per
// processor if that is more; see shardCount in shard.go). Each shard has its
// own lock, lane table, ready ring and retry heap, so everything about one
// key is guarded by one lock: Submit takes only its key's shard lock, and a
// worker takes the lock of the shard it dispatches from and, after the
// attempt, of the item's shard to finish it. That keeps Submit and the
// workers from bouncing one lock between the cores for every item. A worker
// dispatches from the shard it finished on while that shard has ready
// lanes, up to 8 in a row, then looks at the next shards in turn, so no
// shard waits for long; dispatch order across keys is not the submission
// order (it never was promised). What is not per key (the workers'
// lifecycle and orphans, gate holds, the drain, overload warnings, the
// scheduler's attempt deadlines) is under one more lock, taken rarely; a
// shard's lock may be held when it is taken, never the reverse. Stats holds
// every shard's lock at once (in shard order), so its counters add up.
// MaxTotal is counted in one atomic, only when it is set.
//
// # Attempts
//
// An [Item] carries its function and its policy: a total attempt budget
// (default 3), a per-attempt timeout that may grow with each retry
// (Timeout + (n-1)*TimeoutStep: the attempt's context has that deadline,
// and is cancelled when Run returns), a wait policy between attempts made by a
// factory of [backoff.BackOff] values (default: constant 5 s), and a
// criticality flag. The error returned by Run decides what happens next:
//
//   - nil: the item succeeded;
//   - an error wrapped with [Permanent] (or [backoff.Permanent]): the item
//     fails now;
//   - any other error, including a timeout: the attempt counts against the
//     budget and the item is retried after the policy's wait, unless the
//     budget is spent or the policy returns [backoff.Stop].
//
// The queue never calls backoff.Retry and never sleeps in a worker: it
// calls the factory at most once per item and then only NextBackOff. Note
// that backoff.WithMaxRetries(b, 3) allows four attempts on its own; the
// item's budget and the policy's Stop both apply, whichever comes first.
//
// # Lane waiting
//
// [Queue.WaitLane] is StarlingX's workQueue_done: the owner of a lane (an
// action handler) waits for the lane to empty, bounded by a timeout
// (work_queue_timeout). It fails only if critical items are left at the
// deadline, and it reports the first critical item that failed on the lane
// since the previous report; noncritical leftovers and failures never fail
// it.
//
// # Caller's duties
//
//   - Create queues with [New] from [DefaultConfig], and Close them.
//   - Run should return soon after its context is cancelled. Close waits
//     for it at most CloseGrace; a Run that ignores its context keeps a
//     goroutine (an orphan) until it returns, and enough of them stop the
//     queue from dispatching (see "Orphans are bounded"). A Run that
//     panics crashes the program, as in any goroutine.
//   - Callbacks and the [Observer] run on the queue's goroutines (or the
//     caller's, for Purge, Cancel and Close); they must be quick (Close's
//     bound and the attempts' deadlines assume it), may call the queue, and
//     must not call Close.
//   - Collect critical failures, through handles, OnDone or WaitLane: a
//     lane keeps its first unreported critical failure until WaitLane
//     reports it.
//
// # Differences from StarlingX
//
//   - StarlingX refuses an item when a lane already holds more than 100,
//     so a lane can reach 101; here Config.MaxPerKey is the exact maximum.
//   - StarlingX max_retries is a total attempt budget in which 0 also
//     means one attempt; Item.Attempts 0 means the queue default, so map
//     max_retries m to max(m, 1).
//   - The wait between attempts is a policy (default a constant 5 s, the
//     compiled-in HTTP_RETRY_WAIT_SECS); StarlingX parses http_retry_wait
//     from mtc.conf but never uses it.
//   - Completion is reported through handles and callbacks for every item;
//     the done FIFO of critical items becomes WaitLane's failure record.
//
// The queue is not generic: one lane serialises requests of different
// kinds (a host's SysInv, VIM and SM calls), so an item returns only an
// error and a Run closure keeps whatever result it needs.
package workqueue
