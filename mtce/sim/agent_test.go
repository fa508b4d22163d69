package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// ------------------------------------------------------------ fake agents

// rawRequest is one request as the fake agent read it off the wire.
type rawRequest struct {
	line   string   // request line
	names  []string // header names in the order sent
	header http.Header
	body   []byte
}

// rawAgent is a fake maintenance agent on a real loopback socket: it
// records the request bytes and answers with the raw bytes reply returns,
// so that status lines with any reason phrase can be sent.
type rawAgent struct {
	ln    net.Listener
	reply func(rawRequest) string
	wg    sync.WaitGroup
	mu    sync.Mutex
	reqs  []rawRequest
}

func startRawAgent(t *testing.T, reply func(rawRequest) string) *rawAgent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &rawAgent{ln: ln, reply: reply}
	a.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.wg.Go(func() { a.serve(t, c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		a.wg.Wait()
	})
	return a
}

func (a *rawAgent) url() string { return "http://" + a.ln.Addr().String() }

func (a *rawAgent) serve(t *testing.T, c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		t.Errorf("fake agent: request line: %v", err)
		return
	}
	rq := rawRequest{line: line, header: http.Header{}}
	for {
		l, err := tp.ReadLine()
		if err != nil {
			t.Errorf("fake agent: header: %v", err)
			return
		}
		if l == "" {
			break
		}
		k, v, _ := strings.Cut(l, ":")
		rq.names = append(rq.names, k)
		rq.header.Add(k, strings.TrimSpace(v))
	}
	n, _ := strconv.Atoi(rq.header.Get("Content-Length"))
	rq.body = make([]byte, n)
	if _, err := io.ReadFull(br, rq.body); err != nil {
		t.Errorf("fake agent: body: %v", err)
		return
	}
	a.mu.Lock()
	a.reqs = append(a.reqs, rq)
	a.mu.Unlock()
	_, _ = io.WriteString(c, a.reply(rq))
}

func (a *rawAgent) requests() []rawRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]rawRequest(nil), a.reqs...)
}

