package sysinv

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform/platformtest"
	"opendev.org/starlingx/metal-go/workqueue"
)

var refA = Ref{Name: "compute-0", UUID: uuidA}

// okPatch answers every PATCH with compute-0's record at the PATCHed UUID.
func okPatch(req platformtest.Request) platformtest.Reply {
	uuid := req.Path[strings.LastIndex(req.Path, "/")+1:]
	return platformtest.Reply{Body: record("compute-0", uuid, nil)}
}

func TestUpdateBodies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, okPatch, nil)
		type tc struct {
			call     func() (*Call[Host], error)
			body     string
			critical bool
		}
		cases := []tc{
			{func() (*Call[Host], error) { return r.c.UpdateTask(refA, mtce.TaskEnabling, 42) },
				`[{"path":"/task","value":"Enabling","op":"replace"},{"path":"/uptime","value":"42","op":"replace"}]`, false},
			{func() (*Call[Host], error) { return r.c.UpdateTask(refA, mtce.TaskNone, 0) },
				`[{"path":"/task","value":"","op":"replace"},{"path":"/uptime","value":"0","op":"replace"}]`, false},
			{func() (*Call[Host], error) { return r.c.ForceTask(refA, mtce.TaskSwactRequest, 7) },
				`[{"path":"/task","value":"Swact: Request","op":"replace"},{"path":"/uptime","value":"7","op":"replace"}]`, true},
			{func() (*Call[Host], error) { return r.c.UpdateUptime(refA, 4294967295) },
				`[{"path":"/uptime","value":"4294967295","op":"replace"}]`, false},
			{func() (*Call[Host], error) { return r.c.UpdateValue(refA, "availability", "degraded") },
				`[{"path":"/availability","value":"degraded","op":"replace"}]`, true},
			{func() (*Call[Host], error) { return r.c.UpdateMtceInfo(refA, `{"bmc":"redfish"}`) },
				`[{"path":"/mtce_info","value":"{\"bmc\":\"redfish\"}","op":"replace"}]`, true},
			{func() (*Call[Host], error) {
				return r.c.ForceStates(refA, mtce.AdminLocked, mtce.OperDisabled, mtce.AvailOnline)
			}, `[{"path":"/administrative","value":"locked","op":"replace"},{"path":"/operational","value":"disabled","op":"replace"},{"path":"/availability","value":"online","op":"replace"}]`, true},
			{func() (*Call[Host], error) {
				return r.c.UpdateStates(refA, mtce.AdminNone, mtce.OperEnabled, mtce.AvailNone)
			}, `[{"path":"/operational","value":"enabled","op":"replace"}]`, true},
			{func() (*Call[Host], error) { return r.c.SubfStates(refA, mtce.OperEnabled, mtce.AvailDegraded) },
				`[{"path":"/subfunction_oper","value":"enabled","op":"replace"},{"path":"/subfunction_avail","value":"degraded","op":"replace"}]`, true},
			{func() (*Call[Host], error) { return r.c.UpdateTask(refA, "a<b>&c", 1) },
				`[{"path":"/task","value":"a<b>&c","op":"replace"},{"path":"/uptime","value":"1","op":"replace"}]`, false},
		}
		for i, c := range cases {
			call, err := c.call()
			if err != nil {
				t.Fatalf("#%d: %v", i, err)
			}
			if call.Handle().Key() != "compute-0" {
				t.Errorf("#%d lane %q", i, call.Handle().Key())
			}
			h, err := call.Wait(t.Context())
			if err != nil || h.UUID != uuidA || h.Name != "compute-0" {
				t.Fatalf("#%d: %+v %v", i, h, err)
			}
			reqs := r.tr.Requests()
			last := reqs[len(reqs)-1]
			if last.Method != http.MethodPatch || last.Path != "/v1/ihosts/"+uuidA || string(last.Body) != c.body {
				t.Errorf("#%d: %s %s\n got %s\nwant %s", i, last.Method, last.Path, last.Body, c.body)
			}
			if ev := r.obs.Admitted(); ev[len(ev)-1].Critical != c.critical {
				t.Errorf("#%d critical = %v, want %v", i, ev[len(ev)-1].Critical, c.critical)
			}
			for k, v := range map[string]string{"User-Agent": "mtce/1.0", "Accept": "application/json",
				"Content-Type": "application/json", "X-Auth-Project-Id": "admin"} {
				if got := last.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		}
	})
}

func TestUpdateRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, okPatch, nil)
		calls := map[string]func() (*Call[Host], error){
			"all none":  func() (*Call[Host], error) { return r.c.UpdateStates(refA, 0, 0, 0) },
			"no name":   func() (*Call[Host], error) { return r.c.UpdateUptime(Ref{UUID: uuidA}, 1) },
			"bad uuid":  func() (*Call[Host], error) { return r.c.UpdateUptime(Ref{Name: "h", UUID: "x/../y"}, 1) },
			"no fields": func() (*Call[Host], error) { return r.c.Update(refA, Update{Op: "x"}) },
			"bad key":   func() (*Call[Host], error) { return r.c.UpdateValue(refA, "/task", "x") },
			"empty key": func() (*Call[Host], error) { return r.c.UpdateValue(refA, "", "x") },
		}
		for name, f := range calls {
			if _, err := f(); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if len(r.tr.Requests()) != 0 {
			t.Error("a refused update sent a request")
		}
	})
}

