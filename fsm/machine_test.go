package fsm_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/fsm"
)

type (
	sdef = fsm.Definition[string, string]
	stx  = fsm.Tx[string, string]
	srec = fsm.Record[string, string]
)

func newMachine(t *testing.T, def sdef, mod func(*fsm.Config[string, string])) *fsm.Machine[string, string] {
	t.Helper()
	cfg := fsm.DefaultConfig[string, string]()
	if mod != nil {
		mod(&cfg)
	}
	m, err := fsm.New(def, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func closeMachine(t *testing.T, m interface{ Close(context.Context) error }) {
	t.Helper()
	if err := m.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// recorder keeps observer records.
type recorder struct {
	mu   sync.Mutex
	recs []srec
}

func (r *recorder) observe(rec srec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

func (r *recorder) all() []srec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]srec(nil), r.recs...)
}

func TestDefinitionValidate(t *testing.T) {
	g := func(context.Context, fsm.Step[string, string]) error { return nil }
	for _, tc := range []struct {
		name string
		def  sdef
		want string // substring; "" means valid
	}{
		{"valid", sdef{Initial: "a", Transitions: []fsm.Transition[string, string]{
			{From: "a", Event: "e", To: "b", Guard: g}, {From: "a", Event: "e", To: "c"}}}, ""},
		{"initial unknown", sdef{Initial: "x", Transitions: []fsm.Transition[string, string]{{From: "a", Event: "e", To: "b"}}}, "initial state x"},
		{"initial declared only as state", sdef{Initial: "x", States: []fsm.State[string, string]{{State: "x"}}}, ""},
		{"duplicate state", sdef{Initial: "a", States: []fsm.State[string, string]{{State: "a"}, {State: "a"}}}, "declared twice"},
		{"negative deadline", sdef{Initial: "a", States: []fsm.State[string, string]{{State: "a", Deadline: fsm.After(-time.Second, "t")}},
			Transitions: []fsm.Transition[string, string]{{From: "a", Event: "t", To: "a"}}}, "negative deadline"},
		{"deadline without transition", sdef{Initial: "a", States: []fsm.State[string, string]{{State: "a", Deadline: fsm.After(time.Second, "t")}}}, "deadline event t"},
		{"unreachable", sdef{Initial: "a", Transitions: []fsm.Transition[string, string]{
			{From: "a", Event: "e", To: "b"}, {From: "a", Event: "e", To: "c", Guard: g}}}, "unreachable"},
		{"internal changes state", sdef{Initial: "a", Transitions: []fsm.Transition[string, string]{{From: "a", Event: "e", To: "b", Internal: true}}}, "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.def.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, fsm.ErrInvalidDefinition)):
				t.Fatalf("Validate = %v, want an ErrInvalidDefinition containing %q", err, tc.want)
			}
			if tc.want != "" {
				if _, err := fsm.New(tc.def, fsm.DefaultConfig[string, string]()); !errors.Is(err, fsm.ErrInvalidDefinition) {
					t.Fatalf("New = %v, want ErrInvalidDefinition", err)
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := fsm.DefaultConfig[int, int]().Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := fsm.Config[int, int]{}
	err := cfg.Validate()
	if !errors.Is(err, fsm.ErrInvalidConfig) || !strings.Contains(err.Error(), "MaxQueue") || !strings.Contains(err.Error(), "MaxChain") {
		t.Fatalf("Validate = %v", err)
	}
	if _, err := fsm.New(fsm.Definition[int, int]{}, cfg); !errors.Is(err, fsm.ErrInvalidConfig) {
		t.Fatalf("New = %v", err)
	}
}

// counterDef counts "inc" events with an internal transition.
func counterDef(n *int) sdef {
	return sdef{Name: "counter", Initial: "on", Transitions: []fsm.Transition[string, string]{
		{From: "on", Event: "inc", To: "on", Internal: true, Action: func(context.Context, *stx) error { *n++; return nil }},
		{From: "on", Event: "off", To: "off"},
	}}
}

// TestConcurrentEvents: events from many goroutines at once are all handled,
// one at a time (the action's unsynchronised counter is race-free).
func TestConcurrentEvents(t *testing.T) {
	var n int
	m := newMachine(t, counterDef(&n), func(c *fsm.Config[string, string]) { c.MaxQueue = 10000 })
	defer closeMachine(t, m)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 100 {
				var err error
				if g%2 == 0 {
					err = m.Send("inc")
				} else {
					err = m.Fire(t.Context(), "inc")
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := m.Fire(t.Context(), "off"); err != nil {
		t.Fatal(err)
	}
	// Fire("off") came after every Send, so all incs are done.
	if n != 800 {
		t.Fatalf("n = %d, want 800", n)
	}
	if s := m.Snapshot(); s.Steps != 801 || s.State != "off" {
		t.Fatalf("snapshot %+v", s)
	}
}

// blocker is a machine whose "block" action waits until release is closed
// or its context ends.
func blocker(release chan struct{}, entered chan struct{}) sdef {
	return sdef{Name: "blocker", Initial: "a", Transitions: []fsm.Transition[string, string]{
		{From: "a", Event: "block", To: "b", Action: func(ctx context.Context, _ *stx) error {
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}},
		{From: "b", Event: "back", To: "a"},
		{From: "a", Event: "noop", To: "a", Internal: true},
		{From: "b", Event: "noop", To: "b", Internal: true},
	}}
}

func TestFireContextAndQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release, entered := make(chan struct{}), make(chan struct{})
		m := newMachine(t, blocker(release, entered), func(c *fsm.Config[string, string]) { c.MaxQueue = 3 })
		defer closeMachine(t, m)
		if err := m.Send("block"); err != nil {
			t.Fatal(err)
		}
		<-entered
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := m.Fire(ctx, "noop"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Fire = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("Fire waited %v", d)
		}
		// One noop (from the abandoned Fire) waits; two more fit.
		for i := range 2 {
			if err := m.Send("noop"); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		if err := m.Send("noop"); !errors.Is(err, fsm.ErrQueueFull) {
			t.Fatalf("Send = %v, want ErrQueueFull", err)
		}
		if err := m.Fire(t.Context(), "noop"); !errors.Is(err, fsm.ErrQueueFull) {
			t.Fatalf("Fire = %v, want ErrQueueFull", err)
		}
		close(release)
		synctest.Wait() // the queue drains
		if err := m.Fire(t.Context(), "back"); err != nil {
			t.Fatal(err)
		}
		if s := m.Snapshot(); s.Steps != 5 {
			t.Fatalf("steps = %d, want 5", s.Steps)
		}
	})
}

// TestClose: Close cancels the callbacks' context, completes waiting Fire
// calls with ErrClosed, refuses new events, joins the goroutine, and is
// idempotent; a Close bounded by a context returns when it ends.
func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release, entered := make(chan struct{}), make(chan struct{})
		var stuck atomic.Bool
		def := blocker(release, entered)
		def.Transitions[0].Action = func(ctx context.Context, _ *stx) error {
			close(entered)
			<-ctx.Done()
			if stuck.Load() {
				<-release // ignores its context for a while
			}
			return nil
		}
		m := newMachine(t, def, nil)
		if err := m.Send("block"); err != nil {
			t.Fatal(err)
		}
		<-entered
		fired := make(chan error, 1)
		go func() { fired <- m.Fire(context.Background(), "noop") }()
		synctest.Wait()
		stuck.Store(true)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := m.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v, want DeadlineExceeded while the action is stuck", err)
		}
		select {
		case <-m.Done():
			t.Fatal("Done closed while the action runs")
		default:
		}
		if err := m.Send("noop"); !errors.Is(err, fsm.ErrClosed) {
			t.Fatalf("Send after Close = %v", err)
		}
		close(release)
		if err := m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-m.Done()
		if err := <-fired; !errors.Is(err, fsm.ErrClosed) {
			t.Fatalf("pending Fire = %v, want ErrClosed", err)
		}
		if err := m.Close(context.Background()); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// TestCallbacksMayCallTheMachine: Close, Fire, Send and Snapshot from
// callbacks and the observer never deadlock.
func TestCallbacksMayCallTheMachine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m *fsm.Machine[string, string]
		var observerFire error
		var once sync.Once
		def := sdef{Initial: "a", Transitions: []fsm.Transition[string, string]{
			{From: "a", Event: "go", To: "b", Guard: func(ctx context.Context, _ fsm.Step[string, string]) error {
				_ = m.Snapshot()
				return nil
			}, Action: func(ctx context.Context, tx *stx) error {
				return m.Send("next") // to the external queue
			}},
			{From: "b", Event: "next", To: "c"},
			{From: "c", Event: "fromobserver", To: "d"},
			{From: "d", Event: "quit", To: "e", Action: func(ctx context.Context, _ *stx) error {
				return m.Close(context.Background())
			}},
		}}
		m = newMachine(t, def, func(c *fsm.Config[string, string]) {
			c.Observer = func(r srec) {
				if r.To == "c" {
					once.Do(func() { observerFire = m.Fire(context.Background(), "fromobserver") })
				}
			}
		})
		if err := m.Fire(t.Context(), "go"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if !errors.Is(observerFire, fsm.ErrDeferred) {
			t.Fatalf("Fire from observer = %v, want ErrDeferred", observerFire)
		}
		if s := m.State(); s != "d" {
			t.Fatalf("state %q, want d", s)
		}
		if err := m.Fire(t.Context(), "quit"); err != nil {
			t.Fatalf("quit: %v", err)
		}
		<-m.Done()
		closeMachine(t, m)
	})
}

func TestTxAfterCallbackPanics(t *testing.T) {
	var kept *stx
	m := newMachine(t, sdef{Initial: "a", Transitions: []fsm.Transition[string, string]{
		{From: "a", Event: "e", To: "b", Action: func(_ context.Context, tx *stx) error { kept = tx; return nil }},
	}}, nil)
	defer closeMachine(t, m)
	if err := m.Fire(t.Context(), "e"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "after its callback") {
			t.Fatalf("recover() = %v", r)
		}
	}()
	kept.Raise("x")
}

