package hostsvc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Runner runs the script set of one command: every script of the function's
// directory (merged with the other function's stop scripts on AIO, section
// E.1), sorted by path and launched in parallel with argv
// "<script> start|stop both", under one timeout for the whole set.
//
// A Runner is safe for concurrent use, but the Scheduler is what guarantees
// that only one set runs at a time; use Run directly only when nothing else
// runs sets.
type Runner struct {
	cfg      Config
	launcher Launcher
	log      *slog.Logger
	euid     int
}

// NewRunner validates cfg, fills in its defaults and returns a Runner. With
// cfg.Subreaper it makes the process a child subreaper (see ExecLauncher).
func NewRunner(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Runner{cfg: cfg, launcher: cfg.Launcher, log: cfg.Logger, euid: os.Geteuid()}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.launcher == nil {
		l, err := NewExecLauncher(cfg.WaitDelay, cfg.Subreaper)
		if err != nil {
			return nil, err
		}
		r.launcher = l
	}
	return r, nil
}

// Node returns the node description the Runner was configured with.
func (r *Runner) Node() Node { return r.cfg.Node }

// Dir returns the script directory of function f.
func (r *Runner) Dir(f Function) string { return filepath.Join(r.cfg.ServicesRoot, f.String()) }

// functions returns the directories a command reads: its own and, for a stop
// on an AIO system, the other one of controller/worker when the node has it
// (section E.1: this spares the agent a second command).
func (r *Runner) functions(cmd Command) []Function {
	fns := []Function{cmd.Function}
	if cmd.Action == Stop && r.cfg.Node.System.AIO() {
		switch {
		case cmd.Function == Worker && r.cfg.Node.Functions.Has(Controller):
			fns = append(fns, Controller)
		case cmd.Function == Controller && r.cfg.Node.Functions.Has(Worker):
			fns = append(fns, Worker)
		}
	}
	return fns
}

// Plan lists and checks the scripts cmd would run, sorted by full path
// (so on an AIO stop the controller scripts sort before the worker ones). It
// returns a *FileError naming the directory or file for a missing or
// unreadable directory, an insecure directory or script, a script that is
// not a regular file or not executable; a *TooManyScriptsError for more than
// MaxScripts; an error wrapping ErrInvalidCommand for a bad command. An empty
// directory gives an empty, valid plan.
func (r *Runner) Plan(cmd Command) ([]string, error) {
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	var dirs, scripts []string
	for _, f := range r.functions(cmd) {
		dir := r.Dir(f)
		dirs = append(dirs, dir)
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, &FileError{Path: dir, Err: unwrapPathError(err)}
		}
		if !fi.IsDir() {
			return nil, &FileError{Path: dir, Err: syscall.ENOTDIR}
		}
		if err := r.checkOwner(dir, fi); err != nil {
			return nil, err
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, &FileError{Path: dir, Err: unwrapPathError(err)}
		}
		for _, e := range ents {
			scripts = append(scripts, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(scripts)
	if len(scripts) > MaxScripts {
		return nil, &TooManyScriptsError{Dirs: dirs, Count: len(scripts), Limit: MaxScripts}
	}
	for _, s := range scripts {
		if err := r.checkScript(s); err != nil {
			return nil, err
		}
	}
	return scripts, nil
}

// unwrapPathError drops the *fs.PathError layer, whose path FileError
// already carries.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (r *Runner) checkScript(path string) error {
	fi, err := os.Stat(path) // follows symbolic links: the target is what runs
	if err != nil {
		return &FileError{Path: path, Err: unwrapPathError(err)}
	}
	if !fi.Mode().IsRegular() {
		return &FileError{Path: path, Err: ErrNotRegular, Detail: fi.Mode().Type().String()}
	}
	if err := r.checkOwner(path, fi); err != nil {
		return err
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return &FileError{Path: path, Err: ErrNotExecutable, Detail: fmt.Sprintf("mode %04o", fi.Mode().Perm())}
	}
	return nil
}

// checkOwner refuses group- or world-writable files and files not owned by
// root (or by this process's user when TrustCurrentUser is set).
func (r *Runner) checkOwner(path string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		what := "world-writable"
		if perm&0o002 == 0 {
			what = "group-writable"
		}
		return &FileError{Path: path, Err: ErrInsecure, Detail: fmt.Sprintf("%s, mode %04o", what, perm)}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &FileError{Path: path, Err: ErrInsecure, Detail: "owner unknown"}
	}
	uid := int(st.Uid)
	if uid != 0 && !(r.cfg.TrustCurrentUser && uid == r.euid) {
		return &FileError{Path: path, Err: ErrInsecure, Detail: fmt.Sprintf("owner uid %d", uid)}
	}
	return nil
}

