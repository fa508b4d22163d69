package sim

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func smBody(action, admin, oper, avail string) map[string]string {
	return map[string]string{"origin": "mtce", "action": action, "admin": admin, "oper": oper, "avail": avail}
}

func TestServiceNodeQuery(t *testing.T) {
	s := newSim(t, nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)
	query := func(host string) (ServiceNode, reply) {
		r := call(t.Context(), c, http.MethodGet, ep.SM+"/v1/servicenode/"+host, tok, nil)
		var n ServiceNode
		if r.status == http.StatusOK {
			r.json(t, &n)
		}
		return n, r
	}
	n, r := query("controller-0")
	mustStatus(t, r, http.StatusOK)
	want := ServiceNode{Origin: "sm", Hostname: "controller-0", Admin: "unlocked", Oper: "enabled",
		Avail: "available", ActiveServices: "yes", SwactableServices: "yes"}
	if n != want {
		t.Errorf("controller-0: %+v", n)
	}
	if n, _ := query("controller-1"); n.ActiveServices != "no" || n.SwactableServices != "no" {
		t.Errorf("standby: %+v", n)
	}
	if _, r := query("worker-0"); r.status != http.StatusNotFound {
		t.Errorf("worker: %d", r.status)
	}
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SM+"/v1/servicenode/controller-0", "", nil), http.StatusUnauthorized)

	url := ep.SM + "/v1/servicenode/controller-1"
	mustStatus(t, call(t.Context(), c, http.MethodPatch, url, tok, smBody("lock", "locked", "disabled", "online")), http.StatusOK)
	if n, _ := s.ServiceNode("controller-1"); n.Admin != "locked" || n.Oper != "disabled" || n.Avail != "online" {
		t.Errorf("after lock: %+v", n)
	}
	mustStatus(t, call(t.Context(), c, http.MethodPatch, url, tok, smBody("event", "", "enabled", "none")), http.StatusOK)
	if n, _ := s.ServiceNode("controller-1"); n.Admin != "locked" || n.Oper != "enabled" || n.Avail != "none" {
		t.Errorf("after event: %+v", n)
	}
	for _, bad := range []any{
		smBody("dance", "locked", "disabled", "online"),
		map[string]string{"action": "lock"},
		smBody("lock", "sideways", "disabled", "online"),
		`{"origin":"mtce","action":7}`,
		`{"origin":"mtce","action":"lock"} {}`,
	} {
		mustStatus(t, call(t.Context(), c, http.MethodPatch, url, tok, bad), http.StatusBadRequest)
	}
	// Swact refusals: not active, not swactable.
	mustStatus(t, call(t.Context(), c, http.MethodPatch, url, tok, smBody("swact", "unlocked", "enabled", "available")), http.StatusBadRequest)
	if err := s.SetSwactable("controller-0", false); err != nil {
		t.Fatal(err)
	}
	if n, _ := query("controller-0"); n.SwactableServices != "no" || n.ActiveServices != "yes" {
		t.Errorf("unswactable: %+v", n)
	}
	mustStatus(t, call(t.Context(), c, http.MethodPatch, ep.SM+"/v1/servicenode/controller-0", tok,
		smBody("swact", "unlocked", "enabled", "available")), http.StatusBadRequest)
	if s.SwactPending() {
		t.Error("refused swact is pending")
	}
	if err := s.SetActiveController("worker-0"); err == nil {
		t.Error("a worker became the active controller")
	}
}

func TestSwactDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []string
		s := newSim(t, func(c *Config) {
			c.SwactDelay = 6 * time.Second
			c.OnSwact = func(from, to string) {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, from+">"+to)
			}
		})
		ep, c := s.MemoryEndpoints(), s.Client()
		tok := getToken(t, c, ep)
		start := time.Now()
		url := ep.SM + "/v1/servicenode/controller-0"
		mustStatus(t, call(t.Context(), c, http.MethodPatch, url, tok, smBody("swact", "unlocked", "enabled", "available")), http.StatusOK)
		// A retry of the swact while it runs is accepted and changes nothing.
		mustStatus(t, call(t.Context(), c, http.MethodPatch, url, tok, smBody("swact", "unlocked", "enabled", "available")), http.StatusOK)
		if !s.SwactPending() {
			t.Fatal("no swact pending")
		}
		time.Sleep(6*time.Second - time.Nanosecond)
		synctest.Wait()
		if a := s.ActiveController(); a != "controller-0" {
			t.Fatalf("active %s before the delay", a)
		}
		if n, _ := s.ServiceNode("controller-0"); n.SwactableServices != "yes" {
			t.Errorf("during the swact: %+v", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if a := s.ActiveController(); a != "controller-1" {
			t.Fatalf("active %s after the delay", a)
		}
		// What maintenance polls for: the old active has nothing to swact.
		var n ServiceNode
		r := call(t.Context(), c, http.MethodGet, url, tok, nil)
		mustStatus(t, r, http.StatusOK)
		r.json(t, &n)
		if n.SwactableServices != "no" || n.ActiveServices != "no" {
			t.Errorf("after the swact: %+v", n)
		}
		sw := s.Swacts()
		if len(sw) != 1 || sw[0].From != "controller-0" || sw[0].To != "controller-1" ||
			sw[0].RequestedAt != start || sw[0].CompletedAt.Sub(start) != 6*time.Second {
			t.Errorf("swacts %+v", sw)
		}
		mu.Lock()
		if len(seen) != 1 || seen[0] != "controller-0>controller-1" {
			t.Errorf("OnSwact saw %v", seen)
		}
		mu.Unlock()

		// A swact left pending at Close is abandoned; Close joins its timer.
		mustStatus(t, call(t.Context(), c, http.MethodPatch, ep.SM+"/v1/servicenode/controller-1", tok,
			smBody("swact", "unlocked", "enabled", "available")), http.StatusOK)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s.ActiveController() != "controller-1" || len(s.Swacts()) != 1 {
			t.Error("the abandoned swact completed")
		}
	})
}