// TestCriticalTimeoutGrowth: a critical update's attempts get 20 s, 40 s,
// 60 s (A.3), 5 s apart.
func TestCriticalTimeoutGrowth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Hang: true} }, nil)
		start := time.Now()
		call, err := r.c.ForceStates(refA, mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable)
		if err != nil {
			t.Fatal(err)
		}
		_, err = call.Wait(t.Context())
		if !errors.Is(err, workqueue.ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		var wqe *workqueue.Error
		if !errors.As(err, &wqe) || !wqe.Critical || wqe.Attempts != 3 {
			t.Errorf("queue error %+v", wqe)
		}
		at := []time.Duration{}
		for _, q := range r.tr.Requests() {
			at = append(at, q.At.Sub(start))
		}
		want := []time.Duration{0, 25 * time.Second, 70 * time.Second}
		if len(at) != 3 || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
			t.Errorf("attempts at %v, want %v", at, want)
		}
		if el := time.Since(start); el != 130*time.Second {
			t.Errorf("gave up after %v, want 130 s (20+5+40+5+60)", el)
		}
	})
}

func TestNoncriticalTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Hang: true} }, nil)
		start := time.Now()
		call, _ := r.c.UpdateTask(refA, mtce.TaskBooting, 3)
		_, err := call.Wait(t.Context())
		if !errors.Is(err, workqueue.ErrAttemptTimeout) {
			t.Fatalf("err = %v", err)
		}
		reqs := r.tr.Requests()
		want := []time.Duration{0, 15 * time.Second, 30 * time.Second}
		for i := range want {
			if got := reqs[i].At.Sub(start); got != want[i] {
				t.Errorf("attempt %d at %v, want %v", i+1, got, want[i])
			}
		}
		if el := time.Since(start); el != 40*time.Second {
			t.Errorf("gave up after %v, want 40 s (3×10 + 2×5)", el)
		}
		if ev := r.obs.Admitted(); ev[0].Critical {
			t.Error("task update admitted as critical")
		}
	})
}

// TestNotFoundReloadNewUUID: a 404 reloads the host by name, not on the
// lane; the retry, and later requests, use the new UUID.
func TestNotFoundReloadNewUUID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var changes []string
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			switch {
			case req.Method == http.MethodPatch && strings.HasSuffix(req.Path, uuidA):
				return platformtest.Reply{Status: 404, Body: `{"error_message": "{\"faultstring\": \"Host ` + uuidA + ` could not be found.\"}"}`}
			case req.Method == http.MethodGet && req.Path == "/v1/ihosts/compute-0":
				return platformtest.Reply{Body: record("compute-0", uuidB, nil)}
			case req.Method == http.MethodPatch && strings.HasSuffix(req.Path, uuidB):
				return okPatch(req)
			}
			return platformtest.Reply{Status: 500}
		}, func(c *Config) {
			c.OnUUIDChange = func(name, old, new string) {
				mu.Lock()
				defer mu.Unlock()
				changes = append(changes, name+":"+old+"->"+new)
			}
		})
		start := time.Now()
		call, err := r.c.ForceTask(refA, mtce.TaskEnabling, 1)
		if err != nil {
			t.Fatal(err)
		}
		behind, _ := r.c.UpdateUptime(refA, 2) // queued behind on the same lane
		h, err := call.Wait(t.Context())
		if err != nil || h.UUID != uuidB {
			t.Fatalf("Wait = %+v, %v", h, err)
		}
		if call.Handle().Attempts() != 2 {
			t.Errorf("%d attempts, want 2", call.Handle().Attempts())
		}
		if _, err := behind.Wait(t.Context()); err != nil {
			t.Fatalf("update behind: %v", err)
		}
		reqs := r.tr.Requests()
		type step struct {
			method, path string
			at           time.Duration
		}
		want := []step{
			{http.MethodPatch, "/v1/ihosts/" + uuidA, 0},
			{http.MethodGet, "/v1/ihosts/compute-0", 0}, // direct reload, inside the failed attempt
			{http.MethodPatch, "/v1/ihosts/" + uuidB, 5 * time.Second},
			{http.MethodPatch, "/v1/ihosts/" + uuidB, 5 * time.Second}, // the item behind goes to the new UUID at once
		}
		if len(reqs) != len(want) {
			t.Fatalf("%d requests: %+v", len(reqs), reqs)
		}
		for i, w := range want {
			if reqs[i].Method != w.method || reqs[i].Path != w.path || reqs[i].At.Sub(start) != w.at {
				t.Errorf("request %d: %s %s at %v, want %s %s at %v", i, reqs[i].Method, reqs[i].Path,
					reqs[i].At.Sub(start), w.method, w.path, w.at)
			}
		}
		if string(reqs[3].Body) != `[{"path":"/uptime","value":"2","op":"replace"}]` {
			t.Errorf("item behind sent %s", reqs[3].Body)
		}
		mu.Lock()
		if len(changes) != 1 || changes[0] != "compute-0:"+uuidA+"->"+uuidB {
			t.Errorf("OnUUIDChange calls %v", changes)
		}
		mu.Unlock()
		if got := r.c.CurrentUUID(uuidA); got != uuidB {
			t.Errorf("CurrentUUID(old) = %s", got)
		}
		// The host moves back: the chain is cut, the old UUID is current.
		r.c.remember(uuidB, uuidA)
		if got := r.c.CurrentUUID(uuidA); got != uuidA {
			t.Errorf("after moving back CurrentUUID = %s", got)
		}
	})
}

func TestNotFoundHostGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Status: 404, Body: "gone"}
		}, nil)
		call, _ := r.c.ForceStates(refA, mtce.AdminLocked, mtce.OperDisabled, mtce.AvailOnline)
		_, err := call.Wait(t.Context())
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
		if n := len(r.tr.Requests()); n != 2 || call.Handle().Attempts() != 1 {
			t.Errorf("%d requests, %d attempts; want PATCH+GET in one attempt", n, call.Handle().Attempts())
		}
	})
}

func TestNotFoundSameUUIDRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		called := false
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			if req.Method == http.MethodGet {
				return platformtest.Reply{Body: record("compute-0", uuidA, nil)}
			}
			return platformtest.Reply{Status: 404}
		}, func(c *Config) { c.OnUUIDChange = func(string, string, string) { called = true } })
		call, _ := r.c.UpdateValue(refA, "task", "x")
		_, err := call.Wait(t.Context())
		if !errors.Is(err, ErrNotFound) || call.Handle().Attempts() != 3 {
			t.Fatalf("err = %v after %d attempts", err, call.Handle().Attempts())
		}
		if n := len(r.tr.Requests()); n != 6 {
			t.Errorf("%d requests, want 3×(PATCH+GET)", n)
		}
		if called {
			t.Error("OnUUIDChange called for an unchanged UUID")
		}
	})
}

func TestNotFoundReloadFailsStillRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			if req.Method == http.MethodGet {
				return platformtest.Reply{Status: 503}
			}
			n++
			if n == 1 {
				return platformtest.Reply{Status: 404}
			}
			return okPatch(req)
		}, nil)
		call, _ := r.c.UpdateValue(refA, "task", "x")
		if _, err := call.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBadPatchAnswers(t *testing.T) {
	bodies := map[string]string{
		"empty":      "",
		"garbage":    "<html>",
		"other host": record("compute-9", uuidA, nil),
		"bad state":  record("compute-0", uuidA, func(m map[string]any) { m["operational"] = "meh" }),
	}
	for name, body := range bodies {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Body: body} }, nil)
			call, _ := r.c.ForceTask(refA, mtce.TaskTesting, 1)
			_, err := call.Wait(t.Context())
			var e *Error
			if !errors.Is(err, ErrBadResponse) || !errors.As(err, &e) || e.Status != 200 {
				t.Fatalf("%s: err = %v", name, err)
			}
			if call.Handle().Attempts() != 3 {
				t.Errorf("%s: %d attempts, want 3 (idempotent replace is retried)", name, call.Handle().Attempts())
			}
		})
	}
}

func TestPermanent4xx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Status: 400, Body: `{"error_message": "{\"faultstring\": \"Invalid input for field/attribute task.\"}"}`}
		}, nil)
		call, _ := r.c.ForceTask(refA, mtce.TaskTesting, 1)
		_, err := call.Wait(t.Context())
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || call.Handle().Attempts() != 1 {
			t.Fatalf("err = %v, attempts %d", err, call.Handle().Attempts())
		}
		if e.Detail != "Invalid input for field/attribute task." {
			t.Errorf("detail %q", e.Detail)
		}
		if !strings.Contains(err.Error(), "force task") || !strings.Contains(err.Error(), "compute-0") {
			t.Errorf("error text %q", err)
		}
	})
}

func TestUpdateNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			if req.Method == http.MethodPatch && strings.HasSuffix(req.Path, uuidA) {
				return platformtest.Reply{Hang: true}
			}
			return okPatch(req)
		}, nil)
		start := time.Now()
		_, err := r.c.UpdateNow(t.Context(), refA, Update{Op: "update task now", Fields: []Field{{"task", ""}}})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 10*time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
		start = time.Now()
		_, err = r.c.UpdateNow(t.Context(), refA, Update{Op: "update states now", Critical: true, Fields: []Field{{"operational", "enabled"}}})
		if !errors.Is(err, ErrTransport) || time.Since(start) != 20*time.Second {
			t.Fatalf("critical: err = %v after %v", err, time.Since(start))
		}
		if r.q.Stats().Admitted != 0 {
			t.Error("UpdateNow used the queue")
		}
		h, err := r.c.UpdateNow(t.Context(), Ref{Name: "compute-0", UUID: uuidB}, Update{Op: "x", Fields: []Field{{"task", ""}}})
		if err != nil || h.UUID != uuidB {
			t.Errorf("%+v %v", h, err)
		}
	})
}
