package fsm

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Definition is a machine's declarative table: its states, their entry and
// exit actions and deadlines, and its transitions. It is plain data: build
// it as a literal, check it with [Definition.Validate], export it with
// [Definition.Mermaid] and [Definition.DOT], run it with [New]. [New] copies
// it, so changing it afterwards does not affect a running machine.
type Definition[S, E comparable] struct {
	// Name names the machine in errors, logs and diagrams.
	Name string

	// Initial is the state the machine starts in. Its entry action runs
	// and its deadline is armed when the machine starts.
	Initial S

	// States lists the states that have an entry or exit action, a
	// deadline, or a description. States used only in Transitions need no
	// entry. A state appears at most once.
	States []State[S, E]

	// Transitions lists the transitions. Several transitions may share a
	// From and an Event: they are tried in the order listed, and the first
	// whose Guard accepts (a nil Guard always accepts) is taken. A
	// transition without a Guard must therefore be the last of its (From,
	// Event) group.
	Transitions []Transition[S, E]
}

// State declares the callbacks and deadline of one state.
type State[S, E comparable] struct {
	State S

	// Entry runs when the machine enters the state by an external
	// transition (and for Initial, when the machine starts). It cannot fail
	// the transition, which has happened; it may Raise events (for example
	// the outcome of work it did) and Arm or Disarm the state's deadline.
	Entry func(ctx context.Context, tx *Tx[S, E])

	// Exit runs when the machine leaves the state by an external
	// transition, after the transition's Action succeeded and before the
	// target's Entry. It cannot fail the transition.
	Exit func(ctx context.Context, tx *Tx[S, E])

	// Deadline, if not nil, is armed at every entry into the state (unless
	// the transition's callbacks Arm or Disarm it): if the machine is still
	// in that same occupancy After later, Event is delivered to it. A
	// deadline with After 0 "rings at once": its event is queued right
	// after the entering step, behind the events that step raised. Leaving
	// the state, even by a self-transition, disarms it. See [After].
	Deadline *Deadline[E]

	// Note is an optional description shown in diagrams.
	Note string
}

// Deadline is a state timeout: Event is delivered After the state was
// entered, unless the state was left (or the deadline disarmed) first.
type Deadline[E comparable] struct {
	After time.Duration
	Event E
}

// After returns a Deadline, for State.Deadline.
func After[E comparable](d time.Duration, ev E) *Deadline[E] {
	return &Deadline[E]{After: d, Event: ev}
}

// Transition declares that Event, in state From, moves the machine to To.
type Transition[S, E comparable] struct {
	From  S
	Event E
	To    S

	// Internal, allowed only when From == To, makes the transition run its
	// Action alone: no exit or entry action runs, the epoch does not change
	// and the state's deadline keeps running unless the Action Arms or
	// Disarms it. A self-transition that is not Internal leaves and
	// re-enters the state (exit, entry, a new epoch, a re-armed deadline).
	Internal bool

	// Guard, if not nil, decides whether this transition may be taken: an
	// error rejects it. Guards must not have side effects; they may run
	// for events that end up refused.
	Guard func(ctx context.Context, s Step[S, E]) error

	// GuardName describes the guard in diagrams ("retries < 10").
	GuardName string

	// Action runs when the transition is taken, before the exit action of
	// From. If it returns an error the transition is aborted: the machine
	// stays in From, no exit or entry action runs, the deadline is not
	// touched and Arm/Disarm calls of the action are discarded; events it
	// raised before failing are still processed (so an action can route a
	// failure to an error state by raising an event and returning the
	// error). The caller of Fire gets an [*Error] wrapping ErrActionFailed.
	Action func(ctx context.Context, tx *Tx[S, E]) error
}

// Validate reports every problem of the definition, each error wrapping
// [ErrInvalidDefinition]: a duplicate State, a negative deadline, a
// deadline whose event has no transition from its state, an Internal
// transition with From != To, an unguarded transition followed by another
// one of the same (From, Event), and an Initial state that appears nowhere.
func (d *Definition[S, E]) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidDefinition, d.name(), fmt.Sprintf(format, args...)))
	}
	known := map[S]bool{}
	seen := map[S]bool{}
	for _, st := range d.States {
		if seen[st.State] {
			bad("state %v declared twice", st.State)
		}
		seen[st.State] = true
		known[st.State] = true
		if st.Deadline != nil && st.Deadline.After < 0 {
			bad("state %v: negative deadline %v", st.State, st.Deadline.After)
		}
	}
	type key struct {
		s S
		e E
	}
	unguarded := map[key]bool{}
	for i, tr := range d.Transitions {
		known[tr.From], known[tr.To] = true, true
		k := key{tr.From, tr.Event}
		if unguarded[k] {
			bad("transition %d (%v -%v-> %v) is unreachable: an earlier transition of %v on %v has no guard",
				i, tr.From, tr.Event, tr.To, tr.From, tr.Event)
		}
		if tr.Guard == nil {
			unguarded[k] = true
		}
		if tr.Internal && tr.From != tr.To {
			bad("transition %d (%v -%v-> %v) is internal but changes state", i, tr.From, tr.Event, tr.To)
		}
	}
	for _, st := range d.States {
		if st.Deadline == nil {
			continue
		}
		found := false
		for _, tr := range d.Transitions {
			if tr.From == st.State && tr.Event == st.Deadline.Event {
				found = true
				break
			}
		}
		if !found {
			bad("state %v: deadline event %v has no transition from it", st.State, st.Deadline.Event)
		}
	}
	if !known[d.Initial] {
		bad("initial state %v appears in no State or Transition", d.Initial)
	}
	return errors.Join(errs...)
}

func (d *Definition[S, E]) name() string {
	if d.Name == "" {
		return "fsm"
	}
	return d.Name
}

// compiled is the lookup form of a validated Definition.
type compiled[S, E comparable] struct {
	name    string
	initial S
	states  map[S]*State[S, E]
	trans   map[transKey[S, E]][]*Transition[S, E]
}

type transKey[S, E comparable] struct {
	s S
	e E
}

func (d *Definition[S, E]) compile() compiled[S, E] {
	c := compiled[S, E]{
		name:    d.name(),
		initial: d.Initial,
		states:  map[S]*State[S, E]{},
		trans:   map[transKey[S, E]][]*Transition[S, E]{},
	}
	for _, st := range d.States {
		st := st
		if st.Deadline != nil {
			dl := *st.Deadline
			st.Deadline = &dl
		}
		c.states[st.State] = &st
	}
	for _, tr := range d.Transitions {
		tr := tr
		k := transKey[S, E]{tr.From, tr.Event}
		c.trans[k] = append(c.trans[k], &tr)
	}
	return c
}