// Run runs cmd's script set and returns its result; it never panics on bad
// input, which yields a LaunchFailed result with a typed Err. Run returns
// when every launched script has been collected: at the set timeout (or
// when ctx ends) the unfinished scripts are killed with their process groups
// and collected, which the launcher bounds (ExecLauncher: WaitDelay).
//
// An empty set passes at once. The verdict, first match wins: Canceled (ctx
// ended first), LaunchFailed (a script could not be started: the first in
// path order), TimedOut (naming the first unfinished script in path order),
// Failed (the first script in path order with a non-zero exit), Pass.
func (r *Runner) Run(ctx context.Context, cmd Command) Result {
	start := time.Now()
	res := Result{Command: cmd, Start: start}
	done := func() Result {
		res.Duration = time.Since(start)
		lvl := slog.LevelInfo
		if !res.OK() {
			lvl = slog.LevelError
		}
		r.log.Log(ctx, lvl, "host services complete", "command", cmd.String(), "outcome", res.Outcome.String(),
			"text", res.Text(), "scripts", len(res.Scripts), "duration", res.Duration, "error", res.Err)
		return res
	}

	scripts, err := r.Plan(cmd)
	if err != nil {
		res.Outcome, res.Err = LaunchFailed, err
		var fe *FileError
		if errors.As(err, &fe) {
			res.Script = fe.Path
		}
		return done()
	}
	if len(scripts) == 0 {
		r.log.Info("no host services scripts", "command", cmd.String())
		res.Outcome = Pass
		return done()
	}
	if err := ctx.Err(); err != nil {
		res.Outcome, res.Err = Canceled, context.Cause(ctx)
		return done()
	}

	r.log.Info("host services launch", "command", cmd.String(), "scripts", scripts)
	type exit struct {
		i    int
		code int
		err  error
		at   time.Time
	}
	n := len(scripts)
	res.Scripts = make([]ScriptResult, n)
	procs := make([]Process, n)
	tails := make([]*tailBuffer, n)
	started := make([]time.Time, n)
	exits := make(chan exit, n)
	args := []string{cmd.Action.String(), "both"}
	timer := time.NewTimer(r.cfg.Timeout)
	defer timer.Stop()
	running := 0
	for i, path := range scripts {
		res.Scripts[i] = ScriptResult{Path: path, ExitCode: -1}
		tails[i] = newTail(r.cfg.OutputTail)
		started[i] = time.Now()
		p, err := r.launcher.Launch(LaunchSpec{Path: path, Args: args, Env: r.cfg.Env, Output: tails[i]})
		if err != nil {
			res.Scripts[i].Err = &FileError{Path: path, Err: unwrapPathError(err)}
			r.log.Error("host services script launch failed", "script", path, "error", err)
			continue
		}
		procs[i] = p
		running++
		go func() {
			code, err := p.Wait()
			exits <- exit{i: i, code: code, err: err, at: time.Now()}
		}()
	}

	finished := make([]bool, n)
	timeout, cancel := timer.C, ctx.Done()
	var stopped Outcome
	for running > 0 {
		select {
		case e := <-exits:
			running--
			finished[e.i] = true
			sr := &res.Scripts[e.i]
			sr.ExitCode, sr.Duration, sr.Output = e.code, e.at.Sub(started[e.i]), tails[e.i].Bytes()
			if e.err != nil {
				sr.Err = e.err
			}
			r.log.Debug("host services script exited", "script", sr.Path, "rc", sr.ExitCode,
				"duration", sr.Duration, "killed", sr.Killed)
		case <-timeout:
			stopped, timeout, cancel = TimedOut, nil, nil
		case <-cancel:
			stopped, timeout, cancel = Canceled, nil, nil
		}
		if stopped != 0 && res.Script == "" {
			for i := range n {
				if procs[i] != nil && !finished[i] {
					if res.Script == "" {
						res.Script = scripts[i] // first unfinished in path order
					}
					res.Scripts[i].Killed = true
					if err := procs[i].Kill(); err != nil {
						r.log.Warn("host services kill failed", "script", scripts[i], "error", err)
					}
				}
			}
			r.log.Warn("host services stopped", "command", cmd.String(), "reason", stopped.String(), "first_unfinished", res.Script)
		}
	}

	if stopped == Canceled {
		res.Outcome, res.Err = Canceled, context.Cause(ctx)
		return done()
	}
	for i, sr := range res.Scripts {
		if procs[i] == nil {
			res.Outcome, res.Script, res.Err = LaunchFailed, sr.Path, sr.Err
			return done()
		}
	}
	if stopped == TimedOut {
		res.Outcome = TimedOut
		return done()
	}
	for _, sr := range res.Scripts {
		if sr.ExitCode != 0 {
			res.Outcome, res.Script, res.ExitCode, res.Err = Failed, sr.Path, sr.ExitCode, sr.Err
			return done()
		}
	}
	res.Outcome = Pass
	return done()
}
