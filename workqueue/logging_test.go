package workqueue

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"
)

// Nothing is lost silently: a critical failure is logged at Error, a
// noncritical one at Warn ("dropped"), a retry at Info; a success logs no
// warning; the noncritical item's handle still carries its error.
func TestFailuresLoggedByCriticality(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		q := newTestQueue(t, func(c *Config) { c.Logger = slog.New(rec) })
		defer closeQueue(t, q)
		fail := func(context.Context, int) error { return errors.New("HTTP 500") }

		crit, _ := q.Submit("h1", Item{Name: "add host", Critical: true, Attempts: 2, Run: fail})
		nonc, _ := q.Submit("h2", Item{Name: "uptime", Attempts: 1, Run: fail})
		ok, _ := q.Submit("h3", Item{Name: "ok", Run: func(context.Context, int) error { return nil }})
		for _, h := range []*Handle{crit, nonc, ok} {
			h.Wait(t.Context())
		}
		if err := crit.Err(); err == nil {
			t.Fatal("critical item succeeded")
		}
		var e *Error
		if err := nonc.Err(); !errors.As(err, &e) || e.Critical || e.Name != "uptime" {
			t.Fatalf("noncritical handle err %v, want its *Error", err)
		}
		if n := rec.count("ERROR work queue critical item failed"); n != 1 {
			t.Errorf("critical failure logged %d times at Error, want 1: %q", n, rec.recs)
		}
		if n := rec.count("WARN work queue noncritical item failed, dropped"); n != 1 {
			t.Errorf("noncritical failure logged %d times at Warn, want 1: %q", n, rec.recs)
		}
		if n := rec.count("INFO work queue attempt failed, will retry"); n != 1 {
			t.Errorf("retry logged %d times, want 1: %q", n, rec.recs)
		}
		if n := rec.count("ERROR") + rec.count("WARN"); n != 2 {
			t.Errorf("%d Error/Warn records, want 2 (the success logs none): %q", n, rec.recs)
		}
	})
}

// The global cap (Config.MaxTotal) warning is throttled like the per-key
// one: at most once per OverloadLogInterval, whatever the key; every
// refusal is still counted.
func TestGlobalCapWarnThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &logRecorder{}
		q := newTestQueue(t, func(c *Config) { c.MaxTotal = 1; c.Logger = slog.New(rec) })
		defer closeQueue(t, q)
		block := make(chan struct{})
		run := func(context.Context, int) error { <-block; return nil }
		if _, err := q.Submit("k0", Item{Run: run}); err != nil {
			t.Fatal(err)
		}
		refuse := func(key string) {
			t.Helper()
			if _, err := q.Submit(key, Item{Run: run}); !errors.Is(err, ErrOverloaded) {
				t.Fatalf("Submit(%s) = %v, want ErrOverloaded", key, err)
			}
		}
		refuse("k1")
		refuse("k2")
		time.Sleep(DefaultOverloadLogInterval - time.Nanosecond)
		refuse("k3")
		if n := rec.count("global cap reached"); n != 1 {
			t.Errorf("%d global-cap warnings within the interval, want 1", n)
		}
		time.Sleep(time.Nanosecond)
		refuse("k4")
		if n := rec.count("global cap reached"); n != 2 {
			t.Errorf("%d global-cap warnings after the interval, want 2", n)
		}
		if st := q.Stats(); st.Rejected != 4 {
			t.Errorf("Rejected = %d, want 4", st.Rejected)
		}
		close(block)
	})
}
