package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// goSet is one set of goenabled tests: the main ones, or the subfunction
// (worker) ones of an AIO controller.
type goSet int

const (
	goMain goSet = iota
	goSubf
)

func (s goSet) String() string {
	if s == goSubf {
		return "subf"
	}
	return "main"
}

// files returns the set's pass and failed flag files.
func (s goSet) files() (pass, fail string) {
	if s == goSubf {
		return hostsvc.GoEnabledSubfFile, hostsvc.GoEnabledSubfFailedFile
	}
	return hostsvc.GoEnabledFile, hostsvc.GoEnabledFailedFile
}

func (c *Client) goDir(s goSet) string {
	if s == goSubf {
		return c.cfg.GoEnabledSubfDir
	}
	return c.cfg.GoEnabledDir
}

// goFlight lets one run of a test set be in progress at a time: a caller
// that finds one running waits for it and takes its outcome, so the
// start-up run and the agent's requests never run the tests twice at once.
type goFlight struct {
	mu  sync.Mutex
	cur *goRun
}

type goRun struct {
	done   chan struct{}
	reason string // "" passed
	err    error  // no outcome (ctx ended, or the flag file could not be written)
}

// goenabled runs the goenabled tests at start-up (spec E.1): once
// /etc/platform/.initial_config_complete and /var/run/.goenabled exist, the
// tests of GoEnabledDir run if /var/run/goenabled is absent, and write
// /var/run/goenabled (pass) or /var/run/goenabled_failed (fail, with the
// failure text). On an AIO controller the subfunction tests follow, gated
// on /var/run/.worker_config_complete and /var/run/.goenabled_subf, and
// write goenabled_subf or goenabled_subf_failed. A set that an agent's
// request ran (or is running) meanwhile is not run again.
func (c *Client) goenabled(ctx context.Context) {
	if !c.goenabledAtStart(ctx, goMain, ConfigCompleteFile, GoEnabledGateFile) {
		return
	}
	if !c.node.AIOController() {
		return
	}
	c.goenabledAtStart(ctx, goSubf, WorkerConfigFile, GoEnabledSubfGateFile)
}

// goenabledAtStart runs set s once its gates exist, unless its pass file
// is there; it reports whether the set passed.
func (c *Client) goenabledAtStart(ctx context.Context, s goSet, gates ...string) bool {
	pass, _ := s.files()
	if c.exists(pass) {
		if s == goMain {
			c.log.Info("goenabled flag present; tests not re-run")
		}
		return true
	}
	if !c.waitFiles(ctx, gates...) {
		return false
	}
	if c.exists(pass) { // a request ran them while we waited
		return true
	}
	reason, err := c.runGoEnabledOnce(ctx, s)
	return err == nil && reason == ""
}

