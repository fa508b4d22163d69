package eventapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/swact"
)

func newHandler(t testing.TB, b Backend, mut ...func(*Config)) *Handler {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Hostname = "controller-0"
	for _, m := range mut {
		m(&cfg)
	}
	h, err := New(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// do runs one request in memory.
func do(h http.Handler, client, method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if client != "" {
		r.Header.Set("User-Agent", client)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("no hostname: %v", err)
	}
	c := DefaultConfig()
	c.Hostname, c.MaxBodyBytes, c.ReplyTimeout = "controller-0", -1, -1
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("two errors expected: %v", err)
	}
	if _, err := New(Config{Hostname: "controller-0"}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil backend: %v", err)
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, a := range []string{":0", "0.0.0.0:0", "192.0.2.1:0", "[::]:0", "example.com:0", "127.0.0.1"} {
		if ln, err := Listen(t.Context(), a); err == nil {
			ln.Close()
			t.Errorf("%s accepted", a)
		}
	}
	for _, a := range []string{"127.0.0.1:0", "localhost:0", "127.0.0.2:0"} {
		ln, err := Listen(t.Context(), a)
		if err != nil {
			t.Errorf("%s: %v", a, err)
			continue
		}
		ln.Close()
	}
}

func TestSwactRejectionFromController(t *testing.T) {
	b := fixture()
	b.swactErr = &swact.RejectError{Code: mtce.FailSwactNoInsvMate, Host: "controller-0",
		Reason: "No unlocked-enabled controller to take over services", Hint: "Enable the mate controller and retry"}
	h := newHandler(t, b)
	body, _ := json.Marshal(map[string]any{"uuid": uuidC0, "hostname": "controller-0", "personality": "controller",
		"administrative": "unlocked", "operational": "enabled", "availability": "available",
		"action": "swact", "operation": "modify"})
	w := do(h, "sysinv/1.0", "PATCH", "/v1/hosts/"+uuidC0, string(body))
	want := `{"status":"fail","reason":"No unlocked-enabled controller to take over services","action":"Enable the mate controller and retry"}` + "\n"
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
	if len(b.modifies) != 0 || len(b.rejected) != 1 || b.rejected[0].Reply.RC != mtce.FailSwactNoInsvMate {
		t.Fatalf("%s", b.calls())
	}
	// Accepted: Swact then Modify (for the field changes), reply pass.
	b.swactErr = nil
	w = do(h, "sysinv/1.0", "PATCH", "/v1/hosts/"+uuidC0, string(body))
	if w.Body.String() != "{\"status\":\"pass\"}\n" || len(b.swacts) != 1 || len(b.modifies) != 1 || b.modifies[0].Action != mtce.ActionNone {
		t.Fatalf("%q %s", w.Body.String(), b.calls())
	}
	// Any other error: generic failure, still HTTP 200 for sysinv.
	b.swactErr = swact.ErrClosed
	w = do(h, "sysinv/1.0", "PATCH", "/v1/hosts/"+uuidC0, string(body))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"reason":"Unknown"`) {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}

func TestBackendErrors(t *testing.T) {
	b := fixture()
	b.acceptErr = errors.New("agent closing")
	h := newHandler(t, b)
	for _, c := range []struct {
		client, method, path, body string
		code                       int
	}{
		{"sysinv/1.0", "DELETE", "/v1/hosts/compute-0", "null", 500},
		{"vim/1.0", "PATCH", "/v1/hosts/" + uuidW0, `{"hostname":"compute-0","severity":"failed"}`, 500},
		{"sm/1.0", "POST", "/v1/hosts/controller-1/", `{"action":"event","hostname":"controller-1","operational":"disabled","availability":"failed"}`, 500},
		{"sysinv/1.0", "PATCH", "/v1/hosts/" + uuidW0, `{"uuid":"` + uuidW0 + `","hostname":"compute-0","operation":"modify","action":"reboot"}`, 200},
	} {
		w := do(h, c.client, c.method, c.path, c.body)
		if w.Code != c.code || !strings.Contains(w.Body.String(), `"status":"fail"`) {
			t.Errorf("%s %s: %d %q", c.method, c.path, w.Code, w.Body.String())
		}
	}
	if b.changes() != 0 {
		t.Fatalf("%s", b.calls())
	}
}

// The reply timeout is our own timer: tested in virtual time.
func TestBusyBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := fixture()
		b.block = true
		h := newHandler(t, b, func(c *Config) { c.ReplyTimeout = 2 * time.Second })
		start := time.Now()
		w := do(h, "sysinv/1.0", "DELETE", "/v1/hosts/compute-0", "null")
		if w.Code != 503 || time.Since(start) != 2*time.Second {
			t.Fatalf("%d after %v", w.Code, time.Since(start))
		}
		w = do(h, "sm/1.0", "POST", "/v1/hosts/controller-1/", `{"action":"event","hostname":"controller-1","operational":"disabled","availability":"failed"}`)
		if w.Code != 503 || !strings.Contains(w.Body.String(), `"action":"event"`) {
			t.Fatalf("%d %q", w.Code, w.Body.String())
		}
	})
}

func TestVIMFailedLockedReboots(t *testing.T) {
	b := fixture()
	b.hosts[2].Admin = mtce.AdminLocked
	h := newHandler(t, b)
	do(h, "vim/1.0", "PATCH", "/v1/hosts/"+uuidW0, `{"hostname":"compute-0","severity":"failed"}`)
	w := do(h, "vim/1.0", "PATCH", "/v1/hosts/"+uuidW0, `{"hostname":"nobody","severity":"failed"}`)
	if w.Code != 200 || len(b.vim) != 1 || b.vim[0] != "compute-0 reboot=true" {
		t.Fatalf("%d %v", w.Code, b.vim)
	}
}

func TestSMNotEnabledIsNoop(t *testing.T) {
	b := fixture()
	b.hosts[1].Admin = mtce.AdminLocked
	h := newHandler(t, b)
	w := do(h, "sm/1.0", "POST", "/v1/hosts/controller-1/", `{"action":"event","hostname":"controller-1","operational":"disabled","availability":"failed"}`)
	if w.Body.String() != "{\"status\":\"pass\"}\n" || len(b.sm) != 0 {
		t.Fatalf("%q %v", w.Body.String(), b.sm)
	}
}

func TestObserver(t *testing.T) {
	var got []Event
	h := newHandler(t, fixture(), func(c *Config) { c.Observer = func(e Event) { got = append(got, e) } })
	do(h, "vim/1.0", "GET", "/v1/systems", "")
	do(h, "x/1.0", "GET", "/v1/systems", "")
	if len(got) != 2 || got[0].Seq != 1 || got[0].Client != ClientVIM || got[0].Code != 200 || !got[0].Pass ||
		got[1].Client != ClientUnknown || got[1].Code != 403 || got[1].Pass {
		t.Fatalf("%+v", got)
	}
}

// checkPhrase asserts what SysInv's rest_api_request makes of a non-2xx
// phrase (json.loads, decode errors swallowed): either not JSON at all ("no
// response"), or a JSON object that is a refusal; never a string, number,
// list or null (those crash SysInv's API), never "pass". A 503 must read
// as "no response", so that SysInv retries.
func checkPhrase(t *testing.T, rep Reply) {
	t.Helper()
	var v any
	err := json.Unmarshal([]byte(rep.Phrase()), &v)
	if rep.Code == 503 {
		if err == nil {
			t.Fatalf("503 phrase %q is JSON: SysInv would not retry", rep.Phrase())
		}
		return
	}
	if err != nil {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("phrase %q decodes to %T: SysInv's API would crash", rep.Phrase(), v)
	}
	if m["status"] != "fail" || m["reason"] == nil || m["action"] == nil {
		t.Fatalf("phrase %q is not a refusal with reason and action", rep.Phrase())
	}
}

// Every non-2xx phrase is the body's JSON (503: plain text), printable
// ASCII, bounded.
func TestPhrase(t *testing.T) {
	for _, r := range []Reply{notFound("no such host"), busy(), fail(400, mtce.Fail, "bad", "fix it")} {
		checkPhrase(t, r)
	}
	r := notFound(strings.Repeat("é\r\n", 400))
	p := r.Phrase()
	if len(p) > maxPhrase || !strings.HasPrefix(p, `{"status":"fail"`) {
		t.Fatalf("%q", p)
	}
	for _, c := range []byte(p) {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("byte %#x in phrase", c)
		}
	}
	if pass().Phrase() != "OK" || data(202, nil).Phrase() != "Accepted" {
		t.Fatal("2xx phrases")
	}
	if !strings.HasSuffix(string(Reply{Code: 200, RC: mtce.Fail}.Body()), `"reason":"Unknown","action":"Undetermined"}`+"\n") {
		t.Fatal("empty refusal lacks reason/action")
	}
}

// handlerSeeds are J.11's requests and bad variants, for the fuzzer.
func handlerSeeds() [][4]string {
	rec := `{"uuid":"` + uuidNew + `","hostname":"compute-1","personality":"worker","mgmt_ip":"192.168.204.60","mgmt_mac":"52:54:00:00:00:60","administrative":"locked","operational":"disabled","availability":"offline","action":"none","operation":"add"}`
	return [][4]string{
		{"sysinv/1.0", "POST", "/v1/hosts/", rec},
		{"sysinv/1.0", "PATCH", "/v1/hosts/" + uuidW0, `{"uuid":"` + uuidW0 + `","hostname":"compute-0","administrative":"unlocked","action":"lock","operation":"modify"}`},
		{"sysinv/1.0", "DELETE", "/v1/hosts/" + uuidW0, "null"},
		{"sysinv/1.0", "GET", "/v1/hosts/" + uuidW0, ""},
		{"vim/1.0", "GET", "/v1/systems", ""},
		{"vim/1.0", "GET", "/v1/hosts/" + uuidW0, `{"uuid":"` + uuidW0 + `","hostname":"compute-0"}`},
		{"vim/1.0", "PATCH", "/v1/hosts/" + uuidW0, `{"uuid":"` + uuidW0 + `","hostname":"compute-0","severity":"failed"}`},
		{"sm/1.0", "POST", "/v1/hosts/controller-1/", `{"action": "event", "hostname":"controller-1", "operational": "disabled", "availability": "failed"}`},
		{"sm/1.0", "POST", "/v1/hosts/controller-1/", `{"action": "event"`},
		{"sysinv/1.0", "PATCH", "/v1/hosts/x", `{"uuid":"short","operation":"modify"}`},
		{"", "DELETE", "/v1/hosts/x", ""},
		{"vim/1.0", "TRACE", "/v1/systems", ""},
	}
}

// FuzzHandler: whatever the request, the reply is one line of JSON with a
// known code, a non-2xx phrase is JSON, and state changes only with a pass.
func FuzzHandler(f *testing.F) {
	for _, s := range handlerSeeds() {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, ua, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?%") || strings.ContainsAny(method, " \r\n\t()<>@,;:\\\"/[]?={}") || method == "" ||
			strings.ContainsAny(ua, "\r\n\x00") {
			return // not a request net/http would hand to a handler
		}
		b := fixture()
		h := newHandler(t, b)
		r, err := http.NewRequest(method, "http://localhost:2112"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		if ua != "" {
			r.Header.Set("User-Agent", ua)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		out := w.Body.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || !json.Valid([]byte(out)) {
			t.Fatalf("body %q", out)
		}
		switch w.Code {
		case 200, 202, 400, 403, 404, 405, 411, 413, 500, 501, 503:
		default:
			t.Fatalf("code %d", w.Code)
		}
		var st struct{ Status, Reason, Action string }
		_ = json.Unmarshal([]byte(out), &st)
		passed := st.Status == "pass" || (w.Code == 200 || w.Code == 202) && st.Status == ""
		if st.Status == "fail" && (st.Reason == "" || st.Action == "") {
			t.Fatalf("fail without reason/action: %q", out)
		}
		if !passed && b.changes() != 0 {
			t.Fatalf("refused (%d %q) but state changed: %s", w.Code, out, b.calls())
		}
		if w.Code >= 300 && passed {
			t.Fatalf("pass with code %d", w.Code)
		}
		rep := Reply{Code: w.Code, RC: mtce.Fail, Reason: st.Reason, Action: st.Action}
		if w.Code >= 300 {
			checkPhrase(t, rep)
		}
	})
}

// BenchmarkSysinvModify: one in-memory modify decision with 1,000 hosts
// recorded (linear lookups and duplicate scans).
func BenchmarkSysinvModify(b *testing.B) {
	fb := fixture()
	for i := range 1000 {
		h := fb.hosts[2]
		h.Name, h.UUID = "compute-x"+strconv.Itoa(i), "aaaaaaaa-aaaa-4aaa-8aaa-"+strconv.Itoa(100000000000+i)
		h.MgmtIP, h.MgmtMAC, h.BMIP = "10.1."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250), "", ""
		fb.hosts = append(fb.hosts, h)
	}
	last := fb.hosts[len(fb.hosts)-1]
	body := `{"uuid":"` + last.UUID + `","hostname":"` + last.Name + `","administrative":"unlocked","action":"lock","operation":"modify"}`
	h := newHandler(b, fb)
	for b.Loop() {
		fb.modifies = fb.modifies[:0]
		if w := do(h, "sysinv/1.0", "PATCH", "/v1/hosts/"+last.UUID, body); w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