// rawReply is a reply as StarlingX's agent writes it.
func rawReply(statusLine, body string) string {
	return fmt.Sprintf("%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		statusLine, len(body), body)
}

const passBody = "{\"status\":\"pass\"}\n"

// rtFunc is an in-memory agent for virtual-time tests.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// memReply builds a response; status "404 Not Found" style.
func memReply(r *http.Request, status, body string) *http.Response {
	code, _ := strconv.Atoi(strings.SplitN(status, " ", 2)[0])
	return &http.Response{Status: status, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}

// constAgent answers every request with status and body.
func constAgent(status, body string) rtFunc {
	return func(r *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, r.Body)
		return memReply(r, status, body), nil
	}
}

// agentSim is a Sim with an agent at the in-memory transport rt.
func agentSim(t *testing.T, rt http.RoundTripper, mut func(*Config)) *Sim {
	return newSim(t, func(c *Config) {
		c.MtcAgentURL = "http://127.0.0.1:2112"
		c.MtcAgentTransport = rt
		if mut != nil {
			mut(c)
		}
	})
}

// userPatch sends a user's action through SysInv's REST API.
func userPatch(t *testing.T, s *Sim, tok, host, action string) reply {
	t.Helper()
	h, ok := s.Host(host)
	if !ok {
		t.Fatalf("no host %s", host)
	}
	return call(t.Context(), s.Client(), http.MethodPatch, s.MemoryEndpoints().SysInv+"/v1/ihosts/"+h.UUID, tok,
		[]map[string]string{{"path": "/action", "value": action, "op": "replace"}})
}

// keysOf returns the top-level keys of a JSON object in order.
func keysOf(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("body %q is not an object", body)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func decodeBody(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return m
}

// ------------------------------------------------------------------ tests

// The requests on the wire, byte for byte as SysInv's urllib sends them:
// add with a trailing slash and operation add, the first unlock of a new
// host as an add, lock after the VIM step with administrative still
// unlocked, force-unlock as unlock with administrative locked, delete with
// the body null.
func TestAgentRequestsOnTheWire(t *testing.T) {
	agent := startRawAgent(t, func(rawRequest) string { return rawReply("HTTP/1.1 200 OK", passBody) })
	s := newSim(t, func(c *Config) { c.MtcAgentURL = agent.url() })
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)

	// Host add: POST /v1/ihosts → POST /v1/hosts/ operation add.
	r := call(t.Context(), c, http.MethodPost, ep.SysInv+"/v1/ihosts", tok, map[string]any{
		"hostname": "compute-0", "personality": "worker", "mgmt_mac": "52:54:00:8f:1a:03",
		"mgmt_ip": "192.168.204.103", "bm_type": nil})
	mustStatus(t, r, http.StatusOK)
	newHost, _ := s.Host("compute-0")

	// First unlock of the never-provisioned host: an add with the action.
	mustStatus(t, userPatch(t, s, tok, "compute-0", "unlock"), http.StatusOK)
	// Lock of a provisioned worker: VIM first, then modify lock.
	mustStatus(t, userPatch(t, s, tok, "worker-0", "lock"), http.StatusOK)
	mustStatus(t, userPatch(t, s, tok, "worker-1", "force-lock"), http.StatusOK)
	if _, err := s.UpdateHost("worker-0", func(h *Host) { h.Administrative = "locked" }); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, userPatch(t, s, tok, "worker-0", "force-unlock"), http.StatusOK)
	// Delete of the locked new host.
	mustStatus(t, call(t.Context(), c, http.MethodDelete, ep.SysInv+"/v1/ihosts/"+newHost.UUID, tok, nil), http.StatusNoContent)
	if _, ok := s.Host("compute-0"); ok {
		t.Error("deleted host still listed")
	}

	reqs := agent.requests()
	want := []struct {
		line, op, action, admin string
	}{
		{"POST /v1/hosts/ HTTP/1.1", "add", "none", "locked"},
		{"POST /v1/hosts/ HTTP/1.1", "add", "unlock", "locked"},
		{"PATCH /v1/hosts/" + NameUUID("worker-0") + " HTTP/1.1", "modify", "lock", "unlocked"},
		{"PATCH /v1/hosts/" + NameUUID("worker-1") + " HTTP/1.1", "modify", "force-lock", "unlocked"},
		{"PATCH /v1/hosts/" + NameUUID("worker-0") + " HTTP/1.1", "modify", "unlock", "locked"},
		{"DELETE /v1/hosts/" + newHost.UUID + " HTTP/1.1", "", "", ""},
	}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests to the agent, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		rq := reqs[i]
		if rq.line != w.line {
			t.Errorf("request %d: %q, want %q", i, rq.line, w.line)
		}
		for k, v := range map[string]string{"Accept": "application/json", "Content-Type": "application/json",
			"User-Agent": "sysinv/1.0", "Connection": "close", "Accept-Encoding": "identity",
			"Content-Length": strconv.Itoa(len(rq.body))} {
			if got := rq.header.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("request %d: %s %q, want %q", i, k, got, v)
			}
		}
		if rq.header.Get("X-Auth-Token") != "" {
			t.Errorf("request %d carries a token", i)
		}
		if w.op == "" {
			if string(rq.body) != "null" {
				t.Errorf("delete body %q, want null", rq.body)
			}
			continue
		}
		m := decodeBody(t, rq.body)
		if m["operation"] != w.op || m["action"] != w.action || m["administrative"] != w.admin {
			t.Errorf("request %d: operation %v action %v administrative %v, want %s %s %s",
				i, m["operation"], m["action"], m["administrative"], w.op, w.action, w.admin)
		}
		keys := keysOf(t, rq.body)
		if keys[len(keys)-1] != "operation" {
			t.Errorf("request %d: operation is not the last key: %v", i, keys)
		}
		// Python's json.dumps separators.
		if !bytes.HasPrefix(rq.body, []byte(`{"id": `)) || bytes.Contains(rq.body, []byte(`":"`)) {
			t.Errorf("request %d: not json.dumps' format: %.60s", i, rq.body)
		}
	}

	// removekeys_nonmtce deletes only truthy values: the new host's task
	// null, uptime 0, location {}, reserved false arrive; created_at goes.
	add := decodeBody(t, reqs[0].body)
	for k, v := range map[string]any{"task": nil, "uptime": 0.0, "reserved": false, "updated_at": nil,
		"bm_type": nil, "hostname": "compute-0", "id": float64(newHost.ID)} {
		got, ok := add[k]
		if !ok || fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("add body %s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	for _, k := range []string{"location", "capabilities"} {
		if m, ok := add[k].(map[string]any); !ok || len(m) != 0 {
			t.Errorf("add body %s = %v, want {}", k, add[k])
		}
	}
	if _, ok := add["created_at"]; ok {
		t.Error("add body has created_at (truthy: removed by removekeys_nonmtce)")
	}
	// The lock body: vim_progress_status services-disabled is truthy,
	// so removed; the host record keeps it.
	lock := decodeBody(t, reqs[2].body)
	if _, ok := lock["vim_progress_status"]; ok {
		t.Error("lock body has vim_progress_status")
	}
	if lock["invprovision"] != "provisioned" {
		t.Errorf("lock body invprovision %v", lock["invprovision"])
	}
	if h, _ := s.Host("worker-0"); h.VIMProgressStatus != "services-disabled" {
		t.Errorf("worker-0 vim_progress_status %q", h.VIMProgressStatus)
	}
	va := s.VIMActions()
	if len(va) != 2 || va[0].Host != "worker-0" || va[0].Action != "lock" || va[1].Action != "force-lock" {
		t.Errorf("VIM actions %+v", va)
	}

	// The key order is the one of the record eventapi's tests were written
	// from (StarlingX's objects/host.py).
	raw, err := os.ReadFile("../eventapi/testdata/sysinv_add_worker.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(keysOf(t, reqs[0].body), ","), strings.Join(keysOf(t, raw), ","); got != want {
		t.Errorf("add body keys\n got %s\nwant %s", got, want)
	}
	if n := len(keysOf(t, reqs[0].body)); n < 55 {
		t.Errorf("add body has %d keys", n)
	}

	calls := s.AgentCalls()
	if len(calls) != len(want) || calls[0].Outcome != "pass" || calls[5].Operation != "delete" ||
		calls[2].Try != 1 || s.Stats().AgentCalls != len(want) {
		t.Errorf("agent calls %+v", calls)
	}
	if acts := s.Actions(); len(acts) != 4 {
		t.Errorf("%d actions recorded, want 4", len(acts))
	}
}

