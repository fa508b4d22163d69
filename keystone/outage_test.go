package keystone

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/keystone/keystonetest"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Keystone outages, in virtual time: how fast the Manager finds a Keystone
// that comes back, how little it asks a Keystone that stays down, and that
// a token that got a 401 is never handed out again.

// wireLog records every HTTP request sent to Keystone's host (any method).
type wireLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	at   []time.Time
}

func (w *wireLog) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "keystone.test" {
		w.mu.Lock()
		w.at = append(w.at, time.Now())
		w.mu.Unlock()
	}
	return w.next.RoundTrip(req)
}

// between returns the requests sent in [from, to).
func (w *wireLog) between(from, to time.Time) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Time
	for _, t := range w.at {
		if !t.Before(from) && t.Before(to) {
			out = append(out, t)
		}
	}
	return out
}

// maxInWindow is the largest number of times in any window [t, t+w).
func maxInWindow(ts []time.Time, w time.Duration) int {
	best := 0
	for i := range ts {
		n := 0
		for j := i; j < len(ts) && ts[j].Sub(ts[i]) < w; j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

// serviceGet sends one request to the protected service through c.
func serviceGet(ctx context.Context, c *http.Client) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, keystonetest.ServiceURL, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// The must of issue 10 item 2, at default configuration (Jitter 0.1 and
// all): the token is revoked and Keystone goes down (connection refused, or
// 503) for a random 0.5–30 s while 8 callers send requests through
// Transport every 10 ms (200 ms deadline each) and 4 more call Renew with
// the rejected token every 5 ms. In every one of 30 rounds per kind of
// outage:
//   - the first valid token comes at most OutageRetryMax·(1+Jitter) plus
//     Keystone's 15 ms after Keystone is back (1.115 s; the must is 1.5 s
//     at p99, this is the maximum);
//   - token requests to the down Keystone are at least 1 s apart, and no
//     1 s window holds more than 1 HTTP request of any kind to Keystone;
//   - after the first 401s of the revocation instant, no request reaches
//     the service until the new token exists (the gate is closed, Token
//     never hands out the rejected token).
//
// Keystone's service time is 15 ms, so a failed attempt also takes 15 ms.
func TestOutageRecoveryBound(t *testing.T) {
	for _, fault := range []keystonetest.Fault{keystonetest.FaultConnRefused, keystonetest.FaultUnavailable} {
		name := map[keystonetest.Fault]string{keystonetest.FaultConnRefused: "refused", keystonetest.FaultUnavailable: "503"}[fault]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := keystonetest.New()
				srv.SetAuthDelay(15 * time.Millisecond)
				wire := &wireLog{next: srv}
				cfg := testConfig(srv)
				cfg.Transport = wire
				cfg.Jitter = DefaultConfig().Jitter
				m := newManager(t, cfg)
				defer m.Close()
				client := &http.Client{Transport: &Transport{Manager: m, Base: srv}}
				rng := rand.New(rand.NewPCG(1, uint64(fault)))
				bound := time.Duration(float64(cfg.OutageRetryMax)*(1+cfg.Jitter)) + 15*time.Millisecond
				var worst time.Duration
				const rounds, transportCallers, renewCallers = 30, 8, 4
				for round := range rounds {
					rec, ok := outageRound(t, m, srv, client, wire, fault, round,
						500*time.Millisecond+time.Duration(rng.Int64N(int64(30*time.Second))), transportCallers, renewCallers)
					if !ok {
						return
					}
					worst = max(worst, rec)
					if rec > bound {
						t.Errorf("round %d: first valid token %v after Keystone was back, want <= %v", round, rec, bound)
					}
				}
				t.Logf("worst recovery over %d outages: %v (bound %v)", rounds, worst, bound)
			})
		})
	}
}

