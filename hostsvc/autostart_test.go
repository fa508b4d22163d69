package hostsvc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func writeFlag(t testing.TB, flagRoot, rel, content string) {
	t.Helper()
	p := filepath.Join(flagRoot, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// flagAt creates a flag file after d of virtual time.
func flagAt(t *testing.T, flagRoot, rel string, d time.Duration) *time.Timer {
	return time.AfterFunc(d, func() { writeFlag(t, flagRoot, rel, "") })
}

func TestAutoStartNodeTypes(t *testing.T) {
	cases := []struct {
		name string
		node Node
		gate string
		want []Command
	}{
		{"standard controller", stdController, GoEnabledFile, []Command{StartCommand(Controller)}},
		{"standard worker", stdWorker, GoEnabledFile, []Command{StartCommand(Worker)}},
		{"standard storage", stdStorage, GoEnabledFile, []Command{StartCommand(Storage)}},
		{"AIO duplex controller", aioController, GoEnabledSubfFile, []Command{StartCommand(Controller), StartCommand(Worker)}},
		{"AIO simplex controller", aioSimplex, GoEnabledSubfFile, []Command{StartCommand(Controller), StartCommand(Worker)}},
		{"AIO plus worker", aioPlusWorker, GoEnabledFile, []Command{StartCommand(Worker)}},
		{"AIO plus storage", aioPlusStor, GoEnabledFile, []Command{StartCommand(Storage)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, c.node, allDirs(), fakeBehavior{Duration: 3 * time.Second}, time.Minute, nil)
				h.start(t)
				defer h.stop(t)
				flags := h.s.cfg.FlagRoot
				if c.gate == GoEnabledSubfFile {
					// The main goenabled flag alone does not start an AIO controller.
					writeFlag(t, flags, GoEnabledFile, "")
				}
				flagAt(t, flags, c.gate, 6500*time.Millisecond)
				t0 := time.Now()
				tickets, err := h.s.AutoStart(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				// Polled every second: seen on the tick at 7 s.
				if got := time.Since(t0); got != 7*time.Second {
					t.Fatalf("requested after %v, want 7s", got)
				}
				if len(tickets) != len(c.want) {
					t.Fatalf("%d tickets", len(tickets))
				}
				for i, tk := range tickets {
					if tk.Command() != c.want[i] || !mustWait(t, tk).OK() {
						t.Fatalf("ticket %d: %v", i, tk.Command())
					}
				}
				synctest.Wait()
				if got := h.startedCmds(); !slices.Equal(got, c.want) {
					t.Fatalf("ran %v want %v", got, c.want)
				}
				// The right directories, one set after the other.
				var dirs []string
				for _, l := range h.fl.launches {
					dirs = append(dirs, filepath.Base(filepath.Dir(l.Spec.Path)))
				}
				var wantDirs []string
				for _, cmd := range c.want {
					wantDirs = append(wantDirs, cmd.Function.String(), cmd.Function.String())
				}
				if !slices.Equal(dirs, wantDirs) {
					t.Fatalf("launched from %v want %v", dirs, wantDirs)
				}
				if len(c.want) == 2 && !h.fl.launches[2].At.Equal(h.fl.launches[0].At.Add(3*time.Second)) {
					t.Fatal("worker set did not start when the controller set ended")
				}
			})
		})
	}
}

func TestAutoStartLocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, aioController, allDirs(), fakeBehavior{}, time.Minute, nil)
		h.start(t)
		defer h.stop(t)
		writeFlag(t, h.s.cfg.FlagRoot, NodeLockedFile, "")
		writeFlag(t, h.s.cfg.FlagRoot, GoEnabledSubfFile, "")
		if tk, err := h.s.AutoStart(t.Context()); !errors.Is(err, ErrNodeLocked) || tk != nil {
			t.Fatalf("locked node: %v %v", tk, err)
		}
		synctest.Wait()
		if len(h.startedCmds()) != 0 {
			t.Fatal("a locked node started services")
		}
	})
}

func TestAutoStartLockedWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, stdWorker, allDirs(), fakeBehavior{}, time.Minute, nil)
		h.start(t)
		defer h.stop(t)
		flagAt(t, h.s.cfg.FlagRoot, NodeLockedFile, 30500*time.Millisecond)
		flagAt(t, h.s.cfg.FlagRoot, GoEnabledFile, 60*time.Second)
		t0 := time.Now()
		if _, err := h.s.AutoStart(t.Context()); !errors.Is(err, ErrNodeLocked) || time.Since(t0) != 31*time.Second {
			t.Fatalf("got %v after %v", err, time.Since(t0))
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(h.startedCmds()) != 0 {
			t.Fatal("started services")
		}
	})
}