// SysInv's own checks come first and never reach the agent.
func TestAgentSysInvChecks(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]any
	rt := rtFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		bodies = append(bodies, m)
		return memReply(r, "200 OK", passBody), nil
	})
	s := agentSim(t, rt, func(c *Config) {
		c.Hosts = Inventory(4)
		c.Hosts[3].Administrative = "locked" // worker-1
	})
	tok := getToken(t, s.Client(), s.MemoryEndpoints())
	refused := []struct{ host, action, msg string }{
		{"worker-0", "reboot", "Can not 'Reboot' an 'unlocked' host worker-0; Please 'Lock' first"},
		{"worker-0", "reset", "Can not 'Reset' an 'unlocked' host worker-0"},
		{"worker-0", "power-on", "Can not 'Power-On' an 'unlocked' host worker-0"},
		{"worker-0", "power-off", "Can not 'Power-Off' an 'unlocked' host worker-0"},
		{"worker-0", "swact", "non controller host worker-0"},
		{"worker-1", "force-swact", "non controller host worker-1"},
		{"controller-0", "lock", "Can not lock an active controller."},
		{"controller-0", "force-lock", "Can not force lock an active controller."},
	}
	for _, c := range refused {
		r := userPatch(t, s, tok, c.host, c.action)
		mustStatus(t, r, http.StatusBadRequest)
		if msg := sysinvError(t, r); !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s: %q, want %q", c.action, c.host, msg, c.msg)
		}
		err := s.UserAction(t.Context(), c.host, c.action)
		var se *SysInvError
		if !errors.As(err, &se) || !errors.Is(err, ErrRejected) || !strings.Contains(se.Message, c.msg) {
			t.Errorf("UserAction %s %s: %v", c.action, c.host, err)
		}
	}
	// A locked controller cannot swact.
	if _, err := s.UpdateHost("controller-1", func(h *Host) { h.Administrative = "locked" }); err != nil {
		t.Fatal(err)
	}
	if err := s.UserAction(t.Context(), "controller-1", "swact"); !errors.Is(err, ErrRejected) {
		t.Errorf("swact of a locked controller: %v", err)
	}
	// Unknown actions: SysInv's 400.
	mustStatus(t, userPatch(t, s, tok, "worker-0", "dance"), http.StatusBadRequest)
	if err := s.UserAction(t.Context(), "worker-0", "dance"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("unknown action: %v", err)
	}
	// An unlocked host cannot be deleted.
	r := call(t.Context(), s.Client(), http.MethodDelete, s.MemoryEndpoints().SysInv+"/v1/ihosts/"+NameUUID("worker-0"), tok, nil)
	mustStatus(t, r, http.StatusBadRequest)
	mu.Lock()
	n := len(bodies)
	mu.Unlock()
	if n != 0 || len(s.AgentCalls()) != 0 || len(s.Actions()) != 0 || len(s.VIMActions()) != 0 {
		t.Fatalf("refused requests reached the agent: %d bodies, %d calls", n, len(s.AgentCalls()))
	}

	// Allowed: reboot/reset/power on a locked host, swact on the unlocked
	// controller, lock of the standby controller.
	if _, err := s.UpdateHost("controller-1", func(h *Host) { h.Administrative = "unlocked" }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ host, action string }{{"worker-1", "reboot"}, {"worker-1", "reset"},
		{"worker-1", "power-off"}, {"worker-1", "power-on"}, {"worker-1", "reinstall"},
		{"controller-0", "swact"}, {"controller-1", "force-swact"}, {"controller-1", "lock"}} {
		mustStatus(t, userPatch(t, s, tok, c.host, c.action), http.StatusOK)
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, b := range bodies {
		got = append(got, fmt.Sprintf("%s:%s:%s", b["hostname"], b["action"], b["operation"]))
	}
	if s := strings.Join(got, " "); s != "worker-1:reboot:modify worker-1:reset:modify worker-1:power-off:modify "+
		"worker-1:power-on:modify worker-1:reinstall:modify controller-0:swact:modify "+
		"controller-1:force-swact:modify controller-1:lock:modify" {
		t.Errorf("sent %s", s)
	}
}