// outageRound runs one outage of TestOutageRecoveryBound and returns the
// time from Keystone back to the first valid token. ok is false after a
// fatal problem (reported); the callers are stopped either way.
func outageRound(t *testing.T, m *Manager, srv *keystonetest.Server, client *http.Client, wire *wireLog,
	fault keystonetest.Fault, round int, outage time.Duration, transportCallers, renewCallers int) (rec time.Duration, ok bool) {
	stale := firstToken(t, m)
	_, svc0 := srv.ServiceRequests()
	down := time.Now()
	srv.RevokeAll()
	srv.Fail(fault, 0)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range transportCallers + renewCallers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if i < transportCallers {
					rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
					_ = serviceGet(rctx, client)
					rcancel()
					sleepCtx(ctx, 10*time.Millisecond)
				} else {
					if tok, err := m.Renew(ctx, stale); err == nil && tok.Secret() == stale.Secret() {
						t.Error("Renew returned the rejected token")
					}
					sleepCtx(ctx, 5*time.Millisecond)
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	synctest.Wait()
	_, first401 := srv.ServiceRequests()
	if n := first401 - svc0; n > transportCallers {
		t.Errorf("round %d: %d 401s at the revocation, more than one per caller", round, n)
	}
	time.Sleep(outage - time.Millisecond)
	back := time.Now()
	if m.Held() == nil {
		t.Errorf("round %d: gate open during the outage", round)
		return 0, false
	}
	if _, svc := srv.ServiceRequests(); svc != first401 {
		t.Errorf("round %d: %d requests reached the service with the rejected token during the outage", round, svc-first401)
		return 0, false
	}
	srv.Fail(keystonetest.FaultNone, 0)
	tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
	tok, err := m.Token(tctx)
	tcancel()
	if err != nil || tok.Secret() == stale.Secret() || !srv.Valid(tok.Secret()) {
		t.Errorf("round %d: no valid token after the outage: %v", round, err)
		return 0, false
	}
	rec = time.Since(back)
	during := wire.between(down, back)
	if n := maxInWindow(during, time.Second); n > 1 {
		t.Errorf("round %d: %d Keystone requests within 1 s during the outage", round, n)
	}
	for i := 1; i < len(during); i++ {
		if d := during[i].Sub(during[i-1]); d < time.Second {
			t.Errorf("round %d: token requests %v apart during the outage", round, d)
		}
	}
	return rec, true
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// After a renewal started by a 401 fails, the rejected token is never
// handed out: Token waits (and reports the last attempt when its ctx ends),
// Renew answers the typed error, the gate stays closed, and a request sent
// through Transport meanwhile never reaches the service; it goes out with
// the new token as soon as Keystone is back.
func TestRejectedTokenNeverHandedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		client := &http.Client{Transport: &Transport{Manager: m, Base: srv}}
		stale := firstToken(t, m)
		srv.RevokeAll()
		srv.Fail(keystonetest.FaultConnRefused, 0)

		err := serviceGet(context.Background(), client)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("request with the revoked token = %v, want ErrUnavailable from the failed renewal", err)
		}
		total, unauthorized := srv.ServiceRequests()
		if total != 1 || unauthorized != 1 {
			t.Fatalf("service saw %d requests, %d 401s; want 1, 1", total, unauthorized)
		}
		h := m.Held()
		if h == nil {
			t.Fatal("gate open after the 401 renewal failed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err = m.Token(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) {
			t.Errorf("Token = %v, want DeadlineExceeded and ErrUnavailable", err)
		}
		if tok, err := m.Renew(context.Background(), stale); err == nil || !tok.IsZero() || !errors.Is(err, ErrUnavailable) {
			t.Errorf("Renew = %v, %v; want the typed error", tok, err)
		}
		// A request with a short deadline fails without reaching the
		// service, with the reason.
		ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
		err = serviceGet(ctx, client)
		cancel()
		var e *Error
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &e) || e.Kind != ErrUnavailable || e.Retry.IsZero() {
			t.Errorf("request while Keystone is down = %v, want DeadlineExceeded wrapping the last *Error", err)
		}
		// One with a long deadline waits, and goes out once Keystone is
		// back (found by the Manager's own retries, 1 s apart).
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- serviceGet(context.Background(), client) }()
		time.Sleep(5*time.Second + 300*time.Millisecond)
		synctest.Wait()
		if n, _ := srv.ServiceRequests(); n != 1 || len(done) != 0 {
			t.Fatal("a request reached the service (or ended) while Keystone was down")
		}
		srv.Fail(keystonetest.FaultNone, 0)
		if err := <-done; err != nil {
			t.Fatalf("request after Keystone came back: %v", err)
		}
		if d := time.Since(start); d != 5500*time.Millisecond {
			t.Errorf("request served %v after it was sent, want 5.5s (the next retry after Keystone was back)", d)
		}
		if !isClosed(h) || m.Held() != nil {
			t.Error("gate not open after the new token")
		}
		if total, unauthorized := srv.ServiceRequests(); total != 2 || unauthorized != 1 {
			t.Errorf("service saw %d requests, %d 401s; want 2, 1", total, unauthorized)
		}
		if st := m.Stats(); st.Rejected != 1 || st.Renewals.Unauthorized != 7 || st.Failures.Unauthorized != 6 {
			t.Errorf("stats = %+v", st)
		}
	})
}

