package fsm

import (
	"strconv"
	"time"
)

// Msg is an event with an optional payload and an optional epoch guard, for
// [Machine.Post] and [Machine.FireMsg].
type Msg[E comparable] struct {
	Event E

	// Data is handed to guards and callbacks as Step.Data.
	Data any

	// Epoch, if not 0, binds the event to one state occupancy: it is
	// dropped (ErrStale, reported to the observer) unless the machine is
	// still in the occupancy with this epoch when the event is handled. Get
	// it from [Tx.NextEpoch] when starting work whose completion will be
	// posted back, or from [Snapshot].Epoch.
	Epoch uint64
}

// Source says where an event came from.
type Source uint8

// Event sources.
const (
	// SourceStart marks the initial entry, which has no event.
	SourceStart Source = iota + 1
	// SourceExternal: Post, Send or Fire from any goroutine.
	SourceExternal
	// SourceRaised: Tx.Raise, or Fire called from a callback.
	SourceRaised
	// SourceDeadline: a state's deadline rang.
	SourceDeadline
)

var sourceNames = [...]string{
	SourceStart:    "start",
	SourceExternal: "external",
	SourceRaised:   "raised",
	SourceDeadline: "deadline",
}

func (s Source) String() string {
	if int(s) < len(sourceNames) && sourceNames[s] != "" {
		return sourceNames[s]
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// Kind says what a [Record] reports.
type Kind uint8

// Record kinds.
const (
	// KindStarted: the machine entered its initial state.
	KindStarted Kind = iota + 1
	// KindTransitioned: a transition was taken (Internal says which kind).
	KindTransitioned
	// KindRefused: the event did not move the machine; Err is an [*Error]
	// wrapping ErrNoTransition, ErrGuardRejected or ErrActionFailed.
	KindRefused
	// KindStale: the event was dropped because its epoch or deadline
	// belongs to an occupancy that is over (ErrStale).
	KindStale
	// KindDropped: an event was dropped unprocessed: a raised one because
	// of Config.MaxChain (ErrChainLimit), or any waiting one because of
	// Close (ErrClosed).
	KindDropped
)

var kindNames = [...]string{
	KindStarted:      "started",
	KindTransitioned: "transitioned",
	KindRefused:      "refused",
	KindStale:        "stale",
	KindDropped:      "dropped",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Record is what the observer sees for every event the machine handles,
// and for its start.
type Record[S, E comparable] struct {
	Seq      uint64    // 1, 2, ... in the order handled
	At       time.Time // when the step started
	Kind     Kind
	Source   Source
	Event    E
	From     S      // state when the event was handled
	To       S      // state after the step (From unless KindTransitioned or KindStarted)
	Internal bool   // an Internal transition
	Epoch    uint64 // occupancy the event was handled in (after the step: Epoch+1 for an external transition)
	Err      error  // nil for KindStarted and KindTransitioned
}

// Snapshot is a consistent view of the machine, for an admin API.
type Snapshot[S, E comparable] struct {
	State S

	// Epoch numbers state occupancies: it is 1 in the initial state and
	// grows by one at every external transition (internal transitions keep
	// it).
	Epoch uint64

	// Entered is when the current occupancy began.
	Entered time.Time

	// Deadline is when the armed deadline rings; zero if none is armed.
	Deadline time.Time

	// Steps counts the events handled (records minus the start).
	Steps uint64

	// LastEvent is the last event handled, and LastErr the last error of
	// any event (not cleared by later successes), at LastErrAt.
	LastEvent E
	LastErr   error
	LastErrAt time.Time
}

// Step describes the event being handled: what a guard sees, and the
// read-only part of a [Tx].
type Step[S, E comparable] struct {
	From     S
	To       S
	Event    E
	Data     any
	Source   Source
	Internal bool
	Epoch    uint64 // occupancy of From in which the event is handled
}