// How SysInv reads the agent's reply (rest_api.py, host.py): what the
// user sees for each reply to a modify.
func TestAgentReplyReading(t *testing.T) {
	cases := []struct {
		name, status, body string
		want               int
		msg                string
		tries              int
	}{
		{"pass", "200 OK", passBody, 200, "", 1},
		{"pass, another 2xx", "202 Accepted", `{"status": "pass", "extra": 1}`, 200, "", 1},
		{"fail", "200 OK", `{"status":"fail","reason":"Host is being patched","action":"Wait"}` + "\n", 400,
			"Operation Rejected: Host is being patched. Wait.", 1},
		{"fail, non-string reason", "200 OK", `{"status":"fail","reason":null,"action":3}`, 400,
			"Operation Rejected: None. 3.", 1},
		{"status null", "200 OK", `{"status":null}`, 400, "Timeout waiting for maintenance response.", 1},
		{"fail without action", "200 OK", `{"status":"fail","reason":"x"}`, 500, "KeyError: 'action'", 1},
		{"no status", "200 OK", `{"result":"pass"}`, 500, "KeyError: 'status'", 1},
		{"non-JSON 2xx", "200 OK", "OK", 500, "is not JSON", 1},
		{"empty 2xx", "200 OK", "", 500, "is not JSON", 1},
		{"2xx JSON string", "200 OK", `"pass"`, 500, "not a JSON object", 1},
		{"2xx null", "200 OK", "null", 400, "Operation Rejected: no response. retry.", 3},
		{"non-2xx, Go's plain phrase", "404 Not Found", "404 page not found\n", 400,
			"Operation Rejected: no response. retry.", 3},
		{"non-2xx, cut JSON phrase", `503 {"status":"fail","reason":"Maint`, "", 400,
			"Operation Rejected: no response. retry.", 3},
		{"non-2xx, JSON object phrase", `400 {"status":"fail","reason":"Failed to parse the request","action":"Check the request and retry"}`,
			"<html></html>", 400, "Operation Rejected: Failed to parse the request. Check the request and retry.", 1},
		{"non-2xx, phrase a JSON string", `500 "Internal Server Error"`, "", 500, "decodes to a JSON string", 1},
		{"non-2xx, phrase a JSON number", `500 42`, "", 500, "decodes to a JSON number", 1},
		{"non-2xx, empty phrase", `500`, "", 500, "KeyError: 'status'", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := agentSim(t, constAgent(tc.status, tc.body), nil)
				tok := getToken(t, s.Client(), s.MemoryEndpoints())
				start := time.Now()
				r := userPatch(t, s, tok, "worker-1", "reboot-not-yet") // unknown: 400, no call
				mustStatus(t, r, http.StatusBadRequest)
				_, _ = s.UpdateHost("worker-1", func(h *Host) { h.Administrative = "locked" })
				r = userPatch(t, s, tok, "worker-1", "reboot")
				mustStatus(t, r, tc.want)
				if tc.msg != "" {
					if msg := sysinvError(t, r); !strings.Contains(msg, tc.msg) {
						t.Errorf("message %q, want %q", msg, tc.msg)
					}
				}
				calls := s.AgentCalls()
				if len(calls) != tc.tries {
					t.Fatalf("%d tries, want %d", len(calls), tc.tries)
				}
				// 3 s after each empty result, also after the last.
				if wantElapsed := time.Duration(3*(tc.tries-1)) * time.Second; tc.tries > 1 {
					wantElapsed += 3 * time.Second
					if el := time.Since(start); el != wantElapsed {
						t.Errorf("took %v, want %v", el, wantElapsed)
					}
				}
				if h, _ := s.Host("worker-1"); (tc.want == 200) != (len(s.Actions()) == 1) {
					t.Errorf("accepted %d actions for answer %d (host %s)", len(s.Actions()), tc.want, h.Hostname)
				}
			})
		})
	}
}

