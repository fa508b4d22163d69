package hostsvc

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// Runner timing and verdicts through the fake launcher, in virtual time.

func TestRunPassParallelVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := mkServices(t, allDirs())
		fl := newFakeLauncher(fakeBehavior{Duration: time.Second})
		fl.set("c2", fakeBehavior{Duration: 3 * time.Second, Output: "hello"})
		r := newTestRunner(t, stdController, root, fl, 10*time.Second)

		t0 := time.Now()
		res := r.Run(t.Context(), StartCommand(Controller))
		if !res.OK() || res.Outcome != Pass {
			t.Fatalf("outcome %v: %v", res.Outcome, res)
		}
		// Parallel: the set takes as long as its slowest script.
		if got := time.Since(t0); got != 3*time.Second {
			t.Fatalf("set took %v, want exactly 3s", got)
		}
		if res.Duration != 3*time.Second {
			t.Fatalf("Duration %v", res.Duration)
		}
		want := []string{filepath.Join(root, "controller", "c1"), filepath.Join(root, "controller", "c2")}
		if got := fl.paths(); !slices.Equal(got, want) {
			t.Fatalf("launched %v, want %v", got, want)
		}
		if fl.maxLive != 2 {
			t.Fatalf("max concurrent %d, want 2 (parallel launch)", fl.maxLive)
		}
		for _, l := range fl.launches {
			if !slices.Equal(l.Spec.Args, []string{"start", "both"}) {
				t.Fatalf("args %q", l.Spec.Args)
			}
			if !slices.Equal(l.Spec.Env, DefaultEnv()) {
				t.Fatalf("env %q", l.Spec.Env)
			}
		}
		if res.Scripts[0].Duration != time.Second || res.Scripts[1].Duration != 3*time.Second {
			t.Fatalf("script durations %v %v", res.Scripts[0].Duration, res.Scripts[1].Duration)
		}
		if string(res.Scripts[1].Output) != "hello" || res.Scripts[0].Output != nil {
			t.Fatalf("outputs %q %q", res.Scripts[0].Output, res.Scripts[1].Output)
		}
		if res.Text() != "start controller host services" {
			t.Fatalf("text %q", res.Text())
		}
	})
}

func TestRunStopArgsVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := mkServices(t, allDirs())
		fl := newFakeLauncher(fakeBehavior{})
		r := newTestRunner(t, stdWorker, root, fl, time.Second)
		if res := r.Run(t.Context(), StopCommand(Worker)); !res.OK() {
			t.Fatal(res)
		}
		for _, l := range fl.launches {
			if !slices.Equal(l.Spec.Args, []string{"stop", "both"}) {
				t.Fatalf("args %q", l.Spec.Args)
			}
		}
	})
}

func TestRunFailedFirstInPathOrderVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := mkServices(t, layout{Worker: {"a", "b", "c"}})
		fl := newFakeLauncher(fakeBehavior{Duration: time.Second})
		// c fails first in time, b later; the report names b (path order),
		// as the C++ client does, and only after every script ended.
		fl.set("c", fakeBehavior{Duration: time.Second, Code: 3})
		fl.set("b", fakeBehavior{Duration: 5 * time.Second, Code: 7})
		r := newTestRunner(t, stdWorker, root, fl, time.Minute)
		t0 := time.Now()
		res := r.Run(t.Context(), StartCommand(Worker))
		if res.Outcome != Failed || res.Script != filepath.Join(root, "worker", "b") || res.ExitCode != 7 {
			t.Fatalf("got %v script %s rc %d", res.Outcome, res.Script, res.ExitCode)
		}
		if time.Since(t0) != 5*time.Second {
			t.Fatalf("returned after %v, want 5s (waits for every script)", time.Since(t0))
		}
		if want := filepath.Join(root, "worker", "b") + " failed ; rc:7"; res.Text() != want {
			t.Fatalf("text %q want %q", res.Text(), want)
		}
		if len(fl.kills) != 0 {
			t.Fatalf("killed %v on a plain failure", fl.kills)
		}
	})
}

func TestRunTimeoutExactVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := mkServices(t, layout{Controller: {"a", "b", "c", "d"}})
		fl := newFakeLauncher(fakeBehavior{Duration: time.Second})
		fl.set("b", fakeBehavior{Hang: true})
		fl.set("c", fakeBehavior{Duration: 299 * time.Second})
		fl.set("d", fakeBehavior{Hang: true})
		r := newTestRunner(t, stdController, root, fl, 0) // 0 = default 300 s
		t0 := time.Now()
		res := r.Run(t.Context(), StartCommand(Controller))
		if got := time.Since(t0); got != DefaultTimeout {
			t.Fatalf("timed out after %v, want exactly %v", got, DefaultTimeout)
		}
		if res.Outcome != TimedOut || res.Script != filepath.Join(root, "controller", "b") {
			t.Fatalf("got %v %s", res.Outcome, res.Script)
		}
		if res.Text() != filepath.Join(root, "controller", "b")+" timeout" {
			t.Fatalf("text %q", res.Text())
		}
		wantKills := []string{filepath.Join(root, "controller", "b"), filepath.Join(root, "controller", "d")}
		if !slices.Equal(fl.kills, wantKills) {
			t.Fatalf("kills %v want %v (only unfinished scripts)", fl.kills, wantKills)
		}
		if fl.liveCount() != 0 {
			t.Fatalf("%d processes left", fl.liveCount())
		}
		for i, sr := range res.Scripts {
			if sr.Killed != (i == 1 || i == 3) {
				t.Fatalf("script %d killed=%v", i, sr.Killed)
			}
		}
		if res.Scripts[1].ExitCode != 137 {
			t.Fatalf("killed rc %d", res.Scripts[1].ExitCode)
		}
	})
}

func TestRunCanceledVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := mkServices(t, layout{Controller: {"a", "b"}})
		fl := newFakeLauncher(fakeBehavior{Hang: true})
		fl.set("a", fakeBehavior{Duration: time.Second})
		r := newTestRunner(t, stdController, root, fl, time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(10*time.Second, cancel)
		res := r.Run(ctx, StartCommand(Controller))
		if res.Outcome != Canceled || !errors.Is(res.Err, context.Canceled) || res.Script != filepath.Join(root, "controller", "b") {
			t.Fatalf("got %v %v %s", res.Outcome, res.Err, res.Script)
		}
		if res.Duration != 10*time.Second {
			t.Fatalf("duration %v", res.Duration)
		}
		// Already canceled: nothing is launched.
		n := len(fl.paths())
		res = r.Run(ctx, StartCommand(Controller))
		if res.Outcome != Canceled || len(fl.paths()) != n {
			t.Fatalf("canceled run launched scripts: %v", res)
		}
	})
}

func TestRunLaunchErrorVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := mkServices(t, layout{Storage: {"a", "b", "c"}})
		fl := newFakeLauncher(fakeBehavior{Duration: 2 * time.Second})
		fl.set("b", fakeBehavior{LaunchErr: errFakeExec})
		fl.set("c", fakeBehavior{Duration: 2 * time.Second, Code: 1})
		r := newTestRunner(t, stdStorage, root, fl, time.Minute)
		t0 := time.Now()
		res := r.Run(t.Context(), StartCommand(Storage))
		if res.Outcome != LaunchFailed || res.Script != filepath.Join(root, "storage", "b") {
			t.Fatalf("got %v %s", res.Outcome, res.Script)
		}
		var fe *FileError
		if !errors.As(res.Err, &fe) || !errors.Is(res.Err, errFakeExec) || fe.Path != res.Script {
			t.Fatalf("err %v", res.Err)
		}
		// The others were still launched and collected.
		if len(fl.paths()) != 3 || time.Since(t0) != 2*time.Second || fl.liveCount() != 0 {
			t.Fatalf("launched %v after %v", fl.paths(), time.Since(t0))
		}
		if res.Text() != "launch failed rc:85" {
			t.Fatalf("text %q", res.Text())
		}
	})
}

func TestRunEmptySetVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := mkServices(t, layout{Controller: nil})
		fl := newFakeLauncher(fakeBehavior{})
		r := newTestRunner(t, stdController, root, fl, time.Minute)
		t0 := time.Now()
		res := r.Run(t.Context(), StartCommand(Controller))
		if !res.OK() || len(res.Scripts) != 0 || time.Since(t0) != 0 || len(fl.paths()) != 0 {
			t.Fatalf("empty set: %v after %v, launches %v", res, time.Since(t0), fl.paths())
		}
	})
}

func TestRunOutputTail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := mkServices(t, layout{Controller: {"a"}})
		fl := newFakeLauncher(fakeBehavior{Output: "0123456789"})
		cfg := DefaultConfig(stdController)
		cfg.ServicesRoot, cfg.TrustCurrentUser, cfg.Launcher, cfg.OutputTail = root, true, fl, 4
		r, err := NewRunner(cfg)
		if err != nil {
			t.Fatal(err)
		}
		res := r.Run(t.Context(), StartCommand(Controller))
		if string(res.Scripts[0].Output) != "6789" {
			t.Fatalf("tail %q", res.Scripts[0].Output)
		}
	})
}

func TestTailBuffer(t *testing.T) {
	tb := newTail(5)
	for _, s := range []string{"ab", "cd", "efg", "", "h", "ijklmnop", "q"} {
		tb.Write([]byte(s))
	}
	if got := string(tb.Bytes()); got != "mnopq" {
		t.Fatalf("tail %q", got)
	}
	none := newTail(-1)
	none.Write([]byte("x"))
	if none.Bytes() != nil {
		t.Fatal("negative tail kept output")
	}
	var all []byte
	big := newTail(64)
	for i := range 1000 {
		c := []byte{byte('a' + i%26)}
		all = append(all, c...)
		big.Write(c)
		if got, want := string(big.Bytes()), string(all[max(0, len(all)-64):]); got != want {
			t.Fatalf("step %d: %q want %q", i, got, want)
		}
	}
}
