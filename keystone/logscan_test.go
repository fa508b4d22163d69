package keystone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/keystone/keystonetest"
)

// TestNoSecretInLogsOrErrors drives every path of the Manager and the
// Transport with a recognizable password and recognizable tokens, at debug
// level, and asserts that neither appears in any log line or in any error
// string, however the error is formatted.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	const password = "PW-LOGSCAN-c0ffee-42"
	const tokenMark = "TOKEN-LOGSCAN-"
	synctest.Test(t, func(t *testing.T) {
		srv := keystonetest.New()
		srv.SetTokenPrefix(tokenMark)
		srv.SetPassword(password)
		log, logs := newLogger()
		cfg := testConfig(srv)
		cfg.Password = password
		cfg.Logger = log
		cfg.RefreshPeriod = 20 * time.Minute

		var errs []error
		collect := func(err error) {
			if err != nil {
				errs = append(errs, err)
			}
		}

		// First-token loop: wrong password (Keystone has another one),
		// then unreachable, then fixed.
		srv.SetPassword("something-else")
		m := newManager(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := m.Token(ctx)
		cancel()
		collect(err)
		srv.Fail(keystonetest.FaultConnRefused, 1)
		srv.SetPassword(password)
		tok := firstToken(t, m)

		// Proactive refreshes (15 min tokens), then periodic ones (2 h tokens).
		srv.SetLifetime(15 * time.Minute)
		time.Sleep(time.Hour)
		srv.SetLifetime(2 * time.Hour)
		time.Sleep(time.Hour)
		synctest.Wait()

		// Every malformed reply on a 401 renewal.
		for _, f := range []keystonetest.Fault{keystonetest.FaultNoSubjectToken, keystonetest.FaultMalformedJSON,
			keystonetest.FaultNoExpiresAt, keystonetest.FaultNoCatalog, keystonetest.FaultNoPlatform,
			keystonetest.FaultUnavailable, keystonetest.FaultUnauthorized} {
			tok = firstToken(t, m)
			srv.Fail(f, 1)
			_, err := m.Renew(context.Background(), tok)
			collect(err)
			_, err = m.Renew(context.Background(), tok) // deferred by failure spacing
			collect(err)
			time.Sleep(time.Minute)
		}

		// Timeout, then stuck.
		tok = firstToken(t, m)
		srv.Hold(false)
		_, err = m.Renew(context.Background(), tok)
		collect(err)
		srv.StopHolding()
		time.Sleep(time.Minute)
		tok = firstToken(t, m)
		srv.Hold(true)
		_, err = m.Renew(context.Background(), tok)
		collect(err)
		srv.StopHolding()
		srv.Release()
		synctest.Wait()

		// Transport: renewal and retry, then a service that keeps saying 401,
		// then a request whose context ends.
		c := &http.Client{Transport: &Transport{Manager: m, Base: srv}}
		srv.RevokeAll()
		resp, err := c.Get(keystonetest.ServiceURL + "?token=x")
		collect(err)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		srv.RejectService(true)
		_, err = c.Get(keystonetest.ServiceURL)
		collect(err)
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, keystonetest.ServiceURL, nil)
		_, err = c.Do(req)
		collect(err)

		// A token request stuck in a transport that ignores cancellation
		// when Close comes: Close gives up after CloseTimeout (ErrStuck).
		tok = firstToken(t, m)
		srv.HoldNext(1, true)
		renewErr := make(chan error, 1)
		go func() { _, err := m.Renew(context.Background(), tok); renewErr <- err }()
		synctest.Wait()

		// Manager printed, closed, then used.
		printed := []string{fmt.Sprint(m), fmt.Sprintf("%+v", m), fmt.Sprintf("%#v", m), fmt.Sprintf("%s", m), fmt.Sprintf("%d", m)}
		closeErr := m.Close()
		if !errors.Is(closeErr, ErrStuck) {
			t.Errorf("Close with a stuck request = %v, want ErrStuck", closeErr)
		}
		collect(closeErr)
		collect(<-renewErr)
		srv.Release()
		synctest.Wait()
		_, err = m.Token(context.Background())
		collect(err)
		_, err = m.Renew(context.Background(), tok)
		collect(err)

		kinds := map[error]bool{}
		for _, e := range errs {
			for _, k := range []error{ErrAuthFailed, ErrUnavailable, ErrTimeout, ErrStuck, ErrMissingToken,
				ErrMalformedResponse, ErrMissingExpiry, ErrNoCatalog, ErrNoEndpoint, ErrUnauthorized, ErrClosed} {
				if errors.Is(e, k) {
					kinds[k] = true
				}
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
				printed = append(printed, fmt.Sprintf(verb, e))
			}
		}
		if len(kinds) != 11 {
			t.Errorf("only %d error kinds exercised: %v", len(kinds), kinds)
		}
		lines := logs.Lines()
		for _, msg := range []string{"credentials rejected", "unreachable", "invalid token reply",
			"stuck, abandoned by watchdog", "abandoned token request returned", "token obtained",
			"closed with a token request still running",
			"cause=expiry", "cause=periodic", "cause=401", "cause=first"} {
			if logs.count(msg) == 0 {
				t.Errorf("no log line with %q: path not exercised", msg)
			}
		}
		for _, l := range append(lines, printed...) {
			if strings.Contains(l, password) || strings.Contains(l, tokenMark) {
				t.Errorf("secret leaked: %s", l)
			}
		}
		if !strings.Contains(logs.String(), "fingerprint=") {
			t.Error("logs do not identify tokens by fingerprint")
		}
	})
}