// Modify retries in virtual time: a silent agent is tried 3 times with a
// 6 s timeout, 3 s apart (27 s); an add is tried once; a delete waits 10 s.
func TestAgentTimeoutsAndRetries(t *testing.T) {
	silent := rtFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	synctest.Test(t, func(t *testing.T) {
		s := agentSim(t, silent, nil)
		start := time.Now()
		err := s.UserAction(t.Context(), "worker-0", "lock")
		if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "Operation Rejected: no response. retry.") {
			t.Fatalf("lock: %v", err)
		}
		if el := time.Since(start); el != 27*time.Second {
			t.Errorf("lock took %v, want 27s", el)
		}
		calls := s.AgentCalls()
		if len(calls) != 3 {
			t.Fatalf("%d tries", len(calls))
		}
		for i, c := range calls {
			if c.Try != i+1 || c.Time.Sub(start) != time.Duration(9*i)*time.Second || c.Elapsed != 6*time.Second ||
				c.Status != 0 || c.Outcome != "no response" || !strings.Contains(c.Err, "timed out after 6s") {
				t.Errorf("try %d: %+v", i+1, c)
			}
		}

		// The first unlock of a new host is an add: one try.
		if _, err := s.AddHost(Host{Hostname: "worker-9", Personality: "worker"}); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		if err := s.UserAction(t.Context(), "worker-9", "unlock"); !errors.Is(err, ErrRejected) {
			t.Fatalf("unlock: %v", err)
		}
		if el := time.Since(start); el != 6*time.Second || len(s.AgentCalls()) != 4 {
			t.Errorf("add took %v with %d calls", el, len(s.AgentCalls()))
		}

		// Delete: 10 s, one try, SysInv's timeout message; the host stays.
		tok := getToken(t, s.Client(), s.MemoryEndpoints())
		h, _ := s.Host("worker-9")
		start = time.Now()
		r := call(t.Context(), s.Client(), http.MethodDelete, s.MemoryEndpoints().SysInv+"/v1/ihosts/"+h.UUID, tok, nil)
		mustStatus(t, r, http.StatusBadRequest)
		if msg := sysinvError(t, r); !strings.HasPrefix(msg, "Timeout waiting for system response.") {
			t.Errorf("delete: %q", msg)
		}
		if el := time.Since(start); el != 10*time.Second {
			t.Errorf("delete took %v", el)
		}
		if _, ok := s.Host("worker-9"); !ok {
			t.Error("host deleted although maintenance did not answer")
		}
	})
}

