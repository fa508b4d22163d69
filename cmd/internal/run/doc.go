// Package run runs a daemon's named components and stops them: SIGTERM or
// SIGINT starts a graceful drain bounded by a deadline, SIGHUP calls a
// reload function.
//
// # Guarantees
//
//   - Components run under golang.org/x/sync/errgroup: the first one to
//     fail cancels the others' context, and Run reports it as a
//     *ComponentError naming it.
//   - Shutdown (a signal, the parent context, a failure) calls
//     Config.Stopping once, cancels the components' context and waits at
//     most Config.Drain; after it, or on a second SIGTERM/SIGINT, Run
//     returns a *DrainError (wrapping ErrDrainTimeout) that names every
//     component still running.
//   - SIGHUP calls Config.Reload on its own goroutine, never concurrently
//     with itself; SIGHUPs arriving during a call fold into one more call.
//     A failed reload is logged and the daemon carries on.
//   - Signals are injectable (Config.Signals), so that tests never signal
//     the test process. Without them Run subscribes to SIGTERM, SIGINT and
//     SIGHUP for its duration only.
//   - Every goroutine Run starts has returned when it returns, except
//     after a *DrainError: the stragglers, and the goroutine waiting for
//     them, are still running then.
//
// # Caller duties
//
//   - Each component's Run must return promptly once its context is done,
//     having released what it holds; a component that returns nil early
//     is finished and the others go on.
//   - Reload runs concurrently with the components: what it changes must
//     be safe to change under them.
//   - After a *DrainError, exit the process (non-zero): the stragglers'
//     goroutines cannot be stopped from outside.
package run
