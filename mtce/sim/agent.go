package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is SysInv's side of the maintenance agent's event API (spec
// J.11): the checks SysInv makes before it involves maintenance, the
// requests it sends to the agent (mtce_api.py), and how it reads the
// replies (rest_api.py rest_api_request, host.py). It is used only when
// Config.MtcAgentURL is set.

// The timeouts and retries of SysInv's mtce_api calls (constants.py
// MTC_ADD_TIMEOUT_IN_SECS, MTC_DEFAULT_TIMEOUT_IN_SECS,
// MTC_DELETE_TIMEOUT_IN_SECS; host.py passes 3 tries to host_modify).
const (
	agentAddTimeout    = 6 * time.Second
	agentModifyTimeout = 6 * time.Second
	agentDeleteTimeout = 10 * time.Second
	agentModifyTries   = 3
	agentRetrySleep    = 3 * time.Second
)

// AgentCall is one request SysInv sent to the maintenance agent's event
// API, with the reply as SysInv received it.
type AgentCall struct {
	Time      time.Time     // when the request was sent
	Elapsed   time.Duration // until the reply was read or the try failed
	Host      string        // hostname
	UUID      string
	Operation string // body "operation": "add" or "modify"; "delete" for a DELETE
	Action    string // body "action" ("none" when there is none; "" for a delete)
	Try       int    // 1-based; only a modify on the action path has more than one
	Method    string
	URL       string
	Header    http.Header // as set by the simulator (Go's transport adds Host and Content-Length)
	Body      []byte      // exactly as sent
	Status    int         // 0: no reply (timeout, connection error, context end)
	Phrase    string      // the status line's reason phrase
	Reply     []byte      // the reply body
	Err       string      // why there was no reply
	// Outcome is how SysInv's rest_api_request returned the reply to its
	// caller: "pass" (a JSON object with status "pass"), "fail" (another
	// JSON object), "no response" (Python None: no reply, an undecodable
	// non-2xx reason phrase, or a 2xx body "null") or "unreadable" (any
	// other value: a non-JSON 2xx body or a phrase that decodes to a JSON
	// string, number, list or boolean, which crashes SysInv's API).
	Outcome string
}

// VIMAction is one host lock SysInv handed to the VIM before maintenance
// (spec J.5/J.11): the VIM disables the host's services and reports
// Result, after which SysInv sends the lock to the agent.
type VIMAction struct {
	Time   time.Time
	Host   string
	UUID   string
	Action string // "lock" or "force-lock"
	Result string // the vim_progress_status reported: "services-disabled"
}

// SysInvError is SysInv's answer to a user request it refused (Status
// 400: its own checks, or maintenance's rejection as SysInv formats it)
// or could not complete because its API crashed on maintenance's reply
// (Status 500). The REST API answers it with SysInv's error body and
// Message as the fault string; [Sim.UserAction] returns it. It matches
// [ErrRejected] (400) or [ErrSysInvCrash] (500) with errors.Is.
type SysInvError struct {
	Status  int
	Message string
}

func (e *SysInvError) Error() string { return "sim: sysinv: " + e.Message }

// Is matches ErrRejected for a 400 and ErrSysInvCrash for a 500.
func (e *SysInvError) Is(target error) bool {
	return (target == ErrRejected && e.Status == http.StatusBadRequest) ||
		(target == ErrSysInvCrash && e.Status == http.StatusInternalServerError)
}

func rejected(format string, a ...any) *SysInvError {
	return &SysInvError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, a...)}
}

func crashed(why string) *SysInvError {
	return &SysInvError{Status: http.StatusInternalServerError,
		Message: "SysInv's API failed reading maintenance's reply: " + why}
}

// ------------------------------------------------------------- SysInv checks

