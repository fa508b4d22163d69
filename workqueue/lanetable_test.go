package workqueue

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// The lane table agrees with a Go map through random inserts and deletes,
// including long probe runs (a constant seed does not make collisions, so
// the table is also run small and crowded), and shrinks when emptied.
func TestLaneTableAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tab := laneTable{seed: maphash.MakeSeed()}
	ref := map[string]*lane{}
	for step := range 200000 {
		key := fmt.Sprint("k", r.IntN(3000))
		if l, ok := ref[key]; ok {
			if got := tab.get(key); got != l {
				t.Fatalf("step %d: get(%q) = %p, want %p", step, key, got, l)
			}
			if r.IntN(2) == 0 {
				tab.del(l)
				delete(ref, key)
			}
		} else {
			if got := tab.get(key); got != nil {
				t.Fatalf("step %d: get(%q) = %p, want nil", step, key, got)
			}
			l := &lane{key: key, hash: tab.hash(key)}
			tab.put(l)
			ref[key] = l
		}
		if tab.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, tab.len(), len(ref))
		}
		if n := len(tab.slots); n != 0 && (tab.len()*4 > n*3 || (n > minLaneSlots && tab.len()*8 < n)) {
			t.Fatalf("step %d: %d lanes in %d slots", step, tab.len(), n)
		}
	}
	if len(tab.all()) != len(ref) {
		t.Fatalf("all: %d lanes, want %d", len(tab.all()), len(ref))
	}
	for k, l := range ref {
		tab.del(l)
		delete(ref, k)
		for k2, l2 := range ref {
			if tab.get(k2) != l2 {
				t.Fatalf("lost %q after deleting %q", k2, k)
			}
			break
		}
	}
	if tab.len() != 0 || len(tab.slots) != minLaneSlots {
		t.Fatalf("emptied table: len %d, %d slots", tab.len(), len(tab.slots))
	}
}
