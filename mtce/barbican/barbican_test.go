package barbican

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"

	"opendev.org/starlingx/metal-go/mtce/internal/platform/platformtest"
	"opendev.org/starlingx/metal-go/workqueue"
)

const (
	hostUUID = "d219a108-959d-462d-9418-bb0ead921e3e"
	ref      = "8c4ba4b7-7e6e-4a3b-9f8e-2f3c0d1a9b77"
	password = "Li69nux*-bmc"
)

func listBody(name, sref string) string {
	return `{"secrets":[{"algorithm":null,"name":"` + name + `","secret_ref":"` + sref +
		`","status":"ACTIVE","secret_type":"opaque"}],"total":1}`
}

// store answers as Barbican holding password under hostUUID.
func store(req platformtest.Request) platformtest.Reply {
	switch req.Path {
	case "/v1/secrets":
		if req.RawQuery == "name="+hostUUID+"&limit=1" {
			return platformtest.Reply{Body: listBody(hostUUID, "http://192.168.204.2:9311/v1/secrets/"+ref)}
		}
		return platformtest.Reply{Body: `{"secrets":[],"total":0}`}
	case "/v1/secrets/" + ref + "/payload":
		return platformtest.Reply{Body: password, Header: http.Header{"Content-Type": {"application/octet-stream"}}}
	}
	return platformtest.Reply{Status: 404}
}

func TestTwoStepLookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, store, nil)
		call, err := r.c.Password("compute-0", hostUUID)
		if err != nil {
			t.Fatal(err)
		}
		if k := call.Handle().Key(); k != "compute-0/barbican" {
			t.Errorf("lane %q", k)
		}
		sec, err := call.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if sec.Reveal() != password || sec.IsZero() {
			t.Errorf("secret %q", sec.Reveal())
		}
		reqs := r.tr.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests", len(reqs))
		}
		if reqs[0].Path != "/v1/secrets" || reqs[0].RawQuery != "name="+hostUUID+"&limit=1" ||
			reqs[0].Header.Get("Accept") != "application/json" {
			t.Errorf("step 1: %s?%s Accept %s", reqs[0].Path, reqs[0].RawQuery, reqs[0].Header.Get("Accept"))
		}
		if reqs[1].Path != "/v1/secrets/"+ref+"/payload" || reqs[1].Header.Get("Accept") != "application/octet-stream" {
			t.Errorf("step 2: %s Accept %s", reqs[1].Path, reqs[1].Header.Get("Accept"))
		}
		for _, q := range reqs {
			for k, v := range map[string]string{"User-Agent": "mtce/1.0", "Content-Type": "application/json",
				"X-Auth-Project-Id": "admin"} {
				if got := q.Header.Get(k); got != v {
					t.Errorf("%s header %s = %q, want %q", q.Path, k, got, v)
				}
			}
		}
		if ev := r.obs.Admitted(); ev[0].Critical {
			t.Error("lookup admitted as critical")
		}
		sec, err = r.c.Lookup(t.Context(), hostUUID)
		if err != nil || sec.Reveal() != password {
			t.Errorf("Lookup = %v", err)
		}
	})
}

func TestNoSecretRetriedWithRandomWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, store, nil)
		start := time.Now()
		other := "0d0c0b0a-0908-4706-8504-030201000000"
		call, _ := r.c.Password("compute-1", other)
		_, err := call.Wait(t.Context())
		if !errors.Is(err, ErrNoSecret) || call.Handle().Attempts() != 3 {
			t.Fatalf("err = %v after %d attempts", err, call.Handle().Attempts())
		}
		reqs := r.tr.Requests()
		if len(reqs) != 3 {
			t.Fatalf("%d requests, want 3 list requests", len(reqs))
		}
		prev := start
		for i, q := range reqs[1:] {
			gap := q.At.Sub(prev)
			if gap < RetryMin || gap > RetryMax || gap%time.Second != 0 {
				t.Errorf("wait before attempt %d: %v, want whole seconds in [10s,100s]", i+2, gap)
			}
			prev = q.At
		}
	})
}

