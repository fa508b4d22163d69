package workqueue

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var (
	flagSeed = flag.Uint64("workqueue.seed", 0, "seed of TestPropertiesRandomized (0: from the clock)")
	flagRuns = flag.Int("workqueue.runs", 0, "sequences run by TestPropertiesRandomized (0: 3000, 300 with -short)")
)

// TestPropertiesRandomized runs thousands of random sequences of submit,
// attempt outcomes (success, failure, permanent failure, timeout, a Run
// that ignores its context), purge, cancel, gate closing and opening, lane
// waits, pauses and close, each in its own synctest bubble, and checks:
//
//   - per-key FIFO: first attempts start in submission order, and a
//     retry of an item never follows the first attempt of a later item;
//   - never two live attempts of one key at once (a live attempt is one
//     whose context is not cancelled);
//   - every admitted item completes exactly once (one OnDone, Done closed,
//     Err equal to what OnDone saw), with one OnAttempt per attempt, in
//     order, within the budget;
//   - the counters add up (Stats and Observer events against the model).
func TestPropertiesRandomized(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	runs := 3000
	if testing.Short() {
		runs = 300
	}
	if *flagRuns > 0 {
		runs = *flagRuns
	}
	t.Logf("seed %d, %d sequences (rerun: go test -run TestPropertiesRandomized ./workqueue -args -workqueue.seed=%d)", seed, runs, seed)
	master := rand.New(rand.NewPCG(seed, 0x5eed))
	var total tally
	for i := range runs {
		sub := master.Uint64()
		failed := false
		synctest.Test(t, func(t *testing.T) {
			total.add(runSequence(t, sub))
			failed = t.Failed()
		})
		if failed {
			t.Fatalf("sequence %d failed (seed %d, sub-seed %d)", i, seed, sub)
		}
	}
	t.Logf("covered: %+v", total)
	// The sequences must exercise every path they claim to check.
	if runs >= 200 && (total.Succeeded == 0 || total.Failed == 0 || total.Purged == 0 || total.Canceled == 0 ||
		total.Abandoned == 0 || total.Rejected == 0 || total.Retries == 0 || total.Bypasses == 0 || total.Holds == 0 || total.orphaned == 0) {
		t.Errorf("some path never exercised: %+v", total)
	}
}

// tally sums the sequences' Stats, to show what they covered.
type tally struct {
	Stats
	orphaned int // sequences with an attempt cut short while its Run ignored ctx
}

func (a *tally) add(s Stats, orphaned bool) {
	a.Admitted += s.Admitted
	a.Rejected += s.Rejected
	a.Attempts += s.Attempts
	a.Retries += s.Retries
	a.Succeeded += s.Succeeded
	a.Failed += s.Failed
	a.Purged += s.Purged
	a.Canceled += s.Canceled
	a.Abandoned += s.Abandoned
	a.Holds += s.Holds
	a.Bypasses += s.Bypasses
	if orphaned {
		a.orphaned++
	}
}

type behaviour uint8

const (
	bSucceed   behaviour = iota // after a pause that honours ctx
	bFail                       // retryable, after a pause
	bPermanent                  // permanent failure
	bHang                       // until ctx is done (timeout, purge...)
	bStubborn                   // ignores ctx for a while, then succeeds
	nBehaviours
)

type propItem struct {
	key      string
	ord      int // submission order within the key
	critical bool
	budget   int
	script   []behaviour
	pause    []time.Duration
	h        *Handle

	// Guarded by model.mu.
	runs       int
	cbAttempts []int
	doneCount  int
	result     error
}

// last returns the behaviour of the item's last attempt.
func (it *propItem) last() behaviour {
	if it.runs < 1 || it.runs > len(it.script) {
		return nBehaviours
	}
	return it.script[it.runs-1]
}

type model struct {
	mu        sync.Mutex
	live      map[string][]context.Context
	lastFirst map[string]int // ord of the latest item to start on a key
	events    map[EventKind]int
	problems  []string
	orphaned  bool
}

func (m *model) fail(format string, args ...any) {
	m.problems = append(m.problems, fmt.Sprintf(format, args...))
}

