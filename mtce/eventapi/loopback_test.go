package eventapi

import (
	"bufio"
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
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/swact"
)

// serveLoopback runs the handler on a real loopback TCP listener.
func serveLoopback(t *testing.T, b Backend) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Hostname = "controller-0"
	h, err := New(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := h.NewServer()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

// rawExchange writes req byte for byte on a new TCP connection and reads
// one reply: the raw status line, the headers and Content-Length bytes of
// body (SM's curl does not ask for Connection: close, so the reply is
// delimited by its length, not by the end of the connection).
func rawExchange(t *testing.T, addr, req string) (status string, header http.Header, body string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	status, err = br.ReadString('\n')
	if err != nil || !strings.HasSuffix(status, "\r\n") {
		t.Fatalf("status line %q: %v", status, err)
	}
	status = strings.TrimSuffix(status, "\r\n")
	mh, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	header = http.Header(mh)
	n, err := strconv.Atoi(header.Get("Content-Length"))
	if err != nil {
		t.Fatalf("Content-Length %q: %v", header.Get("Content-Length"), err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		t.Fatal(err)
	}
	return status, header, string(b)
}

// sysinvRequest is what sysinv's rest_api_request (urllib) sends: title-
// cased headers, Accept-Encoding identity, Connection: close.
func sysinvRequest(method, path, body string) string {
	return fmt.Sprintf("%s %s HTTP/1.1\r\nAccept-Encoding: identity\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nHost: localhost:2112\r\nUser-Agent: sysinv/1.0\r\nAccept: application/json\r\n"+
		"Connection: close\r\n\r\n%s", method, path, len(body), body)
}

// vimRequest is the VIM's (urllib): X-Auth-Token always, a body even on GET.
func vimRequest(method, path, body string) string {
	cl := ""
	if body != "" {
		cl = fmt.Sprintf("Content-Length: %d\r\n", len(body))
	}
	return fmt.Sprintf("%s %s HTTP/1.1\r\nAccept-Encoding: identity\r\n%sHost: localhost:2112\r\n"+
		"X-Auth-Token: gAAAAABn-token\r\nAccept: application/json\r\nContent-Type: application/json\r\n"+
		"User-Agent: vim/1.0\r\nConnection: close\r\n\r\n%s", method, path, cl, body)
}

// smRequest is SM's curl command line: Content-Type without a space, no
// Connection header (curl's default HTTP/1.1 keep-alive).
func smRequest(peer string) string {
	body := fmt.Sprintf(`{"action": "event", "hostname":"%s", "operational": "disabled", "availability": "failed"}`, peer)
	return fmt.Sprintf("POST /v1/hosts/%s/ HTTP/1.1\r\nHost: localhost:2112\r\nContent-Type:application/json\r\n"+
		"Accept: application/json\r\nUser-Agent: sm/1.0\r\nContent-Length: %d\r\n\r\n%s",
		peer, len(body), body)
}

func testdataBody(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/sysinv_add_worker.json")
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return string(raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// sysinvReadsPhrase is how SysInv reads a non-2xx reply: rest_api_request
// runs json.loads on the reason phrase and swallows a decode error. The
// phrase must not decode to anything but an object (that crashes SysInv's
// API); every phrase here but 503's is the refusal's JSON object, which
// SysInv reads as the reply (see checkPhrase).
func sysinvReadsPhrase(t *testing.T, status string) {
	t.Helper()
	parts := strings.SplitN(status, " ", 3)
	if len(parts) != 3 {
		t.Fatalf("status line %q has no phrase", status)
	}
	var v any
	if err := json.Unmarshal([]byte(parts[2]), &v); err != nil {
		t.Errorf("reason phrase %q is not the refusal's JSON: %v", parts[2], err)
		return
	}
	if m, ok := v.(map[string]any); !ok || m["status"] != "fail" {
		t.Errorf("reason phrase %q decodes to %T, not a refusal: SysInv's API would crash", parts[2], v)
	}
}

// smReads is SM's check: the first line (at most 1023 bytes) is JSON with
// status "pass".
func smReads(body string) bool {
	line, _, _ := strings.Cut(body, "\n")
	if len(line) > 1023 {
		line = line[:1023]
	}
	var r struct {
		Status string `json:"status"`
	}
	return json.Unmarshal([]byte(line), &r) == nil && r.Status == "pass"
}

func oneLineJSON(t *testing.T, body string) {
	t.Helper()
	if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
		t.Errorf("body %q is not one line ending in \\n", body)
	}
	if !json.Valid([]byte(body)) {
		t.Errorf("body %q is not JSON", body)
	}
}

// The testdata record names compute-0, which the fixture already has under
// another uuid: a sysinv refusal is HTTP 200, status fail, reason and
// action, one line, and changes nothing.
func TestLoopbackSysinvRefusal(t *testing.T) {
	b := fixture()
	addr := serveLoopback(t, b)
	st, _, body := rawExchange(t, addr, sysinvRequest("POST", "/v1/hosts/", testdataBody(t, nil)))
	want := `{"status":"fail","reason":"Duplicate hostname","action":"Delete the other host with hostname 'compute-0' first"}` + "\n"
	if st != "HTTP/1.1 200 OK" || body != want {
		t.Fatalf("got %q %q", st, body)
	}
	if b.changes() != 0 {
		t.Fatalf("state changed: %s", b.calls())
	}
}

func TestLoopbackSysinv(t *testing.T) {
	b := fixture()
	addr := serveLoopback(t, b)
	const pass = "{\"status\":\"pass\"}\n"
	newWorker := func(m map[string]any) { m["hostname"] = "compute-1"; m["mgmt_ip"] = "192.168.204.103" }

	// Add: POST /v1/hosts/ with the trailing slash and the full record.
	st, _, body := rawExchange(t, addr, sysinvRequest("POST", "/v1/hosts/", testdataBody(t, newWorker)))
	if st != "HTTP/1.1 200 OK" || body != pass {
		t.Fatalf("add: %q %q", st, body)
	}
	if len(b.adds) != 1 || b.adds[0].Host.UUID != uuidW1 || b.adds[0].Host.Admin != mtce.AdminLocked ||
		b.adds[0].Action != mtce.ActionNone || b.adds[0].Host.MgmtMAC != "52:54:00:8f:1a:03" {
		t.Fatalf("add recorded %+v", b.adds)
	}

	// First unlock of the never-provisioned worker: POST add with the
	// action, administrative still locked → a modify with UNLOCK.
	st, _, body = rawExchange(t, addr, sysinvRequest("POST", "/v1/hosts/", testdataBody(t, func(m map[string]any) {
		newWorker(m)
		m["action"] = "unlock"
	})))
	if st != "HTTP/1.1 200 OK" || body != pass {
		t.Fatalf("unlock: %q %q", st, body)
	}
	if len(b.modifies) != 1 || b.modifies[0].Action != mtce.ActionUnlock {
		t.Fatalf("modifies %+v", b.modifies)
	}

	// Lock after VIM's services-disabled: PATCH with administrative still
	// unlocked and action lock.
	b.mu.Lock()
	b.hosts[3].Admin, b.hosts[3].Oper, b.hosts[3].Avail = mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable
	b.mu.Unlock()
	st, _, body = rawExchange(t, addr, sysinvRequest("PATCH", "/v1/hosts/"+uuidW1, testdataBody(t, func(m map[string]any) {
		newWorker(m)
		m["administrative"], m["operational"], m["availability"] = "unlocked", "enabled", "available"
		m["action"], m["operation"], m["invprovision"] = "lock", "modify", "provisioned"
	})))
	if st != "HTTP/1.1 200 OK" || body != pass || len(b.modifies) != 2 || b.modifies[1].Action != mtce.ActionLock {
		t.Fatalf("lock: %q %q %+v", st, body, b.modifies)
	}

	// While the swact mutex is held, every action is refused, HTTP 200.
	b.mu.Lock()
	b.held = true
	b.mu.Unlock()
	st, _, body = rawExchange(t, addr, sysinvRequest("PATCH", "/v1/hosts/"+uuidW1, testdataBody(t, func(m map[string]any) {
		newWorker(m)
		m["action"], m["operation"] = "reboot", "modify"
	})))
	if st != "HTTP/1.1 200 OK" {
		t.Fatalf("held: %q", st)
	}
	oneLineJSON(t, body)
	var r struct{ Status, Reason, Action string }
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "fail" || fmt.Sprintf("Operation Rejected: %s. %s.", r.Reason, r.Action) != swact.InProgressReason {
		t.Fatalf("held reply %q", body)
	}
	if len(b.modifies) != 2 || len(b.rejected) != 1 {
		t.Fatalf("a refusal changed state: %s", b.calls())
	}
	b.mu.Lock()
	b.held = false
	b.mu.Unlock()

	// Delete of an unknown uuid: body null, 404 with a JSON reason phrase.
	st, hd, body := rawExchange(t, addr, sysinvRequest("DELETE", "/v1/hosts/99999999-9999-4999-8999-999999999999", "null"))
	if !strings.HasPrefix(st, "HTTP/1.1 404 {\"status\":\"fail\"") {
		t.Fatalf("delete unknown: %q", st)
	}
	sysinvReadsPhrase(t, st)
	oneLineJSON(t, body)
	if hd.Get("Connection") != "close" || hd.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Errorf("headers %v", hd)
	}
	if st != "HTTP/1.1 404 "+strings.TrimSuffix(body, "\n") {
		t.Errorf("phrase %q is not the body %q", st, body)
	}

	// Delete of the worker.
	st, _, body = rawExchange(t, addr, sysinvRequest("DELETE", "/v1/hosts/"+uuidW1, "null"))
	if st != "HTTP/1.1 200 OK" || body != pass || len(b.deletes) != 1 || b.deletes[0] != "compute-1" {
		t.Fatalf("delete: %q %q %v", st, body, b.deletes)
	}
}

func TestLoopbackVIM(t *testing.T) {
	b := fixture()
	addr := serveLoopback(t, b)

	st, _, body := rawExchange(t, addr, vimRequest("GET", "/v1/systems", ""))
	want := `{"hosts":[{"uuid":"` + uuidC0 + `","hostname":"controller-0","uptime":1234},{"uuid":"` + uuidC1 +
		`","hostname":"controller-1","uptime":1234},{"uuid":"` + uuidW0 + `","hostname":"compute-0","uptime":4321}]}` + "\n"
	if st != "HTTP/1.1 200 OK" || body != want {
		t.Fatalf("systems: %q\n%q", st, body)
	}

	b.mu.Lock()
	b.hosts[2].Adding = true
	b.mu.Unlock()
	st, _, body = rawExchange(t, addr, vimRequest("GET", "/v1/systems", ""))
	if st != "HTTP/1.1 202 Accepted" || body != want {
		t.Fatalf("systems while adding: %q %q", st, body)
	}

	// GET with a JSON body.
	st, _, body = rawExchange(t, addr, vimRequest("GET", "/v1/hosts/"+uuidW0,
		`{"uuid": "`+uuidW0+`", "hostname": "compute-0"}`))
	wantHost := `{"state":{"administrative":"unlocked","operational":"enabled","availability":"available",` +
		`"subfunction_oper":"none","subfunction_avail":"none"},"hostname":"compute-0","uuid":"` + uuidW0 +
		`","subfunctions":"worker","personality":"worker"}` + "\n"
	if st != "HTTP/1.1 200 OK" || body != wantHost {
		t.Fatalf("host: %q\n%q", st, body)
	}

	st, _, body = rawExchange(t, addr, vimRequest("PATCH", "/v1/hosts/"+uuidW0,
		`{"uuid": "`+uuidW0+`", "hostname": "compute-0", "severity": "failed"}`))
	if st != "HTTP/1.1 200 OK" || body != "{\"status\":\"pass\"}\n" || len(b.vim) != 1 || b.vim[0] != "compute-0 reboot=false" {
		t.Fatalf("severity: %q %q %v", st, body, b.vim)
	}

	st, _, body = rawExchange(t, addr, vimRequest("PATCH", "/v1/hosts/"+uuidW0,
		`{"uuid": "`+uuidW0+`", "hostname": "compute-0", "severity": "degraded"}`))
	if !strings.HasPrefix(st, "HTTP/1.1 405 {") {
		t.Fatalf("degraded: %q", st)
	}
	oneLineJSON(t, body)
}

func TestLoopbackSM(t *testing.T) {
	b := fixture()
	addr := serveLoopback(t, b)

	st, _, body := rawExchange(t, addr, smRequest("controller-1"))
	if st != "HTTP/1.1 200 OK" || !smReads(body) || len(b.sm) != 1 || b.sm[0] != "controller-1" {
		t.Fatalf("sm: %q %q %v", st, body, b.sm)
	}
	st, _, body = rawExchange(t, addr, smRequest("controller-9"))
	if st != "HTTP/1.1 200 OK" || smReads(body) {
		t.Fatalf("sm unknown: %q %q", st, body)
	}
	oneLineJSON(t, body)
	if !strings.Contains(body, "controller-9") || !strings.Contains(body, `"action":"event"`) {
		t.Errorf("sm unknown body %q", body)
	}
}

// TestLoopbackRefusals sends every HTTP-level refusal over TCP: exact code,
// JSON phrase, one-line JSON body, and no state change.
func TestLoopbackRefusals(t *testing.T) {
	b := fixture()
	addr := serveLoopback(t, b)
	big := strings.Repeat(" ", DefaultMaxBodyBytes+1)
	for _, c := range []struct {
		name, req string
		code      int
	}{
		{"unknown user agent", strings.Replace(sysinvRequest("DELETE", "/v1/hosts/"+uuidW0, "null"), "sysinv/1.0", "curl/8.0", 1), 403},
		{"no user agent", strings.Replace(sysinvRequest("DELETE", "/v1/hosts/"+uuidW0, "null"), "User-Agent: sysinv/1.0\r\n", "", 1), 403},
		{"wrong path", sysinvRequest("DELETE", "/v2/hosts/"+uuidW0, "null"), 403},
		{"sysinv systems", sysinvRequest("GET", "/v1/systems", ""), 403},
		{"method", sysinvRequest("OPTIONS", "/v1/hosts/"+uuidW0, ""), 501},
		{"put", sysinvRequest("PUT", "/v1/hosts/"+uuidW0, "{}"), 404},
		{"empty body", sysinvRequest("PATCH", "/v1/hosts/"+uuidW0, ""), 411},
		{"bad json", sysinvRequest("PATCH", "/v1/hosts/"+uuidW0, `{"uuid":`), 400},
		{"short uuid", sysinvRequest("PATCH", "/v1/hosts/x", `{"uuid":"x","operation":"modify","action":"reboot"}`), 400},
		{"operation", sysinvRequest("PATCH", "/v1/hosts/"+uuidW0, `{"uuid":"`+uuidW0+`","operation":"update","action":"reboot"}`), 400},
		{"too large", sysinvRequest("PATCH", "/v1/hosts/"+uuidW0, big), 413},
		{"sysinv get", sysinvRequest("GET", "/v1/hosts/"+uuidW0, ""), 400},
		{"sysinv get unknown", sysinvRequest("GET", "/v1/hosts/nobody", ""), 404},
		{"vim post systems", vimRequest("POST", "/v1/systems", `{"severity":"failed"}`), 400},
		{"vim no severity", vimRequest("PATCH", "/v1/hosts/"+uuidW0, `{"hostname":"compute-0"}`), 400},
		{"vim get unknown", vimRequest("GET", "/v1/hosts/nobody", ""), 404},
		{"sm action", strings.Replace(smRequest("controller-1"), `"event"`, `"evnt!"`, 1), 400},
		{"sm state", strings.Replace(smRequest("controller-1"), `"failed"`, `"online"`, 1), 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _, body := rawExchange(t, addr, c.req)
			if !strings.HasPrefix(st, fmt.Sprintf("HTTP/1.1 %d {\"status\":\"fail\"", c.code)) {
				t.Fatalf("status line %q, want %d", st, c.code)
			}
			sysinvReadsPhrase(t, st)
			oneLineJSON(t, body)
			if smReads(body) {
				t.Errorf("refusal reads as pass to SM")
			}
			if n := b.changes(); n != 0 {
				t.Errorf("state changed: %s", b.calls())
			}
		})
	}
}

// Go's HTTP client sees the same status line (Response.Status).
func TestLoopbackGoClient(t *testing.T) {
	addr := serveLoopback(t, fixture())
	req, err := http.NewRequestWithContext(t.Context(), "DELETE", "http://"+addr+"/v1/hosts/nobody", strings.NewReader("null"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "sysinv/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 || resp.Status != "404 "+strings.TrimSuffix(line, "\n") {
		t.Fatalf("status %q, body %q", resp.Status, line)
	}
	http.DefaultClient.CloseIdleConnections()
}
