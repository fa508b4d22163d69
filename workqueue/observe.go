package workqueue

import (
	"strconv"
	"time"
)

// Observer receives an [Event] for everything the queue does, so that a
// daemon can export metrics (Prometheus or other) without this package
// importing a metrics library. Observe is called synchronously from the
// goroutine that caused the event (a submitter, a worker, the scheduler, or
// a caller of Purge, Cancel or Close), never with any of the queue's locks
// held. It must be safe for concurrent use and quick; it may call the
// queue's methods, except Close.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

// EventKind says what an [Event] reports.
type EventKind uint8

// Event kinds.
const (
	// EventAdmitted: Submit accepted an item. Depth is the lane depth after.
	EventAdmitted EventKind = iota + 1
	// EventRejected: Submit refused an item. Err is ErrOverloaded-wrapping
	// or ErrClosed; Depth is the lane depth.
	EventRejected
	// EventAttempt: an attempt ended. Attempt, Duration and Err are set;
	// Final says whether the item ends with it.
	EventAttempt
	// EventDone: an item finished. Attempt is the number of attempts,
	// Duration the time from Submit to the end of the item (its last
	// attempt's end, or its removal by Purge, Cancel or Close), Err nil or
	// an *Error.
	EventDone
	// EventHoldStart: the Gate was found closed while lanes had work.
	EventHoldStart
	// EventHoldBypass: the Gate stayed closed for Config.MaxHold; the queue
	// dispatches anyway. Duration is the hold so far.
	EventHoldBypass
	// EventHoldEnd: the Gate opened. Duration is the length of the hold.
	EventHoldEnd
)

var eventNames = [...]string{
	EventAdmitted:   "admitted",
	EventRejected:   "rejected",
	EventAttempt:    "attempt",
	EventDone:       "done",
	EventHoldStart:  "hold-start",
	EventHoldBypass: "hold-bypass",
	EventHoldEnd:    "hold-end",
}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one observation. Key, Seq, Critical and Attempt are zero for the
// hold events, which concern the whole queue.
type Event struct {
	Kind     EventKind
	Key      string
	Seq      uint64
	Critical bool
	Attempt  int
	Depth    int
	Final    bool
	Duration time.Duration
	Err      error
}

// Stats is a snapshot of the queue. The cumulative counters satisfy
//
//	Admitted == Succeeded + Failed + Purged + Canceled + Abandoned + Pending
type Stats struct {
	Admitted  uint64 // items accepted by Submit
	Rejected  uint64 // items refused with ErrOverloaded
	Attempts  uint64 // attempts dispatched
	Retries   uint64 // failed attempts followed by a retry
	Succeeded uint64 // items that succeeded
	Failed    uint64 // items that failed (budget spent, permanent error, backoff.Stop)
	Purged    uint64 // items completed with ErrPurged
	Canceled  uint64 // items completed with ErrCanceled
	Abandoned uint64 // items completed with ErrClosed by Close
	Orphaned  uint64 // attempts abandoned while running (ErrAttemptAbandoned), returned or not

	Pending  int // items admitted and not yet finished
	InFlight int // attempts running or delivering their callbacks
	Orphans  int // attempts cut short whose Run has not returned yet (≤ Workers+MaxOrphans)
	Waiting  int // lanes waiting to retry their head item

	Holding  bool          // the Gate is holding the queue now
	Holds    uint64        // hold episodes so far
	Bypasses uint64        // holds that reached MaxHold
	HoldTime time.Duration // total time held, including the current hold

	Lanes []LaneStats // lanes that hold items or an unreported failure, by key
}

// LaneStats describes one lane.
type LaneStats struct {
	Key      string
	Depth    int       // items queued or running
	Critical int       // of which critical
	InFlight bool      // an attempt of the head item is running
	RetryAt  time.Time // when the head item's next attempt is due, if waiting
	Failure  error     // first critical failure not yet reported by WaitLane
}
