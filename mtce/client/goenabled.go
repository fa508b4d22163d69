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
	"syscall"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
)

// goenabled runs the goenabled tests at start-up (spec E.1): once
// /etc/platform/.initial_config_complete and /var/run/.goenabled exist, the
// tests of GoEnabledDir run if /var/run/goenabled is absent, and write
// /var/run/goenabled (pass) or /var/run/goenabled_failed (fail, with the
// failure text). On an AIO controller the subfunction tests follow, gated
// on /var/run/.worker_config_complete and /var/run/.goenabled_subf, and
// write goenabled_subf or goenabled_subf_failed.
func (c *Client) goenabled(ctx context.Context) {
	if c.exists(hostsvc.GoEnabledFile) {
		c.log.Info("goenabled flag present; tests not re-run")
	} else {
		if !c.waitFiles(ctx, ConfigCompleteFile, GoEnabledGateFile) {
			return
		}
		if !c.runGoEnabled(ctx, "main", c.cfg.GoEnabledDir, hostsvc.GoEnabledFile, hostsvc.GoEnabledFailedFile) {
			return
		}
	}
	if !c.node.AIOController() || c.exists(hostsvc.GoEnabledSubfFile) {
		return
	}
	if !c.waitFiles(ctx, WorkerConfigFile, GoEnabledSubfGateFile) {
		return
	}
	c.runGoEnabled(ctx, "subf", c.cfg.GoEnabledSubfDir, hostsvc.GoEnabledSubfFile, hostsvc.GoEnabledSubfFailedFile)
}

// runGoEnabled runs one set of tests and writes its flag files; it reports
// whether they passed.
func (c *Client) runGoEnabled(ctx context.Context, which, dir, passFile, failFile string) bool {
	c.log.Info("running goenabled tests", "tests", which, "dir", dir)
	start := time.Now()
	reason := c.runTests(ctx, dir)
	if ctx.Err() != nil {
		return false
	}
	if reason == "" {
		_ = c.removeFlag(failFile)
		if err := c.writeFlag(passFile, ""); err != nil {
			c.log.Error("cannot write goenabled flag", "file", passFile, "err", err)
			return false
		}
		c.log.Info("goenabled tests passed", "tests", which, "duration", time.Since(start))
		c.m.goenabled.WithLabelValues(which, "pass").Inc()
		return true
	}
	_ = c.removeFlag(passFile)
	if err := c.writeFlag(failFile, reason+"\n"); err != nil {
		c.log.Error("cannot write goenabled failed flag", "file", failFile, "err", err)
	}
	c.log.Error("goenabled tests failed", "tests", which, "reason", reason, "duration", time.Since(start))
	c.m.goenabled.WithLabelValues(which, "fail").Inc()
	return false
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
			launchErr = s + " failed ; launch: " + err.Error()
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
		return scripts[max(firstUnfinished, 0)] + " timeout"
	}
	for i, r := range results {
		if r.err != nil || r.code != 0 {
			return scripts[i] + " failed ; rc:" + strconv.Itoa(r.code)
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
