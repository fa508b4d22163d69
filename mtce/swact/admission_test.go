package swact

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/fsm"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

// TestRejectOrder: the mutex first, then J.5's swact row in its order,
// then simplex; each a typed error with its return code.
func TestRejectOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		defer r.close()
		all := func(m func(*Request)) Request {
			q := request(c0)
			m(&q)
			return q
		}
		bad := func(q *Request) { // violates every check
			q.Personality = mtce.PersonalityWorker
			q.MateEnabled = false
			q.Action = mtce.ActionLock
			q.HostPatching, q.MatePatching, q.MatePatchedNoReboot = true, true, true
		}
		cases := []struct {
			name string
			req  Request
			held bool
			kind error
			code mtce.RC
		}{
			{"mutex first", all(bad), true, ErrSwactInProgress, mtce.FailSwactInProgress},
			{"personality", all(bad), false, ErrNodeType, mtce.FailNodeType},
			{"mate", all(func(q *Request) { bad(q); q.Personality = mtce.PersonalityController }), false, ErrNoInServiceMate, mtce.FailSwactNoInsvMate},
			{"action", all(func(q *Request) {
				bad(q)
				q.Personality, q.MateEnabled = mtce.PersonalityController, true
			}), false, ErrOperInProgress, mtce.FailOperInProgress},
			{"host patching", all(func(q *Request) {
				bad(q)
				q.Personality, q.MateEnabled, q.Action = mtce.PersonalityController, true, mtce.ActionNone
			}), false, ErrPatchInProgress, mtce.FailPatchInProgress},
			{"mate patching", all(func(q *Request) {
				bad(q)
				q.Personality, q.MateEnabled, q.Action, q.HostPatching = mtce.PersonalityController, true, mtce.ActionNone, false
			}), false, ErrPatchInProgress, mtce.FailPatchInProgress},
			{"patched no reboot", all(func(q *Request) {
				bad(q)
				q.Personality, q.MateEnabled, q.Action, q.HostPatching, q.MatePatching = mtce.PersonalityController, true, mtce.ActionNone, false, false
			}), false, ErrPatchedNoReboot, mtce.FailPatchedNoReboot},
			{"simplex last", all(func(q *Request) { q.Force = true; q.MatePatchedNoReboot = true }), false, ErrSimplex, mtce.Fail},
		}
		for _, tc := range cases {
			r.c.mu.Lock()
			r.c.held = tc.held
			r.c.mu.Unlock()
			r.mu.Lock()
			r.simplex = tc.kind == ErrSimplex
			r.mu.Unlock()
			err := r.c.Request(context.Background(), tc.req)
			var rej *RejectError
			if !errors.As(err, &rej) || !errors.Is(err, tc.kind) || rej.Code != tc.code {
				t.Errorf("%s: %v (%#v), want %v code %v", tc.name, err, rej, tc.kind, tc.code)
				continue
			}
			if rej.Paraphrased != (tc.kind != ErrSwactInProgress) {
				t.Errorf("%s: Paraphrased %v", tc.name, rej.Paraphrased)
			}
			if r.c.Held() != tc.held {
				t.Errorf("%s: a rejection changed the mutex", tc.name)
			}
		}
		r.c.release()
		if err := r.c.Request(context.Background(), Request{Host: c0}); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("no uuid: %v", err)
		}
		synctest.Wait()
		if got := len(r.sim.Requests()); got != 1 { // the first token only
			t.Errorf("rejections sent %d requests", got-1)
		}
	})
}

// TestSecondSwactRejected: while one swact runs, and while its final task
// is shown, a second request gets C.3's exact text; after the clear it is
// accepted.
func TestSecondSwactRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		defer r.close()
		ctx := context.Background()
		if err := r.c.Request(ctx, request(c0)); err != nil {
			t.Fatal(err)
		}
		second := func(when string) {
			err := r.c.Request(ctx, request(c0))
			var rej *RejectError
			if !errors.As(err, &rej) || !errors.Is(err, ErrSwactInProgress) {
				t.Fatalf("%s: %v, want swact in progress", when, err)
			}
			const want = "Operation Rejected: Swact operation on this host already in-progress. Wait for current operation to complete and then retry."
			if rej.Reason != want || rej.Code != mtce.FailSwactInProgress {
				t.Errorf("%s: reason %q code %v", when, rej.Reason, rej.Code)
			}
			if other := RejectInProgress("controller-1"); other.Reason != want {
				t.Errorf("RejectInProgress: %q", other.Reason)
			}
		}
		time.Sleep(30 * time.Second) // in ACTION_WAIT
		second("running")
		<-r.ends // Done at 60 s
		time.Sleep(TaskUpdateDelay - time.Second)
		second("final task shown")
		<-r.ends // Idle
		if r.c.Held() {
			t.Fatal("mutex held after clear")
		}
		if err := r.c.Request(ctx, request("controller-1")); err != nil {
			t.Fatalf("after clear: %v", err)
		}
		r.waitEnd()
		if got := r.c.Snapshot().Last.Task; got != mtce.TaskSwactComplete {
			t.Errorf("swact back: %q", got)
		}
		if a := r.sim.ActiveController(); a != c0 {
			t.Errorf("active %s after swacting back", a)
		}
	})
}