// sysinvActionCheck is SysInv's own semantic check of a user's host action
// before maintenance hears of it (host.py): reboot, reset and the power
// actions only on a locked host, swact only on an unlocked controller,
// and no lock of the active controller.
func sysinvActionCheck(orig Host, action, active string) error {
	name := orig.Hostname
	switch action {
	case "reboot", "reset", "power-on", "power-off":
		if orig.Administrative != "locked" {
			title := map[string]string{"reboot": "Reboot", "reset": "Reset",
				"power-on": "Power-On", "power-off": "Power-Off"}[action]
			return rejected("Can not '%s' an 'unlocked' host %s; Please 'Lock' first", title, name)
		}
	case "swact", "force-swact":
		if orig.Personality != "controller" {
			return rejected("Swact action not allowed for non controller host %s.", name)
		}
		if orig.Administrative != "unlocked" {
			return rejected("Swact action not allowed for locked controller %s.", name)
		}
	case "lock", "force-lock":
		if orig.Personality == "controller" && name == active {
			return rejected("Can not %s an active controller.", strings.ReplaceAll(action, "-", " "))
		}
	}
	return nil
}

// --------------------------------------------------------------- the body

// pyItem is one key of a Python dict, kept in insertion order. Values are
// nil (None), string, int64, bool or []pyItem (a nested dict).
type pyItem struct {
	k string
	v any
}

func optNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// mtceRecord is the host as SysInv's ihost object's as_dict() gives it, in
// objects/host.py field order (62 keys). Fields the simulator does not
// keep take the values of a freshly installed host.
func mtceRecord(h Host, action string) []pyItem {
	if action == "" {
		action = "none"
	}
	created := any(nil)
	if !h.CreatedAt.IsZero() {
		created = h.CreatedAt.UTC().Format(sysinvTime)
	}
	updated := any(nil)
	if !h.UpdatedAt.IsZero() {
		updated = h.UpdatedAt.UTC().Format(sysinvTime)
	}
	return []pyItem{
		{"id", h.ID},
		{"forisystemid", int64(1)},
		{"isystem_uuid", NameUUID("isystem")},
		{"peer_id", nil},
		{"recordtype", "standard"},
		{"hostname", optNull(h.Hostname)},
		{"personality", optNull(h.Personality)},
		{"kernel_running", "standard"},
		{"kernel_config_status", nil},
		{"subfunctions", optNull(h.Subfunctions)},
		{"subfunction_oper", optNull(h.SubfunctionOper)},
		{"subfunction_avail", optNull(h.SubfunctionAvail)},
		{"apparmor", "disabled"},
		{"apparmor_config_status", nil},
		{"reserved", false},
		{"uuid", h.UUID},
		{"invprovision", optNull(h.InvProvision)},
		{"mgmt_mac", optNull(h.MgmtMAC)},
		{"mgmt_ip", optNull(h.MgmtIP)},
		{"bm_ip", optNull(h.BMIP)},
		{"bm_mac", nil},
		{"bm_type", optNull(h.BMType)},
		{"bm_username", optNull(h.BMUsername)},
		{"location", []pyItem{}},
		{"serialid", nil},
		{"administrative", optNull(h.Administrative)},
		{"operational", optNull(h.Operational)},
		{"availability", optNull(h.Availability)},
		{"ihost_action", nil},
		{"action_state", nil},
		{"inv_state", "inventoried"},
		{"mtce_info", optNull(h.MtceInfo)},
		{"vim_progress_status", optNull(h.VIMProgressStatus)},
		{"action", action},
		{"task", optNull(h.Task)},
		{"uptime", h.Uptime},
		{"config_status", nil},
		{"config_applied", NameUUID("config:" + h.Hostname)}, // an inventoried host has applied a config
		{"config_target", nil},
		{"capabilities", []pyItem{}},
		{"clock_synchronization", "ntp"},
		{"boot_device", "/dev/sda"},
		{"rootfs_device", "/dev/sda"},
		{"hw_settle", "0"},
		{"install_output", "text"},
		{"console", "ttyS0,115200"},
		{"tboot", "false"},
		{"vsc_controllers", nil},
		{"ttys_dcd", false},
		{"software_load", "24.09"},
		{"target_load", "24.09"},
		{"install_state", nil},
		{"install_state_info", nil},
		{"iscsi_initiator_name", nil},
		{"device_image_update", nil},
		{"reboot_needed", false},
		{"max_cpu_mhz_configured", nil},
		{"min_cpu_mhz_allowed", nil},
		{"max_cpu_mhz_allowed", nil},
		{"cstates_available", nil},
		{"created_at", created},
		{"updated_at", updated},
	}
}

