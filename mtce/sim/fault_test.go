package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func mustInject(t testing.TB, s *Sim, f Fault) FaultID {
	t.Helper()
	id, err := s.Inject(f)
	if err != nil {
		t.Fatalf("Inject(%+v): %v", f, err)
	}
	return id
}

// lastRecord returns the newest record of path.
func lastRecord(t testing.TB, s *Sim, path string) Record {
	t.Helper()
	recs := s.RequestsMatching(func(r Record) bool { return r.Path == path })
	if len(recs) == 0 {
		t.Fatalf("no record of %s", path)
	}
	return recs[len(recs)-1]
}

func TestFaultDropHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		ep, c := s.MemoryEndpoints(), s.Client()
		tok := getToken(t, c, ep)
		uuid := NameUUID("worker-0")
		path := "/v1/ihosts/" + uuid
		mustInject(t, s, Fault{Name: "drop", Service: SysInv, Method: "patch", Path: "/v1/ihosts/*", Host: "worker-0", Kind: FaultDrop, Hits: 1})

		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		start := time.Now()
		r := call(ctx, c, http.MethodPatch, ep.SysInv+path, tok, taskPatch("Dropped"))
		if !errors.Is(r.err, context.DeadlineExceeded) || r.status != 0 {
			t.Fatalf("dropped request: status %d err %v", r.status, r.err)
		}
		if d := time.Since(start); d != 20*time.Second {
			t.Errorf("returned after %v, want exactly the 20s deadline", d)
		}
		synctest.Wait()
		if s.Task("worker-0") != "" {
			t.Error("a dropped request was processed")
		}
		rec := lastRecord(t, s, path)
		if rec.Status != 0 || rec.Fault != FaultDrop || rec.FaultName != "drop" || rec.Host != "worker-0" ||
			rec.Err != context.DeadlineExceeded.Error() || rec.Elapsed != 20*time.Second {
			t.Errorf("record %+v", rec)
		}
		// The fault had one hit: the retry goes through.
		mustStatus(t, call(t.Context(), c, http.MethodPatch, ep.SysInv+path, tok, taskPatch("Retried")), http.StatusOK)

		// Cancelling (not a deadline) gives context.Canceled, at once.
		mustInject(t, s, Fault{Service: SysInv, Kind: FaultDrop, Hits: 1})
		ctx, cancel = context.WithCancel(t.Context())
		done := make(chan reply)
		go func() { done <- call(ctx, c, http.MethodGet, ep.SysInv+path, tok, nil) }()
		synctest.Wait()
		cancel()
		if r := <-done; !errors.Is(r.err, context.Canceled) {
			t.Errorf("cancelled drop: %v", r.err)
		}

		// AfterProcessing: the update is applied, the answer is lost.
		mustInject(t, s, Fault{Service: SysInv, Method: http.MethodPatch, Kind: FaultDrop, Hits: 1, AfterProcessing: true})
		ctx, cancel = context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		r = call(ctx, c, http.MethodPatch, ep.SysInv+path, tok, taskPatch("Applied"))
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("drop after processing: %v", r.err)
		}
		if s.Task("worker-0") != "Applied" {
			t.Errorf("task %q: the request was not processed", s.Task("worker-0"))
		}
	})
}

func TestFaultHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		ep, c := s.MemoryEndpoints(), s.Client()
		tok := getToken(t, c, ep)
		mustInject(t, s, Fault{Service: SM, Kind: FaultHang, Hits: 1})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep.SM+"/v1/servicenode/controller-0", nil)
		req.Header.Set("X-Auth-Token", tok)
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("hang: headers should arrive: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 || time.Since(start) != 0 {
			t.Fatalf("status %d length %d after %v", resp.StatusCode, resp.ContentLength, time.Since(start))
		}
		b, err := io.ReadAll(resp.Body)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 10*time.Second {
			t.Errorf("body read: %v after %v", err, time.Since(start))
		}
		if int64(len(b)) != resp.ContentLength/2 {
			t.Errorf("read %d of %d bytes before the stall", len(b), resp.ContentLength)
		}
	})
}

func TestFaultDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		ep, c := s.MemoryEndpoints(), s.Client()
		tok := getToken(t, c, ep)
		url := ep.SysInv + "/v1/ihosts/" + NameUUID("worker-1")
		mustInject(t, s, Fault{Service: SysInv, Kind: FaultDelay, Delay: 3 * time.Second, Hits: 2})
		start := time.Now()
		mustStatus(t, call(t.Context(), c, http.MethodPatch, url, tok, taskPatch("Slow")), http.StatusOK)
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("answered after %v, want 3s", d)
		}
		// A requester that gives up first: its context's error, no processing.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if r := call(ctx, c, http.MethodPatch, url, tok, taskPatch("Never")); !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("delay beyond the deadline: %v", r.err)
		}
		synctest.Wait()
		if s.Task("worker-1") != "Slow" {
			t.Errorf("task %q", s.Task("worker-1"))
		}
	})
}

func TestFaultSlowBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		ep, c := s.MemoryEndpoints(), s.Client()
		mustInject(t, s, Fault{Service: Keystone, Kind: FaultSlowBody, Delay: time.Second})
		start := time.Now()
		tok := getToken(t, c, ep)
		if d := time.Since(start); d != 7*time.Second {
			t.Errorf("8 pieces 1s apart took %v", d)
		}
		if !s.TokenValid(tok) {
			t.Error("slow token body: token not valid")
		}
	})
}

func TestFaultReset(t *testing.T) {
	s := newSim(t, nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)
	mustInject(t, s, Fault{Service: SysInv, Kind: FaultReset, Hits: 1})
	r := call(t.Context(), c, http.MethodPatch, ep.SysInv+"/v1/ihosts/"+NameUUID("worker-1"), tok, taskPatch("Reset"))
	var op *net.OpError
	if !errors.Is(r.err, syscall.ECONNRESET) || !errors.As(r.err, &op) {
		t.Fatalf("reset: %v", r.err)
	}
	if s.Task("worker-1") != "" {
		t.Error("a reset request was processed")
	}
	if rec := s.Requests(); rec[len(rec)-1].Err != "reset" || rec[len(rec)-1].Fault != FaultReset {
		t.Errorf("record %+v", rec[len(rec)-1])
	}
}

func TestFaultStatusHits(t *testing.T) {
	s := newSim(t, nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)
	url := ep.SM + "/v1/servicenode/controller-0"
	id := mustInject(t, s, Fault{Name: "swact-query-fail", Service: SM, Method: "GET", Host: "controller-0", Kind: FaultStatus, Code: 503, Hits: 2})
	mustInject(t, s, Fault{Service: SM, Host: "controller-1", Kind: FaultStatus, Code: 500})
	if af := s.ActiveFaults(); len(af) != 2 || af[0].ID != id || af[0].Remaining != 2 {
		t.Fatalf("active %+v", af)
	}
	for i, want := range []int{503, 503, 200, 200} {
		r := call(t.Context(), c, http.MethodGet, url, tok, nil)
		mustStatus(t, r, want)
		if want == 503 {
			var e struct {
				Error struct {
					Code int `json:"code"`
				} `json:"error"`
			}
			r.json(t, &e)
			if e.Error.Code != 503 {
				t.Errorf("request %d: body %s", i, r.body)
			}
		}
	}
	// Selected by UUID as well as by name; unlimited until removed.
	for range 3 {
		mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SM+"/v1/servicenode/controller-1", tok, nil), 500)
	}
	af := s.ActiveFaults()
	if len(af) != 1 || af[0].Fired != 3 || af[0].Remaining != 0 {
		t.Fatalf("active %+v", af)
	}
	if !s.Remove(af[0].ID) || s.Remove(af[0].ID) {
		t.Error("Remove")
	}
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SM+"/v1/servicenode/controller-1", tok, nil), 200)
	ev := s.FaultEvents()
	if len(ev) != 5 || ev[0].Name != "swact-query-fail" || ev[0].Code != 503 || ev[0].Host != "controller-0" ||
		ev[2].Host != "controller-1" || s.Stats().FaultsByKind[FaultStatus] != 5 {
		t.Errorf("events %+v", ev)
	}
	// SysInv's fault body on an injected 404 of an update.
	mustInject(t, s, Fault{Service: SysInv, Host: NameUUID("worker-0"), Kind: FaultStatus, Code: 404, Hits: 1})
	r := call(t.Context(), c, http.MethodPatch, ep.SysInv+"/v1/ihosts/"+NameUUID("worker-0"), tok, taskPatch("x"))
	mustStatus(t, r, 404)
	if sysinvError(t, r) == "" {
		t.Error("no SysInv fault string")
	}
	// A 401 after processing: the swact happens, the answer says 401.
	mustInject(t, s, Fault{Service: SM, Method: "PATCH", Kind: FaultStatus, Code: 401, Hits: 1, AfterProcessing: true})
	mustStatus(t, call(t.Context(), c, http.MethodPatch, url, tok, smBody("lock", "unlocked", "enabled", "available")), 401)
	// FIT swact-action-timeout: SM answers 200 to the swact, which never
	// happens.
	mustInject(t, s, Fault{Name: "swact-action-timeout", Service: SM, Method: "PATCH", Kind: FaultStatus, Code: 200, Hits: 1})
	r = call(t.Context(), c, http.MethodPatch, url, tok, smBody("swact", "unlocked", "enabled", "available"))
	mustStatus(t, r, 200)
	if string(r.body) != "{}" || s.SwactPending() {
		t.Errorf("swallowed swact: body %s, pending %v", r.body, s.SwactPending())
	}
	s.ClearFaults()
	if len(s.ActiveFaults()) != 0 {
		t.Error("ClearFaults")
	}
}