// A modify that gets no response and then a pass succeeds on the second
// try, 3 s after the first; the requester's context ends the wait.
func TestAgentRetryThenPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		n := 0
		rt := rtFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			n++
			first := n == 1
			mu.Unlock()
			if first {
				return memReply(r, "503 Service Unavailable", ""), nil
			}
			return memReply(r, "200 OK", passBody), nil
		})
		s := agentSim(t, rt, nil)
		start := time.Now()
		if err := s.UserAction(t.Context(), "worker-0", "lock"); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 3*time.Second {
			t.Errorf("took %v, want 3s", el)
		}
		if c := s.AgentCalls(); len(c) != 2 || c[0].Outcome != "no response" || c[1].Outcome != "pass" || c[1].Try != 2 {
			t.Errorf("calls %+v", c)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
		defer cancel()
		silent := agentSim(t, rtFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}), nil)
		start = time.Now()
		if err := silent.UserAction(ctx, "worker-0", "reboot-me"); !errors.Is(err, ErrInvalidValue) {
			t.Fatal(err)
		}
		if _, err := silent.UpdateHost("worker-0", func(h *Host) { h.Administrative = "locked" }); err != nil {
			t.Fatal(err)
		}
		if err := silent.UserAction(ctx, "worker-0", "reboot"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cut short: %v", err)
		}
		if el := time.Since(start); el != 4*time.Second {
			t.Errorf("context end took %v", el)
		}
	})
}

