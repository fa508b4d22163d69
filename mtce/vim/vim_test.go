package vim

import (
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

const uuid0 = "4a6d5d44-1c1b-4a8e-9a4b-2f0b7f6c5e11"

func host() mtce.Host {
	return mtce.Host{
		Name: "compute-0", UUID: uuid0, Personality: mtce.PersonalityWorker, Subfunctions: "worker",
		Admin: mtce.AdminUnlocked, Oper: mtce.OperEnabled, Avail: mtce.AvailAvailable,
		SubfOper: mtce.OperNone, SubfAvail: mtce.AvailNone,
	}
}

func TestBody(t *testing.T) {
	got, err := Body(host(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"state-change":{"administrative":"unlocked","operational":"enabled","availability":"available",` +
		`"subfunction_oper":"none","subfunction_avail":"none"},"hostname":"compute-0","uuid":"` + uuid0 +
		`","subfunctions":"worker","personality":"worker"}`
	if string(got) != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	h := host()
	h.Name, h.Personality, h.Subfunctions = "controller-0", mtce.PersonalityController, "controller,worker"
	h.SubfOper, h.SubfAvail = mtce.OperDisabled, mtce.AvailFailed
	got, _ = Body(h, &DataPorts{Oper: mtce.OperEnabled, Avail: mtce.AvailDegraded})
	want = `{"state-change":{"administrative":"unlocked","operational":"enabled","availability":"available",` +
		`"data_ports_oper":"enabled","data_ports_avail":"degraded",` +
		`"subfunction_oper":"disabled","subfunction_avail":"failed"},"hostname":"controller-0","uuid":"` + uuid0 +
		`","subfunctions":"controller,worker","personality":"controller"}`
	if string(got) != want {
		t.Errorf("body with data ports\n got %s\nwant %s", got, want)
	}
	h.Subfunctions = ""
	got, _ = Body(h, nil)
	if !strings.Contains(string(got), `"subfunctions":"none"`) {
		t.Errorf("empty subfunctions not sent as none: %s", got)
	}
}

func TestStateChangeNoTokenCriticalLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Status: 202, Body: "{}"}
		}, nil)
		call, err := r.c.StateChange(HostEnabled, host(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if call.Handle().Key() != "compute-0" {
			t.Errorf("lane %q", call.Handle().Key())
		}
		if _, err := call.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		reqs := r.tr.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		q := reqs[0]
		if q.Method != http.MethodPatch || q.Path != "/nfvi-plugins/v1/hosts/"+uuid0 {
			t.Errorf("request %s %s", q.Method, q.Path)
		}
		if _, ok := q.Header["X-Auth-Token"]; ok {
			t.Errorf("VIM request carries X-Auth-Token")
		}
		for k, v := range map[string]string{"User-Agent": "mtce/1.0", "Accept": "application/json",
			"Content-Type": "application/json", "X-Auth-Project-Id": "admin"} {
			if got := q.Header.Get(k); got != v {
				t.Errorf("header %s = %q, want %q", k, got, v)
			}
		}
		want, _ := Body(host(), nil)
		if string(q.Body) != string(want) {
			t.Errorf("body %s", q.Body)
		}
		if ev := r.obs.Admitted(); len(ev) != 1 || !ev[0].Critical {
			t.Errorf("not critical: %+v", ev)
		}
	})
}

func TestAllEventsCriticalThreeAttempts(t *testing.T) {
	for ev := HostDisabled; ev <= DataPortFailed; ev++ {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, func(platformtest.Request) platformtest.Reply {
				return platformtest.Reply{Hang: true}
			}, nil)
			start := time.Now()
			call, err := r.c.StateChange(ev, host(), &DataPorts{Oper: mtce.OperEnabled, Avail: mtce.AvailAvailable})
			if err != nil {
				t.Fatal(err)
			}
			_, err = call.Wait(t.Context())
			if !errors.Is(err, workqueue.ErrAttemptTimeout) || !errors.Is(err, ErrTransport) {
				t.Fatalf("%s: err = %v", ev, err)
			}
			reqs := r.tr.Requests()
			if len(reqs) != 3 {
				t.Fatalf("%s: %d attempts, want 3", ev, len(reqs))
			}
			for i, want := range []time.Duration{0, 25 * time.Second, 50 * time.Second} {
				if got := reqs[i].At.Sub(start); got != want {
					t.Errorf("%s attempt %d at %v, want %v", ev, i+1, got, want)
				}
			}
			if el := time.Since(start); el != 70*time.Second {
				t.Errorf("%s: failed after %v, want 70s (3×20 s + 2×5 s)", ev, el)
			}
			if ev := r.obs.Admitted(); !ev[0].Critical {
				t.Error("not critical")
			}
			if !strings.Contains(err.Error(), ev.String()) {
				t.Errorf("error does not name the event: %v", err)
			}
		})
	}
}

func Test404IsAnErrorAndRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		r := newRig(t, func(platformtest.Request) platformtest.Reply {
			n++
			if n < 3 {
				return platformtest.Reply{Status: 404, Body: "host not found"}
			}
			return platformtest.Reply{Status: 200}
		}, nil)
		call, _ := r.c.StateChange(HostOffline, host(), nil)
		if _, err := call.Wait(t.Context()); err != nil {
			t.Fatalf("third attempt should pass: %v", err)
		}
		if n != 3 {
			t.Errorf("%d attempts", n)
		}
	})
}

func TestRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{} }, nil)
		bad := []struct {
			ev Event
			h  func(*mtce.Host)
		}{
			{HostEnabled, func(h *mtce.Host) { h.Name = "" }},
			{HostEnabled, func(h *mtce.Host) { h.UUID = "none" }},
			{HostEnabled, func(h *mtce.Host) { h.UUID = "../../etc" }},
			{0, func(*mtce.Host) {}},
			{DataPortFailed + 1, func(*mtce.Host) {}},
		}
		for i, b := range bad {
			h := host()
			b.h(&h)
			if _, err := r.c.StateChange(b.ev, h, nil); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("#%d: %v", i, err)
			}
		}
		if len(r.tr.Requests()) != 0 {
			t.Error("refused call sent a request")
		}
	})
}

func TestConfig(t *testing.T) {
	err := Config{}.Validate()
	for _, f := range []string{"BaseURL", "Queue", "Timeout", "Attempts"} {
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), f) {
			t.Errorf("zero config error does not name %s: %v", f, err)
		}
	}
	if got := Endpoint(30001); got != "http://localhost:30001" {
		t.Errorf("Endpoint = %q", got)
	}
	if s := Event(0).String(); s != "Event(0)" {
		t.Errorf("Event(0) = %q", s)
	}
}