func TestFaultMalformedAndHeader(t *testing.T) {
	s := newSim(t, nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	mustInject(t, s, Fault{Kind: FaultNoSubjectToken, Hits: 1})
	r := call(t.Context(), c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", passwordAuth("admin", "Sim-Passw0rd!"))
	mustStatus(t, r, http.StatusCreated)
	if r.header.Get("X-Subject-Token") != "" {
		t.Error("X-Subject-Token present")
	}
	if st := s.Stats(); st.TokensIssued != 1 {
		t.Errorf("issued %d", st.TokensIssued)
	}
	tok := getToken(t, c, ep)

	mustInject(t, s, Fault{Service: Keystone, Kind: FaultMalformed, Hits: 1})
	r = call(t.Context(), c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", passwordAuth("admin", "Sim-Passw0rd!"))
	mustStatus(t, r, http.StatusCreated)
	if json.Valid(r.body) || r.header.Get("X-Subject-Token") == "" {
		t.Errorf("malformed body %q is valid JSON", r.body)
	}
	mustInject(t, s, Fault{Service: SM, Kind: FaultMalformed, Data: []byte(`{"hostname":"controller-9","origin":"sm","swactable_services":"maybe"}`), Hits: 1})
	r = call(t.Context(), c, http.MethodGet, ep.SM+"/v1/servicenode/controller-0", tok, nil)
	mustStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "controller-9") || r.header.Get("Content-Length") != "70" {
		t.Errorf("data body %q, length %s", r.body, r.header.Get("Content-Length"))
	}
}

// firings sends n requests through a sim with a p=0.3 fault and returns
// which ones were faulted.
func firings(t *testing.T, seed uint64, n int) []bool {
	var out []bool
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, func(c *Config) { c.Seed = seed })
		ep, c := s.MemoryEndpoints(), s.Client()
		tok := getToken(t, c, ep)
		mustInject(t, s, Fault{Service: SysInv, Kind: FaultStatus, Code: 500, Probability: 0.3})
		for range n {
			r := call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts/controller-0", tok, nil)
			out = append(out, r.status == 500)
		}
		if got, want := len(s.FaultEvents()), count(out); got != want {
			t.Errorf("%d fault events for %d 500s", got, want)
		}
	})
	return out
}