// TestSimplex: the flag is read at each request; a simplex rejection writes
// no task and sends nothing (StarlingX accepts, then silently resets).
func TestSimplex(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		defer r.close()
		r.mu.Lock()
		r.simplex = true
		r.mu.Unlock()
		err := r.c.Request(context.Background(), request(c0))
		if !errors.Is(err, ErrSimplex) {
			t.Fatalf("simplex: %v", err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		patches := r.sim.RequestsMatching(func(rec sim.Record) bool { return rec.Service == sim.SysInv && rec.Method == http.MethodPatch })
		if h := r.tasks(c0); len(h) != 0 || len(patches) != 0 {
			t.Errorf("task written on simplex: %+v, %d SysInv updates", h, len(patches))
		}
		if n := r.smCount(http.MethodGet) + r.smCount(http.MethodPatch); n != 0 || r.c.Held() {
			t.Errorf("simplex: %d SM requests, mutex %v", n, r.c.Held())
		}
		r.mu.Lock()
		r.simplex = false // a second controller was added
		r.mu.Unlock()
		if err := r.c.Request(context.Background(), request(c0)); err != nil {
			t.Fatalf("duplex again: %v", err)
		}
		r.waitEnd()
	})
}

// TestSelfHeal: an orphan mutex is cleared after (120/60+1)·60 = 180 s, or
// at once with uptime_period 0.
func TestSelfHeal(t *testing.T) {
	for _, tc := range []struct {
		uptime, want time.Duration
	}{{DefaultUptimePeriod, 180 * time.Second}, {0, 0}, {50 * time.Second, 150 * time.Second}} {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, func(c *Config) { c.UptimePeriod = tc.uptime })
			defer r.close()
			start := time.Now()
			r.c.HoldMutex()
			if tc.want > 0 {
				time.Sleep(tc.want - time.Second)
				if !r.c.Held() {
					t.Fatalf("uptime %v: cleared before %v", tc.uptime, tc.want)
				}
				if err := r.c.Request(context.Background(), request(c0)); !errors.Is(err, ErrSwactInProgress) {
					t.Errorf("request while held: %v", err)
				}
			}
			time.Sleep(time.Second)
			synctest.Wait()
			if r.c.Held() {
				t.Fatalf("uptime %v: still held after %v", tc.uptime, time.Since(start))
			}
		})
	}
}

// TestSelfHealNeverMidSwact: a swact whose requests are all dropped runs
// 290 s, past the 180 s self-heal; the mutex stays held until its final
// task is cleared (StarlingX clears it at 180 s).
func TestSelfHealNeverMidSwact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		defer r.close()
		smFault("PATCH", sim.FaultDrop, 0, 0)(r)
		r.c.HoldMutex() // armed only while idle; the request below finds it held...
		time.Sleep(181 * time.Second)
		if r.c.Held() {
			t.Fatal("orphan mutex not cleared")
		}
		start := time.Now()
		if err := r.c.Request(context.Background(), request(c0)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(181 * time.Second)
		if !r.c.Held() {
			t.Fatal("mutex cleared mid-swact")
		}
		if err := r.c.Request(context.Background(), request(c0)); !errors.Is(err, ErrSwactInProgress) {
			t.Errorf("second swact mid-swact: %v", err)
		}
		r.waitEnd()
		if d := time.Since(start); d != 290*time.Second+TaskUpdateDelay {
			t.Errorf("released after %v", d)
		}
	})
}

// TestDeferredDuringAdd: a swact accepted during the host's add waits,
// sending nothing, until AddDone.
func TestDeferredDuringAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		defer r.close()
		q := request(c0)
		q.Action = mtce.ActionAdd
		if err := r.c.Request(context.Background(), q); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if s := r.c.Snapshot(); s.Stage != StageDeferred || !s.Held {
			t.Errorf("snapshot %+v", s)
		}
		if n := r.smCount(http.MethodGet); n != 0 || len(r.tasks(c0)) != 0 {
			t.Errorf("deferred swact sent %d queries, tasks %v", n, r.tasks(c0))
		}
		start := time.Now()
		r.c.AddDone()
		r.waitEnd()
		if o := r.c.Snapshot().Last; o.Task != mtce.TaskSwactComplete || o.Ended.Sub(start) != hH {
			t.Errorf("outcome %+v", o)
		}
	})
}