// nonMtceKeys are removekeys_nonmtce's keys (sysinv common/utils.py).
var nonMtceKeys = set("created_at", "updated_at", "ihost_action", "action_state",
	"vim_progress_status", "task", "uptime", "location", "serialid", "config_status",
	"config_applied", "config_target", "reserved", "forisystemid")

// pyTruthy is Python's truth value of v.
func pyTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case int64:
		return x != 0
	case bool:
		return x
	case []pyItem:
		return len(x) > 0
	}
	return true
}

// removeKeysNonMtce is removekeys_nonmtce: a key is deleted only when its
// value is truthy, so "task": null, "uptime": 0 and "location": {} stay.
func removeKeysNonMtce(d []pyItem) []pyItem {
	return slices.DeleteFunc(slices.Clone(d), func(it pyItem) bool {
		return nonMtceKeys[it.k] && pyTruthy(it.v)
	})
}

// pyDumps encodes v as Python's json.dumps does with its defaults:
// ", " and ": " separators, ensure_ascii (every character outside
// printable ASCII as \uXXXX, lower-case hex, surrogate pairs).
func pyDumps(v any) []byte {
	var b bytes.Buffer
	pyEncode(&b, v)
	return b.Bytes()
}

func pyEncode(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case string:
		pyString(b, x)
	case []pyItem:
		b.WriteByte('{')
		for i, it := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			pyString(b, it.k)
			b.WriteString(": ")
			pyEncode(b, it.v)
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("sim: pyEncode: unsupported %T", v))
	}
}

func pyString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}

// mtceBody is the body of an add or modify: the host record minus
// removekeys_nonmtce's truthy keys, then "operation" (host.py).
func mtceBody(h Host, action, operation string) []byte {
	d := removeKeysNonMtce(mtceRecord(h, action))
	d = append(d, pyItem{"operation", operation})
	return pyDumps(d)
}

// ------------------------------------------------------ reading the reply

// pyKind is what rest_api_request returns to its caller.
type pyKind int

const (
	pyNone  pyKind = iota // Python None
	pyDict                // a dict (JSON object)
	pyOther               // anything else: bytes, str, number, list, bool
)

// pyReply is rest_api_request's return value.
type pyReply struct {
	kind pyKind
	dict map[string]any // for pyDict; values decoded with UseNumber
	what string         // for pyOther: a description for the error body
}

// pyLoads is Python's json.loads of text: ok is false when it raises.
func pyLoads(text string) (v any, ok bool) {
	t := strings.Trim(text, " \t\r\n")
	switch t {
	case "NaN", "Infinity", "-Infinity":
		return t, true // a float: neither None nor a dict
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // "Extra data"
	}
	return v, true
}

func classify(v any, what string) pyReply {
	switch x := v.(type) {
	case nil:
		return pyReply{kind: pyNone}
	case map[string]any:
		return pyReply{kind: pyDict, dict: x}
	}
	return pyReply{kind: pyOther, what: what}
}

// latin1 is how Python's http.client decodes a status line.
func latin1(b string) string {
	if utf8.ValidString(b) && !strings.ContainsFunc(b, func(r rune) bool { return r >= 0x80 }) {
		return b
	}
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		sb.WriteRune(rune(b[i]))
	}
	return sb.String()
}