func count(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

func TestFaultProbabilitySeeded(t *testing.T) {
	a := firings(t, 42, 400)
	if n := count(a); n < 80 || n > 160 {
		t.Errorf("%d of 400 fired at p=0.3", n)
	}
	b := firings(t, 42, 400)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, request %d differs", i)
		}
	}
	c := firings(t, 43, 400)
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("different seeds, same firings")
	}
}

func TestInjectValidation(t *testing.T) {
	s := newSim(t, nil)
	for _, f := range []Fault{
		{Kind: FaultStatus, Code: 199},
		{Kind: FaultStatus, Code: 302},
		{Kind: FaultStatus, Code: 600},
		{Kind: FaultDelay},
		{Kind: FaultSlowBody, Delay: -1},
		{Kind: 99},
		{},
		{Kind: FaultDrop, Service: "nova"},
		{Kind: FaultDrop, Path: "[x"},
		{Kind: FaultDrop, Hits: -1},
		{Kind: FaultDrop, Probability: 1.5},
		{Kind: FaultNoSubjectToken, Service: SM},
	} {
		if _, err := s.Inject(f); !errors.Is(err, ErrInvalidFault) {
			t.Errorf("Inject(%+v) = %v", f, err)
		}
	}
	if FaultKind(0).String() != "none" || FaultDrop.String() != "drop" || FaultKind(42).String() != "FaultKind(42)" {
		t.Error("FaultKind.String")
	}
}

func TestTransportContract(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		c := s.Client()
		// Already cancelled: the context's error, nothing sent.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if r := call(ctx, c, http.MethodGet, s.MemoryEndpoints().Keystone+"/v3", "", nil); !errors.Is(r.err, context.Canceled) {
			t.Errorf("cancelled: %v", r.err)
		}
		if n := s.Stats().Requests; n != 0 {
			t.Errorf("%d requests recorded for a cancelled call", n)
		}
		// Not a simulator URL: a DNS error, never a real dial.
		r := call(t.Context(), c, http.MethodGet, "http://controller-0:7777/v1/servicenode/controller-0", "", nil)
		var dns *net.DNSError
		if !errors.As(r.err, &dns) || !dns.IsNotFound {
			t.Errorf("unknown host: %v", r.err)
		}
		// A body closed early ends a hanging answer on the server side.
		mustInject(t, s, Fault{Service: Keystone, Kind: FaultHang})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.MemoryEndpoints().Keystone+"/v3", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
			t.Error("read after Close succeeded")
		}
		synctest.Wait() // the handler has ended: Close below has nothing to wait for
	})
}

func TestCloseEndsWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		ep, c := s.MemoryEndpoints(), s.Client()
		tok := getToken(t, c, ep)
		mustInject(t, s, Fault{Service: SysInv, Kind: FaultDrop})
		s.HoldKeystone()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { errs[0] = call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts", tok, nil).err })
		wg.Go(func() {
			errs[1] = call(t.Context(), c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", passwordAuth("admin", "Sim-Passw0rd!")).err
		})
		synctest.Wait()
		start := time.Now()
		var closers sync.WaitGroup
		for range 10 {
			closers.Go(func() { _ = s.Close() })
		}
		closers.Wait()
		wg.Wait()
		if time.Since(start) != 0 {
			t.Errorf("Close took %v of virtual time", time.Since(start))
		}
		for i, err := range errs {
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("request %d after Close: %v", i, err)
			}
		}
		if r := call(t.Context(), c, http.MethodGet, ep.Keystone+"/v3", "", nil); !errors.Is(r.err, ErrClosed) {
			t.Errorf("request after Close: %v", r.err)
		}
		if _, err := s.Inject(Fault{Kind: FaultDrop}); !errors.Is(err, ErrClosed) {
			t.Errorf("Inject after Close: %v", err)
		}
		if err := s.CorruptTokenEvery(time.Second, time.Second); !errors.Is(err, ErrClosed) {
			t.Errorf("CorruptTokenEvery after Close: %v", err)
		}
		for _, r := range s.Requests() {
			if r.Status == 0 && r.Err != "closed" {
				t.Errorf("record %+v", r)
			}
		}
	})
}
