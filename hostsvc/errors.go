package hostsvc

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with errors.Is; the typed errors below carry the
// details and unwrap to one of these (or to an os/fs error).
var (
	// ErrInvalidCommand is returned for a Command whose function or action
	// is not one of the defined values.
	ErrInvalidCommand = errors.New("hostsvc: invalid command")

	// ErrTooManyScripts means a script set holds more than MaxScripts
	// scripts. StarlingX has room for 20 and overruns its table beyond that;
	// here the whole set is refused. See *TooManyScriptsError.
	ErrTooManyScripts = errors.New("hostsvc: too many scripts in set")

	// ErrInsecure means a script or script directory is group- or
	// world-writable, or is not owned by root (or by the running user when
	// Config.TrustCurrentUser is set). See *FileError.
	ErrInsecure = errors.New("hostsvc: insecure file")

	// ErrNotExecutable means a script has no execute permission bit.
	ErrNotExecutable = errors.New("hostsvc: script is not executable")

	// ErrNotRegular means an entry of a script directory is not a regular
	// file (after following symbolic links), e.g. a subdirectory.
	ErrNotRegular = errors.New("hostsvc: not a regular file")

	// ErrClosed is returned by Scheduler methods once Run has returned, and
	// by Ticket.Wait for a request that was still pending at that moment.
	ErrClosed = errors.New("hostsvc: scheduler closed")

	// ErrRunning is returned by Scheduler.Run when Run is already running
	// or has already returned.
	ErrRunning = errors.New("hostsvc: scheduler already run")

	// ErrNodeLocked is returned by Scheduler.AutoStart when the node-locked
	// flag file exists: a locked node does not start its services.
	ErrNodeLocked = errors.New("hostsvc: node is locked; no auto-start")

	// ErrGoEnabledFailed is returned by Scheduler.AutoStart when a
	// goenabled-failed flag file exists. See *GoEnabledFailedError.
	ErrGoEnabledFailed = errors.New("hostsvc: goenabled tests failed; no auto-start")

	// ErrSubreaperUnsupported is returned by NewRunner when Subreaper is
	// requested on a platform without PR_SET_CHILD_SUBREAPER.
	ErrSubreaperUnsupported = errors.New("hostsvc: child subreaper not supported on this platform")
)

// ConfigError reports an invalid configuration field; it never panics and
// always names the field.
type ConfigError struct {
	Field  string // e.g. "Timeout", "Node.System"
	Reason string
}

func (e *ConfigError) Error() string {
	return "hostsvc: invalid config " + e.Field + ": " + e.Reason
}

// FileError names the file or directory that stopped a script set from being
// launched. Err is one of ErrInsecure, ErrNotExecutable, ErrNotRegular, or
// the underlying os error (for example one matching fs.ErrNotExist, or an
// exec error from starting the process).
type FileError struct {
	Path   string
	Err    error
	Detail string // human detail such as "mode 0777" or "owner uid 1000"; may be empty
}

func (e *FileError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("hostsvc: %s: %v (%s)", e.Path, e.Err, e.Detail)
	}
	return fmt.Sprintf("hostsvc: %s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// TooManyScriptsError reports a set larger than Limit (MaxScripts). It
// matches ErrTooManyScripts.
type TooManyScriptsError struct {
	Dirs  []string // the directories that were merged into the set
	Count int
	Limit int
}

func (e *TooManyScriptsError) Error() string {
	return fmt.Sprintf("hostsvc: too many scripts in set: %d > %d (%v)", e.Count, e.Limit, e.Dirs)
}

// Is makes errors.Is(err, ErrTooManyScripts) true.
func (e *TooManyScriptsError) Is(target error) bool { return target == ErrTooManyScripts }

// GoEnabledFailedError reports the goenabled-failed flag file that stopped
// the auto-start, with the failure text the goenabled tests wrote into it
// (possibly empty). It matches ErrGoEnabledFailed.
type GoEnabledFailedError struct {
	Flag   string
	Reason string
}

func (e *GoEnabledFailedError) Error() string {
	if e.Reason == "" {
		return "hostsvc: goenabled tests failed; no auto-start (" + e.Flag + ")"
	}
	return "hostsvc: goenabled tests failed; no auto-start (" + e.Flag + ": " + e.Reason + ")"
}

// Is makes errors.Is(err, ErrGoEnabledFailed) true.
func (e *GoEnabledFailedError) Is(target error) bool { return target == ErrGoEnabledFailed }
