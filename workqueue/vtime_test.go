package workqueue

// Virtual-time tests: every timer, retry wait, timeout and hold of the
// queue runs on the testing/synctest bubble clock, and the tests assert the
// exact virtual timestamps of the attempts.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
)

const s = time.Second

func TestRetryWaitsConstant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil) // default: 3 attempts, constant 5 s
		defer closeQueue(t, q)
		log := newAttemptLog()
		h, err := q.Submit("h1", Item{
			Name: "update",
			Run: func(ctx context.Context, attempt int) error {
				time.Sleep(1 * s) // the attempt takes 1 s
				if attempt < 3 {
					return fmt.Errorf("boom %d", attempt)
				}
				return nil
			},
			OnAttempt: log.record,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Wait(t.Context()); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if got, want := log.starts(), []time.Duration{0, 6 * s, 12 * s}; !equalDurations(got, want) {
			t.Errorf("attempt starts %v, want %v", got, want)
		}
		if got := time.Since(log.t0); got != 13*s {
			t.Errorf("done after %v, want 13s", got)
		}
		for i, a := range log.all() {
			if a.Number != i+1 || a.Duration != 1*s || a.Final != (i == 2) {
				t.Errorf("attempt %d: %+v", i, a)
			}
			if i < 2 && (a.Err == nil || a.Retry != 5*s) {
				t.Errorf("attempt %d: err %v retry %v, want an error and 5s", i, a.Err, a.Retry)
			}
		}
		st := q.Stats()
		if st.Attempts != 3 || st.Retries != 2 || st.Succeeded != 1 || st.Failed != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestRetryWaitsExponential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil)
		defer closeQueue(t, q)
		log := newAttemptLog()
		h, _ := q.Submit("h1", Item{
			Attempts: 5,
			BackOff: func() backoff.BackOff {
				// Made inside the bubble, lazily, so its elapsed-time clock is
				// the bubble's; no jitter, for exact timestamps.
				return backoff.NewExponentialBackOff(
					backoff.WithInitialInterval(1*s), backoff.WithMultiplier(2),
					backoff.WithRandomizationFactor(0), backoff.WithMaxInterval(6*s),
					backoff.WithMaxElapsedTime(0))
			},
			Run:       func(context.Context, int) error { return errors.New("down") },
			OnAttempt: log.record,
		})
		err := h.Wait(t.Context())
		var e *Error
		if !errors.As(err, &e) || e.Attempts != 5 || e.Key != "h1" {
			t.Fatalf("Wait: %v", err)
		}
		if got, want := log.starts(), []time.Duration{0, 1 * s, 3 * s, 7 * s, 13 * s}; !equalDurations(got, want) {
			t.Errorf("attempt starts %v, want %v", got, want)
		}
	})
}

func TestAttemptTimeoutGrowsPerRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil)
		defer closeQueue(t, q)
		log := newAttemptLog()
		var deadlines []time.Duration
		h, _ := q.Submit("h1", Item{
			Critical:    true,
			Timeout:     20 * s,
			TimeoutStep: 20 * s, // StarlingX: critical SysInv requests get 20 s more per retry
			Run: func(ctx context.Context, attempt int) error {
				dl, ok := ctx.Deadline()
				if !ok {
					t.Error("attempt context has no deadline")
				}
				deadlines = append(deadlines, time.Until(dl))
				<-ctx.Done() // a request that never answers
				return ctx.Err()
			},
			OnAttempt: log.record,
		})
		err := h.Wait(t.Context())
		if !errors.Is(err, ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) ||
			!strings.HasSuffix(err.Error(), "failed after 3 attempts: workqueue: attempt timed out after 1m0s: context deadline exceeded") {
			t.Fatalf("Wait: %v, want ErrAttemptTimeout and DeadlineExceeded", err)
		}
		// 0..20 first, wait 5, 25..65 second, wait 5, 70..130 third.
		if got, want := log.starts(), []time.Duration{0, 25 * s, 70 * s}; !equalDurations(got, want) {
			t.Errorf("attempt starts %v, want %v", got, want)
		}
		if want := []time.Duration{20 * s, 40 * s, 60 * s}; !equalDurations(deadlines, want) {
			t.Errorf("attempt deadlines %v, want %v", deadlines, want)
		}
		if got := time.Since(log.t0); got != 130*s {
			t.Errorf("done after %v, want 130s", got)
		}
		for _, a := range log.all() {
			if !errors.Is(a.Err, ErrAttemptTimeout) {
				t.Errorf("attempt %d err %v", a.Number, a.Err)
			}
		}
	})
}

