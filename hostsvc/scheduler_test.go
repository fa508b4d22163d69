package hostsvc

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// harness runs a Scheduler over a fake launcher inside a synctest bubble
// and records the hooks.
type harness struct {
	s      *Scheduler
	r      *Runner
	fl     *fakeLauncher
	root   string
	cancel context.CancelFunc
	done   chan error

	mu        sync.Mutex
	starts    []Command
	results   []Result
	violation string
}

func newHarness(t *testing.T, n Node, l layout, def fakeBehavior, timeout time.Duration, mod func(*SchedulerConfig)) *harness {
	t.Helper()
	h := &harness{fl: newFakeLauncher(def), root: mkServices(t, l), done: make(chan error, 1)}
	h.r = newTestRunner(t, n, h.root, h.fl, timeout)
	cfg := DefaultSchedulerConfig(h.r)
	cfg.FlagRoot = t.TempDir()
	cfg.OnRunStart = func(c Command) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if live := h.fl.liveCount(); live != 0 {
			h.violation = "a set started while " + c.String() + " found live processes"
		}
		if len(h.starts) != len(h.results) {
			h.violation = "a set started before the previous one's result"
		}
		h.starts = append(h.starts, c)
	}
	cfg.OnResult = func(r Result) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.results = append(h.results, r)
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewScheduler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	return h
}

func (h *harness) start(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	h.cancel = cancel
	go func() { h.done <- h.s.Run(ctx) }()
}

func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	if err := <-h.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.violation != "" {
		t.Error(h.violation)
	}
}

func (h *harness) startedCmds() []Command {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.starts)
}

func (h *harness) resultCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.results)
}

func mustSubmit(t *testing.T, s *Scheduler, c Command) *Ticket {
	t.Helper()
	tk, err := s.Submit(c)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func mustWait(t *testing.T, tk *Ticket) Result {
	t.Helper()
	r, err := tk.Wait(t.Context())
	if err != nil {
		t.Fatalf("%s: %v", tk.Command(), err)
	}
	return r
}

func TestSchedulerCoalesce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, aioController, allDirs(), fakeBehavior{Duration: 10 * time.Second}, time.Minute, nil)
		h.start(t)
		defer h.stop(t)

		c1 := mustSubmit(t, h.s, StartCommand(Controller))
		time.Sleep(5 * time.Second) // controller running
		c2 := mustSubmit(t, h.s, StartCommand(Controller))
		w1 := mustSubmit(t, h.s, StartCommand(Worker))
		w2 := mustSubmit(t, h.s, StartCommand(Worker))
		if c1.RunID() != c2.RunID() {
			t.Fatal("identical-to-running request got its own run")
		}
		if w1.RunID() != w2.RunID() || w1.RunID() == c1.RunID() {
			t.Fatal("identical pending requests not merged")
		}
		r1, r2 := mustWait(t, c1), mustWait(t, c2)
		if r1.Run != r2.Run || r1.Run != c1.RunID() || !r1.OK() {
			t.Fatalf("joined requester got another result: %v / %v", r1, r2)
		}
		if time.Since(r1.Start) != 10*time.Second {
			t.Fatal("joined requester was not answered when the running set ended")
		}
		rw := mustWait(t, w1)
		if mustWait(t, w2).Run != rw.Run {
			t.Fatal("merged requesters got different results")
		}
		synctest.Wait()
		if got := h.startedCmds(); !slices.Equal(got, []Command{StartCommand(Controller), StartCommand(Worker)}) {
			t.Fatalf("ran %v", got)
		}
		if h.resultCount() != 2 {
			t.Fatalf("%d results for 2 runs", h.resultCount())
		}
		// After the run, the same command runs again.
		if r := mustWait(t, mustSubmit(t, h.s, StartCommand(Controller))); r.Run == r1.Run {
			t.Fatal("a request after the run ended was answered by the old run")
		}
	})
}

func TestSchedulerPriorityAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, aioController, allDirs(), fakeBehavior{Duration: time.Second}, time.Minute, nil)
		h.start(t)
		defer h.stop(t)

		first := mustSubmit(t, h.s, StopCommand(Storage))
		synctest.Wait() // stop storage is running
		tickets := []*Ticket{
			mustSubmit(t, h.s, StartCommand(Storage)),
			mustSubmit(t, h.s, StartCommand(Worker)),
			mustSubmit(t, h.s, StartCommand(Controller)),
			mustSubmit(t, h.s, StopCommand(Worker)),
			mustSubmit(t, h.s, StartCommand(Storage)), // merges into the pending start storage
			mustSubmit(t, h.s, StopCommand(Controller)),
		}
		mustWait(t, first)
		for _, tk := range tickets {
			mustWait(t, tk)
		}
		synctest.Wait()
		want := []Command{
			StopCommand(Storage),
			// the starts queued before the first pending stop, by priority
			StartCommand(Controller), StartCommand(Worker), StartCommand(Storage),
			// then the stops, in arrival order; a stop never merges into a start
			StopCommand(Worker), StopCommand(Controller),
		}
		if got := h.startedCmds(); !slices.Equal(got, want) {
			t.Fatalf("order %v\nwant  %v", got, want)
		}
		if tickets[0].RunID() != tickets[4].RunID() {
			t.Fatal("duplicate pending start not merged")
		}
	})
}

func TestSchedulerStartAfterStopKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, stdController, allDirs(), fakeBehavior{Duration: time.Second}, time.Minute, nil)
		// Submitted before Run starts: queued.
		a := mustSubmit(t, h.s, StartCommand(Worker))
		b := mustSubmit(t, h.s, StopCommand(Worker))
		c := mustSubmit(t, h.s, StartCommand(Controller))
		h.start(t)
		defer h.stop(t)
		for _, tk := range []*Ticket{a, b, c} {
			mustWait(t, tk)
		}
		synctest.Wait()
		want := []Command{StartCommand(Worker), StopCommand(Worker), StartCommand(Controller)}
		if got := h.startedCmds(); !slices.Equal(got, want) {
			t.Fatalf("order %v want %v", got, want)
		}
	})
}

// TestSchedulerEmptySetNoFlood is the regression test for bug 2073802 and
// for the missing result of K.4: an empty set gives exactly one PASS result,
// and an hour of (virtual) time later still exactly one.
func TestSchedulerEmptySetNoFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, aioController, layout{Controller: nil, Worker: nil}, fakeBehavior{}, time.Minute, nil)
		h.start(t)
		defer h.stop(t)

		t0 := time.Now()
		res, err := h.s.Do(t.Context(), StartCommand(Controller))
		if err != nil || !res.OK() || res.Text() != "start controller host services" || time.Since(t0) != 0 {
			t.Fatalf("empty set: %v %v after %v", res, err, time.Since(t0))
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := h.resultCount(); n != 1 {
			t.Fatalf("%d results after an hour, want exactly 1", n)
		}
		if len(h.fl.paths()) != 0 {
			t.Fatal("launched something for an empty set")
		}
		// An AIO stop of an empty merged set: one result too, and the next
		// request gets its own single result.
		if res, _ := h.s.Do(t.Context(), StopCommand(Worker)); !res.OK() {
			t.Fatal(res)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := h.resultCount(); n != 2 {
			t.Fatalf("%d results, want 2", n)
		}
	})
}

func TestSchedulerFailureFlags(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, aioController, allDirs(), fakeBehavior{Duration: time.Second}, 30*time.Second, nil)
		h.start(t)
		defer h.stop(t)
		if f := h.s.Flags(); f != (FailureFlags{}) {
			t.Fatalf("initial flags %+v", f)
		}
		h.fl.set("c1", fakeBehavior{Code: 1})
		h.fl.set("w2", fakeBehavior{Hang: true})
		mustWait(t, mustSubmit(t, h.s, StartCommand(Controller)))
		if f := h.s.Flags(); !f.MainServicesFailed || f.SubfServicesFailed {
			t.Fatalf("after controller failure %+v", f)
		}
		if r := mustWait(t, mustSubmit(t, h.s, StartCommand(Worker))); r.Outcome != TimedOut {
			t.Fatal(r)
		}
		if f := h.s.Flags(); !f.MainServicesFailed || !f.SubfServicesFailed {
			t.Fatalf("after worker timeout %+v", f)
		}
		// Stops do not touch the start flags.
		mustWait(t, mustSubmit(t, h.s, StopCommand(Controller)))
		if f := h.s.Flags(); !f.MainServicesFailed || !f.SubfServicesFailed {
			t.Fatalf("after stop %+v", f)
		}
		// A later pass clears each flag: the last result counts.
		h.fl.set("c1", fakeBehavior{})
		h.fl.set("w2", fakeBehavior{})
		mustWait(t, mustSubmit(t, h.s, StartCommand(Controller)))
		if f := h.s.Flags(); f.MainServicesFailed || !f.SubfServicesFailed {
			t.Fatalf("after controller pass %+v", f)
		}
		mustWait(t, mustSubmit(t, h.s, StartCommand(Worker)))
		if f := h.s.Flags(); f != (FailureFlags{}) {
			t.Fatalf("after worker pass %+v", f)
		}
		if r, ok := h.s.Last(StartCommand(Worker)); !ok || !r.OK() {
			t.Fatalf("Last %v %v", r, ok)
		}
		if _, ok := h.s.Last(StartCommand(Storage)); ok {
			t.Fatal("Last of a never-run set")
		}
	})
}

func TestSchedulerFlagsStandardWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, stdWorker, allDirs(), fakeBehavior{Code: 2}, time.Minute, nil)
		h.start(t)
		defer h.stop(t)
		mustWait(t, mustSubmit(t, h.s, StartCommand(Controller))) // not this node's main function
		if f := h.s.Flags(); f != (FailureFlags{}) {
			t.Fatalf("flags %+v", f)
		}
		mustWait(t, mustSubmit(t, h.s, StartCommand(Worker)))
		if f := h.s.Flags(); !f.MainServicesFailed || f.SubfServicesFailed {
			t.Fatalf("flags %+v", f)
		}
	})
}

func TestSchedulerShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, stdController, allDirs(), fakeBehavior{Hang: true}, time.Hour, nil)
		h.start(t)
		running := mustSubmit(t, h.s, StartCommand(Controller))
		synctest.Wait()
		joined := mustSubmit(t, h.s, StartCommand(Controller))
		pending := mustSubmit(t, h.s, StartCommand(Worker))

		// A requester may give up waiting; the request stays served.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		if _, err := pending.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait with deadline: %v", err)
		}
		cancel()

		h.stop(t)
		for _, tk := range []*Ticket{running, joined} {
			r, err := tk.Wait(t.Context())
			if err != nil || r.Outcome != Canceled {
				t.Fatalf("running set at shutdown: %v %v", r, err)
			}
		}
		if _, err := pending.Wait(t.Context()); !errors.Is(err, ErrClosed) {
			t.Fatalf("pending at shutdown: %v", err)
		}
		if h.resultCount() != 1 {
			t.Fatalf("%d results; want 1 (the canceled run only)", h.resultCount())
		}
		if h.fl.liveCount() != 0 {
			t.Fatal("processes left after shutdown")
		}
		if _, err := h.s.Submit(StartCommand(Storage)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Submit after Run: %v", err)
		}
		if _, err := h.s.AutoStart(t.Context()); !errors.Is(err, ErrClosed) {
			t.Fatalf("AutoStart after Run: %v", err)
		}
		if err := h.s.Run(t.Context()); !errors.Is(err, ErrRunning) {
			t.Fatalf("second Run: %v", err)
		}
		if _, ok := h.s.Last(StartCommand(Controller)); ok {
			t.Fatal("a canceled run was recorded as the last result")
		}
	})
}

func TestSchedulerInvalidSubmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, stdController, allDirs(), fakeBehavior{}, time.Minute, nil)
		h.start(t)
		defer h.stop(t)
		for _, c := range []Command{{}, {Function: Worker}, {Function: 5, Action: Stop}} {
			if _, err := h.s.Submit(c); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("Submit(%v): %v", c, err)
			}
			if _, err := h.s.Do(t.Context(), c); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("Do(%v): %v", c, err)
			}
		}
		// Run twice concurrently.
		synctest.Wait() // the harness's Run has started
		if err := h.s.Run(t.Context()); !errors.Is(err, ErrRunning) {
			t.Fatalf("concurrent Run: %v", err)
		}
		synctest.Wait()
		if h.resultCount() != 0 {
			t.Fatal("invalid requests produced results")
		}
	})
}

// TestSchedulerLaunchFailedResult: a refused set is one LaunchFailed result
// delivered like any other and raises the failure flag.
func TestSchedulerLaunchFailedResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, stdStorage, layout{Controller: nil}, fakeBehavior{}, time.Minute, nil)
		h.start(t)
		defer h.stop(t)
		r := mustWait(t, mustSubmit(t, h.s, StartCommand(Storage)))
		var fe *FileError
		if r.Outcome != LaunchFailed || !errors.As(r.Err, &fe) {
			t.Fatal(r)
		}
		if !h.s.Flags().MainServicesFailed || h.resultCount() != 1 {
			t.Fatal("launch failure not reflected")
		}
	})
}
