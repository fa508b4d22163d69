package workqueue

import "hash/maphash"

// laneTable maps keys to lanes: an open-addressing hash table with linear
// probing and backward-shift deletion, so that deleting leaves no tombstone.
// It replaces a Go map because the queue adds a lane when a key gets work
// and deletes it when the key goes idle: with many keys coming and going, a
// Go map keeps rebuilding its table to clear the tombstones of deleted
// entries (measured: 75 bytes allocated per item with 100,000 keys) and never
// gives memory back. This table allocates only when it grows or shrinks: it
// doubles above 3/4 full and halves below 1/8 full, so its memory follows
// the number of keys with work: 8 bytes a slot. It never shrinks below
// minLaneSlots (16 KiB, once used): with 64 slots, a burst of ~1,000 keys
// filling and draining (as the throughput benchmark's window of 1,024 items
// does all the time) resized it up to 2,048 slots and back on every cycle,
// ~50 bytes allocated per item and a rehash under the queue's lock. At
// 2,048 slots, up to 1,536 keys with work never resize it.
//
// A queue's lanes are spread over its shards, each with its own table; the
// shards share the floor (minSlots, a power of two), so that all of them
// together keep at most minLaneSlots slots once idle.
type laneTable struct {
	seed     maphash.Seed
	slots    []*lane // power-of-two length, or nil when empty
	n        int
	minSlots int // 0 means minLaneSlots
}

func (t *laneTable) floor() int {
	if t.minSlots > 0 {
		return t.minSlots
	}
	return minLaneSlots
}

// minLaneSlots is the smallest table once used; see laneTable.
const minLaneSlots = 2048

func hashKey(seed maphash.Seed, key string) uint64 { return maphash.String(seed, key) }

func (t *laneTable) len() int { return t.n }

// get returns the lane of key, or nil.
func (t *laneTable) get(key string) *lane { return t.getHashed(key, t.hash(key)) }

// hash returns key's hash; the seed never changes, so callers may compute it
// without the queue's lock.
func (t *laneTable) hash(key string) uint64 { return hashKey(t.seed, key) }

// getHashed is get with key's hash already computed.
func (t *laneTable) getHashed(key string, h uint64) *lane {
	if t.n == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		l := t.slots[i]
		if l == nil {
			return nil
		}
		if l.hash == h && l.key == key {
			return l
		}
	}
}

// put adds l, whose key is not in the table and whose hash is set.
func (t *laneTable) put(l *lane) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(max(t.floor(), 2*len(t.slots)))
	}
	t.insert(l)
	t.n++
}

func (t *laneTable) insert(l *lane) {
	mask := uint64(len(t.slots) - 1)
	i := l.hash & mask
	for t.slots[i] != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = l
}

// del removes l, which is in the table.
func (t *laneTable) del(l *lane) {
	mask := uint64(len(t.slots) - 1)
	i := l.hash & mask
	for t.slots[i] != l {
		i = (i + 1) & mask
	}
	// Backward shift: move up every following entry of the probe run that
	// may sit at i (its home slot is not cyclically in (i, j]).
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		home := t.slots[j].hash & mask
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
	if len(t.slots) > t.floor() && t.n*8 < len(t.slots) {
		t.resize(len(t.slots) / 2)
	}
}

func (t *laneTable) resize(size int) {
	old := t.slots
	t.slots = make([]*lane, size)
	for _, l := range old {
		if l != nil {
			t.insert(l)
		}
	}
}

// all returns the lanes, in no particular order.
func (t *laneTable) all() []*lane {
	out := make([]*lane, 0, t.n)
	for _, l := range t.slots {
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}
