package workqueue

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Contexts derived from an attempt's context (as net/http derives them) are
// cancelled with it, at its deadline (DeadlineExceeded) or when the attempt
// is cut short (Canceled), without a goroutine per derived context; the
// attempt's context is cancelled when Run returns; context.AfterFunc works.
func TestAttemptContextDerived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, func(c *Config) { c.Workers = 1 })
		defer closeQueue(t, q)

		// Deadline: a derived context ends with DeadlineExceeded exactly at
		// the attempt's deadline.
		var kept context.Context
		var afterRan = make(chan struct{})
		h, _ := q.Submit("a", Item{Timeout: 3 * time.Second, Attempts: 1, Run: func(ctx context.Context, _ int) error {
			g := runtime.NumGoroutine()
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			grand, cancel2 := context.WithTimeout(child, time.Hour)
			defer cancel2()
			if n := runtime.NumGoroutine(); n != g {
				t.Errorf("deriving contexts started %d goroutines", n-g)
			}
			context.AfterFunc(ctx, func() { close(afterRan) })
			t0 := time.Now()
			<-grand.Done()
			if d := time.Since(t0); d != 3*time.Second || !errors.Is(grand.Err(), context.DeadlineExceeded) ||
				!errors.Is(child.Err(), context.DeadlineExceeded) {
				t.Errorf("grandchild done after %v: %v, child %v", d, grand.Err(), child.Err())
			}
			if dl, _ := grand.Deadline(); !dl.Equal(t0.Add(3 * time.Second)) {
				t.Errorf("grandchild deadline %v", dl)
			}
			kept = ctx
			return ctx.Err()
		}})
		if err := h.Wait(t.Context()); !errors.Is(err, ErrAttemptTimeout) {
			t.Fatalf("Wait = %v", err)
		}
		<-afterRan
		if kept.Err() != context.DeadlineExceeded {
			t.Errorf("attempt context after a timeout: %v", kept.Err())
		}

		// Cut short: derived contexts end with Canceled; a derived context
		// cancelled on its own first unregisters from the attempt's.
		started := make(chan context.Context)
		h, _ = q.Submit("b", Item{Run: func(ctx context.Context, _ int) error {
			early, cancel := context.WithCancel(ctx)
			cancel() // unregisters
			if c := ctx.(*attemptCtx); c.w != nil && len(c.w.afters) != 0 {
				t.Errorf("%d functions registered after the derived context ended", len(c.w.afters))
			}
			_ = early
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			started <- child
			<-child.Done()
			return child.Err()
		}})
		child := <-started
		h.Cancel()
		synctest.Wait()
		if !errors.Is(child.Err(), context.Canceled) || !errors.Is(h.Err(), ErrCanceled) || !errors.Is(h.Err(), ErrAttemptAbandoned) {
			t.Errorf("child %v, item %v", child.Err(), h.Err())
		}

		// Run returns: its context is cancelled, and so is what it kept.
		var leftover context.Context
		var stop func() bool
		h, _ = q.Submit("c", Item{Run: func(ctx context.Context, _ int) error {
			leftover = ctx
			stop = context.AfterFunc(ctx, func() {})
			return nil
		}})
		if err := h.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(leftover.Err(), context.Canceled) || stop() {
			t.Errorf("context kept past Run: %v", leftover.Err())
		}
		if st := q.Stats(); st.InFlight != 0 {
			t.Errorf("stats %+v", st)
		}
		q.mu.Lock()
		for _, s := range q.slots {
			if c := s.ctx.Load(); c != nil {
				t.Errorf("a worker still publishes an attempt: %v", c)
			}
		}
		q.mu.Unlock()
	})
}

// Observer durations: EventAttempt's is the attempt's, EventDone's the time
// from Submit to the end of the item's last attempt (a slow callback after
// it is not counted), in virtual time.
func TestObserverDurations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []string
		q := newTestQueue(t, func(c *Config) {
			c.BackOff = ConstantBackOff(5 * time.Second)
			c.Observer = ObserverFunc(func(e Event) {
				if e.Kind == EventAttempt || e.Kind == EventDone {
					got = append(got, e.Kind.String()+" "+e.Duration.String())
				}
			})
		})
		defer closeQueue(t, q)
		block := make(chan struct{})
		q.Submit("h", Item{Run: func(context.Context, int) error { <-block; return nil }})
		h, _ := q.Submit("h", Item{
			Run: func(_ context.Context, n int) error {
				time.Sleep(2 * time.Second)
				if n == 1 {
					return errors.New("again")
				}
				return nil
			},
			OnAttempt: func(Attempt) { time.Sleep(time.Second) },
		})
		time.Sleep(3 * time.Second)
		close(block)
		if err := h.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		// Queued 3 s, attempt 2 s, callback 1 s, wait 5 s, attempt 2 s.
		want := "[attempt 3s done 3s attempt 2s attempt 2s done 13s]"
		if s := fmt.Sprint(got); s != want {
			t.Errorf("events %s, want %s", s, want)
		}
	})
}

// An attempt's context is cancelled without its lock unless someone
// watches it (Done, AfterFunc); a watcher is never missed, whether it comes
// before the cancellation, after it, or races it: every Done channel closes
// and every AfterFunc runs. Racing runs are many, for the race detector.
func TestAttemptContextWatchRacesCancel(t *testing.T) {
	for i := range 3000 {
		c := new(attemptCtx)
		c.setDeadline(time.Unix(0, 0))
		useDone := i%2 == 0
		ran := make(chan struct{})
		var done <-chan struct{}
		watch := func() {
			if useDone {
				done = c.Done()
			} else {
				context.AfterFunc(c, func() { close(ran) })
			}
		}
		code := ctxCanceled
		if i%5 == 0 {
			code = ctxExpired
		}
		cancel := func() {
			c.cancel(code)
			c.cancel(ctxCanceled) // the first cancel wins
		}
		switch i % 3 {
		case 0:
			watch()
			cancel()
		case 1:
			cancel()
			watch()
		default: // race them, both released at once
			var start atomic.Bool
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				for !start.Load() {
					runtime.Gosched()
				}
				watch()
			}()
			start.Store(true)
			cancel()
			<-watched
		}
		wait := ran
		if useDone {
			wait = nil
		}
		select {
		case <-done:
		case <-wait:
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d (case %d, Done %v): watcher missed the cancellation", i, i%3, useDone)
		}
		if want := ctxErr(code); c.Err() != want {
			t.Fatalf("run %d: Err %v, want %v", i, c.Err(), want)
		}
		if dl, live := c.state(); live || !dl.Equal(time.Unix(0, 0)) {
			t.Fatalf("run %d: state %v %v", i, dl, live)
		}
	}
}
