package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ServiceNode is SM's answer to GET /v1/servicenode/<controller> (spec
// C.4). Maintenance reads hostname, origin and swactable_services.
type ServiceNode struct {
	Origin            string `json:"origin"`
	Hostname          string `json:"hostname"`
	Admin             string `json:"admin"`
	Oper              string `json:"oper"`
	Avail             string `json:"avail"`
	ActiveServices    string `json:"active_services"`
	SwactableServices string `json:"swactable_services"`
}

// smNode is SM's view of a controller.
type smNode struct {
	admin, oper, avail string
	swactable          bool
}

// smPatch is the body of PATCH /v1/servicenode/<controller>.
type smPatch struct {
	Origin string `json:"origin"`
	Action string `json:"action"`
	Admin  string `json:"admin"`
	Oper   string `json:"oper"`
	Avail  string `json:"avail"`
}

var smActions = set("swact", "lock", "unlock", "event")

// decodeSMPatch parses and checks an SM state-change body: origin is
// required, action is swact, lock, unlock or event, and the states, when
// present, are valid maintenance states (or "none"). Other keys are
// ignored.
func decodeSMPatch(body []byte) (smPatch, error) {
	var p smPatch
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return smPatch{}, badRequest("malformed service node request: " + err.Error())
	}
	if dec.More() {
		return smPatch{}, badRequest("malformed service node request: trailing data")
	}
	if p.Origin == "" {
		return smPatch{}, badRequest("origin is required")
	}
	if !smActions[p.Action] {
		return smPatch{}, badRequest(fmt.Sprintf("action %q is not one of swact|lock|unlock|event", p.Action))
	}
	for _, c := range []struct {
		name, v string
		ok      map[string]bool
	}{{"admin", p.Admin, adminStates}, {"oper", p.Oper, operStates}, {"avail", p.Avail, availStates}} {
		if c.v != "" && c.v != "none" && !c.ok[c.v] {
			return smPatch{}, badRequest(fmt.Sprintf("%s %q is not one of %s", c.name, c.v, keys(c.ok)))
		}
	}
	return p, nil
}

// smNodeLocked returns SM's node for a controller hostname (nil if the
// host is not a controller), creating it from the SysInv record.
func (s *Sim) smNodeLocked(name string) *smNode {
	u, ok := s.names[name]
	if !ok {
		return nil
	}
	hs := s.hosts[u]
	if hs.Personality != "controller" {
		return nil
	}
	n := s.sm[name]
	if n == nil {
		n = &smNode{admin: hs.Administrative, oper: hs.Operational, avail: hs.Availability,
			swactable: !s.cfg.Unswactable}
		s.sm[name] = n
	}
	return n
}

