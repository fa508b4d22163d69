package workqueue

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Benchmarks. Figures and the commands to reproduce them are in
// BENCHMARKS.md (workqueue section).

const (
	benchWorkers = 4
	benchWindow  = 1024 // items outstanding at once, in both the queue and the baseline
)

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("host-%05d", i)
	}
	return keys
}

func noop(context.Context, int) error { return nil }

// BenchmarkThroughput pushes no-op items through the queue, round-robin over
// 1, 100 and 10,000 keys, with at most benchWindow items outstanding, beside
// a baseline measured in the same run: a buffered channel feeding
// benchWorkers goroutines, each attempt with the same per-attempt context
// (context.WithTimeout) and the same completion signal.
func BenchmarkThroughput(b *testing.B) {
	for _, n := range []int{1, 100, 10000, 100000} {
		keys := benchKeys(n)
		for _, bc := range benchConfigs {
			b.Run(fmt.Sprintf("keys=%d/queue-%s", n, bc.name), func(b *testing.B) { benchQueue(b, keys, bc.mod) })
		}
		b.Run(fmt.Sprintf("keys=%d/baseline", n), func(b *testing.B) { benchBaseline(b, keys) })
	}
}

func benchQueue(b *testing.B, keys []string, mod func(*Config)) {
	cfg := DefaultConfig()
	cfg.Workers = benchWorkers
	cfg.MaxPerKey = 1 << 20 // the window bounds depth; OnDone frees a slot just before the lane does
	mod(&cfg)
	q, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sem := make(chan struct{}, benchWindow)
	item := Item{Run: noop, OnDone: func(Result) { <-sem }}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sem <- struct{}{}
		if _, err := q.Submit(keys[i%len(keys)], item); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
	if err := q.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

type benchJob struct {
	key string
	run func(context.Context, int) error
}

func benchBaseline(b *testing.B, keys []string) {
	sem := make(chan struct{}, benchWindow)
	jobs := make(chan benchJob, benchWindow)
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for j := range jobs {
				ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
				_ = j.run(ctx, 1)
				cancel()
				<-sem
			}
		})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sem <- struct{}{}
		jobs <- benchJob{key: keys[i%len(keys)], run: noop}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
	close(jobs)
	wg.Wait()
}

// benchGate models the Gate users set, the keystone Manager: its Held is a
// mutex-guarded read of the current gate channel (keystone/manager.go,
// Manager.Held), here always open. It does not import keystone (leaf
// packages do not import each other); the cost is the same code.
type benchGate struct {
	mu   sync.Mutex
	gate chan struct{}
}

func (g *benchGate) Held() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate == nil {
		return nil
	}
	return g.gate
}

// benchObserver models a daemon's metrics exporter: a counter per event
// kind and a histogram of durations (power-of-two buckets) for attempts and
// one for items, all atomic, as a Prometheus counter vector with resolved
// labels and two histograms would be. As there, each counter is its own
// object (here padded to its own cache line).
type benchObserver struct {
	kinds             [8]paddedCounter
	attempts, itemDur benchHistogram
}

type paddedCounter struct {
	atomic.Uint64
	_ [56]byte
}

type benchHistogram struct {
	count   paddedCounter
	sum     atomic.Int64
	buckets [64]atomic.Uint64
}

func (h *benchHistogram) observe(d time.Duration) {
	h.count.Add(1)
	h.sum.Add(int64(d))
	h.buckets[bits.Len64(uint64(d))].Add(1)
}

func (o *benchObserver) Observe(e Event) {
	o.kinds[e.Kind&7].Add(1)
	switch e.Kind {
	case EventAttempt:
		o.attempts.observe(e.Duration)
	case EventDone:
		o.itemDur.observe(e.Duration)
	}
}

// benchConfigs are the configurations the throughput benchmarks run:
// "users" is what the daemons run (a Gate that is open, an Observer),
// "bare" the queue alone (no Gate, no Observer).
var benchConfigs = []struct {
	name string
	mod  func(*Config)
}{
	{"users", func(c *Config) { c.Gate = &benchGate{}; c.Observer = &benchObserver{} }},
	{"bare", func(*Config) {}},
}

