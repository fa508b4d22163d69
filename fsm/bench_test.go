package fsm_test

import (
	"context"
	"testing"

	"opendev.org/starlingx/metal-go/fsm"
)

func benchMachine(b *testing.B) (*fsm.Machine[string, string], *int) {
	n := new(int)
	cfg := fsm.DefaultConfig[string, string]()
	cfg.MaxQueue = 1 << 20
	m, err := fsm.New(counterDef(n), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close(context.Background()) })
	return m, n
}

// BenchmarkFire: one event from another goroutine, waiting for its outcome
// (queue, hand-off to the owner goroutine, internal transition, reply).
func BenchmarkFire(b *testing.B) {
	m, _ := benchMachine(b)
	ctx := context.Background()
	for b.Loop() {
		if err := m.Fire(ctx, "inc"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSend: events posted without waiting, from one goroutine; the
// time per event includes handling it (the timed part ends with a Fire
// queued behind all of them).
func BenchmarkSend(b *testing.B) {
	m, n := benchMachine(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if err := m.Send("inc"); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.Fire(ctx, "off"); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if *n != b.N {
		b.Fatalf("handled %d of %d", *n, b.N)
	}
}