func TestErrorType(t *testing.T) {
	cause := errors.New("no")
	m, err := fsm.New(fsm.Definition[Door, DoorEvent]{Name: "d", Initial: Closed, Transitions: []fsm.Transition[Door, DoorEvent]{
		{From: Closed, Event: OpenIt, To: Opened, Action: func(context.Context, *fsm.Tx[Door, DoorEvent]) error { return cause }},
	}}, fsm.DefaultConfig[Door, DoorEvent]())
	if err != nil {
		t.Fatal(err)
	}
	defer closeMachine(t, m)
	err = m.Fire(t.Context(), OpenIt)
	var fe *fsm.Error[Door, DoorEvent]
	if !errors.As(err, &fe) || fe.State != Closed || fe.Event != OpenIt || fe.Kind != fsm.ErrActionFailed {
		t.Fatalf("err = %#v", err)
	}
	if !errors.Is(err, cause) || !errors.Is(err, fsm.ErrActionFailed) || errors.Is(err, fsm.ErrGuardRejected) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	if s := m.Snapshot(); s.State != Closed || s.Epoch != 1 || !errors.Is(s.LastErr, cause) {
		t.Fatalf("snapshot %+v", s)
	}
}

// TestDeadlines: a deadline counts from its own entry, is disarmed on
// exit (even by a self-transition, which re-arms it), rings once, and a
// zero-delay deadline overtaken by a raised event that leaves the state
// is dropped as stale.
func TestDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		m := newMachine(t, sdef{Name: "dl", Initial: "idle",
			States: []fsm.State[string, string]{
				{State: "w", Deadline: fsm.After(10*time.Second, "t")},
				{State: "z", Deadline: fsm.After(0, "ring"), Entry: func(_ context.Context, tx *stx) { tx.Raise("leave") }},
			},
			Transitions: []fsm.Transition[string, string]{
				{From: "idle", Event: "go", To: "w"},
				{From: "w", Event: "again", To: "w"},
				{From: "w", Event: "t", To: "idle"},
				{From: "w", Event: "stop", To: "idle"},
				{From: "idle", Event: "z", To: "z"},
				{From: "z", Event: "ring", To: "rang"},
				{From: "z", Event: "leave", To: "idle"},
			}}, func(c *fsm.Config[string, string]) { c.Observer = rec.observe })
		defer closeMachine(t, m)
		t0 := time.Now()
		fire := func(ev string) {
			t.Helper()
			if err := m.Fire(t.Context(), ev); err != nil {
				t.Fatalf("%s: %v", ev, err)
			}
		}
		fire("go")
		time.Sleep(4 * time.Second)
		fire("stop") // disarms
		time.Sleep(2 * time.Second)
		fire("go") // armed for t0+16s
		time.Sleep(5 * time.Second)
		fire("again") // self-transition: re-armed for t0+21s
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if s := m.State(); s != "w" {
			t.Fatalf("at %v state %q: a disarmed deadline rang", time.Since(t0), s)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if s := m.Snapshot(); s.State != "idle" || !s.Deadline.IsZero() {
			t.Fatalf("at %v: %+v, want idle by deadline", time.Since(t0), s)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		fire("z")
		var deadlines []string
		for _, r := range rec.all() {
			if r.Source == fsm.SourceDeadline {
				deadlines = append(deadlines, r.At.Sub(t0).String()+" "+r.Kind.String()+" "+r.From+" "+r.Event)
			}
		}
		want := []string{"21s transitioned w t", "1m21s stale idle ring"}
		if strings.Join(deadlines, "|") != strings.Join(want, "|") {
			t.Fatalf("deadline records %q, want %q", deadlines, want)
		}
	})
}