// A retry wait must not occupy a worker: 100 keys, 4 workers, one failure
// each finish in 5 s of virtual time, not 125 s.
func TestRetryWaitDoesNotBlockWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, func(c *Config) { c.Workers = 4 })
		defer closeQueue(t, q)
		t0 := time.Now()
		var hs []*Handle
		var second atomic.Int64
		for i := range 100 {
			h, err := q.Submit(fmt.Sprintf("host-%03d", i), Item{Run: func(ctx context.Context, attempt int) error {
				if attempt == 1 {
					return errors.New("first attempt fails")
				}
				if d := time.Since(t0); d != 5*s {
					t.Errorf("second attempt at %v, want 5s", d)
				}
				second.Add(1)
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		for _, h := range hs {
			if err := h.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(t0); d != 5*s || second.Load() != 100 {
			t.Errorf("all done after %v with %d second attempts, want 5s and 100", d, second.Load())
		}
		if st := q.Stats(); st.Waiting != 0 || st.Attempts != 200 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestPermanentAndStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil)
		defer closeQueue(t, q)
		cases := []struct {
			name string
			item Item
			want int
		}{
			{"Permanent", Item{Run: func(context.Context, int) error { return Permanent(errors.New("400")) }}, 1},
			{"backoff.Permanent", Item{Run: func(context.Context, int) error { return backoff.Permanent(errors.New("400")) }}, 1},
			{"StopBackOff", Item{BackOff: func() backoff.BackOff { return &backoff.StopBackOff{} },
				Run: func(context.Context, int) error { return errors.New("x") }}, 1},
			{"WithMaxRetries", Item{Attempts: 5, BackOff: func() backoff.BackOff { return backoff.WithMaxRetries(&backoff.ZeroBackOff{}, 1) },
				Run: func(context.Context, int) error { return errors.New("x") }}, 2},
			{"budget 1", Item{Attempts: 1, Run: func(context.Context, int) error { return errors.New("x") }}, 1},
		}
		for _, c := range cases {
			t0 := time.Now()
			h, err := q.Submit(c.name, c.item)
			if err != nil {
				t.Fatal(err)
			}
			err = h.Wait(t.Context())
			var e *Error
			if !errors.As(err, &e) || e.Attempts != c.want || h.Attempts() != c.want {
				t.Errorf("%s: err %v attempts %d, want %d attempts", c.name, err, h.Attempts(), c.want)
			}
			if c.want == 1 && time.Since(t0) != 0 {
				t.Errorf("%s: took %v", c.name, time.Since(t0))
			}
		}
	})
}

func TestGateHoldsDispatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &fakeGate{}
		var events []EventKind
		q := newTestQueue(t, func(c *Config) {
			c.Gate = g
			c.Observer = ObserverFunc(func(e Event) {
				if e.Kind >= EventHoldStart {
					events = append(events, e.Kind)
				}
			})
		})
		defer closeQueue(t, q)
		log := newAttemptLog()
		g.close()
		h, _ := q.Submit("h1", Item{
			Run: func(ctx context.Context, attempt int) error {
				if attempt == 1 {
					g.close() // e.g. a 401 starts a token renewal
					return errors.New("401")
				}
				return nil
			},
			OnAttempt: log.record,
		})
		time.Sleep(10 * s)
		synctest.Wait()
		if n := h.Attempts(); n != 0 {
			t.Fatalf("%d attempts while the gate is closed", n)
		}
		if st := q.Stats(); !st.Holding || st.HoldTime != 10*s || st.Holds != 1 {
			t.Errorf("stats while held: %+v", st)
		}
		g.open() // at 10 s: the first attempt goes out and closes the gate again
		time.Sleep(20 * s)
		synctest.Wait()
		// The retry was due at 15 s but held; nothing spent while held.
		if n := h.Attempts(); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
		g.open() // at 30 s
		if err := h.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got, want := log.starts(), []time.Duration{10 * s, 30 * s}; !equalDurations(got, want) {
			t.Errorf("attempt starts %v, want %v", got, want)
		}
		// Holds: 0..10 s, then from the retry's due time (15 s) to 30 s.
		st := q.Stats()
		if st.Holding || st.HoldTime != 25*s || st.Holds != 2 || st.Bypasses != 0 {
			t.Errorf("stats %+v", st)
		}
		want := []EventKind{EventHoldStart, EventHoldEnd, EventHoldStart, EventHoldEnd}
		if fmt.Sprint(events) != fmt.Sprint(want) {
			t.Errorf("events %v, want %v", events, want)
		}
	})
}

func TestGateBypassAfterMaxHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &fakeGate{}
		rec := &logRecorder{}
		q := newTestQueue(t, func(c *Config) { c.Gate = g; c.Logger = slog.New(rec) })
		defer closeQueue(t, q)
		log := newAttemptLog()
		g.close() // and it stays closed: renewal looks stuck
		run := func(ctx context.Context, attempt int) error {
			if attempt == 1 {
				return errors.New("401")
			}
			return nil
		}
		h1, _ := q.Submit("h1", Item{Run: run, OnAttempt: log.record})
		h2, _ := q.Submit("h2", Item{Run: run, OnAttempt: log.record})
		for _, h := range []*Handle{h1, h2} {
			if err := h.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		// Held 40 s, then dispatched despite the closed gate; the retries
		// 5 s later are not held again.
		if got, want := log.starts(), []time.Duration{40 * s, 40 * s, 45 * s, 45 * s}; !equalDurations(got, want) {
			t.Errorf("attempt starts %v, want %v", got, want)
		}
		if n := rec.count("longer than MaxHold"); n != 1 {
			t.Errorf("bypass logged %d times, want once", n)
		}
		time.Sleep(5 * s)
		g.open() // at 50 s
		time.Sleep(10 * s)
		g.close() // at 60 s: a new hold, with a fresh MaxHold
		h3, _ := q.Submit("h1", Item{Run: func(context.Context, int) error { return nil }, OnAttempt: log.record})
		if err := h3.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := log.starts()[4]; got != 100*s {
			t.Errorf("attempt after second hold at %v, want 100s", got)
		}
		if n := rec.count("longer than MaxHold"); n != 2 {
			t.Errorf("bypass logged %d times, want 2", n)
		}
		st := q.Stats()
		if st.Holds != 2 || st.Bypasses != 2 || !st.Holding || st.HoldTime != 90*s {
			t.Errorf("stats %+v", st)
		}
		g.open()
	})
}

