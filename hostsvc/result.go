package hostsvc

import (
	"fmt"
	"time"
)

// Outcome is the overall result of a script set.
type Outcome uint8

// Outcomes.
const (
	Pass         Outcome = 1 + iota // every script exited 0, or the set was empty
	Failed                          // a script exited non-zero: Script, ExitCode
	TimedOut                        // the set timeout fired: Script is the first unfinished one
	LaunchFailed                    // the set could not be (fully) launched: Err, Script when known
	Canceled                        // the context ended the run (scheduler shutdown)
)

// String returns "pass", "failed", "timed out", "launch failed" or "canceled".
func (o Outcome) String() string {
	switch o {
	case Pass:
		return "pass"
	case Failed:
		return "failed"
	case TimedOut:
		return "timed out"
	case LaunchFailed:
		return "launch failed"
	case Canceled:
		return "canceled"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// RCLaunchFailed is the return code in a launch-failure text:
// StarlingX's FAIL_READ_FILES, what the C++ client returns when it cannot
// read a script directory.
const RCLaunchFailed = 85

// ScriptResult is the result of one script of a set.
type ScriptResult struct {
	Path     string
	ExitCode int           // exit status; 128+signal if signalled; -1 if not started or unknown
	Duration time.Duration // from launch until the process was collected
	Output   []byte        // the last Config.OutputTail bytes of stdout and stderr
	Killed   bool          // killed by the runner at the set timeout or cancellation
	Err      error         // launch or wait error, nil otherwise
}

// Result is the result of one script set. A Scheduler produces exactly one
// per executed run and hands the same value to OnResult and every requester.
type Result struct {
	Command  Command
	Run      uint64 // the Scheduler's run number, unique, given when the run was first requested; 0 from Runner.Run
	Outcome  Outcome
	Script   string         // failing, first unfinished or offending script, if any
	ExitCode int            // the failing script's exit code (Failed)
	Err      error          // the cause for LaunchFailed and Canceled
	Scripts  []ScriptResult // one per script, in sorted path order
	Start    time.Time
	Duration time.Duration
}

// OK reports whether the set passed.
func (r Result) OK() bool { return r.Outcome == Pass }

// Text returns the StarlingX result text (sections E.2, K.4): the command
// name on success, "<script> failed ; rc:<N>", "<script> timeout", or
// "launch failed rc:85". A canceled run reads "<script> failed ; canceled",
// so that it is never taken for a pass. The agent classifies a text holding
// "timeout" as FAIL_TIMEOUT and one holding "failed" as FAIL_OPERATION; the
// wire layer cuts it to 63 characters.
func (r Result) Text() string {
	switch r.Outcome {
	case Pass:
		return r.Command.String()
	case Failed:
		return fmt.Sprintf("%s failed ; rc:%d", r.Script, r.ExitCode)
	case TimedOut:
		return r.Script + " timeout"
	case LaunchFailed:
		return fmt.Sprintf("launch failed rc:%d", RCLaunchFailed)
	case Canceled:
		name := r.Script
		if name == "" {
			name = r.Command.String()
		}
		return name + " failed ; canceled"
	}
	return "launch failed rc:1"
}

// String is for logs: command, outcome and text.
func (r Result) String() string {
	return fmt.Sprintf("%s: %s (%s)", r.Command, r.Outcome, r.Text())
}
