package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/client"
)

// Event kinds.
const (
	KindDemo     = "demo"
	KindState    = "state"    // SysInv admin-oper-avail (and subfunction) changes
	KindTask     = "task"     // SysInv task string changes
	KindServices = "services" // host-services runs and results, at the client
	KindBoot     = "boot"     // boots, reboots, power, client start/stop
	KindAgent    = "agent"    // agent start, ready, stop
	KindSwact    = "swact"    // swact stages
	KindToken    = "token"    // corruption and renewals
	KindAction   = "action"   // user actions
	KindGoEnable = "goenabled"
)

// Event is one thing that happened in the system.
type Event struct {
	Time time.Time
	Kind string
	Host string // "" for system-wide events
	Text string
}

// String is the event as one plain line.
func (e Event) String() string {
	h := e.Host
	if h == "" {
		h = "-"
	}
	return fmt.Sprintf("%s %-9s %-13s %s", e.Time.Format("15:04:05.000"), e.Kind, h, e.Text)
}

// eventQueue delivers events in order on its own goroutine, without ever
// blocking the emitter, and keeps the last ones.
type eventQueue struct {
	fn     func(Event)
	mu     sync.Mutex
	q      []Event
	recent []Event
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

const recentEvents = 200

func newEventQueue(fn func(Event)) *eventQueue {
	e := &eventQueue{fn: fn, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go e.run()
	return e
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	e.q = append(e.q, ev)
	e.recent = append(e.recent, ev)
	if len(e.recent) > recentEvents {
		e.recent = slices.Delete(e.recent, 0, len(e.recent)-recentEvents)
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) run() {
	defer close(e.done)
	for {
		e.mu.Lock()
		q := e.q
		e.q = nil
		e.mu.Unlock()
		for _, ev := range q {
			if e.fn != nil {
				e.fn(ev)
			}
		}
		select {
		case <-e.wake:
		case <-e.stop:
			e.mu.Lock()
			q := e.q
			e.q = nil
			e.mu.Unlock()
			for _, ev := range q {
				if e.fn != nil {
					e.fn(ev)
				}
			}
			return
		}
	}
}

// close delivers what is queued and stops.
func (e *eventQueue) close() {
	e.once.Do(func() { close(e.stop) })
	<-e.done
}

func (e *eventQueue) last(n int) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n > len(e.recent) {
		n = len(e.recent)
	}
	return slices.Clone(e.recent[len(e.recent)-n:])
}

func (d *Demo) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	d.ev.push(ev)
}

// Events returns the last n events (at most 200 are kept).
func (d *Demo) Events(n int) []Event { return d.ev.last(n) }

// clientEvents turns a client's events (host services, goenabled, machine
// actions) into demo events; boot is the client's boot number.
func clientEvents(h *host, boot int) func(client.Event) {
	return func(e client.Event) {
		cmd := strings.TrimSuffix(e.Command.String(), " host services")
		switch e.Kind {
		case client.EventServicesStarting:
			h.setServices("running " + cmd)
			h.d.emit(Event{Time: e.Time, Kind: KindServices, Host: h.name, Text: cmd + " host services: running"})
		case client.EventServicesDone:
			outcome := e.Result.Outcome.String()
			h.record(boot, ServiceResult{Command: cmd, Outcome: outcome, At: e.Time})
			sent := "one result sent to the agent"
			if !e.ResultSent {
				sent = "its result could not be sent"
			}
			text := fmt.Sprintf("%s host services: %s in %s; %s", cmd, outcome, e.Result.Duration.Round(time.Millisecond), sent)
			if !e.Result.OK() {
				text += " (" + e.Result.Text() + ")"
			}
			h.d.emit(Event{Time: e.Time, Kind: KindServices, Host: h.name, Text: text})
		case client.EventAutoStart:
			if e.Reason != "" {
				h.d.emit(Event{Time: e.Time, Kind: KindServices, Host: h.name, Text: "auto-start: none (" + e.Reason + ")"})
				return
			}
			cmds := make([]string, len(e.Commands))
			for i, c := range e.Commands {
				cmds[i] = c.String()
			}
			h.d.emit(Event{Time: e.Time, Kind: KindServices, Host: h.name, Text: "auto-start: [" + strings.Join(cmds, " ") + "]"})
		case client.EventGoEnabled:
			text := "goenabled tests (" + e.Tests + ") passed"
			if e.Reason != "" {
				text = "goenabled tests (" + e.Tests + ") failed: " + e.Reason
			}
			h.d.emit(Event{Time: e.Time, Kind: KindGoEnable, Host: h.name, Text: text})
		case client.EventAction:
			if e.Refused {
				h.d.emit(Event{Time: e.Time, Kind: KindBoot, Host: h.name, Text: "mtcClient refused " + e.Action})
			}
		}
	}
}

// HostView is one host's line of the status table.
type HostView struct {
	Name                     string
	Admin, Oper, Avail, Task string
	SubfOper, SubfAvail      string
	Machine                  string        // down, booting, up
	Uptime                   time.Duration // since the host's last boot
	LastAlive                time.Time     // last mtcAlive the agent got
	Flags                    string        // the client's mtcAlive flags
	Services                 string        // the client's host-services state
	Running                  string        // the agent's running action
}

// View is the system at one moment.
type View struct {
	Time         time.Time
	Active       string // SM's active controller
	AgentOn      string // where the agent runs ("" between two)
	AgentPhase   string
	Hosts        []HostView
	Token        agent.TokenStatus
	Queue        agent.QueueStatus
	Swact        agent.SwactStatus
	Corruptions  int
	SwactPending bool // SM is moving activity
	AgentMoving  bool // the agent is being stopped and started on the new active controller
}

// Snapshot returns the system's state: SysInv's host records, the
// machines, the agent's view and its token, queue and swact.
func (d *Demo) Snapshot() View {
	v := View{Time: time.Now()}
	if d.sim == nil {
		return v
	}
	v.Active = d.sim.ActiveController()
	v.SwactPending = d.sim.SwactPending()
	v.Corruptions = len(d.sim.Corruptions())
	d.mu.Lock()
	v.AgentMoving = d.moving
	d.mu.Unlock()
	var ah map[string]agent.HostStatus
	if r := d.currentAgent(); r != nil {
		st := r.a.Status()
		v.AgentOn, v.AgentPhase = r.host.name, st.Phase
		v.Token, v.Queue, v.Swact = st.Token, st.Queue, st.Swact
		ah = map[string]agent.HostStatus{}
		for _, h := range r.a.Hosts() {
			ah[h.Name] = h
		}
	}
	for _, sh := range d.sim.Hosts() {
		hv := HostView{Name: sh.Hostname, Admin: sh.Administrative, Oper: sh.Operational, Avail: sh.Availability,
			Task: sh.Task, SubfOper: sh.SubfunctionOper, SubfAvail: sh.SubfunctionAvail}
		if h, ok := d.byName[sh.Hostname]; ok {
			h.mu.Lock()
			hv.Machine, hv.Services = h.state, h.services
			if h.state == "up" {
				hv.Uptime = time.Since(h.bootAt)
			}
			h.mu.Unlock()
			hv.Flags = h.flags()
		}
		if a, ok := ah[sh.Hostname]; ok {
			hv.LastAlive, hv.Running = a.LastAlive, a.Running
		}
		v.Hosts = append(v.Hosts, hv)
	}
	return v
}

// monitor turns what it sees in SysInv, SM and the agent into events,
// ten times a second.
func (d *Demo) monitor(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	states := map[string]string{}
	tasks := map[string]string{}
	active := ""
	type agentSeen struct {
		stage             string
		renew, unauth, ff uint64
	}
	seen := map[*agentRun]*agentSeen{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, h := range d.sim.Hosts() {
			s := h.Administrative + "-" + h.Operational + "-" + h.Availability
			if d.byName[h.Hostname] != nil && d.byName[h.Hostname].aio {
				s += " (worker subfunction " + h.SubfunctionOper + "-" + h.SubfunctionAvail + ")"
			}
			if states[h.Hostname] != s {
				states[h.Hostname] = s
				d.emit(Event{Kind: KindState, Host: h.Hostname, Text: s})
			}
			if old, ok := tasks[h.Hostname]; (ok || h.Task != "") && old != h.Task {
				tasks[h.Hostname] = h.Task
				text := fmt.Sprintf("task %q", h.Task)
				if h.Task == "" {
					text = "task cleared"
				}
				d.emit(Event{Kind: KindTask, Host: h.Hostname, Text: text})
				if h.Task == "Swact: In-Progress" {
					d.mu.Lock()
					for i := range d.swacts {
						if s := &d.swacts[i]; s.From == h.Hostname && s.InProgress.IsZero() {
							s.InProgress = time.Now()
						}
					}
					d.mu.Unlock()
				}
			}
		}
		if a := d.sim.ActiveController(); a != active {
			if active != "" {
				d.emit(Event{Kind: KindSwact, Host: a, Text: "sm: " + a + " is the active controller"})
			}
			active = a
		}
		r := d.currentAgent()
		if r == nil {
			continue
		}
		st := r.a.Status()
		as := seen[r]
		if as == nil {
			as = &agentSeen{stage: st.Swact.Stage}
			seen[r] = as
		}
		if st.Swact.Stage != as.stage {
			as.stage = st.Swact.Stage
			text := "agent swact stage " + st.Swact.Stage
			if st.Swact.Host != "" {
				text += fmt.Sprintf(" (%s, try %d, %v)", st.Swact.Host, st.Swact.Try, st.Swact.Elapsed.Round(time.Millisecond))
			}
			d.emit(Event{Kind: KindSwact, Host: r.host.name, Text: text})
		}
		if st.Token.RenewalsUnauth > as.unauth {
			d.emit(Event{Kind: KindToken, Host: r.host.name, Text: fmt.Sprintf("token renewed after a 401 (repaired; %d so far by this agent)", st.Token.RenewalsUnauth)})
		} else if st.Token.Renewals > as.renew && as.renew > 0 {
			d.emit(Event{Kind: KindToken, Host: r.host.name, Text: fmt.Sprintf("token renewed (%d renewals)", st.Token.Renewals)})
		}
		if st.Token.Failures > as.ff {
			d.emit(Event{Kind: KindToken, Host: r.host.name, Text: fmt.Sprintf("token request failed (%d failures)", st.Token.Failures)})
		}
		as.renew, as.unauth, as.ff = st.Token.Renewals, st.Token.RenewalsUnauth, st.Token.Failures
		d.mu.Lock()
		r.last = st
		d.mu.Unlock()
	}
}

// roundDur shortens a logged duration to milliseconds.
func roundDur(s string) string {
	if d, err := time.ParseDuration(s); err == nil {
		return d.Round(time.Millisecond).String()
	}
	return s
}
