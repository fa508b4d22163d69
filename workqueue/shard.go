package workqueue

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// shard holds the lanes of the keys whose hash falls on it, with their ready
// ring and retry heap, under its own lock. A key always maps to the same
// shard, so everything about one key (its lane, its items, their handles)
// is guarded by that shard's lock: per-key FIFO, one attempt per key and
// the overload check need nothing else. Submit and the workers take only
// the shard lock of the item they handle (plus, rarely, q.mu; see Queue),
// so that one lock is not bounced between the cores for every item.
type shard struct {
	mu     sync.Mutex
	idx    int
	closed bool // Close has begun: Submit refuses
	lanes  laneTable
	ready  ring // lanes whose head item can be dispatched, FIFO
	timers laneHeap

	// nready is ready.len(), stored under mu, read without it by workers
	// looking for a shard with work and by idle workers before they sleep.
	nready atomic.Int32

	pending   int  // items admitted and not yet published
	draining  bool // Close found pending > 0: counted in q.busy until it is 0
	inflight  int
	st        counters
	freeLanes []*lane
	_         cacheLinePad // keep the next shard's lock off these lines
}

// shardCount returns the number of shards: a power of two, at least 32 and
// at least four per processor, at most 256 (Handle.shard is a byte). In the
// throughput benchmark (1 submitter, 4 workers, 2 cores, 10,000 and 100,000
// keys, open gate and observer) the mutex profile counted 61,000
// contentions for 4 million items with 32 shards, against 423,000 with the
// single lock of before (wait time 0.43 s against 1.5 s).
func shardCount() int {
	want := min(max(32, 4*runtime.GOMAXPROCS(0)), 256)
	n := 1
	for n < want {
		n *= 2
	}
	return n
}

// shardOf returns the shard of the keys with this hash. The top bits pick
// the shard; the shard's lane table uses the low bits.
func (q *Queue) shardOf(hash uint64) *shard {
	return &q.shards[hash>>q.shardShift]
}

// pushReady appends l to the ready ring.
func (s *shard) pushReady(l *lane) {
	s.ready.pushBack(l)
	s.nready.Store(int32(s.ready.len()))
}

// popReady takes the first lane of the ready ring, which is not empty.
func (s *shard) popReady() *lane {
	l := s.ready.popFront()
	s.nready.Store(int32(s.ready.len()))
	return l
}

// findReady returns a shard with ready lanes, looking from index from on,
// or nil. It reads the shards' nready without their locks: the answer is a
// hint that the caller checks under the shard's lock.
func (q *Queue) findReady(from int) *shard {
	for i := range len(q.shards) {
		s := &q.shards[(from+i)&(len(q.shards)-1)]
		if s.nready.Load() > 0 {
			return s
		}
	}
	return nil
}

// lockAll locks every shard, in index order (the only order in which more
// than one shard lock is ever held).
func (q *Queue) lockAll() {
	for i := range q.shards {
		q.shards[i].mu.Lock()
	}
}

func (q *Queue) unlockAll() {
	for i := range q.shards {
		q.shards[i].mu.Unlock()
	}
}

// totalReserve counts one more item against Config.MaxTotal, unless the
// queue already holds MaxTotal items; used only when MaxTotal > 0.
func (q *Queue) totalReserve() (ok bool, total int64) {
	for {
		n := q.total.Load()
		if n >= int64(q.cfg.MaxTotal) {
			return false, n
		}
		if q.total.CompareAndSwap(n, n+1) {
			return true, n + 1
		}
	}
}

// add sums counters.
func (c *counters) add(o *counters) {
	c.admitted += o.admitted
	c.rejected += o.rejected
	c.attempts += o.attempts
	c.retries += o.retries
	c.succeeded += o.succeeded
	c.failed += o.failed
	c.purged += o.purged
	c.canceled += o.canceled
	c.abandoned += o.abandoned
	c.holds += o.holds
	c.bypasses += o.bypasses
	c.orphaned += o.orphaned
}