// runGoEnabledOnce runs set s, or joins the run in progress, and returns
// its outcome: "" when the tests passed, else the failure text; err when
// there is no outcome.
func (c *Client) runGoEnabledOnce(ctx context.Context, s goSet) (string, error) {
	f := &c.goRuns[s]
	f.mu.Lock()
	if r := f.cur; r != nil {
		f.mu.Unlock()
		select {
		case <-r.done:
			return r.reason, r.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	r := &goRun{done: make(chan struct{})}
	f.cur = r
	f.mu.Unlock()
	r.reason, r.err = c.runGoEnabled(ctx, s)
	f.mu.Lock()
	f.cur = nil
	f.mu.Unlock()
	close(r.done)
	return r.reason, r.err
}

// runGoEnabled runs one set of tests and writes its flag files.
func (c *Client) runGoEnabled(ctx context.Context, s goSet) (string, error) {
	which, dir := s.String(), c.goDir(s)
	passFile, failFile := s.files()
	c.log.Info("running goenabled tests", "tests", which, "dir", dir)
	start := time.Now()
	reason := c.runTests(ctx, dir)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if reason == "" {
		_ = c.removeFlag(failFile)
		if err := c.writeFlag(passFile, ""); err != nil {
			c.log.Error("cannot write goenabled flag", "file", passFile, "err", err)
			return "", err
		}
		c.log.Info("goenabled tests passed", "tests", which, "duration", time.Since(start))
		c.m.goenabled.WithLabelValues(which, "pass").Inc()
		c.emit(Event{Kind: EventGoEnabled, Tests: which})
		return "", nil
	}
	_ = c.removeFlag(passFile)
	if err := c.writeFlag(failFile, reason+"\n"); err != nil {
		c.log.Error("cannot write goenabled failed flag", "file", failFile, "err", err)
	}
	c.log.Error("goenabled tests failed", "tests", which, "reason", reason, "duration", time.Since(start))
	c.m.goenabled.WithLabelValues(which, "fail").Inc()
	c.emit(Event{Kind: EventGoEnabled, Tests: which, Reason: reason})
	return reason, nil
}

// goEnabledRequest answers the agent's goEnabled request (cmd 9 main, 10
// subfunction; spec K.8: ACK now, result later): the set's tests run (or
// the run in progress is joined), their flag files are written, and one
// goEnabled message goes to the agent over mgmt — 7 or 8 when they
// passed, 11 or 12 with the failure text when not — consuming a mgmt
// mtcAlive sequence number as StarlingX does. A request that arrives while
// one for the same set is being answered is covered by that answer (one
// reply). A subfunction request to a host that is not an AIO controller is
// answered "failed" at once. It runs on c.actions.
func (c *Client) goEnabledRequest(ctx context.Context, s goSet) {
	defer func() {
		c.mu.Lock()
		c.goRequests[s] = false
		c.mu.Unlock()
	}()
	var reason string
	if s == goSubf && !c.node.AIOController() {
		reason = "no worker subfunction on this host"
	} else {
		var err error
		if reason, err = c.runGoEnabledOnce(ctx, s); err != nil {
			c.log.Warn("goenabled request not answered", "tests", s.String(), "err", err)
			return
		}
	}
	flags, health := c.aliveFlags(mtce.NetworkMgmt, false)
	c.mu.Lock()
	c.seq[mtce.NetworkMgmt]++
	seq := c.seq[mtce.NetworkMgmt]
	c.mu.Unlock()
	msg, err := wire.NewGoEnabled(wire.GoEnabled{
		Subfunction: s == goSubf,
		Passed:      reason == "",
		Reason:      reason,
		Uptime:      uint32(max(c.cfg.Uptime()/time.Second, 0)),
		Health:      health,
		Flags:       flags,
		Sequence:    seq,
	})
	if err != nil {
		c.log.Error("cannot build goenabled message", "err", err)
		return
	}
	if c.send(ctx, mtce.NetworkMgmt, c.agentAddr(c.cfg.Controller), &msg) {
		c.m.goenabledSent.WithLabelValues(msg.Command.String()).Inc()
	}
	c.log.Info("goenabled request answered", "tests", s.String(), "message", msg.Command.String(), "reason", reason)
	c.emit(Event{Kind: EventGoEnabledReply, Tests: s.String(), Reason: reason})
}

// runTests runs every test of dir in parallel, directly and without a
// shell, under one timeout, and returns "" on success or the failure text
// ("<script> failed ; rc:N", "<script> timeout", or why the set could not
// be started). A missing or empty directory passes, as in StarlingX. The
// files are checked as hostsvc checks host-services scripts.
func (c *Client) runTests(ctx context.Context, dir string) string {
	scripts, err := c.listTests(dir)
	if err != nil {
		return "launch failed: " + err.Error()
	}
	if len(scripts) == 0 {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.GoEnabledTimeout)
	defer cancel()
	type exit struct {
		i    int
		code int
		err  error
	}
	procs := make([]hostsvc.Process, 0, len(scripts))
	codes := make(chan exit, len(scripts))
	env := c.cfg.ScriptEnv
	if env == nil {
		env = hostsvc.DefaultEnv()
	}
	launchErr := ""
	for i, s := range scripts {
		p, err := c.launcher.Launch(hostsvc.LaunchSpec{Path: s, Env: env})
		if err != nil {
			launchErr = c.hostPath(s) + " failed ; launch: " + err.Error()
			break
		}
		procs = append(procs, p)
		go func() {
			code, err := p.Wait()
			codes <- exit{i, code, err}
		}()
	}
	if launchErr != "" {
		for _, p := range procs {
			_ = p.Kill()
		}
	}
	done := make([]bool, len(procs))
	results := make([]exit, len(procs))
	n := 0
	timedOut := false
	firstUnfinished := -1
	for n < len(procs) {
		select {
		case e := <-codes:
			done[e.i], results[e.i] = true, e
			n++
		case <-ctx.Done():
			if !timedOut {
				timedOut = true
				firstUnfinished = slices.Index(done, false)
				for _, p := range procs {
					_ = p.Kill()
				}
			}
			e := <-codes
			done[e.i], results[e.i] = true, e
			n++
		}
	}
	if launchErr != "" {
		return launchErr
	}
	if timedOut {
		// The first script, in path order, that was still running.
		return c.hostPath(scripts[max(firstUnfinished, 0)]) + " timeout"
	}
	for i, r := range results {
		if r.err != nil || r.code != 0 {
			return c.hostPath(scripts[i]) + " failed ; rc:" + strconv.Itoa(r.code)
		}
	}
	return ""
}

// listTests lists dir's tests, sorted, refusing insecure files.
func (c *Client) listTests(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			continue // the subfunction tests may live in a subdirectory
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file", p)
		}
		if fi.Mode().Perm()&0o111 == 0 {
			return nil, fmt.Errorf("%s: not executable", p)
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return nil, fmt.Errorf("%s: group- or world-writable", p)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && (!c.cfg.TrustCurrentUser || int(st.Uid) != os.Geteuid()) {
			return nil, fmt.Errorf("%s: owned by uid %d", p, st.Uid)
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// waitFiles polls until every named flag file exists; false if ctx ended.
func (c *Client) waitFiles(ctx context.Context, rel ...string) bool {
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		ok := true
		for _, r := range rel {
			if !c.exists(r) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
}

// path returns a StarlingX path under Root.
func (c *Client) path(rel string) string { return filepath.Join(c.cfg.Root, rel) }

func (c *Client) exists(rel string) bool {
	_, err := os.Stat(c.path(rel))
	return err == nil
}

func (c *Client) writeFlag(rel, content string) error {
	p := c.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}

func (c *Client) removeFlag(rel string) error {
	err := os.Remove(c.path(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