// BenchmarkThroughputPaired measures the same two pipelines as
// BenchmarkThroughput, alternating chunks of pairedChunk items between them
// (in alternating order, each after a GC) so that both see the same
// machine load and each pays for its own garbage, and
// reports the medians over the pairs of each one's ns/item and of the ratio
// of their throughputs (queue/baseline; 1 means equal). One op is one chunk
// of each. The medians resist the bursts of a shared machine.
//
// cfg=users runs the queue as the daemons do, with an open Gate modelled
// on the keystone Manager and a metrics Observer; cfg=bare without either.
func BenchmarkThroughputPaired(b *testing.B) {
	for _, bc := range benchConfigs {
		for _, n := range []int{1, 100, 10000, 100000} {
			keys := benchKeys(n)
			b.Run(fmt.Sprintf("cfg=%s/keys=%d", bc.name, n), func(b *testing.B) {
				benchPaired(b, keys, bc.mod)
			})
		}
	}
}

func benchPaired(b *testing.B, keys []string, mod func(*Config)) {
	cfg := DefaultConfig()
	cfg.Workers = benchWorkers
	cfg.MaxPerKey = 1 << 20
	mod(&cfg)
	q, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	qsem := make(chan struct{}, benchWindow)
	item := Item{Run: noop, OnDone: func(Result) { <-qsem }}

	bsem := make(chan struct{}, benchWindow)
	jobs := make(chan benchJob, benchWindow)
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for j := range jobs {
				ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
				_ = j.run(ctx, 1)
				cancel()
				<-bsem
			}
		})
	}
	fill := func(sem chan struct{}) { // wait until the pipeline is empty
		for range benchWindow {
			sem <- struct{}{}
		}
		for range benchWindow {
			<-sem
		}
	}
	i := 0
	// Each chunk starts after a GC, so that it pays for the
	// collections its own garbage causes and not the other's.
	runQueue := func() time.Duration {
		runtime.GC()
		t0 := time.Now()
		for range pairedChunk {
			qsem <- struct{}{}
			if _, err := q.Submit(keys[i%len(keys)], item); err != nil {
				b.Fatal(err)
			}
			i++
		}
		fill(qsem)
		return time.Since(t0)
	}
	runBaseline := func() time.Duration {
		runtime.GC()
		t0 := time.Now()
		for range pairedChunk {
			bsem <- struct{}{}
			jobs <- benchJob{key: keys[i%len(keys)], run: noop}
			i++
		}
		fill(bsem)
		return time.Since(t0)
	}
	var qs, bs, ratios []float64
	for b.Loop() {
		var tq, tb time.Duration
		if len(ratios)%2 == 0 {
			tq, tb = runQueue(), runBaseline()
		} else {
			tb, tq = runBaseline(), runQueue()
		}
		qs = append(qs, float64(tq.Nanoseconds())/pairedChunk)
		bs = append(bs, float64(tb.Nanoseconds())/pairedChunk)
		ratios = append(ratios, float64(tb)/float64(tq))
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(median(qs), "queue-ns/item")
	b.ReportMetric(median(bs), "baseline-ns/item")
	b.ReportMetric(median(ratios), "queue/baseline")
	close(jobs)
	wg.Wait()
	q.Close(context.Background())
}

const pairedChunk = 50000

// BenchmarkSubmitLatency measures single Submit calls on 10,000 busy keys
// and reports p50 and p99. "blocked": every key has an attempt running or
// queued and the workers are all stuck; "running": the workers process
// 1 ms attempts on every key while Submit is called.
func BenchmarkSubmitLatency(b *testing.B) {
	keys := benchKeys(10000)
	for _, mode := range []string{"blocked", "running"} {
		b.Run(mode, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxPerKey = 1 << 30
			q, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			block := make(chan struct{})
			busy := Item{Run: func(ctx context.Context, _ int) error {
				if mode == "blocked" {
					<-block
				} else {
					time.Sleep(time.Millisecond)
				}
				return nil
			}}
			for _, k := range keys {
				for range 2 {
					if _, err := q.Submit(k, busy); err != nil {
						b.Fatal(err)
					}
				}
			}
			item := Item{Run: noop}
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := keys[i%len(keys)]
				t0 := time.Now()
				h, err := q.Submit(k, item)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if mode == "blocked" {
					h.Cancel() // keep the depth constant
				}
				i++
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			close(block)
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // abandon what is left
			q.Close(ctx)
		})
	}
}

// BenchmarkKeysFootprint reports the live heap and goroutines of a queue
// with 10,000 and 100,000 keys: idle (each key had one item, now done),
// each holding a blocked item, each waiting for a retry, and after those
// retries were purged (every lane gone idle again).
func BenchmarkKeysFootprint(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := benchKeys(n)
			var f footprints
			for b.Loop() {
				f = measureFootprint(b, keys)
			}
			b.ReportMetric(float64(f.idle.heap), "idle-heap-B")
			b.ReportMetric(float64(f.idle.heap)/float64(n), "idle-B/key")
			b.ReportMetric(float64(f.blocked.heap), "blocked-heap-B")
			b.ReportMetric(float64(f.waiting.heap), "waiting-heap-B")
			b.ReportMetric(float64(f.after.heap), "after-heap-B")
			b.ReportMetric(float64(f.waiting.goroutines), "goroutines")
		})
	}
}