// readReply is rest_api_request (sysinv api/controllers/v1/rest_api.py):
//
//	response = urlopen(...).read()          # 2xx
//	response = json.loads(response)         # raises on non-JSON; the
//	                                        # finally's return keeps the raw bytes
//	except HTTPError as e:                  # non-2xx
//	    response = json.loads(e.msg) if e.msg else {}   # e.msg: the reason phrase
//	    raise ...                           # swallowed by the finally's return
//	finally: return response                # None if nothing was assigned
//
// So a timeout or connection error is None; a non-2xx whose phrase is not
// JSON (Go's "Not Found", or a cut JSON text) is None; a non-2xx whose
// phrase is a JSON object is read like a 2xx body.
func readReply(status int, phrase string, body []byte, transportErr bool) pyReply {
	switch {
	case transportErr:
		return pyReply{kind: pyNone}
	case status >= 200 && status < 300:
		text := string(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
		v, ok := pyLoads(text)
		if !ok {
			return pyReply{kind: pyOther, what: fmt.Sprintf("the %d reply's body %q is not JSON", status, truncate(body, 80))}
		}
		return classify(v, fmt.Sprintf("the %d reply's body %q is not a JSON object", status, truncate(body, 80)))
	}
	if phrase == "" {
		return pyReply{kind: pyDict, dict: map[string]any{}}
	}
	v, ok := pyLoads(latin1(phrase))
	if !ok {
		return pyReply{kind: pyNone}
	}
	return classify(v, fmt.Sprintf("the %d reply's reason phrase %q decodes to a JSON %s, not an object",
		status, truncate([]byte(phrase), 80), jsonKind(v)))
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	}
	return "value"
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func (r pyReply) outcome() string {
	switch r.kind {
	case pyNone:
		return "no response"
	case pyOther:
		return "unreadable"
	}
	if s, ok := r.dict["status"].(string); ok && s == "pass" {
		return "pass"
	}
	return "fail"
}

// pyStr is Python's "%s" of a decoded JSON value (approximate for floats
// and containers).
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case json.Number:
		return x.String()
	case map[string]any, []any:
		return pyRepr(v)
	}
	return fmt.Sprint(v)
}

