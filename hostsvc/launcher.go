package hostsvc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// MarkerEnv is the environment variable the built-in launcher adds to every
// script's environment. Its value is unique per launched script; in
// subreaper mode it identifies descendants that left the script's process
// group.
const MarkerEnv = "HOSTSVC_SCRIPT_ID"

// markerSeq makes MarkerEnv values unique within the process.
var markerSeq atomic.Uint64

// LaunchSpec describes one script process.
type LaunchSpec struct {
	Path   string    // absolute path, executed directly without a shell; argv[0] = Path
	Args   []string  // argv[1:]: {"start"|"stop", "both"}
	Env    []string  // the complete environment; nothing is inherited
	Output io.Writer // receives stdout and stderr; nil discards them
}

// Process is one launched script.
type Process interface {
	// Wait blocks until the script has ended and returns its exit code:
	// the exit status, or 128+signal when it was killed by a signal. err is
	// non-nil only when the status could not be collected (the code is then
	// -1). After Kill, Wait must return within a bounded time.
	Wait() (code int, err error)
	// Kill ends the script and everything in its process group. It may be
	// called concurrently with Wait and more than once; after Wait has
	// returned it does nothing.
	Kill() error
}

// Launcher is the process-launching seam of the Runner. ExecLauncher is the
// real one; tests use an in-memory fake inside testing/synctest, where every
// timer of the Runner and Scheduler runs on the bubble's virtual clock.
type Launcher interface {
	Launch(spec LaunchSpec) (Process, error)
}

// ExecLauncher launches scripts with os/exec: no shell, each script the
// leader of a new process group (Setpgid), working directory "/", stdin
// /dev/null, stdout and stderr to LaunchSpec.Output through one pipe.
//
// Kill sends SIGKILL to the whole process group; Wait then returns once the
// script is reaped and no live process is left in its group, or, at the
// latest, about WaitDelay after the kill (os/exec's Cmd.WaitDelay closes the
// output pipe after the same delay, if a process outside the group holds
// it). Use NewExecLauncher; a zero ExecLauncher works with DefaultWaitDelay
// and without subreaper mode.
//
// Limit: a descendant that left the group (setsid, setpgid) is out of reach
// of the group kill. In subreaper mode (NewExecLauncher with subreaper set)
// the calling process is a child subreaper, such escaped descendants are
// reparented to it instead of init, and Kill also kills and reaps every
// process whose environment still carries the script's MarkerEnv value. A
// descendant that both leaves the group and drops that variable (env -i,
// a setuid program, a daemon spawned by systemd) is still out of reach.
type ExecLauncher struct {
	waitDelay time.Duration
	subreaper bool
	nonce     string

	mu      sync.Mutex
	adopted map[int]uint64 // subreaper mode: pid -> start time of marked survivors
}

// NewExecLauncher returns the os/exec launcher. waitDelay bounds how long
// Wait waits for a killed script's group to disappear and for its output
// pipe to close (DefaultWaitDelay when 0). With subreaper set, the calling
// process becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER).
//
// The subreaper attribute is process-wide and stays set: every orphaned
// descendant of any child of this process, from any package, is then
// reparented to it. The launcher reaps the zombies it can prove are
// descendants of its own scripts (killed ones at once; survivors of passing
// scripts, such as double-forked daemons, when they exit, at the next Launch
// or Wait). The program must reap any other adopted orphan itself.
func NewExecLauncher(waitDelay time.Duration, subreaper bool) (*ExecLauncher, error) {
	if waitDelay < 0 {
		return nil, &ConfigError{Field: "WaitDelay", Reason: "negative"}
	}
	if waitDelay == 0 {
		waitDelay = DefaultWaitDelay
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	l := &ExecLauncher{waitDelay: waitDelay, nonce: hex.EncodeToString(b[:])}
	if subreaper {
		if err := setSubreaper(); err != nil {
			return nil, err
		}
		l.subreaper = true
		l.adopted = make(map[int]uint64)
	}
	return l, nil
}

func (l *ExecLauncher) delay() time.Duration {
	if l.waitDelay <= 0 {
		return DefaultWaitDelay
	}
	return l.waitDelay
}

// Launch starts one script.
func (l *ExecLauncher) Launch(spec LaunchSpec) (Process, error) {
	if l.subreaper {
		l.reapAdopted()
	}
	marker := MarkerEnv + "=" + strconv.Itoa(os.Getpid()) + "." + l.nonce + "." + strconv.FormatUint(markerSeq.Add(1), 10)
	env := make([]string, 0, len(spec.Env)+1)
	env = append(env, spec.Env...)
	env = append(env, marker)
	cmd := &exec.Cmd{
		Path:        spec.Path,
		Args:        append([]string{spec.Path}, spec.Args...),
		Env:         env,
		Dir:         "/",
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   l.delay(),
	}
	if spec.Output != nil {
		cmd.Stdout = spec.Output
		cmd.Stderr = spec.Output
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &execProcess{l: l, cmd: cmd, pid: cmd.Process.Pid, marker: marker}, nil
}

type execProcess struct {
	l      *ExecLauncher
	cmd    *exec.Cmd
	pid    int
	marker string

	mu       sync.Mutex
	killed   bool
	deadline time.Time // of the cleanup after a kill
	waited   bool
}

// Kill kills the process group (and, in subreaper mode, marked escapees).
func (p *execProcess) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waited {
		// Reaped: the pid, and so the group id, may belong to someone else.
		return nil
	}
	if !p.killed {
		p.killed = true
		p.deadline = time.Now().Add(p.l.delay())
	}
	err := syscall.Kill(-p.pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		err = nil // group already empty
	}
	if p.l.subreaper {
		p.l.killMarked(p.marker)
	}
	return err
}

func (p *execProcess) Wait() (int, error) {
	werr := p.cmd.Wait()
	p.mu.Lock()
	p.waited = true
	killed, deadline := p.killed, p.deadline
	p.mu.Unlock()

	if killed {
		p.l.sweep(p.pid, p.marker, deadline)
	} else if p.l.subreaper {
		p.l.adoptMarked(p.marker)
	}
	if p.l.subreaper {
		p.l.reapAdopted()
	}

	st := p.cmd.ProcessState
	if st == nil {
		return -1, werr
	}
	code := st.ExitCode()
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	var exitErr *exec.ExitError
	switch {
	case werr == nil, errors.As(werr, &exitErr), errors.Is(werr, exec.ErrWaitDelay):
		// A non-zero exit is a result, not an error. ErrWaitDelay means a
		// leftover process kept the output pipe open: the status is valid,
		// the output tail may be incomplete.
		return code, nil
	default:
		return code, fmt.Errorf("hostsvc: wait %s: %w", p.cmd.Path, werr)
	}
}
