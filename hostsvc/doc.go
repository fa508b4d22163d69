// Package hostsvc runs a StarlingX node's host-services scripts and
// schedules the requests to run them: the Go counterpart of the host-services
// part of mtcClient (spec sections E and K.4).
//
// It is a leaf package: it declares its own small types (Function,
// FunctionSet, Action, SystemType, Node, Command) and the mtce package
// converts to and from its wire and configuration types.
//
// # Runner
//
// A [Runner] runs the script set of one [Command], e.g. "start worker host
// services":
//
//   - the set is every entry of <ServicesRoot>/<function> (default
//     /etc/services.d/controller, worker or storage), sorted by path; on an
//     all-in-one (AIO) system a stop of worker also runs the controller stop
//     scripts when the node has the controller function, and vice versa,
//     the two lists merged and sorted (section E.1);
//   - all scripts are launched in parallel, directly (no shell), with argv
//     "<script> start both" or "<script> stop both", working directory "/",
//     stdin /dev/null and an explicit environment (Config.Env, default
//     [DefaultEnv], plus [MarkerEnv]); nothing of the caller's environment
//     is passed on;
//   - one timeout covers the whole set (Config.Timeout,
//     host_services_timeout, default 300 s). At the timeout the set fails
//     naming the first unfinished script in path order, and every
//     unfinished script is killed with its whole process group (each script
//     leads its own group); Run returns once they are collected and their
//     groups are empty, bounded by Config.WaitDelay;
//   - a [Result] says pass, failed (script, exit code), timed out (script)
//     or launch failed (typed error naming the file), with, per script, the
//     exit code, the duration and the tail of the combined stdout and
//     stderr. [Result.Text] gives the StarlingX result text.
//
// Before launching anything the Runner refuses the whole set, with a
// *[FileError] naming the offending path, when the function directory is
// missing, unreadable or not a directory, or a script is not a regular file,
// is not executable, is group- or world-writable, or is not owned by root
// (or by the running user with Config.TrustCurrentUser, for tests). The
// function directory itself must also be root-owned and not group- or
// world-writable; the directories above it are not checked. More than
// [MaxScripts] (20) scripts is a *[TooManyScriptsError]: StarlingX has room
// for 20 and overruns its table beyond that.
//
// # Scheduler
//
// A [Scheduler] is the single place through which every request goes, from
// the start-up auto-start ([Scheduler.AutoStart]) and from the agent
// ([Scheduler.Submit], [Scheduler.Do]), so the two cannot interleave. It
// guarantees:
//
//   - one script set at a time;
//   - requests keyed by Command: one identical to a pending request merges
//     into it; one identical to the running set is answered by that run's
//     result; a stop never merges into a start;
//   - pending starts run in priority order controller → worker → storage;
//     a pending stop keeps its place in arrival order;
//   - exactly one [Result] per executed run, given once to
//     SchedulerConfig.OnResult and to every requester of that run; an empty
//     set is an immediate pass with exactly one result; after a run nothing
//     more is produced until a new request arrives. (The C++ client flooded
//     its agent with ~20 results a second for an empty set before commit
//     dab9c47, and since then sends none, leaving the agent to time out after
//     305 s: both are bugs, fixed here.)
//   - [Scheduler.Flags] gives the mtcAlive failure flags, reflecting the
//     last result of the main function's start set and, on an AIO
//     controller, of the worker start set.
//
// AutoStart follows section E.3: nothing if the node-locked flag exists;
// standard nodes and the worker and storage nodes of AIO "plus" systems wait
// for the goenabled flag and start their one main function; AIO controllers
// wait for the subfunction goenabled flag and start controller, then
// worker. A goenabled-failed flag means no start ([ErrGoEnabledFailed]).
// Flag paths take a configurable root prefix (SchedulerConfig.FlagRoot) and
// the wait is bounded by a context.
//
// # Time and tests
//
// Every timer of the Runner and the Scheduler (the set timeout, the
// AutoStart poll) uses package time and runs on the virtual clock of a
// testing/synctest bubble. Real processes do not: the process-launching
// seam [Launcher] lets tests replace them with an in-memory fake inside
// synctest, while [ExecLauncher] is tested in wall time.
//
// # Process cleanup and its limit
//
// The group kill reaches every descendant that stays in the script's
// process group. A descendant that leaves it (setsid, setpgid) is out of
// reach, unless Config.Subreaper is set: the process then becomes a child
// subreaper (prctl PR_SET_CHILD_SUBREAPER), and at a timeout the runner also
// kills, and reaps, every process still carrying the script's MarkerEnv
// value. See [ExecLauncher] for what that costs: the attribute is
// process-wide and stays set, and descendants that drop the variable remain
// out of reach.
//
// A passing script's background processes are never killed (start scripts
// may leave daemons). One that keeps the script's stdout or stderr open only
// delays the result by WaitDelay; the pipe is then closed, so such a daemon
// gets EPIPE or SIGPIPE if it writes there later: scripts must detach
// daemons from their output, as start-stop-daemon does.
//
// # Caller duties
//
//  1. Build the Node from platform.conf and validate it (NewRunner does).
//  2. Call [Scheduler.Run] exactly once, in a goroutine you own, and cancel
//     its context to stop: Run then kills the running set, answers the
//     running set's requesters with its Canceled result and every pending
//     requester with [ErrClosed], and returns.
//  3. Call [Scheduler.AutoStart] once at start-up (it blocks until the gate
//     flag exists; run it in its own goroutine) and route every agent
//     start/stop request through [Scheduler.Submit]. ACK the agent at
//     once; send its single "host services result" from OnResult.
//  4. Keep OnRunStart and OnResult short: they run on Run's goroutine. They
//     may call Submit.
//  5. Use a Runner directly only where nothing else runs sets; the Runner
//     itself does not serialise.
//  6. With Config.Subreaper, reap any other orphan adopted by the process.
package hostsvc
