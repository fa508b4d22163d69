package keystone

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/keystone/keystonetest"
)

// Transport tests run in virtual time against the in-memory fake.

func newClient(m *Manager, srv *keystonetest.Server) *http.Client {
	return &http.Client{Transport: &Transport{Manager: m, Base: srv}}
}

func get(t *testing.T, c *http.Client) (int, error) {
	t.Helper()
	resp, err := c.Get(keystonetest.ServiceURL + "v1/ihosts")
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// recordingBase records the X-Auth-Token of every request it forwards.
type recordingBase struct {
	next   http.RoundTripper
	mu     sync.Mutex
	tokens []string
}

func (r *recordingBase) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.tokens = append(r.tokens, req.Header.Get("X-Auth-Token"))
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func TestTransportInjectsTokenAtSendTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		rec := &recordingBase{next: srv}
		c := &http.Client{Transport: &Transport{Manager: m, Base: rec}}
		req, _ := http.NewRequest(http.MethodGet, keystonetest.ServiceURL, nil)
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET = %v, %v", resp, err)
		}
		_ = resp.Body.Close()
		if req.Header.Get("X-Auth-Token") != "" {
			t.Error("Transport modified the caller's request")
		}
		tok := firstToken(t, m)
		if rec.tokens[0] != tok.Secret() {
			t.Error("request did not carry the current token")
		}
	})
}

func TestTransportRenewsAndRetriesOnceWithBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		old := firstToken(t, m)
		rec := &recordingBase{next: srv}
		c := &http.Client{Transport: &Transport{Manager: m, Base: rec}}
		srv.Revoke(old.Secret())
		body := `{"action":"unlock"}`
		resp, err := c.Post(keystonetest.ServiceURL+"v1/ihosts/x", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		echo, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || string(echo) != body {
			t.Fatalf("retry = %d %q, want 200 with the body replayed", resp.StatusCode, echo)
		}
		fresh := firstToken(t, m)
		if len(rec.tokens) != 2 || rec.tokens[0] != old.Secret() || rec.tokens[1] != fresh.Secret() {
			t.Fatal("retry did not carry the new token")
		}
		if st := m.Stats(); st.Renewals.Unauthorized != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestTransportSecondUnauthorizedIsTypedError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		tok := firstToken(t, m)
		srv.RejectService(true)
		c := newClient(m, srv)
		_, err := get(t, c)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != 401 {
			t.Errorf("error = %#v", e)
		}
		total, unauth := srv.ServiceRequests()
		if total != 2 || unauth != 2 || srv.AuthRequests() != 2 {
			t.Errorf("service requests %d (401: %d), token requests %d: want exactly one retry and one renewal",
				total, unauth, srv.AuthRequests())
		}
		fresh := firstToken(t, m)
		for _, s := range []string{tok.Secret(), fresh.Secret()} {
			if strings.Contains(err.Error(), s) {
				t.Error("token in error")
			}
		}
	})
}

func TestTransportUnreplayableBodyReturns401AfterRenewing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		old := firstToken(t, m)
		srv.Revoke(old.Secret())
		req, _ := http.NewRequest(http.MethodPost, keystonetest.ServiceURL, io.NopCloser(bytes.NewReader([]byte("x"))))
		if req.GetBody != nil {
			t.Fatal("test needs an unreplayable body")
		}
		resp, err := (&Transport{Manager: m, Base: srv}).RoundTrip(req)
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("RoundTrip = %v, %v; want the 401 response", resp, err)
		}
		_ = resp.Body.Close()
		if fresh := firstToken(t, m); fresh.Secret() == old.Secret() {
			t.Error("token not renewed")
		}
		if total, _ := srv.ServiceRequests(); total != 1 {
			t.Errorf("%d service requests, want 1 (no retry)", total)
		}
	})
}

// N requests get 401 at the same moment (the fake service answers them all
// together): exactly one token request, all N succeed on their retry.
func TestTransportThousandConcurrent401(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		firstToken(t, m)
		c := newClient(m, srv)
		const n = 1000
		srv.RevokeAll()
		srv.ServiceBarrier(n)
		srv.Hold(false) // Keystone holds its reply until all n are waiting
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				code, err := get(t, c)
				if err == nil && code != 200 {
					err = errors.New(http.StatusText(code))
				}
				errs <- err
			})
		}
		synctest.Wait()
		if got := srv.AuthRequests(); got != 2 {
			t.Fatalf("%d token requests with %d 401s waiting, want 2 (first + 1)", got, n)
		}
		st := m.Stats()
		if st.WaitersJoined != n-1 || st.Renewals.Unauthorized != 1 || !st.Held {
			t.Fatalf("stats = %+v, want %d joined waiters", st, n-1)
		}
		srv.Release()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		total, unauth := srv.ServiceRequests()
		if srv.AuthRequests() != 2 || total != 2*n || unauth != n {
			t.Errorf("token requests %d, service %d (401: %d)", srv.AuthRequests(), total, unauth)
		}
	})
}

// While a 401 renewal runs, new requests wait on the gate instead of
// sending the known-bad token.
func TestTransportWaitsOnGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		stale := firstToken(t, m)
		srv.Hold(false)
		go func() { _, _ = m.Renew(context.Background(), stale) }()
		synctest.Wait()
		c := newClient(m, srv)
		done := make(chan error, 10)
		for range 10 {
			go func() {
				code, err := get(t, c)
				if err == nil && code != 200 {
					err = errors.New(http.StatusText(code))
				}
				done <- err
			}()
		}
		synctest.Wait()
		if total, _ := srv.ServiceRequests(); total != 0 {
			t.Fatalf("%d requests sent while the gate was closed", total)
		}
		srv.Release()
		for range 10 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if _, unauth := srv.ServiceRequests(); unauth != 0 {
			t.Errorf("%d requests got 401", unauth)
		}
	})
}

func TestTransportRenewFailureIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		firstToken(t, m)
		srv.RevokeAll()
		srv.Fail(keystonetest.FaultUnavailable, 0)
		_, err := get(t, newClient(m, srv))
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

func TestTransportNilManager(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, keystonetest.ServiceURL, nil)
	if _, err := (&Transport{}).RoundTrip(req); err == nil {
		t.Fatal("nil Manager accepted")
	}
}

// A steady stream across many token expiries, in virtual time: the
// proactive refresh replaces every token before it expires, so no request
// ever sees a 401 and no renewal is caused by one.
func TestSteadyStreamAcrossExpiries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		srv.SetLifetime(10 * time.Minute)
		srv.SetAuthDelay(200 * time.Millisecond)
		cfg := testConfig(srv)
		cfg.Jitter = 0.1
		m := newManager(t, cfg)
		defer m.Close()
		firstToken(t, m)
		c := newClient(m, srv)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
		defer cancel()
		var wg sync.WaitGroup
		var mu sync.Mutex
		failed := 0
		for range 4 {
			wg.Go(func() {
				tick := time.NewTicker(250 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					if code, err := get(t, c); err != nil || code != 200 {
						mu.Lock()
						failed++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		total, unauth := srv.ServiceRequests()
		st := m.Stats()
		if failed != 0 || unauth != 0 || st.Renewals.Unauthorized != 0 {
			t.Errorf("%d failed, %d 401s of %d requests; stats %+v", failed, unauth, total, st)
		}
		// 2 h of 10 min tokens refreshed at 60-67% of their life: >= 18 refreshes.
		if st.Renewals.Expiry < 18 || total < 4*4*7200-8 {
			t.Errorf("%d refreshes, %d requests", st.Renewals.Expiry, total)
		}
	})
}