func TestAutoStartGoEnabledFailed(t *testing.T) {
	for _, fail := range []string{GoEnabledFailedFile, GoEnabledSubfFailedFile} {
		t.Run(filepath.Base(fail), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, aioController, allDirs(), fakeBehavior{}, time.Minute, nil)
				h.start(t)
				defer h.stop(t)
				time.AfterFunc(12500*time.Millisecond, func() {
					writeFlag(t, h.s.cfg.FlagRoot, fail, "/etc/goenabled.d/x (rc:3)\n")
					writeFlag(t, h.s.cfg.FlagRoot, GoEnabledSubfFile, "") // failure wins over a pass
				})
				t0 := time.Now()
				_, err := h.s.AutoStart(t.Context())
				var ge *GoEnabledFailedError
				if !errors.Is(err, ErrGoEnabledFailed) || !errors.As(err, &ge) || time.Since(t0) != 13*time.Second {
					t.Fatalf("got %v after %v", err, time.Since(t0))
				}
				if ge.Reason != "/etc/goenabled.d/x (rc:3)" || !strings.HasSuffix(ge.Flag, fail) {
					t.Fatalf("reason %q flag %q", ge.Reason, ge.Flag)
				}
				synctest.Wait()
				if len(h.startedCmds()) != 0 {
					t.Fatal("started services after goenabled failure")
				}
			})
		})
	}
}

func TestAutoStartContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, stdController, allDirs(), fakeBehavior{}, time.Minute, func(c *SchedulerConfig) {
			c.PollInterval = 250 * time.Millisecond
		})
		h.start(t)
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		t0 := time.Now()
		if _, err := h.s.AutoStart(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) != 90*time.Second {
			t.Fatalf("got %v after %v", err, time.Since(t0))
		}
		// Scheduler closing ends a waiting AutoStart too.
		errc := make(chan error, 1)
		go func() { _, err := h.s.AutoStart(t.Context()); errc <- err }()
		time.Sleep(10 * time.Second)
		h.stop(t)
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
	})
}

// TestDeadOfficeRecovery: every node of a standard and of an AIO-plus
// system restarts at once; the goenabled flags appear in random order; each
// node auto-starts exactly its own sets, and a locked node none.
func TestDeadOfficeRecovery(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	type nodeSpec struct {
		name   string
		node   Node
		locked bool
		want   []Command
	}
	nodes := []nodeSpec{
		{"controller-0", stdController, false, []Command{StartCommand(Controller)}},
		{"controller-1", stdController, false, []Command{StartCommand(Controller)}},
		{"compute-0", stdWorker, false, []Command{StartCommand(Worker)}},
		{"compute-1", stdWorker, true, nil},
		{"storage-0", stdStorage, false, []Command{StartCommand(Storage)}},
		{"aio-0", aioController, false, []Command{StartCommand(Controller), StartCommand(Worker)}},
		{"aio-1", aioController, false, []Command{StartCommand(Controller), StartCommand(Worker)}},
		{"aio-plus-w", aioPlusWorker, false, []Command{StartCommand(Worker)}},
		{"aio-plus-s", aioPlusStor, false, []Command{StartCommand(Storage)}},
	}
	delays := make([]time.Duration, len(nodes))
	runs := make([]time.Duration, len(nodes))
	for i := range nodes {
		delays[i] = time.Duration(rng.IntN(600_000)) * time.Millisecond
		runs[i] = time.Duration(1+rng.IntN(120)) * time.Second
	}
	synctest.Test(t, func(t *testing.T) {
		hs := make([]*harness, len(nodes))
		errs := make(chan error, len(nodes))
		for i, n := range nodes {
			h := newHarness(t, n.node, allDirs(), fakeBehavior{Duration: runs[i]}, time.Hour, nil)
			hs[i] = h
			if n.locked {
				writeFlag(t, h.s.cfg.FlagRoot, NodeLockedFile, "")
			}
			gate, _ := AutoStartPlan(n.node)
			flagAt(t, h.s.cfg.FlagRoot, GoEnabledFile, delays[i])
			if gate == GoEnabledSubfFile {
				flagAt(t, h.s.cfg.FlagRoot, GoEnabledSubfFile, delays[i]+time.Duration(rng.IntN(60))*time.Second)
			}
			h.start(t)
			go func() {
				tickets, err := h.s.AutoStart(t.Context())
				for _, tk := range tickets {
					if _, werr := tk.Wait(t.Context()); werr != nil {
						err = werr
					}
				}
				if n.locked && errors.Is(err, ErrNodeLocked) {
					err = nil
				}
				if err != nil {
					err = fmt.Errorf("%s: %w", n.name, err)
				}
				errs <- err
			}()
		}
		for range nodes {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		for i, h := range hs {
			h.stop(t)
			if got := h.startedCmds(); !slices.Equal(got, nodes[i].want) {
				t.Errorf("%s ran %v, want %v", nodes[i].name, got, nodes[i].want)
			}
			if h.resultCount() != len(nodes[i].want) {
				t.Errorf("%s: %d results", nodes[i].name, h.resultCount())
			}
		}
	})
}