// TestLostRequestCostsOneTry: a purge delivers the purged query's
// completion; it is dropped as stale (fsm epoch) instead of counting as a
// second failure.
func TestLostRequestCostsOneTry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		stale := 0
		r := newRig(t, func(c *Config) {
			prev := c.Observer
			c.Observer = func(rec fsm.Record[Stage, Event]) {
				if rec.Kind == fsm.KindStale && rec.Event == EvReply {
					mu.Lock()
					stale++
					mu.Unlock()
				}
				prev(rec)
			}
		})
		defer r.close()
		smFault("GET", sim.FaultDrop, 0, 2)(r)
		if err := r.c.Request(context.Background(), request(c0)); err != nil {
			t.Fatal(err)
		}
		r.waitEnd()
		o := r.c.Snapshot().Last
		mu.Lock()
		defer mu.Unlock()
		if o.QueryTries != 3 || stale != 2 {
			t.Errorf("2 losses: %d query tries (want 3), %d stale completions (want 2)", o.QueryTries, stale)
		}
	})
}

// TestHooksSnapshotProgress: the hooks run once each, the snapshot follows
// the stages, and a request in flight is reported at 50 % and 75 % of its
// loss threshold.
func TestHooksSnapshotProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &logRec{}
		r := newRig(t, func(c *Config) { c.Logger = slog.New(logs) })
		defer r.close()
		smFault("GET", sim.FaultDrop, 0, 1)(r)
		start := time.Now()
		if err := r.c.Request(context.Background(), request(c0)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(9 * time.Second)
		s := r.c.Snapshot()
		if s.Stage != StageQueryDone || s.Host != c0 || s.Try != 0 || s.Elapsed != 9*time.Second || s.Task != mtce.TaskSwactRequest {
			t.Errorf("snapshot at 9 s: %+v", s)
		}
		time.Sleep(31 * time.Second) // 40 s: ACTION_WAIT since 10 s
		s = r.c.Snapshot()
		if s.Stage != StageActionWait || s.Task != mtce.TaskSwactInProgress || s.LastErr == nil {
			t.Errorf("snapshot at 40 s: %+v", s)
		}
		r.waitEnd()
		r.mu.Lock()
		if len(r.swactable) != 1 || r.swactable[0] != c0 || len(r.waits) != 1 || r.waits[0] != c0 {
			t.Errorf("hooks: swactable %v, action-wait %v", r.swactable, r.waits)
		}
		r.mu.Unlock()
		got := logs.find("swact: waiting for SM")
		want := []time.Duration{5 * time.Second, 7500 * time.Millisecond} // the dropped query; the rest answer at once
		if len(got) != len(want) {
			t.Fatalf("progress logs at %v, want %v", rel(got, start), want)
		}
		for i := range want {
			if got[i].Sub(start) != want[i] {
				t.Errorf("progress logs at %v, want %v", rel(got, start), want)
				break
			}
		}
		// idle→query→query-done→query→query-done→action→action-done→
		// action-wait→action-poll→done→idle: each change logged once.
		if n := len(logs.find("swact stage")); n != 10 {
			t.Errorf("stage logs: %d, want 10", n)
		}
	})
}

func rel(ts []time.Time, start time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(start)
	}
	return out
}

// logRec records log messages with their times.
type logRec struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRec) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRec) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRec) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRec) WithGroup(string) slog.Handler      { return l }
func (l *logRec) find(prefix string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for _, r := range l.recs {
		if strings.HasPrefix(r.Message, prefix) {
			out = append(out, r.Time)
		}
	}
	return out
}

// TestConfig: validation and the swact_timeout clamp (K.6).
func TestConfig(t *testing.T) {
	if err := (Config{SwactTimeout: -1}).Validate(); !errors.Is(err, ErrInvalidConfig) || strings.Count(err.Error(), "\n") != 3 {
		t.Errorf("Validate: %v", err)
	}
	synctest.Test(t, func(t *testing.T) {
		logs := &logRec{}
		r := newRig(t, func(c *Config) { c.SwactTimeout = 10 * time.Second; c.Logger = slog.New(logs) })
		defer r.close()
		if r.c.SwactTimeout() != MinSwactTimeout || len(logs.find("swact_timeout (override)")) != 1 {
			t.Errorf("clamp: %v", r.c.SwactTimeout())
		}
	})
	for _, tc := range []struct{ in, half, poll, timeout time.Duration }{
		{120 * time.Second, 60 * time.Second, 12 * time.Second, 120 * time.Second},
		{125 * time.Second, 62 * time.Second, 12 * time.Second, 122 * time.Second},
		{0, 60 * time.Second, 12 * time.Second, 120 * time.Second},
	} {
		c := Config{SwactTimeout: tc.in}
		tm := c.normalise(nil)
		if tm.half != tc.half || tm.poll != tc.poll || tm.half+PollCount*tm.poll != tc.timeout {
			t.Errorf("%v: %+v", tc.in, tm)
		}
	}
}
