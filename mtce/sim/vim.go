package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// vimBody is the body maintenance sends to the VIM (spec D.1).
type vimBody struct {
	StateChange  *VIMState `json:"state-change"`
	Hostname     string    `json:"hostname"`
	UUID         string    `json:"uuid"`
	Subfunctions string    `json:"subfunctions"`
	Personality  string    `json:"personality"`
}

// decodeVIMStateChange parses and checks a VIM host state-change body:
// the state-change object with valid administrative, operational and
// availability states (subfunction states valid when present, "none"
// accepted everywhere), and a hostname and a uuid.
func decodeVIMStateChange(body []byte) (VIMStateChange, error) {
	var b vimBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil {
		return VIMStateChange{}, badRequest("malformed state change: " + err.Error())
	}
	if dec.More() {
		return VIMStateChange{}, badRequest("malformed state change: trailing data")
	}
	if b.StateChange == nil {
		return VIMStateChange{}, badRequest("state-change is required")
	}
	if b.Hostname == "" || b.UUID == "" {
		return VIMStateChange{}, badRequest("hostname and uuid are required")
	}
	st := b.StateChange
	for _, c := range []struct {
		name, v  string
		ok       map[string]bool
		required bool
	}{
		{"administrative", st.Administrative, adminStates, true},
		{"operational", st.Operational, operStates, true},
		{"availability", st.Availability, availStates, true},
		{"subfunction_oper", st.SubfunctionOper, operStates, false},
		{"subfunction_avail", st.SubfunctionAvail, availStates, false},
	} {
		if c.v == "" && c.required {
			return VIMStateChange{}, badRequest("state-change." + c.name + " is required")
		}
		if c.v != "" && c.v != "none" && !c.ok[c.v] {
			return VIMStateChange{}, badRequest(fmt.Sprintf("state-change.%s %q is not one of %s", c.name, c.v, keys(c.ok)))
		}
	}
	return VIMStateChange{UUID: b.UUID, Hostname: b.Hostname, Personality: b.Personality,
		Subfunctions: b.Subfunctions, State: *st}, nil
}

// vim serves PATCH /nfvi-plugins/v1/hosts/<uuid>. Like StarlingX's VIM
// infrastructure API it needs no token.
func (s *Sim) vim(rq *request) plan {
	segs := rq.segs
	if len(segs) != 4 || segs[0] != "nfvi-plugins" || segs[1] != "v1" || segs[2] != "hosts" {
		return s.errorPlan(rq, http.StatusNotFound, "The resource could not be found.")
	}
	if rq.method != http.MethodPatch {
		return methodNotAllowed(s, rq, "PATCH")
	}
	ch, err := decodeVIMStateChange(rq.body)
	if err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	if ch.UUID != segs[3] {
		return s.errorPlan(rq, http.StatusBadRequest,
			fmt.Sprintf("body uuid %q does not match the URL's %q", ch.UUID, segs[3]))
	}
	s.mu.Lock()
	_, known := s.hosts[ch.UUID]
	s.mu.Unlock()
	if !known {
		return s.errorPlan(rq, http.StatusNotFound, "host "+ch.UUID+" not found")
	}
	ch.Time = time.Now()
	s.rec.mu.Lock()
	s.rec.vim.push(ch)
	s.rec.stats.VIMChanges++
	s.rec.mu.Unlock()
	return jsonPlan(http.StatusOK, vimBody{StateChange: &ch.State, Hostname: ch.Hostname, UUID: ch.UUID,
		Subfunctions: ch.Subfunctions, Personality: ch.Personality})
}