func pyRepr(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(x) + "'"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, pyRepr(k)+": "+pyRepr(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, pyRepr(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return pyStr(v)
}

var noResponse = map[string]any{"status": "fail", "reason": "no response", "action": "retry"}

// readActionReply is host.py's patch path (a user's action or host
// change): None becomes {'status': 'fail', 'reason': 'no response',
// 'action': 'retry'}; then mtc_response['status'] == 'pass' accepts,
// a status of None is "Timeout waiting for maintenance response", and
// anything else is "Operation Rejected: <reason>. <action>.". A reply that
// is not a dict, or lacks a key read, crashes the API (TypeError,
// KeyError).
func readActionReply(r pyReply) error {
	d := r.dict
	switch r.kind {
	case pyNone:
		d = noResponse
	case pyOther:
		return crashed(r.what)
	}
	st, ok := d["status"]
	if !ok {
		return crashed("KeyError: 'status' (the reply has no status)")
	}
	if s, isStr := st.(string); isStr && s == "pass" {
		return nil
	}
	if st == nil {
		return rejected("Timeout waiting for maintenance response. Please retry and if problem persists then contact your system administrator.")
	}
	reason, ok1 := d["reason"]
	action, ok2 := d["action"]
	switch {
	case !ok1:
		return crashed("KeyError: 'reason' (a failed reply without a reason)")
	case !ok2:
		return crashed("KeyError: 'action' (a failed reply without an action)")
	}
	return rejected("Operation Rejected: %s. %s.", pyStr(reason), pyStr(action))
}

// readAddReply is host.py's host-add path: None → no response; then
// mtc_response['status'] != 'pass' reports the reply with .get().
func readAddReply(r pyReply) error {
	d := r.dict
	switch r.kind {
	case pyNone:
		d = noResponse
	case pyOther:
		return crashed(r.what)
	}
	st, ok := d["status"]
	if !ok {
		return crashed("KeyError: 'status' (the reply has no status)")
	}
	if s, isStr := st.(string); isStr && s == "pass" {
		return nil
	}
	return rejected("Maintenance has returned with a status of %s, reason: %s, recommended action: %s",
		pyStr(st), pyStr(d["reason"]), pyStr(d["action"]))
}

// readDeleteReply is host.py's delete path: None → no response; then
// mtc_response_dict.get('status') != 'pass' refuses the delete.
func readDeleteReply(r pyReply) error {
	d := r.dict
	switch r.kind {
	case pyNone:
		d = noResponse
	case pyOther:
		return crashed(r.what + " (AttributeError: no .get)")
	}
	if s, isStr := d["status"].(string); isStr && s == "pass" {
		return nil
	}
	if s, isStr := d["reason"].(string); isStr && s == "no response" {
		return rejected("Timeout waiting for system response. Please wait for a few moments. If the host is not deleted,please retry. If problem persists then contact your system administrator.")
	}
	return rejected("Mtce rejected delete request.Please retry and if problem persists then contact your system administrator.")
}

// ------------------------------------------------------------ the exchange

// agentTransport is the RoundTripper for the agent: the configured one, or
// the Sim's own plain http.Transport (no proxy, no keep-alive).
func (s *Sim) agentTransport() http.RoundTripper {
	if s.cfg.MtcAgentTransport != nil {
		return s.cfg.MtcAgentTransport
	}
	return s.agentRT
}

// agentSend makes one request to the agent as rest_api_request does and
// records it.
func (s *Sim) agentSend(ctx context.Context, h Host, method, path string, body []byte,
	operation, action string, try int, timeout time.Duration) pyReply {
	call := AgentCall{Time: time.Now(), Host: h.Hostname, UUID: h.UUID, Operation: operation,
		Action: action, Try: try, Method: method, URL: strings.TrimRight(s.cfg.MtcAgentURL, "/") + path,
		Body: body}
	header := http.Header{
		"Accept-Encoding": {"identity"},
		"Accept":          {"application/json"},
		"Content-Type":    {"application/json"},
		"User-Agent":      {"sysinv/1.0"},
		"Connection":      {"close"},
	}
	call.Header = header.Clone()

	// The try ends at its timeout, when the caller's context ends, or at
	// Close.
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(s.closeCtx, cancel)
	defer stop()
	var status int
	var phrase string
	var reply []byte
	err := func() error {
		req, err := http.NewRequestWithContext(tctx, method, call.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header = header
		req.Close = true
		client := &http.Client{Transport: s.agentTransport(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		phrase = strings.TrimPrefix(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)), " ")
		reply, err = io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxBodyBytes))
		return err
	}()
	call.Elapsed = time.Since(call.Time)
	call.Status, call.Phrase, call.Reply = status, phrase, reply
	if err != nil {
		call.Err = err.Error()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			call.Err = fmt.Sprintf("timed out after %v: %v", timeout, err)
		}
	}
	r := readReply(status, phrase, reply, err != nil)
	call.Outcome = r.outcome()
	s.rec.mu.Lock()
	s.rec.agent.push(call)
	s.rec.stats.AgentCalls++
	s.rec.mu.Unlock()
	s.log.Debug("sim: sysinv → mtce", "host", h.Hostname, "method", method, "operation", operation,
		"action", action, "try", try, "status", status, "outcome", call.Outcome, "err", call.Err)
	return r
}

// agentModify sends a modify (or the add of a host never provisioned)
// for a user's action or host change, as host.py's patch path does: add
// is one try; modify up to 3 tries, sleeping 3 s after each None (also
// after the last, as mtce_api.host_modify does: 27 s in the worst case).
func (s *Sim) agentModify(ctx context.Context, h Host, action string) error {
	op := "add"
	if h.InvProvision == "provisioned" || h.InvProvision == "upgrading" {
		op = "modify"
	}
	body := mtceBody(h, action, op)
	if op == "add" {
		r := s.agentSend(ctx, h, http.MethodPost, "/v1/hosts/", body, op, action, 1, agentAddTimeout)
		if err := s.cutShort(ctx); err != nil {
			return err
		}
		return readActionReply(r)
	}
	var r pyReply
	for try := 1; try <= agentModifyTries; try++ {
		r = s.agentSend(ctx, h, http.MethodPatch, "/v1/hosts/"+h.UUID, body, op, action, try, agentModifyTimeout)
		if err := s.cutShort(ctx); err != nil {
			return err
		}
		if r.kind != pyNone {
			break
		}
		if err := s.sleep(ctx, agentRetrySleep); err != nil {
			return err
		}
	}
	return readActionReply(r)
}

