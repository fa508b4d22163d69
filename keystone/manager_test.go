package keystone

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/keystone/keystonetest"
)

// All tests in this file run in virtual time (testing/synctest) against the
// in-memory fake Keystone: every timer, retry, timeout and watchdog of the
// Manager is checked at exact virtual instants.

func TestFirstToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		if h := m.Held(); h != nil {
			t.Fatal("gate closed before the first token")
		}
		tok := firstToken(t, m)
		if tok.IsZero() || !srv.Valid(tok.Secret()) {
			t.Fatalf("token %v not valid at the fake", tok)
		}
		if got := tok.Lifetime(); got != time.Hour {
			t.Errorf("Lifetime = %v, want 1h", got)
		}
		if u, err := tok.Endpoint(EndpointOpts{Type: "platform", Interface: InterfaceAdmin, Region: "RegionOne"}); err != nil || u != keystonetest.PlatformURL {
			t.Errorf("platform admin endpoint = %q, %v", u, err)
		}
		st := m.Stats()
		if st.Renewals.First != 1 || st.Tokens != 1 || st.Renewals.Total() != 1 {
			t.Errorf("stats = %+v", st)
		}
		// Token is answered from memory afterwards.
		tok2 := firstToken(t, m)
		if tok2.Secret() != tok.Secret() || srv.AuthRequests() != 1 {
			t.Errorf("second Token call changed the token or asked Keystone")
		}
	})
}

func TestApplicationCredential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		cfg := testConfig(srv)
		cfg.Username, cfg.UserDomainName, cfg.Password = "", "", ""
		cfg.ProjectName, cfg.ProjectDomainName = "", ""
		cfg.ApplicationCredentialID = keystonetest.AppCredID
		cfg.ApplicationCredentialSecret = keystonetest.AppCredSecret
		m := newManager(t, cfg)
		defer m.Close()
		tok := firstToken(t, m)
		if !srv.Valid(tok.Secret()) {
			t.Fatal("application credential token not valid")
		}
	})
}

// Keystone down (503) for the first 7 token requests. By default an outage
// while callers wait is retried every OutageRetryMax (1 s); with
// OutageRetryMax = RetryMax the spacing doubles as for any other failure.
func TestFirstTokenRetriesWithCappedBackoff(t *testing.T) {
	s, d := time.Second, 8*time.Second
	for _, c := range []struct {
		name      string
		outageMax time.Duration
		total     time.Duration
		want      []time.Duration
	}{
		{"default", time.Second, 7 * time.Second, []time.Duration{s, s, s, s, s, s, s}},
		{"doubling", 8 * time.Second, 39 * time.Second, []time.Duration{s, 2 * s, 4 * s, d, d, d, d}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := keystonetest.New()
				srv.Fail(keystonetest.FaultUnavailable, 7)
				cfg := testConfig(srv)
				cfg.RetryMin, cfg.RetryMax, cfg.OutageRetryMax = time.Second, 8*time.Second, c.outageMax
				m := newManager(t, cfg)
				defer m.Close()
				start := time.Now()
				firstToken(t, m)
				if got := time.Since(start); got != c.total {
					t.Errorf("first token after %v, want %v", got, c.total)
				}
				times := srv.AuthTimes()
				if len(times) != len(c.want)+1 {
					t.Fatalf("%d attempts, want %d", len(times), len(c.want)+1)
				}
				for i, w := range c.want {
					if d := times[i+1].Sub(times[i]); d != w {
						t.Errorf("interval %d = %v, want %v", i, d, w)
					}
				}
				if st := m.Stats(); st.Failures.First != 7 || st.Renewals.First != 8 || st.ConsecutiveFailures != 0 {
					t.Errorf("stats = %+v", st)
				}
			})
		})
	}
}