// A token whose refresh failed is still valid: it is handed out, with the
// gate open, until its expiry, and the refresh is retried with the plain
// doubling (nothing waits). From its expiry on, Token waits, the gate is
// closed and Keystone is asked every second; it is found within a second
// of coming back.
func TestRefreshFailureKeepsValidToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		wire := &wireLog{next: srv}
		cfg := testConfig(srv)
		cfg.Transport = wire
		m := newManager(t, cfg)
		defer m.Close()
		tok := firstToken(t, m)
		start := time.Now()
		srv.Fail(keystonetest.FaultConnRefused, 0)

		expiry := start.Add(time.Hour)
		for time.Now().Before(expiry.Add(-time.Second)) {
			time.Sleep(time.Second)
			if got := firstToken(t, m); got.Secret() != tok.Secret() {
				t.Fatal("token changed while Keystone is down")
			}
			if m.Held() != nil {
				t.Fatalf("gate closed at +%v with a valid token", time.Since(start))
			}
		}
		// Refresh from 40 min: 1, 2, 4, 8, 16 s, then every 30 s.
		refresh := wire.between(start.Add(time.Second), expiry)
		if len(refresh) != 6+(1200-31)/30 {
			t.Errorf("%d refresh attempts in the last 20 min of the token, want %d", len(refresh), 6+(1200-31)/30)
		}
		time.Sleep(time.Until(expiry))
		if m.Held() == nil {
			t.Error("gate open with an expired token")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		if _, err := m.Token(ctx); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) {
			t.Errorf("Token after expiry = %v", err)
		}
		cancel()
		time.Sleep(10*time.Second + 299*time.Millisecond) // to expiry + 10.3 s
		after := wire.between(expiry, time.Now())
		if len(after) != 11 {
			t.Errorf("%d attempts in 10.3 s after expiry, want 11 (at expiry, then every second)", len(after))
		}
		back := time.Now()
		srv.Fail(keystonetest.FaultNone, 0)
		fresh := firstToken(t, m)
		if d := time.Since(back); d != 700*time.Millisecond || fresh.Secret() == tok.Secret() {
			t.Errorf("new token %v after Keystone was back, want 700ms", d)
		}
		if m.Held() != nil {
			t.Error("gate closed after the new token")
		}
		if st := m.Stats(); st.Renewals.Unauthorized != 0 || st.Rejected != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
}

