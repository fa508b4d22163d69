package sim

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// tokenSource is a minimal renewing token source for the stress test.
type tokenSource struct {
	t   testing.TB
	c   *http.Client
	ep  Endpoints
	mu  sync.Mutex
	tok string
	n   int
}

func (ts *tokenSource) get(ctx context.Context, rejected string) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != "" && rejected != ts.tok {
		return ts.tok, nil
	}
	r := call(ctx, ts.c, http.MethodPost, ts.ep.AuthURL()+"/auth/tokens", "", passwordAuth("admin", "Sim-Passw0rd!"))
	if r.err != nil {
		return "", r.err
	}
	if r.status != http.StatusCreated {
		return "", errors.New(http.StatusText(r.status))
	}
	ts.tok = r.header.Get("X-Subject-Token")
	ts.n++
	return ts.tok, nil
}

func TestStress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, func(c *Config) { c.Hosts = Inventory(6) })
		c := s.Client()
		ts := &tokenSource{t: t, c: c, ep: s.MemoryEndpoints()}
		if err := s.CorruptTokenEvery(20*time.Second, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		mustInject(t, s, Fault{Service: VIM, Kind: FaultStatus, Code: 503, Probability: 0.05})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
		defer cancel()
		start := time.Now()
		res, err := s.Stress(ctx, StressConfig{Client: c, Period: 5 * time.Second, Token: ts.get, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 30*time.Minute {
			t.Errorf("stress ran %v of virtual time", d)
		}
		// 6 hosts × 30 min / 5 s = 2160 updates, give or take the start offsets.
		if res.Sent < 2150 || res.Sent > 2160 || res.OK+res.Failed != res.Sent+tokenFails(res) {
			t.Errorf("result %+v", res)
		}
		st := s.Stats()
		corruptions := st.Corruptions
		var got401, got503, vimOK, smSent int
		for name, op := range res.Ops {
			got401 += op.Status[401]
			got503 += op.Status[503]
			if name[:3] == "vim" {
				vimOK += op.OK
			}
			if name[:2] == "sm" {
				smSent += op.Sent
			}
		}
		// Every corruption hits the shared token in use and is seen by at
		// least one request; the source renews once per bad token. All
		// 401s are the simulator's token refusals (the VIM, without a
		// token, never sees one).
		if got401 < corruptions || corruptions < 60 || got401 != st.AuthFailures {
			t.Errorf("%d 401s for %d corruptions, %d refusals", got401, corruptions, st.AuthFailures)
		}
		if ts.n != corruptions+1 {
			t.Errorf("%d token requests for %d corruptions", ts.n, corruptions)
		}
		if got503 == 0 || got503 != st.FaultsByKind[FaultStatus] {
			t.Errorf("%d 503s, %d injected", got503, st.FaultsByKind[FaultStatus])
		}
		if vimOK != st.VIMChanges {
			t.Errorf("%d VIM updates succeeded, %d recorded", vimOK, st.VIMChanges)
		}
		if smSent == 0 {
			t.Error("no SM updates")
		}
		if n := st.ByService[SysInv] + st.ByService[SM] + st.ByService[VIM]; n != res.Sent {
			t.Errorf("simulator saw %d updates, generator sent %d", n, res.Sent)
		}
		for _, name := range res.OpNames() {
			t.Logf("%-14s %+v", name, res.Ops[name])
		}
	})
}

func tokenFails(r StressResult) int {
	n := 0
	for _, op := range r.Ops {
		n += op.TokenFails
	}
	return n
}

func TestStressStopsAtClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		mustInject(t, s, Fault{Service: VIM, Kind: FaultDrop})
		var res StressResult
		done := make(chan struct{})
		go func() {
			defer close(done)
			res, _ = s.Stress(t.Context(), StressConfig{Client: s.Client(), Period: time.Second,
				Hosts: []string{"worker-0"}})
		}()
		time.Sleep(time.Hour)
		_ = s.Close()
		<-done
		if res.Sent+res.Canceled == 0 || res.Failed != res.Sent-res.OK {
			t.Errorf("result %+v", res)
		}
		if _, err := s.Stress(t.Context(), StressConfig{Client: s.Client(), Period: time.Second}); !errors.Is(err, ErrClosed) {
			t.Errorf("Stress after Close: %v", err)
		}
	})
	s := newSim(t, nil)
	for _, cfg := range []StressConfig{{Period: time.Second}, {Client: s.Client()}} {
		if _, err := s.Stress(t.Context(), cfg); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("Stress(%+v) = %v", cfg, err)
		}
	}
	if _, err := s.Stress(t.Context(), StressConfig{Client: s.Client(), Period: time.Second, Hosts: []string{"x"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown stress host: %v", err)
	}
}

// TestStressRateUnderLatency: each host's updates start every Period, as
// api_stress_test's timer does, even when the platform is slow to answer
// (here 2 s per request with a 5 s period: 120 updates in 10 minutes, not
// one every 7 s); a request slower than the period is followed by the next
// one at once, never by a burst that catches up.
func TestStressRateUnderLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		mustInject(t, s, Fault{Kind: FaultDelay, Delay: 2 * time.Second})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		res, err := s.Stress(ctx, StressConfig{Client: s.Client(), Period: 5 * time.Second,
			Hosts: []string{"worker-0"}, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Sent + res.Canceled; n < 119 || n > 120 {
			t.Errorf("2 s latency, 5 s period, 10 min: %d sent, %d canceled; want 120 started", res.Sent, res.Canceled)
		}
		var starts []time.Time
		for _, r := range s.RequestsMatching(func(r Record) bool { return r.Service != Keystone }) {
			starts = append(starts, r.Time)
		}
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap != 5*time.Second {
				t.Fatalf("updates %d and %d started %v apart, want 5s", i, i+1, gap)
			}
		}

		// Slower than the period: back to back, one at a time.
		s.ClearFaults()
		mustInject(t, s, Fault{Kind: FaultDelay, Delay: 7 * time.Second})
		ctx2, cancel2 := context.WithTimeout(t.Context(), 70*time.Second)
		defer cancel2()
		res, err = s.Stress(ctx2, StressConfig{Client: s.Client(), Period: 5 * time.Second,
			Hosts: []string{"worker-1"}, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Sent + res.Canceled; n < 10 || n > 11 {
			t.Errorf("7 s latency, 5 s period, 70 s: %d started, want 10 or 11 (back to back)", n)
		}
	})
}
