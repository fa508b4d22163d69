package workqueue

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// queueGoroutines counts the workers and schedulers of the queues in the
// calling synctest bubble, by stack (runtime.NumGoroutine also counts the
// goroutines of earlier tests that are still ending).
func queueGoroutines() int {
	buf := make([]byte, 1<<24)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "synctest bubble") &&
			(strings.Contains(g, "workqueue.(*Queue).worker(") || strings.Contains(g, "workqueue.(*Queue).scheduler(")) {
			n++
		}
	}
	return n
}

// stuckRun returns a Run that ignores its context until release is closed,
// counting starts and returns.
func stuckRun(release <-chan struct{}, started, returned *atomic.Int64) func(context.Context, int) error {
	return func(ctx context.Context, _ int) error {
		started.Add(1)
		<-release
		returned.Add(1)
		return ctx.Err()
	}
}

// Issue 10 item 3. 1,000 items whose attempts ignore their context, on
// 1,000 keys, with the default 16 workers and MaxOrphans 64. Each is cut
// short by Purge or Cancel as it runs: each cut attempt is abandoned
// (ErrAttemptAbandoned on its handle, counted in Stats), its goroutine is
// replaced until Workers+MaxOrphans goroutines are stuck, and then nothing
// more is dispatched. Close then returns within its context's deadline
// plus CloseGrace, reporting ErrStuck, and leaves behind at most
// Workers+MaxOrphans goroutines; once the Runs return, every goroutine ends
// (goleak, in TestMain).
func TestCloseBoundedWithStuckAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g0 := runtime.NumGoroutine()
		q := newTestQueue(t, nil)
		limit := DefaultWorkers + DefaultMaxOrphans
		release := make(chan struct{})
		var started, returned atomic.Int64
		var hs []*Handle
		for i := range 1000 {
			h, err := q.Submit(fmt.Sprintf("host-%04d", i), Item{Run: stuckRun(release, &started, &returned)})
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		for i, h := range hs {
			synctest.Wait() // a replacement worker, if any, has taken the next item
			if i%2 == 0 {
				if n := q.Purge(h.Key()); n != 1 {
					t.Fatalf("Purge(%s) = %d", h.Key(), n)
				}
			} else {
				h.Cancel()
			}
			if g := queueGoroutines(); g > limit+1 {
				t.Fatalf("after %d cuts: %d goroutines, cap %d + scheduler", i+1, g, limit)
			}
		}
		synctest.Wait()
		var abandoned int
		for i, h := range hs {
			err := h.Err()
			var e *Error
			if !isDone(h) || !errors.As(err, &e) || (!errors.Is(err, ErrPurged) && !errors.Is(err, ErrCanceled)) {
				t.Fatalf("item %d: done %v, err %v", i, isDone(h), err)
			}
			if errors.Is(err, ErrAttemptAbandoned) {
				abandoned++
			}
		}
		st := q.Stats()
		t.Logf("after the cuts: %d attempts started, %d abandoned, stats %+v, %d queue goroutines (NumGoroutine %+d)",
			started.Load(), abandoned, st, queueGoroutines(), runtime.NumGoroutine()-g0)
		if started.Load() != int64(limit) || abandoned != limit || st.Orphans != limit || st.Orphaned != uint64(limit) || returned.Load() != 0 {
			t.Errorf("started %d, abandoned %d, orphans %d (total %d), want %d each (the cap)", started.Load(), abandoned, st.Orphans, st.Orphaned, limit)
		}
		if st.Purged != 500 || st.Canceled != 500 || st.Pending != 0 || st.InFlight != 0 {
			t.Errorf("stats %+v", st)
		}

		// Every worker is stuck: new work waits, and Close's deadline
		// completes it with ErrClosed.
		var late []*Handle
		for i := range 100 {
			h, err := q.Submit(fmt.Sprintf("late-%d", i), Item{Run: stuckRun(release, &started, &returned)})
			if err != nil {
				t.Fatal(err)
			}
			late = append(late, h)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		t0 := time.Now()
		err := q.Close(ctx)
		took := time.Since(t0)
		g := queueGoroutines()
		t.Logf("Close took %v (virtual), %v; %d goroutines left (NumGoroutine %+d)", took, err, g, runtime.NumGoroutine()-g0)
		if took != 5*time.Second+CloseGrace {
			t.Errorf("Close took %v, want the 5 s deadline + CloseGrace", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrStuck) {
			t.Errorf("Close = %v, want DeadlineExceeded and ErrStuck", err)
		}
		if g > limit {
			t.Errorf("%d goroutines left after Close, cap %d", g, limit)
		}
		for _, h := range late {
			if err := h.Err(); !errors.Is(err, ErrClosed) || errors.Is(err, ErrAttemptAbandoned) {
				t.Errorf("late item: %v, want ErrClosed (never started)", err)
			}
		}
		if started.Load() != int64(limit) {
			t.Errorf("%d attempts started, want %d", started.Load(), limit)
		}

		close(release)
		synctest.Wait()
		if st := q.Stats(); st.Orphans != 0 || returned.Load() != int64(limit) {
			t.Errorf("after release: orphans %d, returned %d", st.Orphans, returned.Load())
		}
		if g := queueGoroutines(); g != 0 {
			t.Errorf("%d goroutines left after the Runs returned", g)
		}
		if err := q.Close(context.Background()); err != nil {
			t.Errorf("Close after the Runs returned = %v", err)
		}
	})
}