// mateLocked returns the other controller's hostname ("" if none).
func (s *Sim) mateLocked(name string) string {
	for n, u := range s.names {
		if n != name && s.hosts[u].Personality == "controller" {
			return n
		}
	}
	return ""
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// serviceNodeLocked describes a controller as SM reports it: it has active
// services while it is the active controller, and they are swactable
// while it is active, swacts are allowed and a mate exists.
func (s *Sim) serviceNodeLocked(name string, n *smNode) ServiceNode {
	active := s.active == name
	return ServiceNode{
		Origin: "sm", Hostname: name, Admin: n.admin, Oper: n.oper, Avail: n.avail,
		ActiveServices:    yesNo(active),
		SwactableServices: yesNo(active && n.swactable && s.mateLocked(name) != ""),
	}
}

func (s *Sim) smService(rq *request) plan {
	if len(rq.segs) != 3 || rq.segs[0] != "v1" || rq.segs[1] != "servicenode" {
		return s.errorPlan(rq, http.StatusNotFound, "The resource could not be found.")
	}
	name := rq.segs[2]
	switch rq.method {
	case http.MethodGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		n := s.smNodeLocked(name)
		if n == nil {
			return s.errorPlan(rq, http.StatusNotFound, "service node "+name+" not found")
		}
		return jsonPlan(http.StatusOK, s.serviceNodeLocked(name, n))
	case http.MethodPatch:
		return s.patchServiceNode(rq, name)
	}
	return methodNotAllowed(s, rq, "GET", "PATCH")
}

func (s *Sim) patchServiceNode(rq *request, name string) plan {
	p, err := decodeSMPatch(rq.body)
	if err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.smNodeLocked(name)
	if n == nil {
		return s.errorPlan(rq, http.StatusNotFound, "service node "+name+" not found")
	}
	if p.Action == "swact" && s.swact == nil {
		mate := s.mateLocked(name)
		switch {
		case s.active != name:
			return s.errorPlan(rq, http.StatusBadRequest, name+" has no active services to swact")
		case mate == "":
			return s.errorPlan(rq, http.StatusBadRequest, "no standby controller to swact to")
		case !n.swactable:
			return s.errorPlan(rq, http.StatusBadRequest, "services on "+name+" are not swactable")
		}
		if !s.startSwactLocked(name, mate) {
			return abortPlan("closed")
		}
	}
	// A repeated swact while one is pending is accepted and changes nothing.
	for _, c := range []struct {
		dst *string
		v   string
	}{{&n.admin, p.Admin}, {&n.oper, p.Oper}, {&n.avail, p.Avail}} {
		if c.v != "" {
			*c.dst = c.v
		}
	}
	return jsonPlan(http.StatusOK, s.serviceNodeLocked(name, n))
}

// startSwactLocked moves activity from → to after Config.SwactDelay, on a
// goroutine Close joins.
func (s *Sim) startSwactLocked(from, to string) bool {
	rec := &SwactRecord{From: from, To: to, RequestedAt: time.Now()}
	delay := s.cfg.SwactDelay
	s.swact = rec
	ok := s.goOwned(func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.done:
			return
		}
		s.completeSwact(rec)
	})
	if !ok {
		s.swact = nil
	}
	s.log.Debug("sim: swact accepted", "from", from, "to", to, "delay", delay)
	return ok
}

func (s *Sim) completeSwact(rec *SwactRecord) {
	s.mu.Lock()
	if s.swact != rec {
		s.mu.Unlock()
		return
	}
	s.active = rec.To
	rec.CompletedAt = time.Now()
	s.swact = nil
	done := *rec
	s.mu.Unlock()
	s.rec.mu.Lock()
	s.rec.swacts.push(done)
	s.rec.stats.Swacts++
	s.rec.mu.Unlock()
	s.log.Debug("sim: swact complete", "from", done.From, "to", done.To)
	if s.cfg.OnSwact != nil {
		s.cfg.OnSwact(done.From, done.To)
	}
}

// ActiveController returns the controller SM reports as active.
func (s *Sim) ActiveController() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// SetActiveController makes a controller active at once (as after a
// reboot of the other one); a pending swact is abandoned.
func (s *Sim) SetActiveController(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.smNodeLocked(name) == nil {
		return fmt.Errorf("%w: controller %q", ErrNotFound, name)
	}
	s.active = name
	s.swact = nil
	return nil
}

// SetSwactable sets whether a controller's services may be swacted (SM's
// swactable_services while it is active).
func (s *Sim) SetSwactable(name string, yes bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.smNodeLocked(name)
	if n == nil {
		return fmt.Errorf("%w: controller %q", ErrNotFound, name)
	}
	n.swactable = yes
	return nil
}

// ServiceNode returns what SM would answer for a controller.
func (s *Sim) ServiceNode(name string) (ServiceNode, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.smNodeLocked(name)
	if n == nil {
		return ServiceNode{}, false
	}
	return s.serviceNodeLocked(name, n), true
}

// SwactPending reports whether SM is in the middle of a swact.
func (s *Sim) SwactPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.swact != nil
}