func TestFirstTokenLoopRunsForeverAndLogsAuthDistinctly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		srv.SetPassword("changed-later")
		cfg := testConfig(srv)
		cfg.RetryMin, cfg.RetryMax = time.Second, 30*time.Second
		log, logs := newLogger()
		cfg.Logger = log
		m := newManager(t, cfg)
		defer m.Close()

		// Wrong password for an hour of virtual time: Token callers get
		// ErrAuthFailed (joined with their deadline), the gate stays open.
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		_, err := m.Token(ctx)
		cancel()
		if !errors.Is(err, ErrAuthFailed) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Token err = %v, want ErrAuthFailed and DeadlineExceeded", err)
		}
		if m.Held() != nil {
			t.Error("gate closed during the first-token loop")
		}
		// 1+2+4+8+16 = 31 s, then every 30 s: attempts at 0,1,3,7,15,31,61,...
		attempts := srv.AuthRequests()
		if want := 6 + (3600-31)/30; attempts != want {
			t.Errorf("%d attempts in 1h, want %d", attempts, want)
		}
		// Now Keystone becomes unreachable, then the password is fixed.
		srv.SetPassword(keystonetest.Password)
		srv.Fail(keystonetest.FaultConnRefused, 2)
		firstToken(t, m)

		if n := logs.count("level=ERROR", `msg="keystone: credentials rejected"`, "user=admin"); n != attempts {
			t.Errorf("%d 'credentials rejected' lines, want %d", n, attempts)
		}
		// Two outage failures 1 s apart: the first at WARN, the repeat
		// within RetryMax at DEBUG.
		if n := logs.count("level=WARN", `msg="keystone: unreachable"`); n != 1 {
			t.Errorf("%d WARN 'unreachable' lines, want 1", n)
		}
		if n := logs.count("level=DEBUG", `msg="keystone: unreachable"`); n != 1 {
			t.Errorf("%d DEBUG 'unreachable' lines, want 1", n)
		}
		if n := logs.count("level=INFO", "token obtained", "after_failures="+strconv.Itoa(attempts+2), "failing_for=1h0m3s"); n != 1 {
			t.Errorf("recovery not logged with the failures: %d lines", n)
		}
	})
}

func TestRefreshBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		first := firstToken(t, m)

		srv.Hold(false) // the refresh will wait: the old token must stay usable
		time.Sleep(40*time.Minute - time.Nanosecond)
		synctest.Wait()
		if srv.AuthRequests() != 1 {
			t.Fatal("refreshed before 2/3 of the lifetime")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if srv.Waiting() != 1 {
			t.Fatalf("no refresh at exactly 40m (waiting=%d)", srv.Waiting())
		}
		if m.Held() != nil {
			t.Error("a proactive refresh closed the gate")
		}
		if tok := firstToken(t, m); tok.Secret() != first.Secret() {
			t.Error("token changed before the refresh finished")
		}
		srv.Release()
		srv.StopHolding()
		synctest.Wait()
		second := firstToken(t, m)
		if second.Secret() == first.Secret() {
			t.Fatal("token not refreshed")
		}
		time.Sleep(40 * time.Minute)
		synctest.Wait()
		if st := m.Stats(); st.Renewals.Expiry != 2 || st.Renewals.Unauthorized != 0 || st.Held {
			t.Errorf("stats = %+v", st)
		}
		times := srv.AuthTimes()
		if d := times[2].Sub(times[1]); d != 40*time.Minute {
			t.Errorf("second refresh %v after the first, want 40m", d)
		}
	})
}

func TestRefreshJitterBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		cfg := testConfig(srv)
		cfg.Jitter = 0.1
		m := newManager(t, cfg)
		defer m.Close()
		firstToken(t, m)
		time.Sleep(50 * time.Hour) // about 75 refreshes
		synctest.Wait()
		times := srv.AuthTimes()
		if len(times) < 70 {
			t.Fatalf("only %d token requests in 50h", len(times))
		}
		lo, hi := time.Duration(float64(time.Hour)*2/3*0.9), time.Duration(float64(time.Hour)*2/3)
		distinct := map[time.Duration]bool{}
		for i := 1; i < len(times); i++ {
			d := times[i].Sub(times[i-1])
			if d < lo-time.Microsecond || d > hi+time.Microsecond {
				t.Errorf("refresh interval %v outside [%v, %v]", d, lo, hi)
			}
			distinct[d.Truncate(time.Second)] = true
		}
		if len(distinct) < 10 {
			t.Errorf("only %d distinct intervals: no jitter?", len(distinct))
		}
	})
}

func TestPeriodicRefreshDoesNotCloseGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		cfg := testConfig(srv)
		cfg.RefreshPeriod = 20 * time.Minute // StarlingX ships 1200 s
		m := newManager(t, cfg)
		defer m.Close()
		tok := firstToken(t, m)
		srv.Hold(false)
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		if srv.Waiting() != 1 {
			t.Fatal("no periodic refresh at 20m")
		}
		if m.Held() != nil {
			t.Fatal("periodic refresh closed the gate")
		}
		// A 401 joining the periodic refresh makes it hold the gate.
		done := make(chan error, 1)
		go func() { _, err := m.Renew(context.Background(), tok); done <- err }()
		synctest.Wait()
		h := m.Held()
		if h == nil {
			t.Fatal("gate open while a 401 waits on the refresh")
		}
		srv.Release()
		srv.StopHolding()
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !isClosed(h) || m.Held() != nil {
			t.Error("gate not reopened")
		}
		st := m.Stats()
		if st.Renewals.Periodic != 1 || st.Renewals.Unauthorized != 0 || st.WaitersJoined != 1 {
			t.Errorf("stats = %+v", st)
		}
		// Counted from each new token: the next one at 40m.
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		if st := m.Stats(); st.Renewals.Periodic != 2 || st.Renewals.Expiry != 0 {
			t.Errorf("stats after 40m = %+v", st)
		}
	})
}

func TestRefreshPeriodCappedAt8h(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		srv.SetLifetime(24 * time.Hour)
		cfg := testConfig(srv)
		cfg.RefreshPeriod = 10 * time.Hour
		log, logs := newLogger()
		cfg.Logger = log
		m := newManager(t, cfg)
		defer m.Close()
		firstToken(t, m)
		time.Sleep(8 * time.Hour)
		synctest.Wait()
		if st := m.Stats(); st.Renewals.Periodic != 1 {
			t.Errorf("no periodic refresh at the 8h cap: %+v", st)
		}
		if logs.count("RefreshPeriod capped") != 1 {
			t.Error("cap not logged")
		}
	})
}

func TestRenewAlreadyRenewed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		old := firstToken(t, m)
		fresh, err := m.Renew(context.Background(), old)
		if err != nil || fresh.Secret() == old.Secret() {
			t.Fatalf("Renew = %v, %v", fresh, err)
		}
		// A late 401 for the old token does not ask Keystone again.
		again, err := m.Renew(context.Background(), old)
		if err != nil || again.Secret() != fresh.Secret() || srv.AuthRequests() != 2 {
			t.Fatalf("late Renew = %v, %v, requests %d", again, err, srv.AuthRequests())
		}
		if st := m.Stats(); st.AlreadyRenewed != 1 || st.Renewals.Unauthorized != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestRenewBeforeFirstTokenWaitsForIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		srv.Fail(keystonetest.FaultUnavailable, 1)
		m := newManager(t, testConfig(srv))
		defer m.Close()
		tok, err := m.Renew(context.Background(), Token{})
		if err != nil || tok.IsZero() {
			t.Fatalf("Renew = %v, %v", tok, err)
		}
		if st := m.Stats(); st.Renewals.Unauthorized != 0 || st.Renewals.First != 2 {
			t.Errorf("stats = %+v", st)
		}
	})
}

// N goroutines call Renew with the same stale token while Keystone holds its
// reply: exactly one token request, N-1 joined waiters, all succeed.
func TestRenewSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		stale := firstToken(t, m)
		srv.Hold(false)
		const n = 1000
		results := make(chan Token, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				tok, err := m.Renew(context.Background(), stale)
				if err != nil {
					t.Error(err)
				}
				results <- tok
			})
		}
		synctest.Wait()
		if got := srv.AuthRequests(); got != 2 {
			t.Fatalf("%d token requests while %d renewals wait, want 2 (first + 1)", got, n)
		}
		if st := m.Stats(); st.WaitersJoined != n-1 || st.Renewals.Unauthorized != 1 || !st.Held {
			t.Fatalf("stats = %+v", st)
		}
		srv.Release()
		wg.Wait()
		close(results)
		var secret string
		for tok := range results {
			if secret == "" {
				secret = tok.Secret()
			}
			if tok.Secret() != secret || tok.Secret() == stale.Secret() {
				t.Fatal("waiters got different or stale tokens")
			}
		}
		if srv.AuthRequests() != 2 {
			t.Errorf("%d token requests, want 2", srv.AuthRequests())
		}
	})
}

func TestWaiterLeavingDoesNotCancelRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		stale := firstToken(t, m)
		srv.Hold(false)

		ctx, cancel := context.WithCancel(context.Background())
		left := make(chan error, 1)
		go func() { _, err := m.Renew(ctx, stale); left <- err }()
		stayed := make(chan error, 2)
		for range 2 {
			go func() { _, err := m.Renew(context.Background(), stale); stayed <- err }()
		}
		synctest.Wait()
		start := time.Now()
		cancel()
		synctest.Wait()
		select {
		case err := <-left:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("leaving waiter got %v", err)
			}
		default:
			t.Fatal("waiter did not leave when its context ended")
		}
		if time.Since(start) != 0 {
			t.Error("leaving took virtual time")
		}
		if srv.Waiting() != 1 || m.Held() == nil {
			t.Fatal("renewal cancelled by one waiter leaving")
		}
		// Even when every waiter has left, the renewal goes on: the token is
		// known to be bad.
		srv.Release()
		for range 2 {
			if err := <-stayed; err != nil {
				t.Errorf("remaining waiter: %v", err)
			}
		}
		if srv.AuthRequests() != 2 {
			t.Errorf("%d token requests, want 2", srv.AuthRequests())
		}
	})
}

// Keystone hangs but honours the context: the renewal fails at exactly
// RenewTimeout with ErrTimeout and failure spacing starts; the gate stays
// closed (the token got a 401) until the Manager's own retry, 1 s later,
// succeeds.
func TestRenewTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		defer m.Close()
		stale := firstToken(t, m)
		srv.Hold(false)
		errs := make(chan error, 3)
		for range 3 {
			go func() { _, err := m.Renew(context.Background(), stale); errs <- err }()
		}
		synctest.Wait()
		h := m.Held()
		if h == nil {
			t.Fatal("gate open during a 401 renewal")
		}
		time.Sleep(30*time.Second - time.Nanosecond)
		synctest.Wait()
		if isClosed(h) || len(errs) != 0 {
			t.Fatal("renewal ended before RenewTimeout")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		var first *Error
		for range 3 {
			select {
			case err := <-errs:
				if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &first) {
					t.Fatalf("waiter got %v, want ErrTimeout", err)
				}
			default:
				t.Fatal("renewal did not end at RenewTimeout")
			}
		}
		if first.Cause != CauseUnauthorized || !first.Retry.Equal(time.Now().Add(time.Second)) {
			t.Errorf("error = %+v", first)
		}
		// The token that got the 401 is never handed out again: the gate
		// stays closed and Token waits, until a new token is stored.
		if isClosed(h) || m.Held() != h {
			t.Fatal("gate reopened by a failed renewal")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := m.Token(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTimeout) {
			t.Fatalf("Token after the failed renewal = %v, want DeadlineExceeded and the last error", err)
		}
		srv.StopHolding()
		// Within the spacing, the last error comes back at once.
		_, err = m.Renew(context.Background(), stale)
		if err != error(first) || srv.AuthRequests() != 2 {
			t.Fatalf("Renew during spacing = %v (requests %d)", err, srv.AuthRequests())
		}
		// The Manager asks again on its own after the spacing (1 s after
		// the failure) and the gate opens at that instant.
		time.Sleep(500*time.Millisecond - time.Nanosecond)
		synctest.Wait()
		if srv.AuthRequests() != 2 || isClosed(h) {
			t.Fatal("asked Keystone again before the spacing")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if srv.AuthRequests() != 3 || !isClosed(h) || m.Held() != nil {
			t.Fatalf("no renewal by the Manager at the end of the spacing (requests %d)", srv.AuthRequests())
		}
		if tok, err := m.Renew(context.Background(), stale); err != nil || tok.Secret() == stale.Secret() {
			t.Fatalf("Renew after spacing = %v, %v", tok, err)
		}
		if st := m.Stats(); st.Deferred != 1 || st.Failures.Unauthorized != 1 || st.Renewals.Unauthorized != 2 ||
			st.Rejected != 1 || st.AlreadyRenewed != 1 || st.Abandoned != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
}

// A transport that ignores its context: the timeout cannot end the request,
// the watchdog abandons it at exactly StuckAfter on its own timer, and the
// Manager starts a fresh renewal at once (the token is still bad); the gate
// opens when it succeeds.
func TestWatchdogAbandonsStuckRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		log, logs := newLogger()
		cfg := testConfig(srv)
		cfg.Logger = log
		m := newManager(t, cfg)
		defer m.Close()
		defer srv.Release() // the black-holed request returns at the end
		stale := firstToken(t, m)
		srv.Hold(true)
		errs := make(chan error, 3)
		for range 3 {
			go func() { _, err := m.Renew(context.Background(), stale); errs <- err }()
		}
		synctest.Wait()
		srv.StopHolding() // later requests are answered; the first stays stuck
		h := m.Held()
		time.Sleep(31*time.Second - time.Nanosecond)
		synctest.Wait()
		if isClosed(h) || len(errs) != 0 {
			t.Fatal("stuck renewal ended before StuckAfter")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		// The Manager renewed afresh at once (no failure spacing after an
		// abandoned request); the gate opened when that renewal succeeded.
		if srv.AuthRequests() != 3 || !isClosed(h) || m.Held() != nil {
			t.Fatalf("no fresh renewal at StuckAfter (requests %d)", srv.AuthRequests())
		}
		for range 3 {
			if err := <-errs; !errors.Is(err, ErrStuck) {
				t.Fatalf("waiter got %v, want ErrStuck", err)
			}
		}
		if st := m.Stats(); st.Abandoned != 1 || st.Failures.Total() != 0 || st.Renewals.Unauthorized != 2 {
			t.Errorf("stats = %+v", st)
		}
		if logs.count("level=ERROR", "stuck, abandoned by watchdog") != 1 {
			t.Error("abandonment not logged")
		}
		// A late 401 for the stale token gets the fresh one.
		fresh, err := m.Renew(context.Background(), stale)
		if err != nil || fresh.Secret() == stale.Secret() || srv.AuthRequests() != 3 {
			t.Fatalf("fresh Renew = %v, %v (requests %d)", fresh, err, srv.AuthRequests())
		}
		// The stuck request finally returns: its result is discarded.
		srv.Release()
		synctest.Wait()
		if tok := firstToken(t, m); tok.Secret() != fresh.Secret() {
			t.Error("abandoned request overwrote the token")
		}
		if logs.count("abandoned token request returned; result discarded") != 1 {
			t.Error("late return of the abandoned request not logged")
		}
	})
}

