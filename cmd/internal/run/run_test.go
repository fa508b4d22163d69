package run

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// signal.Notify (TestProcessSignals) starts the runtime's signal
	// receiver once per process; it never ends, by design.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("os/signal.signal_recv"))
}

// Without Config.Signals, Run subscribes to the process's signals; no
// signal is sent to the test process, the parent context ends the run.
func TestProcessSignals(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var stopped atomic.Int32
	done := start(ctx, Config{}, waiter("a", 0, &stopped))
	cancel()
	if r := <-done; r.err != nil || stopped.Load() != 1 {
		t.Error(r.err)
	}
}

// waiter is a well-behaved component: it returns when its context is
// done, after taking d to drain.
func waiter(name string, d time.Duration, stopped *atomic.Int32) Component {
	return Component{Name: name, Run: func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(d)
		stopped.Add(1)
		return ctx.Err() // context.Canceled is not a failure
	}}
}

type result struct {
	err error
	at  time.Duration
}

func start(ctx context.Context, cfg Config, comps ...Component) <-chan result {
	t0 := time.Now()
	ch := make(chan result, 1)
	go func() {
		err := Run(ctx, cfg, comps...)
		ch <- result{err, time.Since(t0)}
	}()
	return ch
}

func TestSIGTERMDrains(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
		synctest.Test(t, func(t *testing.T) {
			sigs := make(chan os.Signal, 1)
			var stopped atomic.Int32
			var stopping atomic.Int32
			done := start(t.Context(), Config{Signals: sigs, Drain: 10 * time.Second, Stopping: func() {
				if stopped.Load() != 0 {
					t.Error("Stopping after the components stopped")
				}
				stopping.Add(1)
			}}, waiter("udp", time.Second, &stopped), waiter("http", 3*time.Second, &stopped))
			time.Sleep(time.Hour)
			synctest.Wait()
			if stopping.Load() != 0 {
				t.Fatal("stopped without a signal")
			}
			sigs <- sig
			r := <-done
			if r.err != nil || r.at != time.Hour+3*time.Second || stopped.Load() != 2 || stopping.Load() != 1 {
				t.Errorf("%v: %v at %v, stopped %d, Stopping %d", sig, r.err, r.at, stopped.Load(), stopping.Load())
			}
		})
	}
}

func TestDrainDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sigs := make(chan os.Signal, 1)
		release := make(chan struct{})
		var stopped atomic.Int32
		stuck := func(name string) Component {
			return Component{Name: name, Run: func(ctx context.Context) error { <-release; return nil }}
		}
		done := start(t.Context(), Config{Signals: sigs, Drain: 10 * time.Second},
			stuck("swact"), waiter("udp", time.Second, &stopped), stuck("eventapi"))
		sigs <- syscall.SIGTERM
		r := <-done
		var de *DrainError
		if !errors.As(r.err, &de) || !errors.Is(r.err, ErrDrainTimeout) || r.at != 10*time.Second {
			t.Fatalf("%v at %v", r.err, r.at)
		}
		if !reflect.DeepEqual(de.Pending, []string{"eventapi", "swact"}) || de.Cause != nil || de.Drain != 10*time.Second {
			t.Errorf("%+v", de)
		}
		if msg := r.err.Error(); msg != "run: after 10s still running: eventapi, swact" {
			t.Errorf("%q", msg)
		}
		close(release) // the stragglers' goroutines end; synctest checks they do
	})
}

func TestSecondSignalGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sigs := make(chan os.Signal, 1)
		release := make(chan struct{})
		done := start(t.Context(), Config{Signals: sigs, Drain: time.Minute},
			Component{Name: "slow", Run: func(context.Context) error { <-release; return nil }})
		sigs <- syscall.SIGTERM
		time.Sleep(5 * time.Second)
		sigs <- syscall.SIGHUP // ignored during the drain
		sigs <- syscall.SIGINT
		r := <-done
		var de *DrainError
		if !errors.As(r.err, &de) || r.at != 5*time.Second || de.Pending[0] != "slow" || de.Drain != 0 ||
			!strings.Contains(r.err.Error(), "second signal") {
			t.Errorf("%v at %v", r.err, r.at)
		}
		close(release)
	})
}

func TestComponentFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("bind: address in use")
		var stopped atomic.Int32
		var stopping atomic.Int32
		done := start(t.Context(), Config{Signals: make(chan os.Signal), Stopping: func() { stopping.Add(1) }},
			waiter("udp", 2*time.Second, &stopped),
			Component{Name: "metrics", Run: func(context.Context) error { time.Sleep(time.Second); return boom }})
		r := <-done
		var ce *ComponentError
		if !errors.As(r.err, &ce) || ce.Name != "metrics" || !errors.Is(r.err, boom) || r.err.Error() != "metrics: bind: address in use" {
			t.Fatalf("%v", r.err)
		}
		if r.at != 3*time.Second || stopped.Load() != 1 || stopping.Load() != 1 {
			t.Errorf("at %v stopped %d stopping %d", r.at, stopped.Load(), stopping.Load())
		}
	})
}

