package workqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// Item 101 on a key is refused while item 1 is in flight; nothing is
// enqueued; other keys are unaffected.
func TestOverloadRefusesItem101(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rejected []Event
		q := newTestQueue(t, func(c *Config) {
			c.Workers = 2
			c.Observer = ObserverFunc(func(e Event) {
				if e.Kind == EventRejected {
					rejected = append(rejected, e)
				}
			})
		})
		defer closeQueue(t, q)
		release := make(chan struct{})
		inFlight := make(chan struct{})
		var ran []int
		var mu sync.Mutex
		mk := func(i int) Item {
			return Item{Run: func(context.Context, int) error {
				if i == 1 {
					close(inFlight)
					<-release
				}
				mu.Lock()
				ran = append(ran, i)
				mu.Unlock()
				return nil
			}}
		}
		var hs []*Handle
		for i := 1; i <= 100; i++ {
			h, err := q.Submit("host-1", mk(i))
			if err != nil {
				t.Fatalf("item %d: %v", i, err)
			}
			hs = append(hs, h)
		}
		<-inFlight
		_, err := q.Submit("host-1", mk(101))
		if !errors.Is(err, ErrOverloaded) || !strings.Contains(err.Error(), `"host-1"`) {
			t.Fatalf("item 101: %v, want ErrOverloaded naming the key", err)
		}
		if n := q.Len("host-1"); n != 100 {
			t.Errorf("Len = %d, want 100 (nothing enqueued)", n)
		}
		other, err := q.Submit("host-2", mk(1000))
		if err != nil {
			t.Fatalf("other key: %v", err)
		}
		if err := other.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		st := q.Stats()
		if st.Rejected != 1 || st.Admitted != 101 || len(rejected) != 1 || rejected[0].Depth != 100 {
			t.Errorf("stats %+v, rejected events %+v", st, rejected)
		}
		if len(st.Lanes) != 1 || st.Lanes[0].Key != "host-1" || st.Lanes[0].Depth != 100 || !st.Lanes[0].InFlight {
			t.Errorf("lanes %+v", st.Lanes)
		}
		close(release)
		for i, h := range hs {
			if err := h.Wait(t.Context()); err != nil {
				t.Fatalf("item %d: %v", i+1, err)
			}
		}
		// host-2's item ran first (item 1 was blocked before recording
		// itself), then every host-1 item exactly once, in order.
		mu.Lock()
		defer mu.Unlock()
		if len(ran) != 101 || ran[0] != 1000 {
			t.Fatalf("ran %d items %v, want host-2's then items 1..100", len(ran), ran)
		}
		for i, v := range ran[1:] {
			if v != i+1 {
				t.Fatalf("FIFO broken at %d: %v", i, ran)
			}
		}
	})
}

func TestGlobalCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, func(c *Config) { c.MaxTotal = 3 })
		defer closeQueue(t, q)
		block := make(chan struct{})
		run := func(context.Context, int) error { <-block; return nil }
		for i := range 3 {
			if _, err := q.Submit(fmt.Sprint("k", i), Item{Run: run}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := q.Submit("k9", Item{Run: run}); !errors.Is(err, ErrOverloaded) || !strings.Contains(err.Error(), "MaxTotal") {
			t.Fatalf("Submit = %v, want ErrOverloaded (MaxTotal)", err)
		}
		close(block)
		synctest.Wait()
		if _, err := q.Submit("k9", Item{Run: run}); err != nil {
			t.Fatalf("after draining: %v", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	cases := []struct {
		field string
		mod   func(*Config)
	}{
		{"Workers", func(c *Config) { c.Workers = 0 }},
		{"Workers", func(c *Config) { c.Workers = -1 }},
		{"MaxPerKey", func(c *Config) { c.MaxPerKey = 0 }},
		{"MaxTotal", func(c *Config) { c.MaxTotal = -1 }},
		{"Attempts", func(c *Config) { c.Attempts = 0 }},
		{"Timeout", func(c *Config) { c.Timeout = 0 }},
		{"Timeout", func(c *Config) { c.Timeout = -time.Second }},
		{"BackOff", func(c *Config) { c.BackOff = nil }},
		{"MaxHold", func(c *Config) { c.MaxHold = 0 }},
		{"OverloadLogInterval", func(c *Config) { c.OverloadLogInterval = -1 }},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.mod(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: Validate = %v", c.field, err)
		}
		if q, err := New(cfg); q != nil || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New = %v, %v", c.field, q, err)
		}
	}
	// The zero Config names every bad field at once.
	err := Config{}.Validate()
	for _, f := range []string{"Workers", "MaxPerKey", "Attempts", "Timeout", "BackOff", "MaxHold", "OverloadLogInterval"} {
		if !strings.Contains(fmt.Sprint(err), f) {
			t.Errorf("zero Config: %v does not name %s", err, f)
		}
	}
	// MaxTotal 0 (no cap) and nil optional fields are fine.
	cfg := DefaultConfig()
	cfg.MaxTotal, cfg.Gate, cfg.Logger, cfg.Observer = 0, nil, nil, nil
	if err := cfg.Validate(); err != nil {
		t.Errorf("optional fields: %v", err)
	}
}

func TestBadItems(t *testing.T) {
	defer goleak.VerifyNone(t)
	q := newTestQueue(t, nil)
	defer closeQueue(t, q)
	ok := func(context.Context, int) error { return nil }
	cases := []struct {
		name string
		item Item
	}{
		{"Run", Item{}},
		{"Attempts", Item{Run: ok, Attempts: -1}},
		{"Timeout", Item{Run: ok, Timeout: -1}},
		{"TimeoutStep", Item{Run: ok, TimeoutStep: -1}},
	}
	for _, c := range cases {
		h, err := q.Submit("k", c.item)
		if h != nil || !errors.Is(err, ErrInvalidItem) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: Submit = %v, %v", c.name, h, err)
		}
	}
	if st := q.Stats(); st.Admitted != 0 || st.Rejected != 0 || len(st.Lanes) != 0 {
		t.Errorf("stats after bad items: %+v", st)
	}
}

// Wall time: a plain run, Wait with a context, Done, observer events, and
// Close joining everything (goleak.VerifyNone).
func TestWallTimeBasics(t *testing.T) {
	defer goleak.VerifyNone(t)
	var mu sync.Mutex
	kinds := map[EventKind]int{}
	q := newTestQueue(t, func(c *Config) {
		c.BackOff = ConstantBackOff(time.Millisecond)
		c.Observer = ObserverFunc(func(e Event) {
			mu.Lock()
			kinds[e.Kind]++
			mu.Unlock()
		})
	})
	var hs []*Handle
	for i := range 50 {
		h, err := q.Submit(fmt.Sprint("host-", i%5), Item{Run: func(_ context.Context, n int) error {
			if i%7 == 0 && n == 1 {
				return errors.New("retry me")
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, h := range hs {
		if err := h.Wait(ctx); err != nil {
			t.Fatalf("seq %d: %v", h.Seq(), err)
		}
		if !isDone(h) || h.Key() == "" {
			t.Fatal("Done not closed after Wait")
		}
	}
	block := make(chan struct{})
	h, _ := q.Submit("slow", Item{Run: func(ctx context.Context, _ int) error { <-block; return nil }})
	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := h.Wait(short); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait(cancelled ctx) = %v", err)
	}
	if h.Err() != nil {
		t.Errorf("Err before done = %v", h.Err())
	}
	close(block)
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if h.Err() != nil || !isDone(h) {
		t.Errorf("slow item: %v", h.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	// 8 items of 50 (i%7==0) retry once.
	if kinds[EventAdmitted] != 51 || kinds[EventDone] != 51 || kinds[EventAttempt] != 59 {
		t.Errorf("events %v", kinds)
	}
	st := q.Stats()
	if st.Attempts != 59 || st.Retries != 8 || st.Succeeded != 51 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestEventKindString(t *testing.T) {
	for k := EventAdmitted; k <= EventHoldEnd; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "EventKind(") {
			t.Errorf("%d: %q", k, s)
		}
	}
	if s := EventKind(0).String(); s != "EventKind(0)" {
		t.Errorf("zero kind: %q", s)
	}
}

func TestErrorMessages(t *testing.T) {
	e := &Error{Key: "compute-0", Seq: 7, Name: "update task", Attempts: 3, Err: errors.New("503")}
	if got, want := e.Error(), `workqueue: key "compute-0" seq 7 (update task) failed after 3 attempts: 503`; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	e = &Error{Key: "k", Seq: 1, Attempts: 1, Err: ErrPurged}
	if got, want := e.Error(), `workqueue: key "k" seq 1 failed after 1 attempt: workqueue: purged`; got != want || !errors.Is(e, ErrPurged) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if Permanent(nil) != nil || IsPermanent(errors.New("x")) || !IsPermanent(fmt.Errorf("w: %w", Permanent(errors.New("x")))) {
		t.Error("Permanent/IsPermanent")
	}
}