// TestDeadlineBeforeWaitingEvents: a deadline that rang while the machine
// was busy is handled before the events that queued up meanwhile, and
// events still waiting at Close are reported as dropped.
func TestDeadlineBeforeWaitingEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		release := make(chan struct{})
		m := newMachine(t, sdef{Initial: "w",
			States: []fsm.State[string, string]{{State: "w", Deadline: fsm.After(time.Second, "t")}},
			Transitions: []fsm.Transition[string, string]{
				{From: "w", Event: "slow", To: "w", Internal: true, Action: func(context.Context, *stx) error {
					time.Sleep(2 * time.Second) // busy past the deadline
					return nil
				}},
				{From: "w", Event: "t", To: "x"},
				{From: "x", Event: "noop", To: "x", Internal: true},
				{From: "x", Event: "block", To: "x", Internal: true, Action: func(context.Context, *stx) error {
					<-release
					return nil
				}},
			}}, func(c *fsm.Config[string, string]) { c.Observer = rec.observe })
		for _, ev := range []string{"slow", "noop", "noop", "block", "noop"} {
			if err := m.Send(ev); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(3 * time.Second)
		synctest.Wait() // blocked in "block", one noop waiting
		done := make(chan error)
		go func() { done <- m.Close(context.Background()) }()
		synctest.Wait()
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rec.all()[1:] {
			got = append(got, r.Event+":"+r.Kind.String())
		}
		want := "slow:transitioned t:transitioned noop:transitioned noop:transitioned block:transitioned noop:dropped"
		if strings.Join(got, " ") != want {
			t.Fatalf("records %q\nwant %q", strings.Join(got, " "), want)
		}
	})
}