// A failure whose drain then times out reports both.
func TestFailureThenStraggler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		release := make(chan struct{})
		done := start(t.Context(), Config{Signals: make(chan os.Signal), Drain: time.Second},
			Component{Name: "a", Run: func(context.Context) error { return boom }},
			Component{Name: "b", Run: func(context.Context) error { <-release; return nil }})
		r := <-done
		var de *DrainError
		if !errors.As(r.err, &de) || !errors.Is(r.err, boom) || !errors.Is(r.err, ErrDrainTimeout) ||
			!strings.Contains(r.err.Error(), "still running: b (shutdown began on a: boom)") {
			t.Errorf("%v", r.err)
		}
		close(release)
	})
}

func TestParentContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stopped atomic.Int32
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		r := <-start(ctx, Config{Signals: make(chan os.Signal)}, waiter("a", 0, &stopped))
		if r.err != nil || r.at != time.Minute || stopped.Load() != 1 {
			t.Errorf("%v at %v", r.err, r.at)
		}
	})
}

func TestAllReturnByThemselves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, reload := range []func(context.Context) error{nil, func(context.Context) error { return nil }} {
			stopping := 0
			r := <-start(t.Context(), Config{Signals: make(chan os.Signal), Reload: reload, Stopping: func() { stopping++ }},
				Component{Name: "once", Run: func(context.Context) error { time.Sleep(time.Second); return nil }},
				Component{Name: "twice", Run: func(context.Context) error { time.Sleep(2 * time.Second); return nil }})
			if r.err != nil || r.at != 2*time.Second || stopping != 0 {
				t.Errorf("%v at %v, Stopping %d", r.err, r.at, stopping)
			}
		}
	})
}

func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sigs := make(chan os.Signal)
		var calls, active, maxActive atomic.Int32
		reload := func(ctx context.Context) error {
			if n := active.Add(1); n > maxActive.Load() {
				maxActive.Store(n)
			}
			defer active.Add(-1)
			calls.Add(1)
			select {
			case <-time.After(10 * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
			if calls.Load() == 1 {
				return errors.New("bad config") // logged; the daemon goes on
			}
			return nil
		}
		var stopped atomic.Int32
		done := start(t.Context(), Config{Signals: sigs, Reload: reload}, waiter("a", 0, &stopped))
		sigs <- syscall.SIGHUP
		time.Sleep(time.Second) // the reload is running
		for range 5 {
			sigs <- syscall.SIGHUP // folded into one more reload
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if calls.Load() != 2 || maxActive.Load() != 1 || stopped.Load() != 0 {
			t.Errorf("calls %d, concurrent %d, stopped %d", calls.Load(), maxActive.Load(), stopped.Load())
		}
		sigs <- syscall.SIGHUP
		time.Sleep(time.Second)
		sigs <- syscall.SIGTERM // cancels the running reload
		r := <-done
		if r.err != nil || calls.Load() != 3 {
			t.Errorf("%v, calls %d", r.err, calls.Load())
		}
	})
}

// A reload that ignores its context is named at the deadline.
func TestStuckReloadNamed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sigs := make(chan os.Signal)
		release := make(chan struct{})
		var stopped atomic.Int32
		done := start(t.Context(), Config{Signals: sigs, Drain: time.Second,
			Reload: func(context.Context) error { <-release; return nil }}, waiter("a", 0, &stopped))
		sigs <- syscall.SIGHUP
		synctest.Wait() // the reload is running
		sigs <- syscall.SIGTERM
		r := <-done
		var de *DrainError
		if !errors.As(r.err, &de) || !reflect.DeepEqual(de.Pending, []string{ReloadName}) {
			t.Errorf("%v", r.err)
		}
		close(release)
	})
}

func TestSIGHUPWithoutReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sigs := make(chan os.Signal)
		var stopped atomic.Int32
		done := start(t.Context(), Config{Signals: sigs}, waiter("a", 0, &stopped))
		sigs <- syscall.SIGHUP
		sigs <- syscall.SIGUSR1 // ignored
		synctest.Wait()
		if stopped.Load() != 0 {
			t.Fatal("SIGHUP stopped the daemon")
		}
		sigs <- syscall.SIGTERM
		if r := <-done; r.err != nil {
			t.Error(r.err)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	ok := func(context.Context) error { return nil }
	for _, c := range []struct {
		cfg   Config
		comps []Component
		want  string
	}{
		{Config{}, nil, "no components"},
		{Config{}, []Component{{Name: "", Run: ok}}, "no name"},
		{Config{}, []Component{{Name: "a"}}, `"a" has no Run`},
		{Config{}, []Component{{Name: "a", Run: ok}, {Name: "a", Run: ok}}, `"a" used twice`},
		{Config{Reload: ok}, []Component{{Name: ReloadName, Run: ok}}, "used twice"},
		{Config{Drain: -1}, []Component{{Name: "a", Run: ok}}, "negative"},
	} {
		err := Run(t.Context(), c.cfg, c.comps...)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.want, err)
		}
	}
}
