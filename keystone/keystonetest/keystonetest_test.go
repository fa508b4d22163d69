package keystonetest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const pwBody = `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"admin-secret"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}`

func issue(t *testing.T, s *Server, body string) (*http.Response, string) {
	t.Helper()
	resp, err := s.Client().Post(AuthURL+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(b)
}

func TestIssueValidateRevoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		s.SetLifetime(time.Minute)
		resp, body := issue(t, s, pwBody)
		tok := resp.Header.Get("X-Subject-Token")
		if resp.StatusCode != 201 || tok == "" || !strings.Contains(body, `"type":"platform"`) {
			t.Fatalf("issue: %d %q %s", resp.StatusCode, tok, body)
		}
		if !s.Valid(tok) {
			t.Fatal("issued token not valid")
		}
		if r, _ := issue(t, s, strings.Replace(pwBody, "admin-secret", "bad", 1)); r.StatusCode != 401 {
			t.Errorf("wrong password: %d", r.StatusCode)
		}
		app := `{"auth":{"identity":{"methods":["application_credential"],"application_credential":{"id":"appcred-id","secret":"appcred-secret"}}}}`
		if r, _ := issue(t, s, app); r.StatusCode != 201 {
			t.Errorf("application credential: %d", r.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodDelete, AuthURL+"/auth/tokens", nil)
		req.Header.Set("X-Auth-Token", tok)
		req.Header.Set("X-Subject-Token", tok)
		if r, err := s.RoundTrip(req); err != nil || r.StatusCode != 204 {
			t.Fatalf("revoke: %v %v", r, err)
		}
		if s.Valid(tok) {
			t.Error("revoked token still valid")
		}
		issue(t, s, pwBody)
		time.Sleep(time.Minute)
		for k := range s.tokens {
			if s.Valid(k) {
				t.Error("expired token still valid")
			}
		}
		if r, _ := s.RoundTrip(httptestReq(http.MethodGet, "http://elsewhere.test/")); r.StatusCode != 404 {
			t.Error("unknown host not 404")
		}
	})
}

func httptestReq(method, url string) *http.Request {
	r, _ := http.NewRequest(method, url, nil)
	return r
}

func TestFaultsCountAndHoldNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		s.Fail(FaultUnavailable, 2)
		for i, want := range []int{503, 503, 201} {
			if r, _ := issue(t, s, pwBody); r.StatusCode != want {
				t.Errorf("request %d: %d, want %d", i, r.StatusCode, want)
			}
		}
		s.HoldNext(1, true)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, AuthURL+"/auth/tokens", strings.NewReader(pwBody))
			_, err := s.RoundTrip(req)
			done <- err
		}()
		synctest.Wait()
		cancel()
		synctest.Wait()
		if s.Waiting() != 1 || len(done) != 0 {
			t.Fatal("black-holed request did not ignore its context")
		}
		if r, _ := issue(t, s, pwBody); r.StatusCode != 201 {
			t.Error("HoldNext(1) held a second request")
		}
		s.Release()
		if err := <-done; err != nil {
			t.Errorf("released request: %v", err)
		}
		if s.AuthRequests() != 5 || len(s.AuthTimes()) != 5 {
			t.Errorf("%d requests counted", s.AuthRequests())
		}
	})
}

func TestServiceBarrier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New()
		s.ServiceBarrier(3)
		var wg sync.WaitGroup
		codes := make(chan int, 3)
		for range 3 {
			wg.Go(func() {
				r, err := s.Client().Get(ServiceURL)
				if err != nil {
					t.Error(err)
					return
				}
				codes <- r.StatusCode
			})
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != 401 {
				t.Errorf("no token: %d, want 401", c)
			}
		}
		if total, unauth := s.ServiceRequests(); total != 3 || unauth != 3 {
			t.Errorf("%d/%d", total, unauth)
		}
		s.Fail(FaultConnRefused, 1)
		if _, err := s.Client().Post(AuthURL+"/auth/tokens", "application/json", strings.NewReader(pwBody)); err == nil ||
			errors.Is(err, context.Canceled) {
			t.Errorf("conn refused: %v", err)
		}
	})
}