// With a context without a deadline, Close returns within
// Config.CloseTimeout: it drains for CloseTimeout - CloseGrace, cuts the
// running attempts short (not replaced: the queue is closing), and waits
// CloseGrace for them.
func TestCloseTimeoutWithoutDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, func(c *Config) { c.Workers = 4 })
		release := make(chan struct{})
		var started, returned atomic.Int64
		var hs []*Handle
		for i := range 1000 {
			h, _ := q.Submit(fmt.Sprint("h", i), Item{Run: stuckRun(release, &started, &returned)})
			hs = append(hs, h)
		}
		synctest.Wait()
		t0 := time.Now()
		err := q.Close(context.Background())
		if took := time.Since(t0); took != DefaultCloseTimeout {
			t.Errorf("Close took %v, want CloseTimeout %v", took, DefaultCloseTimeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrStuck) {
			t.Errorf("Close = %v", err)
		}
		var abandoned int
		for _, h := range hs {
			if !errors.Is(h.Err(), ErrClosed) {
				t.Fatalf("item: %v", h.Err())
			}
			if errors.Is(h.Err(), ErrAttemptAbandoned) {
				abandoned++
			}
		}
		st := q.Stats()
		if abandoned != 4 || st.Orphans != 4 || st.Abandoned != 1000 || started.Load() != 4 {
			t.Errorf("abandoned %d, stats %+v, started %d", abandoned, st, started.Load())
		}
		if g := queueGoroutines(); g != 4 {
			t.Errorf("%d goroutines left, want the 4 stuck workers", g)
		}
		close(release)
		synctest.Wait()
		if g := queueGoroutines(); g != 0 {
			t.Errorf("%d goroutines left after release", g)
		}

		// A short CloseTimeout (below CloseGrace) bounds Close too.
		q = newTestQueue(t, func(c *Config) { c.CloseTimeout = 100 * time.Millisecond })
		release = make(chan struct{})
		q.Submit("h", Item{Run: stuckRun(release, &started, &returned)})
		synctest.Wait()
		t0 = time.Now()
		if err := q.Close(context.Background()); !errors.Is(err, ErrStuck) {
			t.Errorf("Close = %v", err)
		}
		if took := time.Since(t0); took != 100*time.Millisecond {
			t.Errorf("Close took %v, want 100ms", took)
		}
		close(release)
		synctest.Wait()
	})
}

// Well-behaved attempts: a forced Close cuts them, they return at once, and
// Close joins every goroutine (no ErrStuck), well before CloseGrace.
func TestCloseJoinsWellBehavedAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, nil)
		for i := range 100 {
			q.Submit(fmt.Sprint("h", i), Item{Run: func(ctx context.Context, _ int) error {
				<-ctx.Done()
				return ctx.Err()
			}})
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		t0 := time.Now()
		err := q.Close(ctx)
		if took := time.Since(t0); took != time.Second {
			t.Errorf("Close took %v, want 1s", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrStuck) {
			t.Errorf("Close = %v", err)
		}
		if st := q.Stats(); st.Orphans != 0 || st.Orphaned != DefaultWorkers || st.Abandoned != 100 {
			t.Errorf("stats %+v", st)
		}
	})
}

// BenchmarkCloseStuck is TestCloseBoundedWithStuckAttempts in wall time:
// 1,000 stuck attempts cut by Purge and Cancel, then Close with a 100 ms
// deadline. It reports Close's duration and the goroutines left behind.
func BenchmarkCloseStuck(b *testing.B) {
	var took time.Duration
	var left, orphans int
	for b.Loop() {
		g0 := runtime.NumGoroutine()
		cfg := DefaultConfig()
		q, _ := New(cfg)
		release := make(chan struct{})
		var started, returned atomic.Int64
		var hs []*Handle
		for i := range 1000 {
			h, _ := q.Submit(fmt.Sprintf("host-%04d", i), Item{Run: stuckRun(release, &started, &returned)})
			hs = append(hs, h)
		}
		for i, h := range hs {
			// Wait (bounded) for the item to be running or for the cap.
			for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && started.Load() <= int64(i) &&
				started.Load() < int64(cfg.Workers+cfg.MaxOrphans); {
				runtime.Gosched()
			}
			if i%2 == 0 {
				q.Purge(h.Key())
			} else {
				h.Cancel()
			}
		}
		orphans = q.Stats().Orphans
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		t0 := time.Now()
		q.Close(ctx)
		took = time.Since(t0)
		cancel()
		left = runtime.NumGoroutine() - g0
		close(release)
		for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > g0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(float64(took.Milliseconds()), "close-ms")
	b.ReportMetric(float64(left), "goroutines-left")
	b.ReportMetric(float64(orphans), "orphans")
}
