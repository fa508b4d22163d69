//go:build linux

// The exec tests run real processes and find the ones a run leaves behind
// through /proc (scanProcs, readStat in procfs_linux.go); the subreaper and
// sweep they exercise exist only on Linux (procfs_other.go stubs them). The
// scripts also rely on Linux userland: /bin/sh as dash, setsid, /usr/bin/env.

package hostsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Real processes, wall time, sub-second timeouts.

func execRunner(t *testing.T, n Node, root string, timeout time.Duration, subreaper bool) *Runner {
	t.Helper()
	cfg := DefaultConfig(n)
	cfg.ServicesRoot, cfg.TrustCurrentUser, cfg.Timeout = root, true, timeout
	cfg.WaitDelay = 500 * time.Millisecond
	cfg.Subreaper = subreaper
	r, err := NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// nonce returns a unique sleep duration: it marks every process of a test
// in /proc/<pid>/cmdline.
func nonce() string {
	return fmt.Sprintf("%d.%06d", 1000+rand.IntN(9000), rand.IntN(1_000_000))
}

// survivors returns the live (non-zombie) processes whose command line
// contains mark.
func survivors(mark string) []int {
	var out []int
	self := os.Getpid()
	for _, p := range scanProcs() {
		if p.pid == self || p.dead() {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(mark)) {
			out = append(out, p.pid)
		}
	}
	return out
}

// killSurvivors cleans up after tests that document a limit.
func killSurvivors(t *testing.T, mark string) {
	t.Cleanup(func() {
		for _, pid := range survivors(mark) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

func TestExecPassFailOutputEnv(t *testing.T) {
	root := mkServices(t, layout{Controller: nil})
	dir := filepath.Join(root, "controller")
	writeScript(t, filepath.Join(dir, "a"), "#!/bin/sh\necho \"out $0 $*\"\necho err-a >&2\npwd\nenv | sort\n")
	writeScript(t, filepath.Join(dir, "b"), "#!/bin/sh\necho bye\nexit 3\n")
	writeScript(t, filepath.Join(dir, "c"), "#!/bin/sh\nkill -TERM $$\n")
	r := execRunner(t, stdController, root, 5*time.Second, false)
	res := r.Run(t.Context(), StopCommand(Controller))
	if res.Outcome != Failed || res.Script != filepath.Join(dir, "b") || res.ExitCode != 3 {
		t.Fatalf("got %v %s rc %d: %+v", res.Outcome, res.Script, res.ExitCode, res.Scripts)
	}
	out := string(res.Scripts[0].Output)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "out "+filepath.Join(dir, "a")+" stop both" {
		t.Fatalf("argv line %q", lines[0])
	}
	if !strings.Contains(out, "err-a\n") || !slices.Contains(lines, "/") {
		t.Fatalf("stderr or cwd missing: %q", out)
	}
	var env []string
	for _, l := range lines[1:] {
		if strings.Contains(l, "=") {
			env = append(env, l)
		}
	}
	// Only the explicit environment, plus the marker; dash adds PWD itself.
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains([]string{"PATH", "LANG", MarkerEnv, "PWD"}, k) {
			t.Errorf("unexpected variable in script environment: %q", kv)
		}
	}
	if !slices.Contains(env, DefaultEnv()[0]) || !slices.Contains(env, "LANG=C") {
		t.Errorf("explicit environment missing: %q", env)
	}
	if string(res.Scripts[1].Output) != "bye\n" {
		t.Errorf("b output %q", res.Scripts[1].Output)
	}
	if res.Scripts[2].ExitCode != 128+int(syscall.SIGTERM) {
		t.Errorf("signalled script rc %d", res.Scripts[2].ExitCode)
	}
	if res.Scripts[0].ExitCode != 0 || res.Scripts[0].Duration <= 0 {
		t.Errorf("a: %+v", res.Scripts[0])
	}
}

func TestExecExplicitEmptyEnv(t *testing.T) {
	root := mkServices(t, layout{Worker: nil})
	writeScript(t, filepath.Join(root, "worker", "e"), "#!/bin/sh\nexec /usr/bin/env\n")
	cfg := DefaultConfig(stdWorker)
	cfg.ServicesRoot, cfg.TrustCurrentUser, cfg.Env = root, true, []string{"ONLY=1"}
	t.Setenv("HOSTSVC_LEAK_CHECK", "leaked")
	r, err := NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(t.Context(), StartCommand(Worker))
	var got []string
	for _, kv := range strings.Fields(string(res.Scripts[0].Output)) {
		switch {
		case strings.HasPrefix(kv, MarkerEnv+"="):
			got = append(got, MarkerEnv)
		case kv == "PWD=/": // exported by dash itself
		default:
			got = append(got, kv)
		}
	}
	slices.Sort(got)
	if !res.OK() || !slices.Equal(got, []string{MarkerEnv, "ONLY=1"}) {
		t.Fatalf("environment %q (%v)", got, res)
	}
}

// TestExecNoShell: the path is executed as is; shell metacharacters in a
// name are not interpreted.
func TestExecNoShell(t *testing.T) {
	root := mkServices(t, layout{Storage: nil})
	name := "x; touch INJECTED #"
	writeScript(t, filepath.Join(root, "storage", name), "#!/bin/sh\necho ran\n")
	r := execRunner(t, stdStorage, root, 5*time.Second, false)
	res := r.Run(t.Context(), StartCommand(Storage))
	if !res.OK() || string(res.Scripts[0].Output) != "ran\n" {
		t.Fatalf("%v %q", res, res.Scripts[0].Output)
	}
	// Scripts run in "/"; a shell would have created /INJECTED.
	if _, err := os.Stat("/INJECTED"); err == nil {
		t.Fatal("the name was run through a shell")
	}
}

func TestExecFormatErrorIsLaunchFailure(t *testing.T) {
	root := mkServices(t, layout{Controller: {"good"}})
	bad := filepath.Join(root, "controller", "bad")
	if err := os.WriteFile(bad, []byte{0x7f, 'E', 'L', 'F', 0, 1, 2}, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(bad, 0o755)
	r := execRunner(t, stdController, root, 5*time.Second, false)
	res := r.Run(t.Context(), StartCommand(Controller))
	var fe *FileError
	if res.Outcome != LaunchFailed || res.Script != bad || !errors.As(res.Err, &fe) || !errors.Is(res.Err, syscall.ENOEXEC) {
		t.Fatalf("got %v %s %v", res.Outcome, res.Script, res.Err)
	}
	if res.Scripts[1].ExitCode != 0 {
		t.Fatalf("the good script was not run: %+v", res.Scripts[1])
	}
}

// TestExecTimeoutKillsProcessGroups: a hanging script and a script whose
// forked grandchild hangs are killed with their process groups at the set
// timeout; when Run returns no process of the run is alive.
func TestExecTimeoutKillsProcessGroups(t *testing.T) {
	mark := nonce()
	killSurvivors(t, mark)
	root := mkServices(t, layout{Worker: nil})
	dir := filepath.Join(root, "worker")
	writeScript(t, filepath.Join(dir, "10-quick"), "#!/bin/sh\nexit 0\n")
	writeScript(t, filepath.Join(dir, "20-hang"), "#!/bin/sh\nsleep "+mark+"\n")
	writeScript(t, filepath.Join(dir, "30-grandchild"), "#!/bin/sh\n(sleep "+mark+"; echo never) &\nsleep "+mark+" &\nwait\n")
	r := execRunner(t, stdWorker, root, 300*time.Millisecond, false)
	t0 := time.Now()
	res := r.Run(t.Context(), StartCommand(Worker))
	took := time.Since(t0)
	if res.Outcome != TimedOut || res.Script != filepath.Join(dir, "20-hang") {
		t.Fatalf("got %v %s", res.Outcome, res.Script)
	}
	if res.Text() != filepath.Join(dir, "20-hang")+" timeout" {
		t.Fatalf("text %q", res.Text())
	}
	// Bounded: timeout + WaitDelay (generous margin for a loaded machine).
	if took > 300*time.Millisecond+500*time.Millisecond+5*time.Second {
		t.Fatalf("Run took %v", took)
	}
	if s := survivors(mark); len(s) != 0 {
		t.Fatalf("processes of the run survived the timeout: %v", s)
	}
	if !res.Scripts[1].Killed || !res.Scripts[2].Killed || res.Scripts[0].Killed {
		t.Fatalf("killed flags %+v", res.Scripts)
	}
}

func TestExecCancelKills(t *testing.T) {
	mark := nonce()
	killSurvivors(t, mark)
	root := mkServices(t, layout{Controller: nil})
	writeScript(t, filepath.Join(root, "controller", "hang"), "#!/bin/sh\nsleep "+mark+" &\nsleep "+mark+"\n")
	r := execRunner(t, stdController, root, time.Hour, false)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	res := r.Run(ctx, StartCommand(Controller))
	if res.Outcome != Canceled || !errors.Is(res.Err, context.DeadlineExceeded) || len(survivors(mark)) != 0 {
		t.Fatalf("got %v, survivors %v", res, survivors(mark))
	}
}

// TestExecBackgroundChildKeepsPipe: a passing script that leaves a
// background process holding its output is collected WaitDelay after it
// exits, and that process is not killed (start scripts may leave daemons).
func TestExecBackgroundChildKeepsPipe(t *testing.T) {
	mark := nonce()
	killSurvivors(t, mark)
	root := mkServices(t, layout{Controller: nil})
	writeScript(t, filepath.Join(root, "controller", "daemon"), "#!/bin/sh\necho started\nsleep "+mark+" &\nexit 0\n")
	r := execRunner(t, stdController, root, 10*time.Second, false)
	res := r.Run(t.Context(), StartCommand(Controller))
	if !res.OK() || string(res.Scripts[0].Output) != "started\n" {
		t.Fatalf("%v %q", res, res.Scripts[0].Output)
	}
	if len(survivors(mark)) != 1 {
		t.Fatalf("the background process of a passing script was killed: %v", survivors(mark))
	}
}

// TestExecSetsidEscape documents the limit of the process-group kill and
// shows the subreaper mode closing it.
func TestExecSetsidEscape(t *testing.T) {
	t.Run("group kill only", func(t *testing.T) {
		mark := nonce()
		killSurvivors(t, mark)
		root := mkServices(t, layout{Worker: nil})
		// The script hangs only once the escapee has left its process
		// group (ready exists after setsid), so that a timeout on a loaded
		// machine cannot kill the escapee before it escapes.
		ready := filepath.Join(t.TempDir(), "ready")
		writeScript(t, filepath.Join(root, "worker", "escape"),
			"#!/bin/sh\nsetsid sh -c ': > "+ready+"; exec sleep "+mark+"' &\n"+
				"while [ ! -e "+ready+" ]; do sleep 0.01; done\nsleep "+mark+"\n")
		r := execRunner(t, stdWorker, root, 2*time.Second, false)
		if res := r.Run(t.Context(), StartCommand(Worker)); res.Outcome != TimedOut {
			t.Fatal(res)
		}
		if _, err := os.Stat(ready); err != nil {
			t.Fatalf("the escapee had not left the process group within the 2 s timeout (machine overloaded?): %v", err)
		}
		if s := survivors(mark); len(s) != 1 {
			t.Fatalf("want exactly the setsid escapee to survive (documented limit), got %v", s)
		}
	})
	t.Run("subreaper", func(t *testing.T) {
		mark := nonce()
		killSurvivors(t, mark)
		root := mkServices(t, layout{Worker: nil})
		pidFile := filepath.Join(t.TempDir(), "pid")
		writeScript(t, filepath.Join(root, "worker", "escape"),
			"#!/bin/sh\nsetsid sleep "+mark+" &\necho $! > "+pidFile+"\nsleep "+mark+"\n")
		r := execRunner(t, stdWorker, root, 300*time.Millisecond, true)
		if res := r.Run(t.Context(), StartCommand(Worker)); res.Outcome != TimedOut {
			t.Fatal(res)
		}
		if s := survivors(mark); len(s) != 0 {
			t.Fatalf("escapee survived in subreaper mode: %v", s)
		}
		b, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		// Reparented to this process, killed and reaped: gone, not a zombie.
		if st, err := readStat(pid); err == nil && st.ppid == os.Getpid() {
			t.Fatalf("escapee %d left as %c child of ours", pid, st.state)
		}
	})
}

// TestExecSubreaperAdoptsDaemon: in subreaper mode a daemon left by a
// passing script is reparented to this process and reaped by the runner
// once it exits.
func TestExecSubreaperAdoptsDaemon(t *testing.T) {
	mark := nonce()
	killSurvivors(t, mark)
	root := mkServices(t, layout{Storage: nil})
	writeScript(t, filepath.Join(root, "storage", "d"), "#!/bin/sh\nsetsid sleep "+mark+" </dev/null >/dev/null 2>&1 &\n")
	r := execRunner(t, stdStorage, root, 5*time.Second, true)
	if res := r.Run(t.Context(), StartCommand(Storage)); !res.OK() {
		t.Fatal(res)
	}
	s := survivors(mark)
	if len(s) != 1 {
		t.Fatalf("daemon %v", s)
	}
	st, err := readStat(s[0])
	if err != nil || st.ppid != os.Getpid() {
		t.Fatalf("daemon not reparented to the subreaper: %+v %v", st, err)
	}
	syscall.Kill(s[0], syscall.SIGKILL)
	// Wait (bounded) until it is a zombie of ours, then let the runner reap
	// it at its next set.
	for i := 0; i < 500; i++ {
		if st, err := readStat(s[0]); err != nil || st.dead() {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	os.Remove(filepath.Join(root, "storage", "d"))
	if res := r.Run(t.Context(), StartCommand(Storage)); !res.OK() {
		t.Fatal(res)
	}
	// An empty set launches nothing; reaping happens on Launch and Wait, so
	// run one real script.
	writeScript(t, filepath.Join(root, "storage", "e"), "#!/bin/sh\n")
	if res := r.Run(t.Context(), StartCommand(Storage)); !res.OK() {
		t.Fatal(res)
	}
	if st, err := readStat(s[0]); err == nil && st.start != 0 && st.ppid == os.Getpid() {
		t.Fatalf("adopted daemon left as zombie: %+v", st)
	}
}