// Failure spacing: growing capped interval; meanwhile Renew answers with the
// last error without asking Keystone, however many callers ask.
func TestFailureSpacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		cfg := testConfig(srv)
		cfg.RetryMin, cfg.RetryMax = time.Second, 5*time.Second
		m := newManager(t, cfg)
		defer m.Close()
		stale := firstToken(t, m)
		srv.SetPassword("rotated") // every renewal now fails with 401

		// 20 callers hammer Renew every 100 ms for 30 s.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		var mu sync.Mutex
		calls := 0
		for range 20 {
			wg.Go(func() {
				for ctx.Err() == nil {
					_, err := m.Renew(ctx, stale)
					if err != nil && ctx.Err() == nil && !errors.Is(err, ErrAuthFailed) {
						t.Errorf("Renew: %v, want ErrAuthFailed", err)
					}
					mu.Lock()
					calls++
					mu.Unlock()
					select {
					case <-time.After(100 * time.Millisecond):
					case <-ctx.Done():
					}
				}
			})
		}
		wg.Wait()
		times := srv.AuthTimes()[1:]
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}
		for i := 1; i < len(times); i++ {
			d := times[i].Sub(times[i-1])
			w := want[min(i-1, len(want)-1)]
			if d < w {
				t.Errorf("Keystone asked after %v, want >= %v", d, w)
			}
		}
		// 0,1,3,7,12,17,22,27 s -> 8 requests among ~6000 Renew calls.
		if len(times) != 8 {
			t.Errorf("%d token requests in 30s, want 8", len(times))
		}
		st := m.Stats()
		if st.Deferred < 1000 || st.Failures.Unauthorized != uint64(len(times)) {
			t.Errorf("calls %d, stats %+v", calls, st)
		}
		// Fixed: the next attempt succeeds and resets the spacing.
		srv.SetPassword(keystonetest.Password)
		time.Sleep(5 * time.Second)
		tok, err := m.Renew(context.Background(), stale)
		if err != nil || tok.Secret() == stale.Secret() {
			t.Fatalf("Renew after fix = %v, %v", tok, err)
		}
		srv.Fail(keystonetest.FaultUnavailable, 1)
		_, err = m.Renew(context.Background(), tok)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrUnavailable) || e.Status != 503 || !e.Retry.Equal(time.Now().Add(time.Second)) {
			t.Errorf("after reset: %v (want ErrUnavailable, HTTP 503, retry in 1s)", err)
		}
	})
}

