package fsm_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"opendev.org/starlingx/metal-go/fsm"
)

// Door is the state type of the example machine.
type Door string

// DoorEvent is its event type.
type DoorEvent string

const (
	Closed Door = "closed"
	Opened Door = "open"
	Locked Door = "locked"

	OpenIt   DoorEvent = "open"
	CloseIt  DoorEvent = "close"
	LockIt   DoorEvent = "lock"
	UnlockIt DoorEvent = "unlock"
	Timeout  DoorEvent = "timeout"
)

// doorDefinition is the example machine: a door that closes itself 10 s
// after it was opened and unlocks only with the right code. Its diagram is
// in DIAGRAMS.md.
func doorDefinition(say func(string)) fsm.Definition[Door, DoorEvent] {
	return fsm.Definition[Door, DoorEvent]{
		Name:    "door",
		Initial: Closed,
		States: []fsm.State[Door, DoorEvent]{{
			State:    Opened,
			Entry:    func(context.Context, *fsm.Tx[Door, DoorEvent]) { say("light on") },
			Exit:     func(context.Context, *fsm.Tx[Door, DoorEvent]) { say("light off") },
			Deadline: fsm.After(10*time.Second, Timeout),
			Note:     "closes itself after 10 s",
		}},
		Transitions: []fsm.Transition[Door, DoorEvent]{
			{From: Closed, Event: OpenIt, To: Opened},
			{From: Opened, Event: CloseIt, To: Closed},
			{From: Opened, Event: Timeout, To: Closed},
			{From: Closed, Event: LockIt, To: Locked},
			{
				From: Locked, Event: UnlockIt, To: Closed,
				GuardName: "code ok",
				Guard: func(_ context.Context, s fsm.Step[Door, DoorEvent]) error {
					if s.Data != "1234" {
						return errors.New("wrong code")
					}
					return nil
				},
			},
		},
	}
}

func Example() {
	ctx := context.Background()
	cfg := fsm.DefaultConfig[Door, DoorEvent]()
	cfg.Observer = func(r fsm.Record[Door, DoorEvent]) {
		if r.Kind == fsm.KindTransitioned {
			fmt.Printf("%s -%s-> %s\n", r.From, r.Event, r.To)
		}
	}
	m, err := fsm.New(doorDefinition(func(s string) { fmt.Println(s) }), cfg)
	if err != nil {
		panic(err)
	}
	defer m.Close(ctx)

	_ = m.Fire(ctx, OpenIt)
	fmt.Println("deadline armed:", !m.Snapshot().Deadline.IsZero())
	_ = m.Fire(ctx, CloseIt)
	_ = m.Fire(ctx, LockIt)

	err = m.FireMsg(ctx, fsm.Msg[DoorEvent]{Event: UnlockIt, Data: "0000"})
	fmt.Println(errors.Is(err, fsm.ErrGuardRejected), err)
	err = m.Fire(ctx, OpenIt)
	fmt.Println(errors.Is(err, fsm.ErrNoTransition), err)
	err = m.FireMsg(ctx, fsm.Msg[DoorEvent]{Event: UnlockIt, Data: "1234"})
	fmt.Println(err, m.State())
	// Output:
	// light on
	// closed -open-> open
	// deadline armed: true
	// light off
	// open -close-> closed
	// closed -lock-> locked
	// true fsm: door: event unlock in state locked: guard rejected: wrong code
	// true fsm: door: event open in state locked: no transition
	// locked -unlock-> closed
	// <nil> closed
}

// An event raised inside an action is queued and handled after the step
// that raised it, never inside it, so an action can drive the machine on
// without deadlocking it.
func ExampleTx_Raise() {
	type S = string
	type E = string
	ctx := context.Background()
	cfg := fsm.DefaultConfig[S, E]()
	cfg.Observer = func(r fsm.Record[S, E]) {
		if r.Kind == fsm.KindTransitioned {
			fmt.Printf("%s: %s -%s-> %s\n", r.Source, r.From, r.Event, r.To)
		}
	}
	m, _ := fsm.New(fsm.Definition[S, E]{
		Name:    "raise",
		Initial: "idle",
		States: []fsm.State[S, E]{{
			State: "checking",
			Entry: func(_ context.Context, tx *fsm.Tx[S, E]) {
				fmt.Println("entry of checking raises ok")
				tx.Raise("ok")
			},
		}},
		Transitions: []fsm.Transition[S, E]{
			{From: "idle", Event: "start", To: "checking", Action: func(context.Context, *fsm.Tx[S, E]) error {
				fmt.Println("action of start")
				return nil
			}},
			{From: "checking", Event: "ok", To: "done"},
		},
	}, cfg)
	defer m.Close(ctx)

	// Fire returns after the whole run-to-completion chain.
	fmt.Println(m.Fire(ctx, "start"), m.State())
	// Output:
	// action of start
	// entry of checking raises ok
	// external: idle -start-> checking
	// raised: checking -ok-> done
	// <nil> done
}

// A completion that arrives after the machine has left the state that
// started the work is dropped: bind it to the occupancy with Msg.Epoch.
func ExampleMsg_epoch() {
	type S = string
	type E = string
	ctx := context.Background()
	var started uint64
	m, _ := fsm.New(fsm.Definition[S, E]{
		Name:    "epoch",
		Initial: "idle",
		States: []fsm.State[S, E]{{
			State: "waiting",
			Entry: func(_ context.Context, tx *fsm.Tx[S, E]) {
				started = tx.NextEpoch() // hand it to the work's callback
			},
		}},
		Transitions: []fsm.Transition[S, E]{
			{From: "idle", Event: "start", To: "waiting"},
			{From: "waiting", Event: "reply", To: "done"},
			{From: "waiting", Event: "retry", To: "waiting"},
		},
	}, fsm.DefaultConfig[S, E]())
	defer m.Close(ctx)

	_ = m.Fire(ctx, "start")
	old := started
	_ = m.Fire(ctx, "retry") // leaves and re-enters: a new occupancy
	err := m.FireMsg(ctx, fsm.Msg[E]{Event: "reply", Epoch: old})
	fmt.Println(errors.Is(err, fsm.ErrStale), m.State())
	err = m.FireMsg(ctx, fsm.Msg[E]{Event: "reply", Epoch: started})
	fmt.Println(err, m.State())
	// Output:
	// true waiting
	// <nil> done
}
