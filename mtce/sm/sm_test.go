package sm

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform/platformtest"
	"opendev.org/starlingx/metal-go/workqueue"
)

func TestBodies(t *testing.T) {
	cases := []struct {
		r    Request
		want string
	}{
		{Request{Op: OpSwact, Avail: mtce.AvailAvailable},
			`{"origin":"mtce","action":"swact","admin":"unlocked","oper":"enabled","avail":"available"}`},
		{Request{Op: OpSwact, Avail: mtce.AvailDegraded},
			`{"origin":"mtce","action":"swact","admin":"unlocked","oper":"enabled","avail":"degraded"}`},
		{Request{Op: OpDisabled, Action: mtce.ActionLock, Admin: mtce.AdminUnlocked, Avail: mtce.AvailOnline},
			`{"origin":"mtce","action":"lock","admin":"unlocked","oper":"disabled","avail":"online"}`},
		{Request{Op: OpDisabled, Action: mtce.ActionForceLock, Admin: mtce.AdminUnlocked, Avail: mtce.AvailFailed},
			`{"origin":"mtce","action":"event","admin":"unlocked","oper":"disabled","avail":"failed"}`},
		{Request{Op: OpDisabled, Action: mtce.ActionNone, Admin: mtce.AdminLocked, Avail: mtce.AvailOffline},
			`{"origin":"mtce","action":"event","admin":"locked","oper":"disabled","avail":"offline"}`},
		{Request{Op: OpEnabled, Action: mtce.ActionUnlock, Admin: mtce.AdminUnlocked, Avail: mtce.AvailAvailable},
			`{"origin":"mtce","action":"unlock","admin":"unlocked","oper":"enabled","avail":"available"}`},
		{Request{Op: OpEnabled, Action: mtce.ActionRecover, Admin: mtce.AdminUnlocked, Avail: mtce.AvailDegraded},
			`{"origin":"mtce","action":"event","admin":"unlocked","oper":"enabled","avail":"degraded"}`},
		{Request{Op: OpLocked}, `{"origin":"mtce","action":"lock","admin":"locked","oper":"disabled","avail":"online"}`},
		{Request{Op: OpUnlocked}, `{"origin":"mtce","action":"unlock","admin":"unlocked","oper":"enabled","avail":"available"}`},
	}
	for _, tc := range cases {
		got, err := tc.r.body()
		if err != nil {
			t.Fatalf("%+v: %v", tc.r, err)
		}
		if string(got) != tc.want {
			t.Errorf("%s body\n got %s\nwant %s", tc.r.Op, got, tc.want)
		}
	}
	for _, r := range []Request{
		{Op: OpQuery}, {Op: 0}, {Op: 99},
		{Op: OpSwact},
		{Op: OpEnabled, Avail: mtce.AvailAvailable},
		{Op: OpDisabled, Admin: mtce.AdminLocked},
	} {
		if _, err := r.body(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v: err = %v, want ErrInvalidArgument", r, err)
		}
	}
}

func TestOpTable(t *testing.T) {
	// Spec C.4 / D.3: criticality per operation.
	want := map[Op]bool{OpQuery: true, OpSwact: true, OpEnabled: true, OpDisabled: false, OpLocked: false, OpUnlocked: false}
	for op, crit := range want {
		if op.Critical() != crit {
			t.Errorf("%s critical = %v, want %v", op, op.Critical(), crit)
		}
	}
	if s := Op(42).String(); s != "Op(42)" {
		t.Errorf("unknown op string %q", s)
	}
}