func TestTypedReplyErrors(t *testing.T) {
	cases := []struct {
		fault  keystonetest.Fault
		want   error
		status int
	}{
		{keystonetest.FaultUnavailable, ErrUnavailable, 503},
		{keystonetest.FaultUnauthorized, ErrAuthFailed, 401},
		{keystonetest.FaultConnRefused, ErrUnavailable, 0},
		{keystonetest.FaultNoSubjectToken, ErrMissingToken, 201},
		{keystonetest.FaultMalformedJSON, ErrMalformedResponse, 201},
		{keystonetest.FaultNoExpiresAt, ErrMissingExpiry, 201},
		{keystonetest.FaultNoCatalog, ErrNoCatalog, 201},
		{keystonetest.FaultNoPlatform, ErrNoEndpoint, 201},
	}
	for _, c := range cases {
		t.Run(c.want.Error(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := keystonetest.New()
				srv.Fail(c.fault, 0)
				m := newManager(t, testConfig(srv))
				defer m.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				_, err := m.Token(ctx)
				var e *Error
				if !errors.Is(err, c.want) || !errors.As(err, &e) {
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				if e.Status != c.status || e.Cause != CauseFirst {
					t.Errorf("error = %+v, want status %d, cause first", e, c.status)
				}
				// The same fault on a 401 renewal gives the same typed error.
				srv.Fail(keystonetest.FaultNone, 0)
				time.Sleep(time.Second)
				tok := firstToken(t, m)
				srv.Fail(c.fault, 1)
				if _, err := m.Renew(context.Background(), tok); !errors.Is(err, c.want) {
					t.Errorf("Renew err = %v, want %v", err, c.want)
				}
			})
		})
	}
}

// The gate closes with the 401 and opens exactly when a new token is
// stored: at the end of a successful renewal, or, after a failed one, when
// the Manager's own retry succeeds (1 s later), never at the failure.
func TestGateClosedUntilNewToken(t *testing.T) {
	for _, outcome := range []string{"success", "failure"} {
		t.Run(outcome, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := keystonetest.New()
				m := newManager(t, testConfig(srv))
				defer m.Close()
				stale := firstToken(t, m)
				if m.Held() != nil {
					t.Fatal("gate closed before any 401")
				}
				if outcome == "failure" {
					srv.Fail(keystonetest.FaultUnavailable, 1)
				}
				srv.Hold(false)
				done := make(chan error, 1)
				go func() { _, err := m.Renew(context.Background(), stale); done <- err }()
				synctest.Wait()
				h := m.Held()
				if h == nil || isClosed(h) {
					t.Fatal("gate not closed while the 401 renewal runs")
				}
				if h2 := m.Held(); h2 != h {
					t.Error("Held returned a different channel for the same renewal")
				}
				time.Sleep(10 * time.Second)
				synctest.Wait()
				if isClosed(h) || !m.Stats().Held {
					t.Fatal("gate reopened while the renewal still runs")
				}
				srv.Release()
				synctest.Wait()
				err := <-done
				if (err == nil) != (outcome == "success") {
					t.Fatalf("Renew err = %v", err)
				}
				if outcome == "failure" {
					if isClosed(h) || m.Held() != h || !m.Stats().Held {
						t.Fatal("gate reopened by a failed renewal")
					}
					time.Sleep(time.Second - time.Nanosecond)
					synctest.Wait()
					if isClosed(h) || srv.AuthRequests() != 2 {
						t.Fatal("gate reopened, or Keystone asked, before the retry")
					}
					time.Sleep(time.Nanosecond)
					synctest.Wait()
				}
				if !isClosed(h) || m.Held() != nil || m.Stats().Held {
					t.Fatal("gate not reopened when the new token was stored")
				}
				if tok := firstToken(t, m); tok.Secret() == stale.Secret() || !srv.Valid(tok.Secret()) {
					t.Fatal("no valid new token")
				}
			})
		})
	}
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		stale := firstToken(t, m)
		srv.Hold(false)
		errs := make(chan error, 5)
		for range 5 {
			go func() { _, err := m.Renew(context.Background(), stale); errs <- err }()
		}
		synctest.Wait()
		h := m.Held()
		start := time.Now()
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { _ = m.Close() })
		}
		wg.Wait()
		if time.Since(start) != 0 {
			t.Error("Close took virtual time")
		}
		for range 5 {
			if err := <-errs; !errors.Is(err, ErrClosed) {
				t.Errorf("waiter got %v, want ErrClosed", err)
			}
		}
		if !isClosed(h) || m.Held() != nil {
			t.Error("gate not opened by Close")
		}
		if _, err := m.Token(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Token after Close: %v", err)
		}
		if _, err := m.Renew(context.Background(), stale); !errors.Is(err, ErrClosed) {
			t.Errorf("Renew after Close: %v", err)
		}
		_ = m.Close()
		if st := m.Stats(); st.Failures.Total() != 0 {
			t.Errorf("Close counted as a failure: %+v", st)
		}
	})
}