func runSequence(t *testing.T, seed uint64) (Stats, bool) {
	r := rand.New(rand.NewPCG(seed, 1))
	m := &model{live: map[string][]context.Context{}, lastFirst: map[string]int{}, events: map[EventKind]int{}}
	g := &fakeGate{}
	cfg := DefaultConfig()
	cfg.Workers = 1 + r.IntN(3)
	cfg.MaxPerKey = 1 + r.IntN(5)
	if r.IntN(3) == 0 {
		cfg.MaxTotal = 2 + r.IntN(8)
	}
	cfg.Attempts = 1 + r.IntN(3)
	cfg.Timeout = time.Duration(1+r.IntN(5)) * time.Second
	cfg.BackOff = ConstantBackOff(time.Duration(r.IntN(3)) * 2 * time.Second)
	cfg.MaxHold = time.Duration(5+r.IntN(20)) * time.Second
	cfg.Gate = g
	cfg.Observer = ObserverFunc(func(e Event) {
		m.mu.Lock()
		m.events[e.Kind]++
		m.mu.Unlock()
	})
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "b", "c"}
	ords := map[string]int{}
	var items []*propItem // admitted
	var rejected, closedRejects int

	submit := func(key string) {
		ords[key]++
		it := &propItem{key: key, ord: ords[key], critical: r.IntN(2) == 0, budget: cfg.Attempts}
		if r.IntN(3) == 0 {
			it.budget = 1 + r.IntN(4)
		}
		for range it.budget {
			it.script = append(it.script, behaviour(r.IntN(int(nBehaviours))))
			it.pause = append(it.pause, time.Duration(r.IntN(4000))*time.Millisecond)
		}
		item := Item{
			Critical: it.critical,
			Attempts: 0,
			Run: func(ctx context.Context, attempt int) error {
				m.mu.Lock()
				if ctx.Err() != nil {
					// Dispatched, then cut short by Purge, Cancel or Close
					// before this goroutine got to call Run (virtual time
					// stands still meanwhile, so it is not a timeout). It is
					// not live, and its dispatch was in order already.
					it.runs++
					m.mu.Unlock()
					return ctx.Err()
				}
				for _, c := range m.live[key] {
					if c.Err() == nil {
						m.fail("key %s: attempt %d of ord %d starts while another attempt is live", key, attempt, it.ord)
					}
				}
				m.live[key] = append(m.live[key], ctx)
				if attempt == 1 {
					if it.ord <= m.lastFirst[key] {
						m.fail("key %s: ord %d starts after ord %d", key, it.ord, m.lastFirst[key])
					}
					m.lastFirst[key] = it.ord
				} else if m.lastFirst[key] != it.ord {
					m.fail("key %s: retry of ord %d after ord %d started", key, it.ord, m.lastFirst[key])
				}
				it.runs++
				if attempt != it.runs || attempt > it.budget {
					m.fail("key %s ord %d: attempt %d, runs %d, budget %d", key, it.ord, attempt, it.runs, it.budget)
				}
				m.mu.Unlock()
				defer func() {
					m.mu.Lock()
					l := m.live[key]
					for i, c := range l {
						if c == ctx {
							m.live[key] = append(l[:i:i], l[i+1:]...)
							break
						}
					}
					m.mu.Unlock()
				}()
				if attempt > len(it.script) {
					return nil // reported above
				}
				b, d := it.script[attempt-1], it.pause[attempt-1]
				pause := func() error {
					t := time.NewTimer(d)
					defer t.Stop()
					select {
					case <-t.C:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				switch b {
				case bSucceed:
					return pause()
				case bFail:
					if err := pause(); err != nil {
						return err
					}
					return errors.New("fail")
				case bPermanent:
					return Permanent(errors.New("permanent"))
				case bHang:
					<-ctx.Done()
					return ctx.Err()
				default: // bStubborn
					time.Sleep(d)
					if ctx.Err() == context.Canceled {
						m.mu.Lock()
						m.orphaned = true
						m.mu.Unlock()
					}
					return nil
				}
			},
			OnAttempt: func(a Attempt) {
				m.mu.Lock()
				defer m.mu.Unlock()
				it.cbAttempts = append(it.cbAttempts, a.Number)
				if a.Key != key || (a.Final && a.Retry != 0) {
					m.fail("bad attempt %+v", a)
				}
			},
			OnDone: func(res Result) {
				m.mu.Lock()
				defer m.mu.Unlock()
				it.doneCount++
				it.result = res.Err
				if len(it.cbAttempts) != res.Attempts {
					m.fail("key %s ord %d: OnDone with %d attempts after %d OnAttempt", key, it.ord, res.Attempts, len(it.cbAttempts))
				}
			},
		}
		if it.budget != cfg.Attempts {
			item.Attempts = it.budget
		}
		h, err := q.Submit(key, item)
		switch {
		case err == nil:
			it.h = h
			items = append(items, it)
		case errors.Is(err, ErrOverloaded):
			rejected++
		case errors.Is(err, ErrClosed):
			closedRejects++
		default:
			t.Fatalf("Submit: %v", err)
		}
	}

	ops := 10 + r.IntN(40)
	for range ops {
		switch p := r.IntN(100); {
		case p < 45:
			submit(keys[r.IntN(len(keys))])
		case p < 60:
			time.Sleep(time.Duration(r.IntN(10000)) * time.Millisecond)
		case p < 70:
			q.Purge(keys[r.IntN(len(keys))])
		case p < 80:
			if len(items) > 0 {
				items[r.IntN(len(items))].h.Cancel()
			}
		case p < 88:
			if r.IntN(2) == 0 {
				g.close()
			} else {
				g.open()
			}
		case p < 94:
			err := q.WaitLane(t.Context(), keys[r.IntN(len(keys))], time.Duration(r.IntN(20))*time.Second)
			var e *Error
			if err != nil && !errors.Is(err, ErrLaneTimeout) && !(errors.As(err, &e) && e.Critical) {
				m.mu.Lock()
				m.fail("WaitLane = %v", err)
				m.mu.Unlock()
			}
		default:
			synctest.Wait()
			st := q.Stats()
			if st.Admitted != st.Succeeded+st.Failed+st.Purged+st.Canceled+st.Abandoned+uint64(st.Pending) {
				m.mu.Lock()
				m.fail("counters do not add up: %+v", st)
				m.mu.Unlock()
			}
		}
	}
	if r.IntN(2) == 0 {
		g.open()
	}
	ctx := t.Context()
	if r.IntN(2) == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(r.IntN(30000))*time.Millisecond)
		defer cancel()
	}
	t0 := time.Now()
	bound := cfg.CloseTimeout
	if dl, ok := ctx.Deadline(); ok {
		bound = dl.Sub(t0) + CloseGrace
	}
	cerr := q.Close(ctx)
	if took := time.Since(t0); took > bound {
		t.Errorf("Close took %v, bound %v", took, bound)
	}
	if cerr != nil && !errors.Is(cerr, context.DeadlineExceeded) && !errors.Is(cerr, ErrStuck) {
		t.Errorf("Close = %v", cerr)
	}
	if errors.Is(cerr, ErrStuck) {
		// Only a Run that ignores its context (bStubborn, at most 4 s)
		// can outlive the grace; let it return.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if st := q.Stats(); st.Orphans != 0 {
			t.Errorf("orphans left after stubborn Runs returned: %+v", st)
		}
	}
	if _, err := q.Submit("a", Item{Run: func(context.Context, int) error { return nil }}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close = %v", err)
	}
	closedRejects++

	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.problems {
		t.Error(p)
	}
	var succeeded, failed, purged, canceled, abandoned, orphaned, attempts uint64
	for _, it := range items {
		if it.doneCount != 1 || !isDone(it.h) || it.h.Err() != it.result {
			t.Errorf("key %s ord %d: %d OnDone, Done closed %v, Err %v vs OnDone %v",
				it.key, it.ord, it.doneCount, isDone(it.h), it.h.Err(), it.result)
		}
		for i, n := range it.cbAttempts {
			if n != i+1 {
				t.Errorf("key %s ord %d: OnAttempt numbers %v", it.key, it.ord, it.cbAttempts)
				break
			}
		}
		if len(it.cbAttempts) != it.runs || it.h.Attempts() != it.runs {
			t.Errorf("key %s ord %d: %d runs, %d OnAttempt, Attempts() %d", it.key, it.ord, it.runs, len(it.cbAttempts), it.h.Attempts())
		}
		attempts += uint64(it.runs)
		var e *Error
		if errors.Is(it.result, ErrAttemptAbandoned) {
			orphaned++
			if !errors.Is(it.result, ErrPurged) && !errors.Is(it.result, ErrCanceled) && !errors.Is(it.result, ErrClosed) {
				t.Errorf("key %s ord %d: abandoned attempt without a cause: %v", it.key, it.ord, it.result)
			}
		}
		switch {
		case it.result == nil:
			succeeded++
			if b := it.last(); b != bSucceed && b != bStubborn {
				t.Errorf("key %s ord %d succeeded on behaviour %d", it.key, it.ord, b)
			}
		case !errors.As(it.result, &e) || e.Key != it.key || e.Critical != it.critical:
			t.Errorf("key %s ord %d: result %v is not a matching *Error", it.key, it.ord, it.result)
		case errors.Is(it.result, ErrPurged):
			purged++
		case errors.Is(it.result, ErrCanceled):
			canceled++
		case errors.Is(it.result, ErrClosed):
			abandoned++
		default:
			failed++
			if b := it.last(); it.runs < it.budget && b != bPermanent {
				t.Errorf("key %s ord %d failed after %d of %d attempts on behaviour %d: %v", it.key, it.ord, it.runs, it.budget, b, it.result)
			}
		}
	}
	st := q.Stats()
	want := Stats{Admitted: uint64(len(items)), Rejected: uint64(rejected), Attempts: attempts,
		Succeeded: succeeded, Failed: failed, Purged: purged, Canceled: canceled, Abandoned: abandoned, Orphaned: orphaned}
	got := st
	got.Retries, got.Holds, got.Bypasses, got.HoldTime, got.Holding, got.Lanes = 0, 0, 0, 0, false, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
	if abandoned > 0 && cerr == nil {
		t.Errorf("%d items abandoned but Close returned nil", abandoned)
	}
	for _, l := range st.Lanes {
		if l.Depth != 0 {
			t.Errorf("lane left after Close: %+v", l)
		}
	}
	ev := m.events
	if ev[EventAdmitted] != len(items) || ev[EventDone] != len(items) || uint64(ev[EventAttempt]) != attempts ||
		ev[EventRejected] != rejected+closedRejects {
		t.Errorf("events %v; admitted %d attempts %d rejected %d+%d", ev, len(items), attempts, rejected, closedRejects)
	}
	for k, l := range m.live {
		if len(l) != 0 {
			t.Errorf("key %s: %d attempts still running after Close", k, len(l))
		}
	}
	return st, m.orphaned
}
