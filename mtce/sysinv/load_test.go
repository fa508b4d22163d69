package sysinv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce/internal/platform/platformtest"
)

func TestLoadHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			switch req.Path {
			case "/v1/ihosts/controller-0":
				return platformtest.Reply{Body: record("controller-0", uuidA, nil)}
			case "/v1/ihosts/controller-1":
				return platformtest.Reply{Body: record("controller-0", uuidB, nil)}
			}
			return platformtest.Reply{Status: 404}
		}, nil)
		h, err := r.c.LoadHost(t.Context(), "controller-0")
		if err != nil || h.UUID != uuidA {
			t.Fatalf("%+v %v", h, err)
		}
		if _, err := r.c.LoadHost(t.Context(), "controller-1"); !errors.Is(err, ErrBadResponse) {
			t.Errorf("answer for another host: %v", err)
		}
		if _, err := r.c.LoadHost(t.Context(), "compute-5"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown host: %v", err)
		}
		if _, err := r.c.LoadHost(t.Context(), ""); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("empty name: %v", err)
		}
		if r.q.Stats().Admitted != 0 {
			t.Error("LoadHost used the queue")
		}
	})
}

// TestLoadHostRetryRenews: B.7, an auth failure renews the token inside the
// start-up loop and the next attempt goes at once.
func TestLoadHostRetryRenews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		renewed := 0
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			if req.Header.Get("X-Test-Token") != fmt.Sprint(renewed) || renewed == 0 {
				return platformtest.Reply{Status: 401}
			}
			return platformtest.Reply{Body: record("controller-0", uuidA, nil)}
		}, nil)
		r.c.cfg.Renew = func(ctx context.Context) error { renewed++; return nil }
		r.c.ep = withHeader(r.c, func() string { return fmt.Sprint(renewed) })
		start := time.Now()
		h, err := r.c.LoadHostRetry(t.Context(), "controller-0")
		if err != nil || h.UUID != uuidA {
			t.Fatalf("%+v %v", h, err)
		}
		if renewed != 1 || len(r.tr.Requests()) != 2 || time.Since(start) != 0 {
			t.Errorf("renewed %d, %d requests, %v", renewed, len(r.tr.Requests()), time.Since(start))
		}
	})
}

// TestLoadHostRetryRenewsThenWaits: a SysInv that rejects every token gets
// a renewal after each rejection, but only the first renewal is followed by
// an immediate attempt: the budget still spans LoadWait gaps instead of
// being spent (with as many Keystone calls) in an instant.
func TestLoadHostRetryRenewsThenWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		renews := 0
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Status: 401} },
			func(c *Config) { c.Renew = func(context.Context) error { renews++; return nil } })
		start := time.Now()
		_, err := r.c.LoadHostRetry(t.Context(), "controller-0")
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err = %v", err)
		}
		reqs := r.tr.Requests()
		if len(reqs) != DefaultLoadAttempts || renews != DefaultLoadAttempts-1 {
			t.Fatalf("%d attempts, %d renewals; want %d and %d", len(reqs), renews, DefaultLoadAttempts, DefaultLoadAttempts-1)
		}
		for i, q := range reqs {
			want := time.Duration(max(i-1, 0)) * DefaultLoadWait // 0, 0, 15 s, 30 s, ...
			if got := q.At.Sub(start); got != want {
				t.Errorf("attempt %d at %v, want %v", i+1, got, want)
			}
		}
	})
}

func TestLoadHostRetryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Status: 503} }, nil)
		start := time.Now()
		_, err := r.c.LoadHostRetry(t.Context(), "controller-0")
		if !errors.Is(err, ErrStatus) || !strings.Contains(err.Error(), "giving up") {
			t.Fatalf("err = %v", err)
		}
		reqs := r.tr.Requests()
		if len(reqs) != 20 {
			t.Fatalf("%d attempts, want 20", len(reqs))
		}
		for i, q := range reqs {
			if got := q.At.Sub(start); got != time.Duration(i)*15*time.Second {
				t.Errorf("attempt %d at %v", i+1, got)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		renews := 0
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Status: 401} },
			func(c *Config) {
				c.LoadAttempts = 4
				c.Renew = func(context.Context) error { renews++; return errors.New("keystone down") }
			})
		start := time.Now()
		_, err := r.c.LoadHostRetry(t.Context(), "controller-0")
		if !errors.Is(err, ErrUnauthorized) || renews != 3 || time.Since(start) != 45*time.Second {
			t.Errorf("err %v, %d renewals, %v", err, renews, time.Since(start))
		}
	})
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Status: 403} }, nil)
		if _, err := r.c.LoadHostRetry(t.Context(), "controller-0"); !errors.Is(err, ErrStatus) || len(r.tr.Requests()) != 1 {
			t.Errorf("403: %v after %d", err, len(r.tr.Requests()))
		}
	})
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Status: 404} }, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
		defer cancel()
		if _, err := r.c.LoadHostRetry(ctx, "controller-0"); !errors.Is(err, context.DeadlineExceeded) || len(r.tr.Requests()) != 3 {
			t.Errorf("ctx end: %v after %d", err, len(r.tr.Requests()))
		}
	})
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Hang: true} }, nil)
		start := time.Now()
		r.c.cfg.LoadAttempts = 2
		_, err := r.c.LoadHostRetry(t.Context(), "controller-0")
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 55*time.Second {
			t.Errorf("hang: %v after %v (want 20+15+20)", err, time.Since(start))
		}
	})
}

func TestListHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		names := []string{"controller-0", "controller-1", "compute-0", "compute-1", "compute-2"}
		uuid := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			if req.Path != "/v1/ihosts" {
				return platformtest.Reply{Status: 404}
			}
			start := 0
			if i := strings.Index(req.RawQuery, "marker="); i >= 0 {
				for j := range names {
					if uuid(j) == req.RawQuery[i+7:] {
						start = j + 1
					}
				}
			}
			end := min(start+2, len(names))
			var recs []string
			for j := start; j < end; j++ {
				recs = append(recs, record(names[j], uuid(j), nil))
			}
			body := `{"ihosts":[` + strings.Join(recs, ",") + `]`
			if end < len(names) {
				body += `,"next":"http://10.0.0.1:6385/v1/ihosts?limit=2&marker=` + uuid(end-1) + `"`
			}
			return platformtest.Reply{Body: body + "}"}
		}, func(c *Config) { c.ListLimit = 2; c.BaseURL = "http://192.168.204.2:6385/v1/" })
		hosts, err := r.c.ListHosts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(hosts) != 5 || hosts[4].Name != "compute-2" {
			t.Errorf("%d hosts", len(hosts))
		}
		reqs := r.tr.Requests()
		if len(reqs) != 3 || reqs[0].RawQuery != "limit=2" || reqs[2].RawQuery != "limit=2&marker="+uuid(3) {
			t.Errorf("requests %+v", reqs)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// A "next" that never moves on is refused instead of looping.
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Body: `{"ihosts":[` + record("a", uuidA, nil) + `],"next":"http://x/v1/ihosts?limit=1&marker=` + uuidA + `"}`}
		}, nil)
		if _, err := r.c.ListHosts(t.Context()); !errors.Is(err, ErrBadResponse) || len(r.tr.Requests()) != 2 {
			t.Errorf("loop: %v after %d", err, len(r.tr.Requests()))
		}
	})
}

// headerTransport adds a test header computed at send time (a stand-in for
// a token-injecting transport).
type headerTransport struct {
	base http.RoundTripper
	val  func() string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Token", h.val())
	return h.base.RoundTrip(r)
}