// Purge cancels the running attempt and frees the lane at once: with one
// worker and an attempt that ignores its context, the resend still starts
// immediately.
func TestPurgeInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, func(c *Config) { c.Workers = 1 })
		defer closeQueue(t, q)
		log := newAttemptLog()
		release := make(chan struct{})
		started := make(chan context.Context, 1)
		stuck := Item{
			Name:     "swact",
			Critical: true,
			Run: func(ctx context.Context, attempt int) error {
				started <- ctx
				<-release // ignores ctx: a "lost" request
				return nil
			},
			OnAttempt: log.record,
		}
		var order []string
		done := func(r Result) { order = append(order, fmt.Sprintf("%d:%v", r.Seq, errors.Is(r.Err, ErrPurged))) }
		a, _ := q.Submit("c0", withDone(stuck, done))
		b, _ := q.Submit("c0", Item{Run: func(context.Context, int) error { return nil }, OnDone: done})
		c, _ := q.Submit("c0", Item{Run: func(context.Context, int) error { return nil }, OnDone: done})
		time.Sleep(3 * s)
		oldCtx := <-started
		if n := q.Purge("c0"); n != 3 {
			t.Fatalf("Purge = %d, want 3", n)
		}
		for _, h := range []*Handle{a, b, c} {
			if !isDone(h) || !errors.Is(h.Err(), ErrPurged) {
				t.Fatalf("seq %d: done %v err %v", h.Seq(), isDone(h), h.Err())
			}
		}
		if fmt.Sprint(order) != "[1:true 2:true 3:true]" {
			t.Errorf("OnDone order %v", order)
		}
		as := log.all()
		if len(as) != 1 || !errors.Is(as[0].Err, ErrPurged) || as[0].Duration != 3*s || !as[0].Final {
			t.Fatalf("cut-short attempt: %+v", as)
		}
		var resendAt time.Duration
		d, _ := q.Submit("c0", Item{Run: func(ctx context.Context, attempt int) error {
			resendAt = time.Since(log.t0)
			if oldCtx.Err() == nil {
				t.Error("resend runs while the old attempt is live")
			}
			return nil
		}})
		if err := d.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if resendAt != 3*s {
			t.Errorf("resend at %v, want 3s", resendAt)
		}
		if st := q.Stats(); st.Orphans != 1 || st.Purged != 3 || st.InFlight != 0 {
			t.Errorf("stats %+v", st)
		}
		close(release)
		synctest.Wait()
		if st := q.Stats(); st.Orphans != 0 {
			t.Errorf("orphans after release: %d", st.Orphans)
		}
		if !errors.Is(a.Err(), ErrPurged) {
			t.Errorf("old result changed: %v", a.Err())
		}
		if n := q.Purge("nobody"); n != 0 {
			t.Errorf("Purge(unknown) = %d", n)
		}
	})
}

func withDone(it Item, f func(Result)) Item { it.OnDone = f; return it }

func TestCancelHandle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil)
		defer closeQueue(t, q)
		t0 := time.Now()
		var ran []string
		mk := func(name string, fail bool) Item {
			return Item{Name: name, Run: func(ctx context.Context, attempt int) error {
				ran = append(ran, fmt.Sprintf("%s@%v", name, time.Since(t0)))
				if fail {
					return errors.New("fail")
				}
				return nil
			}}
		}
		// Head fails and waits 5 s for its retry; cancelling it lets the
		// next item run at once. A queued middle item is skipped.
		a, _ := q.Submit("h", mk("a", true))
		b, _ := q.Submit("h", mk("b", false))
		c, _ := q.Submit("h", mk("c", false))
		time.Sleep(1 * s)
		b.Cancel()
		a.Cancel()
		if err := c.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ran) != "[a@0s c@1s]" {
			t.Errorf("ran %v", ran)
		}
		for _, h := range []*Handle{a, b} {
			if !errors.Is(h.Err(), ErrCanceled) {
				t.Errorf("seq %d: %v", h.Seq(), h.Err())
			}
		}
		c.Cancel() // already done: no effect
		if c.Err() != nil {
			t.Errorf("cancel after done changed the result: %v", c.Err())
		}
		// A running attempt: its context is cancelled.
		var attempts []Attempt
		d, _ := q.Submit("h", Item{Run: func(ctx context.Context, _ int) error {
			<-ctx.Done()
			return ctx.Err()
		}, OnAttempt: func(a Attempt) { attempts = append(attempts, a) }})
		time.Sleep(2 * s)
		d.Cancel()
		if !errors.Is(d.Err(), ErrCanceled) || len(attempts) != 1 || !errors.Is(attempts[0].Err, ErrCanceled) || attempts[0].Duration != 2*s {
			t.Errorf("err %v attempts %+v", d.Err(), attempts)
		}
		synctest.Wait()
		if st := q.Stats(); st.Canceled != 3 || st.Orphans != 0 || st.Succeeded != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestWaitLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil)
		defer closeQueue(t, q)
		ctx := t.Context()
		fail := func(context.Context, int) error { return Permanent(errors.New("refused")) }
		ok := func(context.Context, int) error { time.Sleep(2 * s); return nil }

		// Unknown key: nothing to wait for.
		if err := q.WaitLane(ctx, "none", time.Minute); err != nil {
			t.Fatal(err)
		}

		// Noncritical failures never fail the wait; the first critical one
		// is reported, once.
		q.Submit("h", Item{Name: "uptime", Run: fail})
		q.Submit("h", Item{Name: "ok", Run: ok, Critical: true})
		q.Submit("h", Item{Name: "first", Run: fail, Critical: true})
		q.Submit("h", Item{Name: "second", Run: fail, Critical: true})
		t0 := time.Now()
		err := q.WaitLane(ctx, "h", time.Minute)
		var e *Error
		if !errors.As(err, &e) || e.Name != "first" || !e.Critical {
			t.Fatalf("WaitLane = %v, want the first critical failure", err)
		}
		if d := time.Since(t0); d != 2*s {
			t.Errorf("returned after %v, want 2s", d)
		}
		if err := q.WaitLane(ctx, "h", time.Minute); err != nil {
			t.Errorf("second WaitLane = %v, want nil (reported already)", err)
		}
		if st := q.Stats(); len(st.Lanes) != 0 {
			t.Errorf("lanes left: %+v", st.Lanes)
		}

		// Critical item left at the deadline.
		hang := func(ctx context.Context, _ int) error { <-ctx.Done(); return ctx.Err() }
		q.Submit("h", Item{Name: "vim", Critical: true, Timeout: 100 * s, Run: hang})
		t0 = time.Now()
		err = q.WaitLane(ctx, "h", 60*s)
		if !errors.Is(err, ErrLaneTimeout) || time.Since(t0) != 60*s {
			t.Fatalf("WaitLane = %v after %v, want ErrLaneTimeout after 60s", err, time.Since(t0))
		}
		q.Purge("h")

		// Only noncritical items left at the deadline: no failure.
		q.Submit("h", Item{Name: "task", Timeout: 100 * s, Run: hang})
		t0 = time.Now()
		if err := q.WaitLane(ctx, "h", 60*s); err != nil || time.Since(t0) != 60*s {
			t.Fatalf("WaitLane = %v after %v, want nil after 60s", err, time.Since(t0))
		}

		// The caller's context ends first.
		cctx, cancel := context.WithTimeout(ctx, 10*s)
		defer cancel()
		if err := q.WaitLane(cctx, "h", 0); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitLane = %v, want DeadlineExceeded", err)
		}
		q.Purge("h")
	})
}

func TestOverloadWarnThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		q := newTestQueue(t, func(c *Config) { c.MaxPerKey = 2; c.Logger = slog.New(rec) })
		defer closeQueue(t, q)
		block := make(chan struct{})
		run := func(context.Context, int) error { <-block; return nil }
		for range 2 {
			if _, err := q.Submit("h", Item{Run: run}); err != nil {
				t.Fatal(err)
			}
		}
		refuse := func() {
			t.Helper()
			if _, err := q.Submit("h", Item{Run: run}); !errors.Is(err, ErrOverloaded) {
				t.Fatalf("Submit = %v, want ErrOverloaded", err)
			}
		}
		refuse()
		refuse()
		time.Sleep(9 * s)
		refuse()
		if n := rec.count("overloaded"); n != 1 {
			t.Errorf("%d warnings within 10s, want 1", n)
		}
		time.Sleep(1 * s)
		refuse()
		if n := rec.count("overloaded"); n != 2 {
			t.Errorf("%d warnings after 10s, want 2", n)
		}
		if st := q.Stats(); st.Rejected != 4 || st.Admitted != 2 {
			t.Errorf("stats %+v", st)
		}
		close(block)
	})
}

func TestCloseDrainsThenAbandons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil)
		t0 := time.Now()
		// Drained: a retry wait is honoured before Close returns.
		h, _ := q.Submit("h", Item{Run: func(_ context.Context, n int) error {
			if n == 1 {
				return errors.New("x")
			}
			return nil
		}})
		if err := q.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if h.Err() != nil || time.Since(t0) != 5*s {
			t.Errorf("err %v after %v", h.Err(), time.Since(t0))
		}
		if _, err := q.Submit("h", Item{Run: func(context.Context, int) error { return nil }}); !errors.Is(err, ErrClosed) {
			t.Errorf("Submit after Close = %v", err)
		}
		if err := q.Close(t.Context()); err != nil {
			t.Errorf("second Close = %v", err)
		}

		// Forced: Close's context ends while work remains.
		q = newTestQueue(t, nil)
		var attempts []Attempt
		running, _ := q.Submit("h", Item{Run: func(ctx context.Context, _ int) error {
			<-ctx.Done()
			return ctx.Err()
		}, OnAttempt: func(a Attempt) { attempts = append(attempts, a) }})
		queued, _ := q.Submit("h", Item{Run: func(context.Context, int) error { return nil }})
		waiting, _ := q.Submit("h2", Item{Run: func(context.Context, int) error { return errors.New("x") }})
		ctx, cancel := context.WithTimeout(t.Context(), 3*s)
		defer cancel()
		t0 = time.Now()
		errs := make(chan error, 10)
		for range 10 { // concurrent Closes all return after the join
			go func() { errs <- q.Close(ctx) }()
		}
		for range 10 {
			if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Close = %v, want DeadlineExceeded", err)
			}
		}
		if time.Since(t0) != 3*s {
			t.Errorf("Close took %v", time.Since(t0))
		}
		for _, h := range []*Handle{running, queued, waiting} {
			var e *Error
			if !errors.Is(h.Err(), ErrClosed) || !errors.As(h.Err(), &e) {
				t.Errorf("seq %d: %v", h.Seq(), h.Err())
			}
		}
		if len(attempts) != 1 || !errors.Is(attempts[0].Err, ErrClosed) {
			t.Errorf("attempts %+v", attempts)
		}
		st := q.Stats()
		if st.Abandoned != 3 || st.Pending != 0 || st.Orphans != 0 || st.Failed != 0 {
			t.Errorf("stats %+v", st)
		}
		if err := q.Close(context.Background()); err != nil {
			t.Errorf("Close after forced close = %v", err)
		}
	})
}