// The VIM step: the lock waits Config.VIMServicesDelay, the host records
// services-disabled, then the agent gets the lock; a context that ends
// during the VIM step sends nothing.
func TestAgentVIMStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := agentSim(t, constAgent("200 OK", passBody), func(c *Config) { c.VIMServicesDelay = 5 * time.Second })
		start := time.Now()
		if err := s.UserAction(t.Context(), "worker-0", "lock"); err != nil {
			t.Fatal(err)
		}
		c := s.AgentCalls()
		if len(c) != 1 || c[0].Time.Sub(start) != 5*time.Second || c[0].Action != "lock" {
			t.Fatalf("calls %+v", c)
		}
		if v := s.VIMActions(); len(v) != 1 || v[0].Time.Sub(start) != 5*time.Second || v[0].Result != "services-disabled" {
			t.Errorf("VIM %+v", v)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := s.UserAction(ctx, "worker-1", "force-lock"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("force-lock: %v", err)
		}
		if len(s.AgentCalls()) != 1 || len(s.VIMActions()) != 1 {
			t.Error("a lock cut short in the VIM step reached the agent")
		}
	})
}

// Host add and delete replies as SysInv's _do_post and delete read them.
func TestAgentAddDeleteRejected(t *testing.T) {
	fail := `{"status":"fail","reason":"Duplicate hostname","action":"Delete the other host first"}`
	s := agentSim(t, constAgent("200 OK", fail), nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)
	r := call(t.Context(), c, http.MethodPost, ep.SysInv+"/v1/ihosts", tok,
		map[string]any{"hostname": "worker-7", "personality": "worker"})
	mustStatus(t, r, http.StatusBadRequest)
	if msg := sysinvError(t, r); msg != "Maintenance has returned with a status of fail, reason: Duplicate hostname, "+
		"recommended action: Delete the other host first" {
		t.Errorf("add: %q", msg)
	}
	h, ok := s.Host("worker-7")
	if !ok {
		t.Fatal("SysInv keeps a host maintenance refused")
	}
	r = call(t.Context(), c, http.MethodDelete, ep.SysInv+"/v1/ihosts/"+h.UUID, tok, nil)
	mustStatus(t, r, http.StatusBadRequest)
	if msg := sysinvError(t, r); !strings.HasPrefix(msg, "Mtce rejected delete request.") {
		t.Errorf("delete: %q", msg)
	}
	if _, ok := s.Host("worker-7"); !ok {
		t.Error("host deleted although maintenance refused")
	}
	calls := s.AgentCalls()
	if len(calls) != 2 || calls[0].Method != "POST" || !strings.HasSuffix(calls[0].URL, "/v1/hosts/") ||
		calls[1].Method != "DELETE" || string(calls[1].Body) != "null" {
		t.Errorf("calls %+v", calls)
	}

	// A non-JSON 2xx crashes SysInv's delete too (500); the host stays.
	crash := agentSim(t, constAgent("200 OK", "<html>ok</html>"), nil)
	tok = getToken(t, crash.Client(), crash.MemoryEndpoints())
	_, _ = crash.UpdateHost("worker-1", func(h *Host) { h.Administrative = "locked" })
	r = call(t.Context(), crash.Client(), http.MethodDelete, crash.MemoryEndpoints().SysInv+"/v1/ihosts/"+NameUUID("worker-1"), tok, nil)
	mustStatus(t, r, http.StatusInternalServerError)
	if _, ok := crash.Host("worker-1"); !ok {
		t.Error("host deleted after a crash")
	}
}

// Without an agent, OnAction still decides; with one, OnAction is not
// called.
func TestAgentPrecedence(t *testing.T) {
	called := 0
	s := agentSim(t, constAgent("200 OK", passBody), func(c *Config) {
		c.OnAction = func(context.Context, Action) error { called++; return errors.New("no") }
	})
	if err := s.UserAction(t.Context(), "worker-0", "lock"); err != nil || called != 0 {
		t.Errorf("with an agent: %v, OnAction called %d times", err, called)
	}
	cfg := DefaultConfig()
	cfg.MtcAgentURL = "ftp://x"
	if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad URL: %v", err)
	}
	cfg.MtcAgentURL, cfg.VIMServicesDelay = "http://127.0.0.1:2112", -1
	if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("negative delay: %v", err)
	}
}