type footprint struct {
	heap       int64
	goroutines int
}

type footprints struct{ idle, blocked, waiting, after footprint }

func liveHeap() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func measureFootprint(tb testing.TB, keys []string) (f footprints) {
	g0 := runtime.NumGoroutine()
	h0 := liveHeap()
	cfg := DefaultConfig()
	q, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(len(keys))
	for _, k := range keys {
		q.Submit(k, Item{Run: noop, OnDone: func(Result) { wg.Done() }})
	}
	wg.Wait()
	f.idle = footprint{liveHeap() - h0, runtime.NumGoroutine() - g0}

	block := make(chan struct{})
	var hs []*Handle
	for _, k := range keys {
		h, _ := q.Submit(k, Item{Run: func(context.Context, int) error { <-block; return nil }})
		hs = append(hs, h)
	}
	f.blocked = footprint{liveHeap() - h0, runtime.NumGoroutine() - g0}
	close(block)
	for _, h := range hs {
		h.Wait(context.Background())
	}
	hs = nil

	wg.Add(len(keys))
	for _, k := range keys {
		q.Submit(k, Item{
			BackOff: ConstantBackOff(time.Hour),
			Run: func(_ context.Context, n int) error {
				if n == 1 {
					return fmt.Errorf("fail")
				}
				return nil
			},
			OnAttempt: func(a Attempt) {
				if a.Number == 1 {
					wg.Done()
				}
			},
		})
	}
	wg.Wait()
	// OnAttempt runs just before a lane enters its retry wait: poll (bounded)
	// until all have.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
		n := 0
		for i := range q.shards {
			s := &q.shards[i]
			s.mu.Lock()
			n += len(s.timers)
			s.mu.Unlock()
		}
		if n == len(keys) {
			break
		}
	}
	f.waiting = footprint{liveHeap() - h0, runtime.NumGoroutine() - g0}
	for _, k := range keys {
		q.Purge(k)
	}
	f.after = footprint{liveHeap() - h0, runtime.NumGoroutine() - g0}
	q.Close(context.Background())
	return f
}

// Budgets (not timings): 10,000 idle keys cost well under 20 MB, once lanes
// have gone idle the queue gives their memory back (a bounded free list of
// lanes remains), and the goroutine count does not grow with keys or retry
// waits.
func TestKeysFootprintBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 10,000 keys")
	}
	f := measureFootprint(t, benchKeys(10000))
	t.Logf("%+v", f)
	if f.idle.heap > 20<<20 {
		t.Errorf("10,000 idle keys hold %d bytes, budget 20 MB", f.idle.heap)
	}
	for _, x := range []footprint{f.idle, f.after} {
		if x.heap > 512<<10 {
			t.Errorf("idle lanes hold %d bytes, want under 512 KiB (free list: %d lanes of 128 B)", x.heap, maxFreeLanes)
		}
	}
	want := DefaultWorkers + 1
	for _, x := range []footprint{f.idle, f.blocked, f.waiting, f.after} {
		if x.goroutines > want {
			t.Errorf("%d goroutines with 10,000 keys, want at most %d", x.goroutines, want)
		}
	}
}

// Goroutines stay O(Workers) with 10,000 keys waiting for retries, in
// virtual time (a time.AfterFunc per retry would make ~10,000).
func TestGoroutinesBoundedDuringRetryWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, func(c *Config) { c.Workers = 8 })
		defer closeQueue(t, q)
		for _, k := range benchKeys(10000) {
			q.Submit(k, Item{Run: func(_ context.Context, n int) error {
				if n == 1 {
					return fmt.Errorf("fail")
				}
				return nil
			}})
		}
		synctest.Wait()
		if st := q.Stats(); st.Waiting != 10000 {
			t.Fatalf("waiting lanes %d", st.Waiting)
		}
		buf := make([]byte, 1<<22)
		stacks := string(buf[:runtime.Stack(buf, true)])
		n := strings.Count(stacks, "workqueue.(*Queue).worker(") + strings.Count(stacks, "workqueue.(*Queue).scheduler(")
		if n != 9 {
			t.Errorf("%d queue goroutines, want 9 (8 workers + scheduler)", n)
		}
		if st := q.Stats(); st.Pending != 10000 {
			t.Errorf("stats %+v", st)
		}
	})
}