// Callbacks of an item are ordered: every OnAttempt, then OnDone, then
// Done; and the lane's next item waits for them.
func TestCallbackOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []string
		q := newTestQueue(t, func(c *Config) { c.BackOff = ConstantBackOff(0) })
		defer closeQueue(t, q)
		var h1 *Handle
		h1, _ = q.Submit("h", Item{
			Run: func(_ context.Context, n int) error {
				if n < 3 {
					return errors.New("x")
				}
				return nil
			},
			OnAttempt: func(a Attempt) {
				time.Sleep(1 * s) // a slow callback holds the lane
				got = append(got, fmt.Sprintf("attempt %d", a.Number))
			},
			OnDone: func(r Result) {
				if isDone(h1) {
					t.Error("Done closed before OnDone returned")
				}
				got = append(got, fmt.Sprintf("done %d", r.Attempts))
			},
		})
		h2, _ := q.Submit("h", Item{Run: func(context.Context, int) error {
			got = append(got, "next item")
			return nil
		}})
		h2.Wait(t.Context())
		want := "[attempt 1 attempt 2 attempt 3 done 3 next item]"
		if fmt.Sprint(got) != want {
			t.Errorf("order %v, want %v", got, want)
		}
	})
}

// Purging while the worker delivers the callbacks of an attempt that will
// be retried: the worker completes the item with ErrPurged.
func TestPurgeDuringCallbacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil)
		defer closeQueue(t, q)
		inCallback := make(chan struct{})
		proceed := make(chan struct{})
		var results []Result
		h, _ := q.Submit("h", Item{
			Run:       func(context.Context, int) error { return errors.New("x") },
			OnAttempt: func(Attempt) { close(inCallback); <-proceed },
			OnDone:    func(r Result) { results = append(results, r) },
		})
		other, _ := q.Submit("h", Item{Run: func(context.Context, int) error { return nil }})
		<-inCallback
		if n := q.Purge("h"); n != 2 {
			t.Errorf("Purge = %d, want 2", n)
		}
		if !errors.Is(other.Err(), ErrPurged) {
			t.Errorf("queued item: %v", other.Err())
		}
		close(proceed)
		if err := h.Wait(t.Context()); !errors.Is(err, ErrPurged) {
			t.Errorf("head: %v", err)
		}
		if len(results) != 1 || h.Attempts() != 1 {
			t.Errorf("results %+v attempts %d", results, h.Attempts())
		}
		if st := q.Stats(); st.Purged != 2 || st.Waiting != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

