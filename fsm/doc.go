// Package fsm is a small generic, typed state machine with state
// deadlines, run-to-completion event handling and an observer, for
// controllers such as the swact of StarlingX's maintenance agent.
//
// A [Definition] declares the machine as data: transitions (From, Event →
// To) with an optional guard and action, and per-state entry and exit
// actions and a [Deadline]. [New] starts a [Machine] on it; events come from
// any goroutine through [Machine.Send], [Machine.Post] (with a payload and
// an epoch guard) and [Machine.Fire] (which waits for the outcome), from
// callbacks through [Tx.Raise], and from deadlines. Every step is reported
// to Config.Observer as a [Record]; [Machine.Snapshot] gives the current
// state for an admin API. [Definition.Mermaid], [Definition.DOT] and
// [WriteMarkdown] draw the table; package fsmtest keeps a checked-in
// diagram in step with the code (this package's own is DIAGRAMS.md).
//
// It exists because the popular Go libraries are untyped and their users
// report re-entrancy deadlocks (looplab/fsm, qmuntal/stateless in queued
// mode), callbacks that cannot fail a transition cleanly, and timers that
// outlive the state that armed them.
//
// # Execution model
//
// One goroutine per machine, started by New and joined by Close, owns the
// state. It handles one event at a time, running the guards, actions,
// entry and exit actions and the observer itself, so callbacks never run
// concurrently with each other and need no locking for the controller's
// own fields. Callers never drive the machine: they post events. (etcd
// raft's caller-driven Step was the alternative; it would leave the
// deadlines and the serialisation of events from work-queue callbacks to
// every user.)
//
// A step, for an event E in state S:
//
//  1. If E carries an epoch (Msg.Epoch) other than the current one, or is a
//     deadline that is no longer armed, it is dropped: [ErrStale].
//  2. The transitions declared for (S, E) are tried in declaration order;
//     the first whose Guard returns nil (a nil Guard always does) is
//     chosen. None declared: [ErrNoTransition]; all guards rejected:
//     [ErrGuardRejected]. Nothing changed.
//  3. The transition's Action runs. If it fails the transition is aborted:
//     [ErrActionFailed], the machine stays in S, no exit or entry action
//     runs, the deadline is untouched, Arm/Disarm calls are discarded, and
//     the events the action raised are still handled (so it can raise its
//     way to an error state).
//  4. For an Internal transition, that is all (no exit, no entry, same
//     epoch, the deadline keeps running unless the action re-armed it).
//     Otherwise S's Exit runs, S's deadline is disarmed, the state becomes
//     To with a new epoch, To's Entry runs, and To's deadline is armed.
//  5. The observer gets the Record.
//
// # Guarantees
//
//   - Run to completion. An event raised in a callback ([Tx.Raise], or
//     [Machine.Fire] called on the machine's goroutine, see [ErrDeferred])
//     is queued, never handled inside the current step; raised events are
//     handled in the order raised, right after the step, before any event
//     from another goroutine. No callback can deadlock the machine by
//     firing an event. A chain of more than Config.MaxChain raised events
//     is cut ([ErrChainLimit]).
//   - Events from other goroutines are handled in the order Post, Send or
//     Fire queued them. Posting never blocks; it fails only when
//     Config.MaxQueue events wait ([ErrQueueFull]) or after Close.
//   - Fire returns after its event's whole chain: when it returns nil the
//     machine has taken the transition and handled what it raised.
//   - A refused event changes nothing: no exit or entry action ran, and
//     state, epoch and deadline are as before (except that a deadline that
//     rang is spent even if its event is refused). Only the guards ran,
//     and the action if it was the action that failed; the events that
//     action raised are handled.
//   - Deadlines never act in an occupancy they were not armed for. Each
//     entry into a state is an occupancy with its own epoch; its deadline
//     is armed on entry and disarmed on exit, and a deadline that rang is
//     delivered only if that same arming is still current. Completions
//     posted with Msg.Epoch get the same protection ([ErrStale]).
//   - Deadlines use the time package (one time.Timer per machine), so
//     testing/synctest's virtual clock drives them. A deadline that rang
//     while the machine was busy is handled before the events that queued
//     up meanwhile.
//   - Close joins the machine's goroutine; nothing the machine started
//     outlives it.
//
// # Deadlines and StarlingX's "freshly reset timer"
//
// In StarlingX (mtcTimer), an initialised or reset timer reads as already
// rung, so a stage guarded by "timer rang?" runs at once after a reset.
// Here no deadline ever reads as rung before it has: a state's deadline
// fires its event only when its time has come. Where the swact relies on
// "runs at once", declare it: a Deadline with After 0 rings at once (its
// event is queued behind the events the entering step raised, before any
// external one), and a transition that wants a delay instead (a retry
// after 10 s) calls [Tx.Arm] with it. The quirk is thereby explicit in the
// table rather than a side effect of how timers are reset.
//
// # Caller's duties
//
//   - Build machines with [New] from a [Definition] that passes
//     [Definition.Validate] and a Config from [DefaultConfig]; Close every
//     machine.
//   - Keep callbacks short and non-blocking: they run on the machine's
//     goroutine and hold up every other event. Start slow work elsewhere
//     (a work queue) and Post its completion back, with Msg.Epoch set to
//     [Tx.NextEpoch] so a late completion is dropped. Callbacks get a
//     context cancelled by Close.
//   - Never wait in a callback for something that itself waits for the
//     machine (a goroutine calling Fire): that is a deadlock the machine
//     cannot see. Fire from the callback itself is recognised and deferred.
//   - Guards must be free of side effects.
//   - A Tx is valid only during the callback it was passed to; using it
//     later panics. A callback that panics crashes the program, as in any
//     goroutine.
//
// # Diagrams
//
// A package that defines a machine checks its diagram in beside its
// doc.go, generates it with a go:generate line running its TestDiagrams
// with -fsm.update, and fails that test when the file is stale: see
// package fsmtest.
package fsm

//go:generate go test -run=^TestDiagrams$ -fsm.update .