func TestRandomWait(t *testing.T) {
	seen := map[time.Duration]bool{}
	var w randomWait
	for range 5000 {
		d := w.NextBackOff()
		if d < RetryMin || d > RetryMax || d%time.Second != 0 {
			t.Fatalf("wait %v", d)
		}
		seen[d] = true
	}
	if len(seen) < 80 || !seen[RetryMin] || !seen[RetryMax] {
		t.Errorf("only %d distinct waits; bounds seen: %v %v", len(seen), seen[RetryMin], seen[RetryMax])
	}
}

func TestFailures(t *testing.T) {
	cases := map[string]struct {
		h    func(platformtest.Request) platformtest.Reply
		kind error
	}{
		"empty payload": {func(q platformtest.Request) platformtest.Reply {
			if strings.HasSuffix(q.Path, "/payload") {
				return platformtest.Reply{}
			}
			return store(q)
		}, ErrNoSecret},
		"payload 404": {func(q platformtest.Request) platformtest.Reply {
			if strings.HasSuffix(q.Path, "/payload") {
				return platformtest.Reply{Status: 404}
			}
			return store(q)
		}, ErrNotFound},
		"list 401": {func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Status: 401} }, ErrUnauthorized},
		"list garbage": {func(platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Body: "<html>"}
		}, ErrBadResponse},
		"ref without id": {func(platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Body: listBody(hostUUID, "http://x/v1/secrets/")}
		}, ErrBadResponse},
	}
	for name, tc := range cases {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, tc.h, func(c *Config) { c.BackOff = workqueueConst(time.Second) })
			call, _ := r.c.Password("compute-0", hostUUID)
			_, err := call.Wait(t.Context())
			var e *Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &e) || e.Service != "barbican" {
				t.Errorf("%s: err = %v", name, err)
			}
			if call.Handle().Attempts() != 3 {
				t.Errorf("%s: %d attempts", name, call.Handle().Attempts())
			}
		})
	}
}

func TestPayloadNeverInErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		r := newRig(t, func(q platformtest.Request) platformtest.Reply {
			if strings.HasSuffix(q.Path, "/payload") {
				return platformtest.Reply{Status: 500, Body: password}
			}
			return store(q)
		}, func(c *Config) {
			c.Attempts = 1
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		call, _ := r.c.Password("compute-0", hostUUID)
		_, err := call.Wait(t.Context())
		var e *Error
		if !errors.As(err, &e) || e.Status != 500 || e.Detail != "" {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), password) || strings.Contains(logs.String(), password) {
			t.Error("the payload leaked into an error or a log")
		}
	})
}

func TestAttemptTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(q platformtest.Request) platformtest.Reply {
			if strings.HasSuffix(q.Path, "/payload") {
				return platformtest.Reply{Hang: true}
			}
			return platformtest.Reply{Delay: 15 * time.Second, Body: store(q).Body}
		}, func(c *Config) { c.Attempts = 1 })
		start := time.Now()
		call, _ := r.c.Password("compute-0", hostUUID)
		_, err := call.Wait(t.Context())
		if !errors.Is(err, ErrTransport) || time.Since(start) != 35*time.Second {
			t.Errorf("err = %v after %v, want a 20 s request timeout after a 15 s first step", err, time.Since(start))
		}
	})
}

func TestRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, store, nil)
		if _, err := r.c.Password("", hostUUID); !errors.Is(err, ErrInvalidArgument) {
			t.Error(err)
		}
		if _, err := r.c.Password("h", "x"); !errors.Is(err, ErrInvalidArgument) {
			t.Error(err)
		}
		if _, err := r.c.Lookup(t.Context(), "../x"); !errors.Is(err, ErrInvalidArgument) {
			t.Error(err)
		}
		if len(r.tr.Requests()) != 0 {
			t.Error("refused call sent a request")
		}
	})
}

func TestLaneOverride(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, store, func(c *Config) { c.Lane = func(h string) string { return h } })
		call, _ := r.c.Password("compute-0", hostUUID)
		if call.Handle().Key() != "compute-0" {
			t.Errorf("lane %q", call.Handle().Key())
		}
		_, _ = call.Wait(t.Context())
	})
}