// A lane is dropped as soon as it is idle; lanes with work, an unreported
// failure or a WaitLane waiter are kept. The table and the ready ring
// shrink as lanes go, so the memory of many keys is given back.
func TestIdleLanesDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil)
		defer closeQueue(t, q)
		lanes := func() (n, peak, ring int) {
			// Summed over the shards.
			q.lockAll()
			defer q.unlockAll()
			for i := range q.shards {
				s := &q.shards[i]
				n, peak, ring = n+s.lanes.len(), peak+len(s.lanes.slots), ring+len(s.ready.buf)
			}
			return n, peak, ring
		}
		for i := range 100 {
			h, _ := q.Submit(fmt.Sprint("idle-", i), Item{Run: func(context.Context, int) error { return nil }})
			if err := h.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		q.Submit("failed", Item{Critical: true, Run: func(context.Context, int) error { return Permanent(errors.New("x")) }})
		block := make(chan struct{})
		q.Submit("busy", Item{Timeout: time.Hour, Run: func(context.Context, int) error { <-block; return nil }})
		synctest.Wait()
		if n, _, _ := lanes(); n != 2 {
			t.Fatalf("%d lanes, want 2 (failed, busy)", n)
		}
		if st := q.Stats(); len(st.Lanes) != 2 {
			t.Errorf("Stats lanes: %+v", st.Lanes)
		}
		if err := q.WaitLane(t.Context(), "failed", 0); err == nil {
			t.Error("failure record lost")
		}
		if n, _, _ := lanes(); n != 1 {
			t.Errorf("%d lanes after the failure was reported, want 1 (busy)", n)
		}
		waited := make(chan error)
		go func() { waited <- q.WaitLane(t.Context(), "busy", 0) }()
		synctest.Wait()
		close(block)
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n, _, _ := lanes(); n != 0 {
			t.Errorf("%d lanes left", n)
		}

		// 5,000 keys with work at once, then none: the table is rebuilt.
		block = make(chan struct{})
		var hs []*Handle
		for i := range 5000 {
			h, _ := q.Submit(fmt.Sprint("k-", i), Item{Timeout: time.Hour, Run: func(context.Context, int) error { <-block; return nil }})
			hs = append(hs, h)
		}
		if n, slots, ring := lanes(); n != 5000 || slots < 5000 || ring < 4000 {
			t.Errorf("lanes %d slots %d ring %d with 5,000 keys busy", n, slots, ring)
		}
		close(block)
		for _, h := range hs {
			if err := h.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if n, slots, ring := lanes(); n != 0 || slots > minLaneSlots || ring > compactMin {
			t.Errorf("after the burst: lanes %d slots %d ring %d, want the table and ring shrunk", n, slots, ring)
		}
	})
}

// An attempt that hangs until its deadline, retried after a wait, many
// times over: each retry is made ready by the scheduler and started by a
// worker at the instant the scheduler's timer fired, so the worker may read
// that expired timer (and not kick the scheduler) while the scheduler, not
// yet seeing the attempt, disarms its timer. The scheduler must look at the
// attempts again after it publishes "no timer", or the deadline is missed
// and, in a bubble, everything deadlocks.
func TestDeadlineOfRetryStartedAtTimerInstant(t *testing.T) {
	for range 50 {
		synctest.Test(t, func(t *testing.T) {
			q := newTestQueue(t, func(c *Config) { c.Workers = 16 })
			defer closeQueue(t, q)
			start := time.Now()
			h, err := q.Submit("k", Item{
				Attempts: 3,
				Timeout:  8 * time.Second,
				BackOff:  ConstantBackOff(5 * time.Second),
				Run: func(ctx context.Context, _ int) error {
					<-ctx.Done()
					return ctx.Err()
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Wait(t.Context()); !errors.Is(err, ErrAttemptTimeout) {
				t.Errorf("err %v, want ErrAttemptTimeout", err)
			}
			if el := time.Since(start); el != 34*time.Second {
				t.Errorf("gave up after %v, want 3×8+2×5 = 34 s", el)
			}
		})
	}
}