// Close is bounded even by a request stuck in a transport that ignores its
// context: the waiters leave at once, Close returns after exactly
// CloseTimeout with ErrStuck, and the stuck goroutine ends when its call
// finally returns (the bubble checks that it does).
func TestCloseBoundedByStuckRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		stale := firstToken(t, m)
		srv.Hold(true)
		werr := make(chan error, 1)
		go func() { _, err := m.Renew(context.Background(), stale); werr <- err }()
		synctest.Wait()
		start := time.Now()
		cerr := make(chan error, 1)
		go func() { cerr <- m.Close() }()
		synctest.Wait()
		if err := <-werr; !errors.Is(err, ErrClosed) {
			t.Errorf("waiter got %v", err)
		}
		err := <-cerr
		if !errors.Is(err, ErrStuck) || time.Since(start) != DefaultConfig().CloseTimeout {
			t.Errorf("Close = %v after %v, want ErrStuck after %v", err, time.Since(start), DefaultConfig().CloseTimeout)
		}
		if err := m.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		srv.Release()
		synctest.Wait()
		if st := m.Stats(); st.Tokens != 1 {
			t.Errorf("the stuck request's late result was used: %d tokens", st.Tokens)
		}
	})
}

// A request that returns within CloseTimeout after cancellation is joined:
// Close waits for it and reports no error.
func TestCloseJoinsSlowRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		m := newManager(t, testConfig(srv))
		stale := firstToken(t, m)
		srv.Hold(true)
		go func() { _, _ = m.Renew(context.Background(), stale) }()
		synctest.Wait()
		time.AfterFunc(2*time.Second, srv.Release)
		start := time.Now()
		if err := m.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("Close returned after %v, want 2s (when the request returned)", d)
		}
	})
}

func TestTokenBeforeFirstHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		srv.Hold(false)
		m := newManager(t, testConfig(srv))
		defer m.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := m.Token(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second {
			t.Fatalf("Token = %v after %v", err, time.Since(start))
		}
		srv.Release()
		srv.StopHolding()
		firstToken(t, m)
	})
}

// A request the watchdog already abandoned (so no longer the flight in
// progress) but whose transport still ignores cancellation is waited for at
// most CloseTimeout too: Close is bounded whatever was left behind, and
// reports it with ErrStuck.
func TestCloseBoundedByAbandonedRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		log, logs := newLogger()
		cfg := testConfig(srv)
		cfg.Logger = log
		m := newManager(t, cfg)
		stale := firstToken(t, m)
		srv.HoldNext(1, true) // only the next token request is black-holed
		if _, err := m.Renew(context.Background(), stale); !errors.Is(err, ErrStuck) {
			t.Fatalf("Renew = %v, want ErrStuck from the watchdog", err)
		}
		synctest.Wait() // the Manager's fresh renewal (not held) succeeds
		if st := m.Stats(); st.Abandoned != 1 || st.Held || st.Tokens != 2 {
			t.Fatalf("stats = %+v", st)
		}
		fresh := firstToken(t, m)
		start := time.Now()
		err := m.Close()
		if !errors.Is(err, ErrStuck) || time.Since(start) != cfg.CloseTimeout {
			t.Errorf("Close = %v after %v, want ErrStuck after %v", err, time.Since(start), cfg.CloseTimeout)
		}
		if logs.count("level=ERROR", "closed with a token request still running") != 1 {
			t.Error("Close leaving a request behind was not logged")
		}
		srv.Release()
		synctest.Wait()
		if st := m.Stats(); st.Tokens != 2 || m.cur.Secret() != fresh.Secret() {
			t.Errorf("the abandoned request's late result was used: %d tokens", st.Tokens)
		}
	})
}