// cutShort reports why a wait for the agent was abandoned: the Sim
// closed, or the caller's context ended.
func (s *Sim) cutShort(ctx context.Context) error {
	if s.isClosed() {
		return ErrClosed
	}
	return ctx.Err()
}

// agentAdd sends a new host's add (host.py _do_post).
func (s *Sim) agentAdd(ctx context.Context, h Host) error {
	body := mtceBody(h, "none", "add")
	r := s.agentSend(ctx, h, http.MethodPost, "/v1/hosts/", body, "add", "none", 1, agentAddTimeout)
	if err := s.cutShort(ctx); err != nil {
		return err
	}
	return readAddReply(r)
}

// agentDelete sends a host's delete: the body is json.dumps(None).
func (s *Sim) agentDelete(ctx context.Context, h Host) error {
	r := s.agentSend(ctx, h, http.MethodDelete, "/v1/hosts/"+h.UUID, []byte("null"), "delete", "", 1, agentDeleteTimeout)
	if err := s.cutShort(ctx); err != nil {
		return err
	}
	return readDeleteReply(r)
}

// vimStep hands a lock or force-lock to the VIM, which disables the
// host's services and reports services-disabled (after
// Config.VIMServicesDelay); SysInv records it in vim_progress_status.
func (s *Sim) vimStep(ctx context.Context, h Host, action string) (Host, error) {
	if d := s.cfg.VIMServicesDelay; d > 0 {
		if err := s.sleep(ctx, d); err != nil {
			return Host{}, err
		}
	}
	const result = "services-disabled"
	s.mu.Lock()
	if hs := s.hosts[h.UUID]; hs != nil {
		nh := hs.Host
		nh.VIMProgressStatus = result
		_ = s.commitHostLocked(hs, nh)
	}
	s.mu.Unlock()
	s.rec.mu.Lock()
	s.rec.vimActions.push(VIMAction{Time: time.Now(), Host: h.Hostname, UUID: h.UUID, Action: action, Result: result})
	s.rec.mu.Unlock()
	h.VIMProgressStatus = result
	return h, nil
}

// agentAction is SysInv's handling of a user's host action when an agent
// is configured: its own checks on the record as it was (orig), the VIM
// step for a lock, then the agent with the patched record (patched).
func (s *Sim) agentAction(ctx context.Context, orig, patched Host, action string) error {
	s.mu.Lock()
	active := s.active
	s.mu.Unlock()
	if err := sysinvActionCheck(orig, action, active); err != nil {
		return err
	}
	send := action
	switch action {
	case "lock", "force-lock":
		var err error
		if patched, err = s.vimStep(ctx, patched, action); err != nil {
			return err
		}
	case "force-unlock":
		send = "unlock"
	}
	return s.agentModify(ctx, patched, send)
}

// AgentCalls returns the requests SysInv sent to the maintenance agent
// (Config.MtcAgentURL), oldest first, each try separately.
func (s *Sim) AgentCalls() []AgentCall {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	out := s.rec.agent.snapshot()
	for i := range out {
		out[i].Header = out[i].Header.Clone()
		out[i].Body = slices.Clone(out[i].Body)
		out[i].Reply = slices.Clone(out[i].Reply)
	}
	return out
}

// VIMActions returns the host locks SysInv handed to the VIM before the
// agent, oldest first.
func (s *Sim) VIMActions() []VIMAction {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.vimActions.snapshot()
}