// The body encoder is Python's json.dumps: separators, ensure_ascii,
// escapes; removekeys_nonmtce keeps falsy values.
func TestPyDumps(t *testing.T) {
	got := string(pyDumps([]pyItem{{"a", "x\"\\\n\t\x01\x7fé😀<&>"}, {"b", int64(-3)}, {"c", nil},
		{"d", false}, {"e", []pyItem{}}, {"f", []pyItem{{"g", true}}}}))
	want := `{"a": "x\"\\\n\t\u0001\u007f\u00e9\ud83d\ude00<&>", "b": -3, "c": null, "d": false, "e": {}, "f": {"g": true}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	d := removeKeysNonMtce([]pyItem{{"task", nil}, {"uptime", int64(0)}, {"location", []pyItem{}},
		{"reserved", false}, {"created_at", "2026"}, {"uptime", int64(5)}, {"task", "Locking"}, {"hostname", "x"}})
	if got := string(pyDumps(d)); got != `{"task": null, "uptime": 0, "location": {}, "reserved": false, "hostname": "x"}` {
		t.Errorf("removekeys: %s", got)
	}
}

// FuzzReadReply: reading any reply never panics, and the user's answer is
// 200, 400 or 500 with a message.
func FuzzReadReply(f *testing.F) {
	f.Add(200, "OK", []byte(passBody))
	f.Add(404, `{"status":"fail","reason":"x","action":"y"}`, []byte(""))
	f.Add(400, `"Bad"`, []byte("x"))
	f.Add(500, "", []byte("null"))
	f.Add(200, "OK", []byte(`{"status":"fail","reason":{"a":[1,2.5,"q"]},"action":true}`))
	f.Add(503, "NaN", []byte{0xef, 0xbb, 0xbf, '{', '}'})
	f.Fuzz(func(t *testing.T, status int, phrase string, body []byte) {
		r := readReply(status, phrase, body, false)
		for _, read := range []func(pyReply) error{readActionReply, readAddReply, readDeleteReply} {
			err := read(r)
			if err == nil {
				if r.outcome() != "pass" {
					t.Fatalf("accepted a %s reply", r.outcome())
				}
				continue
			}
			var se *SysInvError
			if !errors.As(err, &se) || (se.Status != 400 && se.Status != 500) || se.Message == "" {
				t.Fatalf("error %v", err)
			}
		}
	})
}

// Close ends a wait for the agent at once: a try in flight, and the
// retry sleep.
func TestAgentClose(t *testing.T) {
	for _, at := range []time.Duration{time.Second, 7 * time.Second} { // in the first try; in the sleep after it
		synctest.Test(t, func(t *testing.T) {
			silent := rtFunc(func(r *http.Request) (*http.Response, error) {
				<-r.Context().Done()
				return nil, r.Context().Err()
			})
			s := agentSim(t, silent, nil)
			errc := make(chan error, 1)
			start := time.Now()
			go func() { errc <- s.UserAction(context.Background(), "worker-0", "lock") }()
			time.Sleep(at)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; !errors.Is(err, ErrClosed) {
				t.Errorf("closed at %v: %v", at, err)
			}
			if el := time.Since(start); el != at {
				t.Errorf("closed at %v, returned after %v", at, el)
			}
		})
	}
}

// FuzzPyString: every string encodes as JSON that decodes back to it
// (invalid UTF-8 as U+FFFD), in printable ASCII only.
func FuzzPyString(f *testing.F) {
	f.Add("compute-0")
	f.Add("x\"\\\n\t\x01\x7fé😀<&>\u2028")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, in string) {
		b := pyDumps([]pyItem{{in, in}})
		for _, c := range b {
			if c < ' ' || c > '~' {
				t.Fatalf("byte %#x in %q", c, b)
			}
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		want := string([]rune(in)) // each invalid byte as U+FFFD, as ranging does
		if len(m) != 1 || m[want] != want {
			t.Fatalf("%q decoded to %q", in, m)
		}
	})
}