func TestParseServiceNode(t *testing.T) {
	ok := []struct {
		body string
		want ServiceNode
	}{
		{`{"origin":"sm","hostname":"controller-0","admin":"unlocked","oper":"enabled","avail":"available","active_services":"yes","swactable_services":"yes"}`,
			ServiceNode{Hostname: "controller-0", Origin: "sm", Swactable: true, Admin: "unlocked", Oper: "enabled", Avail: "available", ActiveServices: "yes"}},
		{` {"origin":"sm","hostname":"controller-0","swactable_services":"no","admin":7} `,
			ServiceNode{Hostname: "controller-0", Origin: "sm"}},
	}
	for _, tc := range ok {
		got, err := ParseServiceNode([]byte(tc.body), "controller-0")
		if err != nil || got != tc.want {
			t.Errorf("ParseServiceNode(%s) = %+v, %v; want %+v", tc.body, got, err, tc.want)
		}
	}
	bad := map[string]string{
		"empty":              ``,
		"blank":              "  \n",
		"malformed":          `{"origin":"sm",`,
		"array":              `["controller-0"]`,
		"null":               `null`,
		"trailing":           `{"origin":"sm","hostname":"controller-0","swactable_services":"yes"} {}`,
		"wrong controller":   `{"origin":"sm","hostname":"controller-1","swactable_services":"yes"}`,
		"missing hostname":   `{"origin":"sm","swactable_services":"yes"}`,
		"missing origin":     `{"hostname":"controller-0","swactable_services":"yes"}`,
		"missing swactable":  `{"origin":"sm","hostname":"controller-0"}`,
		"swactable maybe":    `{"origin":"sm","hostname":"controller-0","swactable_services":"maybe"}`,
		"swactable YES":      `{"origin":"sm","hostname":"controller-0","swactable_services":"YES"}`,
		"swactable bool":     `{"origin":"sm","hostname":"controller-0","swactable_services":true}`,
		"hostname number":    `{"origin":"sm","hostname":0,"swactable_services":"yes"}`,
		"origin null":        `{"origin":null,"hostname":"controller-0","swactable_services":"yes"}`,
		"swactable null":     `{"origin":"sm","hostname":"controller-0","swactable_services":null}`,
		"hostname object":    `{"origin":"sm","hostname":{},"swactable_services":"yes"}`,
		"swactable is empty": `{"origin":"sm","hostname":"controller-0","swactable_services":""}`,
	}
	for name, body := range bad {
		_, err := ParseServiceNode([]byte(body), "controller-0")
		var de *DecodeError
		if !errors.Is(err, ErrBadResponse) || !errors.As(err, &de) {
			t.Errorf("%s: err = %v, want a *DecodeError wrapping ErrBadResponse", name, err)
		}
	}
	_, err := ParseServiceNode([]byte(bad["wrong controller"]), "controller-0")
	var de *DecodeError
	if errors.As(err, &de); de == nil || de.Field != "hostname" || !strings.Contains(de.Reason, "wrong controller") {
		t.Errorf("wrong controller: %v", err)
	}
}

func FuzzParseServiceNode(f *testing.F) {
	f.Add([]byte(`{"origin":"sm","hostname":"controller-0","swactable_services":"yes"}`), "controller-0")
	f.Add([]byte(`{"origin":"sm","hostname":"controller-1","swactable_services":"no","admin":"locked"}`), "controller-1")
	f.Add([]byte(`{"origin":"sm","hostname":"controller-0","swactable_services":"maybe"}`), "controller-0")
	f.Add([]byte(`{"hostname":"controller-0"}`), "controller-0")
	f.Add([]byte(`[1,2]`), "")
	f.Add([]byte(`{"origin":"sm","hostname":"c","swactable_services":"yes"}x`), "c")
	f.Add([]byte{}, "controller-0")
	f.Fuzz(func(t *testing.T, body []byte, controller string) {
		n, err := ParseServiceNode(body, controller)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			if n != (ServiceNode{}) {
				t.Fatalf("non-zero node %+v with error", n)
			}
			return
		}
		if n.Hostname != controller {
			t.Fatalf("accepted hostname %q for controller %q", n.Hostname, controller)
		}
	})
}

const (
	nodeYes = `{"origin":"sm","hostname":"controller-1","admin":"unlocked","oper":"enabled","avail":"available","active_services":"yes","swactable_services":"yes"}`
)

func TestQueryHeadersAndLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Body: nodeYes}
		}, nil)
		call, err := r.c.Query("controller-1")
		if err != nil {
			t.Fatal(err)
		}
		if call.Handle().Key() != "controller-1" {
			t.Errorf("lane %q, want the target controller's", call.Handle().Key())
		}
		n, err := call.Wait(t.Context())
		if err != nil || !n.Swactable || n.Hostname != "controller-1" {
			t.Fatalf("Wait = %+v, %v", n, err)
		}
		reqs := r.tr.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		q := reqs[0]
		if q.Method != http.MethodGet || q.Path != "/v1/servicenode/controller-1" || len(q.Body) != 0 {
			t.Errorf("request %s %s body %q", q.Method, q.Path, q.Body)
		}
		for k, v := range map[string]string{"User-Agent": "mtce/1.0", "Accept": "application/json",
			"Content-Type": "application/json", "X-Auth-Project-Id": "admin"} {
			if got := q.Header.Get(k); got != v {
				t.Errorf("header %s = %q, want %q", k, got, v)
			}
		}
		if ev := r.obs.Admitted(); len(ev) != 1 || !ev[0].Critical {
			t.Errorf("query not admitted as critical: %+v", ev)
		}
	})
}

func TestQueryTimeoutSingleAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Hang: true}
		}, nil)
		start := time.Now()
		call, err := r.c.Query("controller-0")
		if err != nil {
			t.Fatal(err)
		}
		_, err = call.Wait(t.Context())
		if !errors.Is(err, workqueue.ErrAttemptTimeout) || !errors.Is(err, ErrTransport) {
			t.Fatalf("err = %v, want an attempt timeout", err)
		}
		if el := time.Since(start); el != DefaultTimeout {
			t.Errorf("failed after %v, want exactly %v", el, DefaultTimeout)
		}
		if n := len(r.tr.Requests()); n != 1 {
			t.Errorf("%d attempts, want 1 (FSM passes max_retries 0)", n)
		}
	})
}

func TestQueryBadDataNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Body: `{"origin":"sm","hostname":"controller-0","swactable_services":"yes"}`}
		}, func(c *Config) { c.QueryAttempts = 3 })
		call, _ := r.c.Query("controller-1")
		_, err := call.Wait(t.Context())
		var de *DecodeError
		if !errors.Is(err, ErrBadResponse) || !errors.As(err, &de) || de.Field != "hostname" {
			t.Fatalf("err = %v", err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != 200 || e.Service != "sm" {
			t.Errorf("error fields: %+v", e)
		}
		if n := len(r.tr.Requests()); n != 1 {
			t.Errorf("%d attempts on bad data, want 1", n)
		}
	})
}

func TestEnabledRetriesAndTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n int
		r := newRig(t, func(platformtest.Request) platformtest.Reply {
			n++
			switch n {
			case 1:
				return platformtest.Reply{Hang: true}
			case 2:
				return platformtest.Reply{Status: 503, Body: "busy"}
			}
			return platformtest.Reply{Status: 200, Body: "{}"}
		}, nil)
		start := time.Now()
		call, err := r.c.Enabled("controller-0", mtce.ActionUnlock, mtce.AdminUnlocked, mtce.AvailAvailable)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := call.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		reqs := r.tr.Requests()
		if len(reqs) != 3 {
			t.Fatalf("%d attempts, want 3", len(reqs))
		}
		// Attempt 1 hangs until its 20 s timeout, then 5 s wait; attempt 2
		// fails at once, 5 s wait; attempt 3 passes.
		want := []time.Duration{0, 25 * time.Second, 30 * time.Second}
		for i, rq := range reqs {
			if got := rq.At.Sub(start); got != want[i] {
				t.Errorf("attempt %d at %v, want %v", i+1, got, want[i])
			}
			if rq.Method != http.MethodPatch || string(rq.Body) != `{"origin":"mtce","action":"unlock","admin":"unlocked","oper":"enabled","avail":"available"}` {
				t.Errorf("attempt %d: %s %s", i+1, rq.Method, rq.Body)
			}
		}
	})
}

func TestStatusMapping(t *testing.T) {
	cases := []struct {
		status   int
		attempts int
		kind     error
	}{
		{400, 1, ErrStatus},
		{403, 1, ErrStatus},
		{409, 1, ErrStatus},
		{401, 3, ErrUnauthorized},
		{404, 3, ErrNotFound}, // StarlingX: PASS; here an error, retried
		{408, 3, ErrStatus},
		{429, 3, ErrStatus},
		{500, 3, ErrStatus},
		{503, 3, ErrStatus},
		{205, 3, ErrStatus},
	}
	for _, tc := range cases {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, func(platformtest.Request) platformtest.Reply {
				return platformtest.Reply{Status: tc.status, Body: `{"error":"x"}`}
			}, nil)
			call, err := r.c.Locked("controller-0")
			if err != nil {
				t.Fatal(err)
			}
			_, err = call.Wait(t.Context())
			var e *Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &e) || e.Status != tc.status {
				t.Fatalf("status %d: err = %v", tc.status, err)
			}
			if n := len(r.tr.Requests()); n != tc.attempts {
				t.Errorf("status %d: %d attempts, want %d", tc.status, n, tc.attempts)
			}
		})
	}
	for _, st := range []int{200, 201, 202, 203, 204} {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, func(platformtest.Request) platformtest.Reply {
				return platformtest.Reply{Status: st}
			}, nil)
			call, _ := r.c.Unlocked("controller-0")
			if _, err := call.Wait(t.Context()); err != nil {
				t.Errorf("status %d: %v", st, err)
			}
		})
	}
}

func TestCriticalityAndBudgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Status: 500}
		}, nil)
		type sub struct {
			op       Op
			call     func() (*Call[struct{}], error)
			critical bool
			attempts int
		}
		subs := []sub{
			{OpSwact, func() (*Call[struct{}], error) { return r.c.Swact("controller-0", mtce.AvailAvailable) }, true, 1},
			{OpEnabled, func() (*Call[struct{}], error) {
				return r.c.Enabled("controller-0", mtce.ActionNone, mtce.AdminUnlocked, mtce.AvailAvailable)
			}, true, 3},
			{OpDisabled, func() (*Call[struct{}], error) {
				return r.c.Disabled("controller-0", mtce.ActionLock, mtce.AdminUnlocked, mtce.AvailAvailable)
			}, false, 3},
			{OpLocked, func() (*Call[struct{}], error) { return r.c.Locked("controller-0") }, false, 3},
			{OpUnlocked, func() (*Call[struct{}], error) { return r.c.Unlocked("controller-0") }, false, 3},
			{OpSwact, func() (*Call[struct{}], error) {
				return r.c.Send("controller-0", Request{Op: OpSwact, Avail: mtce.AvailAvailable, Attempts: 3})
			}, true, 3},
		}
		for i, s := range subs {
			call, err := s.call()
			if err != nil {
				t.Fatal(err)
			}
			_, err = call.Wait(t.Context())
			if !errors.Is(err, ErrStatus) {
				t.Errorf("%s: err = %v", s.op, err)
			}
			if got := call.Handle().Attempts(); got != s.attempts {
				t.Errorf("%s (#%d): %d attempts, want %d", s.op, i, got, s.attempts)
			}
			if ev := r.obs.Admitted(); ev[len(ev)-1].Critical != s.critical {
				t.Errorf("%s: critical = %v, want %v", s.op, ev[len(ev)-1].Critical, s.critical)
			}
		}
	})
}

func TestRefusedArguments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{} }, nil)
		for _, name := range []string{"", "none", "a/b", "a b", "x\n"} {
			if _, err := r.c.Query(name); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("Query(%q): %v", name, err)
			}
			if _, err := r.c.Locked(name); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("Locked(%q): %v", name, err)
			}
		}
		if _, err := r.c.Send("controller-0", Request{Op: OpQuery}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Send(OpQuery): %v", err)
		}
		if len(r.tr.Requests()) != 0 {
			t.Error("a refused call sent a request")
		}
	})
}

func TestQueueClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{} }, nil)
		_ = r.q.Close(context.Background())
		if _, err := r.c.Locked("controller-0"); !errors.Is(err, workqueue.ErrClosed) {
			t.Errorf("err = %v, want workqueue.ErrClosed", err)
		}
	})
}

func TestResultBeforeDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		r := newRig(t, func(platformtest.Request) platformtest.Reply {
			<-release
			return platformtest.Reply{Body: nodeYes}
		}, nil)
		call, _ := r.c.Query("controller-1")
		synctest.Wait()
		if _, err := call.Result(); !errors.Is(err, ErrPending) {
			t.Errorf("Result before done: %v", err)
		}
		close(release)
		<-call.Done()
		if n, err := call.Result(); err != nil || !n.Swactable {
			t.Errorf("Result = %+v, %v", n, err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("zero config: %v", err)
	}
	err := (Config{}).Validate()
	for _, f := range []string{"BaseURL", "Queue", "Timeout", "QueryAttempts", "SwactAttempts", "Attempts"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
	cfg := DefaultConfig()
	cfg.BaseURL = "ftp://x"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("ftp scheme: %v", err)
	}
	cfg.BaseURL = "http://u:p@x:7777"
	if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), "p@") {
		t.Errorf("user info: %v", err)
	}
	if _, err := New(Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New(zero): %v", err)
	}
	if got := Endpoint("controller-0", 7777); got != "http://controller-0:7777" {
		t.Errorf("Endpoint = %q", got)
	}
	if got := Endpoint("fd00::2", DefaultPort); got != "http://[fd00::2]:7777" {
		t.Errorf("Endpoint v6 = %q", got)
	}
}
