package client

import (
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
)

// EventKind says what an [Event] reports.
type EventKind uint8

// Event kinds.
const (
	// EventServicesStarting: a host-services script set (Command) starts.
	EventServicesStarting EventKind = iota + 1
	// EventServicesDone: a script set finished (Result); its one result
	// message has been handed to the network (ResultSent says whether the
	// send succeeded).
	EventServicesDone
	// EventAutoStart: the start-up auto-start requested Commands (none
	// when Reason says why not: the node is locked, or goenabled failed).
	EventAutoStart
	// EventGoEnabled: a goenabled test set (Tests "main" or "subf") ran;
	// Reason is "" when it passed, else the failure text.
	EventGoEnabled
	// EventGoEnabledReply: the answer to the agent's goEnabled request was
	// sent (Tests, Reason as for EventGoEnabled).
	EventGoEnabledReply
	// EventAction: a reboot-class action (Action: reboot, reset, wipedisk,
	// lazy_reboot, failsafe) was refused (Refused), or ran (Err is its
	// error, nil on success).
	EventAction
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventServicesStarting:
		return "services-starting"
	case EventServicesDone:
		return "services-done"
	case EventAutoStart:
		return "auto-start"
	case EventGoEnabled:
		return "goenabled"
	case EventGoEnabledReply:
		return "goenabled-reply"
	case EventAction:
		return "action"
	}
	return "unknown"
}

// Event is what Config.OnEvent receives. Only the fields of its Kind are
// set.
type Event struct {
	Kind EventKind
	Time time.Time

	Command    hostsvc.Command   // EventServicesStarting, EventServicesDone
	Result     hostsvc.Result    // EventServicesDone
	ResultSent bool              // EventServicesDone
	Commands   []hostsvc.Command // EventAutoStart
	Tests      string            // EventGoEnabled, EventGoEnabledReply: "main" or "subf"
	Reason     string            // EventAutoStart (why none), EventGoEnabled(Reply) (failure text)
	Action     string            // EventAction
	Refused    bool              // EventAction: not configured
	Err        error             // EventAction
}

// emit hands e to Config.OnEvent, if set.
func (c *Client) emit(e Event) {
	if c.cfg.OnEvent == nil {
		return
	}
	e.Time = time.Now()
	c.cfg.OnEvent(e)
}
