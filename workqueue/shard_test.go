package workqueue

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Keys on different shards, submitted from several goroutines at once while
// other goroutines purge, cancel and read Stats, in real time (run it with
// -race): per-key FIFO (first attempts in submission order, retries before
// the next item), never two live attempts of one key, every admitted item
// completed exactly once, and every Stats snapshot consistent (the counters
// add up: Stats holds all the shards' locks at once).
func TestShardsConcurrentPerKeyGuarantees(t *testing.T) {
	const submitters, keysEach, itemsEach = 4, 40, 1500
	q := newTestQueue(t, func(c *Config) {
		c.Workers = 6
		c.MaxPerKey = 1 << 20
		c.BackOff = ConstantBackOff(0)
		c.Timeout = time.Minute
	})

	type keyLog struct {
		mu        sync.Mutex
		live      []context.Context
		lastFirst int // ord of the latest first attempt
		lastOrd   int // ord of the latest attempt of any number
	}
	logs := map[string]*keyLog{}
	for s := range submitters {
		for k := range keysEach {
			logs[fmt.Sprintf("s%d-k%d", s, k)] = &keyLog{}
		}
	}
	var problems sync.Map // first problem per kind
	problem := func(kind, format string, args ...any) { problems.LoadOrStore(kind, fmt.Sprintf(format, args...)) }

	var done atomic.Int64
	var handles [submitters][]*Handle
	var ondone [submitters][]atomic.Int32
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() { // Stats: the counters add up in every snapshot
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := q.Stats()
			if fin := st.Succeeded + st.Failed + st.Purged + st.Canceled + st.Abandoned; st.Admitted != fin+uint64(st.Pending) {
				problem("stats", "admitted %d != finished %d + pending %d", st.Admitted, fin, st.Pending)
			}
			if st.InFlight > 6 {
				problem("inflight", "InFlight %d > Workers", st.InFlight)
			}
		}
	})
	bg.Go(func() { // Purge now and then
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			q.Purge(fmt.Sprintf("s%d-k%d", i%submitters, i%keysEach))
			runtime.Gosched()
		}
	})

	var wg sync.WaitGroup
	for s := range submitters {
		ondone[s] = make([]atomic.Int32, itemsEach)
		wg.Go(func() {
			for i := range itemsEach {
				key := fmt.Sprintf("s%d-k%d", s, i%keysEach)
				ord := i/keysEach + 1
				kl := logs[key]
				failFirst := i%7 == 0
				h, err := q.Submit(key, Item{
					Run: func(ctx context.Context, attempt int) error {
						kl.mu.Lock()
						for _, c := range kl.live {
							if c.Err() == nil {
								problem("live", "key %s: item %d attempt %d starts beside a live attempt", key, ord, attempt)
							}
						}
						kl.live = append(kl.live, ctx)
						if attempt == 1 {
							if ord <= kl.lastFirst {
								problem("fifo", "key %s: item %d first attempt after item %d's", key, ord, kl.lastFirst)
							}
							kl.lastFirst = ord
						} else if ord != kl.lastOrd {
							problem("retry", "key %s: retry of item %d after an attempt of item %d", key, ord, kl.lastOrd)
						}
						kl.lastOrd = ord
						kl.mu.Unlock()
						defer func() {
							kl.mu.Lock()
							for j, c := range kl.live {
								if c == ctx {
									kl.live = append(kl.live[:j], kl.live[j+1:]...)
									break
								}
							}
							kl.mu.Unlock()
						}()
						runtime.Gosched() // widen the window in which a second attempt could start
						if failFirst && attempt == 1 {
							return errors.New("once")
						}
						return nil
					},
					OnDone: func(Result) { ondone[s][i].Add(1); done.Add(1) },
				})
				if err != nil {
					problem("submit", "Submit: %v", err)
					return
				}
				handles[s] = append(handles[s], h)
				if i%97 == 0 {
					h.Cancel()
				}
			}
		})
	}
	wg.Wait()
	for s := range submitters {
		for _, h := range handles[s] {
			if err := h.Wait(t.Context()); err != nil && !errors.Is(err, ErrPurged) && !errors.Is(err, ErrCanceled) {
				t.Fatalf("item %d: %v", h.Seq(), err)
			}
		}
	}
	close(stop)
	bg.Wait()
	closeQueue(t, q)

	problems.Range(func(_, v any) bool { t.Error(v); return true })
	for s := range submitters {
		for i := range ondone[s] {
			if n := ondone[s][i].Load(); n != 1 {
				t.Errorf("submitter %d item %d: OnDone ran %d times", s, i, n)
			}
		}
	}
	st := q.Stats()
	if want := uint64(submitters * itemsEach); st.Admitted != want || uint64(done.Load()) != want ||
		st.Succeeded+st.Purged+st.Canceled != want || st.Pending != 0 || st.InFlight != 0 {
		t.Errorf("stats %+v, %d done", st, done.Load())
	}
	if st.Retries == 0 || st.Canceled == 0 {
		t.Errorf("retries %d, canceled %d: the test must exercise both", st.Retries, st.Canceled)
	}
	used := map[*shard]bool{}
	for key := range logs {
		used[q.shardOf(hashKey(q.seed, key))] = true
	}
	if len(used) < 2 {
		t.Errorf("the keys fell on %d shard(s); the test needs several", len(used))
	}
	t.Logf("%d shards, %d used; %+v", len(q.shards), len(used), st)
}

// MaxTotal is exact across shards: submitters racing on many keys (spread
// over the shards) get exactly MaxTotal items admitted, the rest refused
// with ErrOverloaded before anything is enqueued; once the items finish,
// MaxTotal more are admitted.
func TestMaxTotalExactAcrossShards(t *testing.T) {
	const maxTotal, submitters, each = 50, 8, 20
	q := newTestQueue(t, func(c *Config) { c.MaxTotal = maxTotal; c.Workers = 2 })
	defer closeQueue(t, q)
	round := func(tag string, release chan struct{}) (admitted []*Handle, refused int) {
		run := func(context.Context, int) error { <-release; return nil }
		var mu sync.Mutex
		var wg sync.WaitGroup
		for s := range submitters {
			wg.Go(func() {
				for i := range each {
					h, err := q.Submit(fmt.Sprintf("%s-%d-%d", tag, s, i), Item{Run: run})
					mu.Lock()
					switch {
					case err == nil:
						admitted = append(admitted, h)
					case errors.Is(err, ErrOverloaded) && strings.Contains(err.Error(), "MaxTotal"):
						refused++
					default:
						t.Errorf("Submit: %v", err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return admitted, refused
	}
	release := make(chan struct{})
	hs, refused := round("a", release)
	if len(hs) != maxTotal || refused != submitters*each-maxTotal {
		t.Fatalf("admitted %d, refused %d; want %d and %d", len(hs), refused, maxTotal, submitters*each-maxTotal)
	}
	if st := q.Stats(); st.Pending != maxTotal || st.Rejected != uint64(refused) {
		t.Errorf("stats %+v", st)
	}
	close(release)
	for _, h := range hs {
		if err := h.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	release = make(chan struct{})
	if hs, refused = round("b", release); len(hs) != maxTotal || refused != submitters*each-maxTotal {
		t.Fatalf("second round: admitted %d, refused %d", len(hs), refused)
	}
	close(release)
	for _, h := range hs {
		if err := h.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}