func TestParseSecretRef(t *testing.T) {
	cases := []struct {
		body  string
		ref   string
		found bool
	}{
		{listBody(hostUUID, "http://h:9311/v1/secrets/"+ref), ref, true},
		{listBody(hostUUID, ref), ref, true},
		{`{"secrets":[{"name":"other","secret_ref":"x/y"},{"name":"` + hostUUID + `","secret_ref":"a/b/c"}]}`, "c", true},
		{`{"secrets":[{"name":null,"secret_ref":"x/y"}],"total":1}`, "", false},
		{`{"secrets":[{"secret_ref":"x/y"}]}`, "", false},
		{`{"secrets":[]}`, "", false},
	}
	for _, tc := range cases {
		got, found, err := ParseSecretRef([]byte(tc.body), hostUUID)
		if err != nil || got != tc.ref || found != tc.found {
			t.Errorf("%s: %q %v %v", tc.body, got, found, err)
		}
	}
	for _, b := range []string{``, `[]`, `{}`, `{"secrets":{}}`, `{"secrets":[1]}`,
		`{"secrets":[{"name":5}]}`, `{"secrets":[{"name":"` + hostUUID + `"}]}`,
		`{"secrets":[{"name":"` + hostUUID + `","secret_ref":7}]}`,
		`{"secrets":[{"name":"` + hostUUID + `","secret_ref":"http://x/"}]}`,
		`{"secrets":[{"name":"` + hostUUID + `","secret_ref":"http://x/.."}]}`} {
		if _, _, err := ParseSecretRef([]byte(b), hostUUID); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v", b, err)
		}
	}
}

func FuzzParseSecretRef(f *testing.F) {
	f.Add([]byte(listBody(hostUUID, "http://h:9311/v1/secrets/"+ref)), hostUUID)
	f.Add([]byte(`{"secrets":[{"name":"a","secret_ref":"/"}]}`), "a")
	f.Add([]byte(`{"secrets":[{"name":null}],"total":"x"}`), "")
	f.Add([]byte(`{"secrets":[[]]}`), "a")
	f.Fuzz(func(t *testing.T, body []byte, name string) {
		r, found, err := ParseSecretRef(body, name)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) || found || r != "" {
				t.Fatalf("error %v with %q %v", err, r, found)
			}
			return
		}
		if found == (r == "") || strings.Contains(r, "/") || r == ".." {
			t.Fatalf("ref %q found %v", r, found)
		}
	})
}

type holder struct {
	Public  Secret
	private Secret
}

func TestSecretRedaction(t *testing.T) {
	s := NewSecret(password)
	h := holder{Public: s, private: s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-8v", "%T %v"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h))
	}
	outs = append(outs, fmt.Sprint(s), fmt.Sprintln(s, h), s.String(), s.GoString())
	b, _ := json.Marshal(h)
	outs = append(outs, string(b))
	b, _ = json.Marshal(map[string]any{"p": s})
	outs = append(outs, string(b))
	var buf bytes.Buffer
	for _, hd := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(hd).Info("x", "secret", s, "holder", h, slog.Any("ptr", &s), slog.Group("g", "s", s))
	}
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, password) || strings.Contains(o, fmt.Sprintf("%x", password)) ||
			strings.Contains(o, fmt.Sprintf("%X", password)) {
			t.Errorf("secret leaked: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprintf("%v", s), "[REDACTED]") {
		t.Errorf("%%v = %v", s)
	}
	var zero Secret
	if !zero.IsZero() || zero.Reveal() != "" || zero.String() != "[REDACTED]" {
		t.Error("zero secret")
	}
}

func TestConfig(t *testing.T) {
	err := Config{}.Validate()
	for _, f := range []string{"BaseURL", "Queue", "RequestTimeout", "Attempts"} {
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
	for in, want := range map[string]string{"[fd00::2]": "http://[fd00::2]:9311", "fd00::2": "http://[fd00::2]:9311",
		"192.168.204.2": "http://192.168.204.2:9311"} {
		if got := Endpoint(in, DefaultPort); got != want {
			t.Errorf("Endpoint(%q) = %q", in, got)
		}
	}
}

func workqueueConst(d time.Duration) func() backoff.BackOff { return workqueue.ConstantBackOff(d) }