// What the work queue's requests get when Keystone stays down after a 401:
// the gate holds them for MaxHold (40 s, no attempt spent); the queue then
// bypasses it, and each dispatched attempt waits in Transport for a token
// (never sending the rejected one) until its own deadline. If Keystone
// comes back meanwhile, the waiting attempts go out at once and succeed;
// if not, each attempt fails at its deadline with an error wrapping
// context.DeadlineExceeded and the last *Error, and the item fails after
// its attempt budget, with no request sent to the service.
func TestQueueBypassDuringOutage(t *testing.T) {
	for _, outage := range []time.Duration{50500 * time.Millisecond, 200 * time.Second} {
		t.Run(outage.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := keystonetest.New()
				m := newManager(t, testConfig(srv))
				defer m.Close()
				firstToken(t, m)
				qc := workqueue.DefaultConfig()
				qc.Gate = m
				// StarlingX's budgets, pinned: 3 attempts of 20 s, 5 s apart,
				// gate bypassed after 40 s.
				qc.Attempts, qc.Timeout, qc.BackOff, qc.MaxHold = 3, 20*time.Second, workqueue.ConstantBackOff(5*time.Second), 40*time.Second
				q, err := workqueue.New(qc)
				if err != nil {
					t.Fatal(err)
				}
				defer q.Close(context.Background())
				client := &http.Client{Transport: &Transport{Manager: m, Base: srv}}

				srv.RevokeAll()
				srv.Fail(keystonetest.FaultConnRefused, 0)
				if err := serviceGet(context.Background(), client); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("first request = %v", err)
				}
				start := time.Now()
				var handles []*workqueue.Handle
				for _, host := range []string{"controller-0", "compute-0", "compute-1"} {
					h, err := q.Submit(host, workqueue.Item{Name: host, Critical: true,
						Run: func(ctx context.Context, _ int) error { return serviceGet(ctx, client) }})
					if err != nil {
						t.Fatal(err)
					}
					handles = append(handles, h)
				}
				time.Sleep(40*time.Second - time.Nanosecond)
				synctest.Wait()
				if st := q.Stats(); st.Attempts != 0 || !st.Holding {
					t.Fatalf("queue during the hold: %+v", st)
				}
				back := time.AfterFunc(outage-40*time.Second, func() { srv.Fail(keystonetest.FaultNone, 0) })
				defer back.Stop()
				for _, h := range handles {
					_ = h.Wait(context.Background())
				}
				total, _ := srv.ServiceRequests()
				for _, h := range handles {
					if outage < 60*time.Second {
						if err := h.Err(); err != nil || h.Attempts() != 1 {
							t.Errorf("%s: %v after %d attempts, want success in 1", h.Key(), err, h.Attempts())
						}
						continue
					}
					err := h.Err()
					var e *Error
					if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &e) || e.Kind != ErrUnavailable || h.Attempts() != 3 {
						t.Errorf("%s: %v after %d attempts, want 3 attempts ending in DeadlineExceeded + ErrUnavailable", h.Key(), err, h.Attempts())
					}
				}
				if outage < 60*time.Second {
					// One 401 at the start, then each item once, at
					// outage + the next retry (1 s spacing).
					if total != 4 {
						t.Errorf("service saw %d requests, want 4", total)
					}
				} else {
					if total != 1 {
						t.Errorf("service saw %d requests, want only the first", total)
					}
					// 40 s hold + 3 attempts of 20 s with 5 s between.
					if d := time.Since(start); d != 40*time.Second+3*20*time.Second+2*5*time.Second {
						t.Errorf("items failed after %v", d)
					}
				}
			})
		})
	}
}

// A 401 while refreshes of a still-valid token are failing (spaced 1, 2, 4,
// 8, 16 s, ...) makes the Manager ask at once and then every second: work
// now waits for a token.
func TestRenewDuringFailingRefreshTightensSpacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		tok := firstToken(t, m)
		start := time.Now()
		srv.Fail(keystonetest.FaultConnRefused, 0)
		time.Sleep(40*time.Minute + 20*time.Second) // refreshes at +0, 1, 3, 7, 15 s; next due at +31 s
		synctest.Wait()
		if n := srv.AuthRequests(); n != 6 {
			t.Fatalf("%d token requests, want 6", n)
		}
		_, err := m.Renew(context.Background(), tok)
		var e *Error
		if !errors.As(err, &e) || e.Kind != ErrUnavailable || e.Cause != CauseUnauthorized || !e.Retry.Equal(time.Now().Add(time.Second)) {
			t.Fatalf("Renew = %v, want an immediate attempt failing with ErrUnavailable, retry in 1 s", err)
		}
		time.AfterFunc(1500*time.Millisecond, func() { srv.Fail(keystonetest.FaultNone, 0) })
		fresh := firstToken(t, m)
		if d := time.Since(start); d != 40*time.Minute+22*time.Second || fresh.Secret() == tok.Secret() {
			t.Errorf("new token at +%v, want 40m22s", d)
		}
		times := srv.AuthTimes()
		var got []time.Duration
		for _, at := range times[len(times)-3:] {
			got = append(got, at.Sub(start)-40*time.Minute)
		}
		if got[0] != 20*time.Second || got[1] != 21*time.Second || got[2] != 22*time.Second {
			t.Errorf("last token requests at 40m + %v, want 20s, 21s, 22s", got)
		}
	})
}
