package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/workqueue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func resp(r *http.Request, status int, body io.Reader) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(body), Request: r}
}

func endpoint(rt http.RoundTripper) *Endpoint {
	return NewEndpoint(EndpointConfig{Service: "svc", BaseURL: "http://h:1/base/", Client: &http.Client{Transport: rt},
		UserAgent: DefaultUserAgent, ProjectID: DefaultProjectID})
}

func TestDoRequest(t *testing.T) {
	var got *http.Request
	var replay []byte
	ep := endpoint(rtFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		if r.GetBody != nil {
			b, _ := r.GetBody()
			replay, _ = io.ReadAll(b)
		}
		return resp(r, 201, strings.NewReader(`{"ok":1}`)), nil
	}))
	res, err := ep.Do(context.Background(), Request{Op: "op", Host: "h", Method: "PATCH", Path: "/v1/x%2Fy",
		Body: []byte(`[1]`), RawQuery: "b=2&a=1"})
	if err != nil || res.Status != 201 || string(res.Body) != `{"ok":1}` {
		t.Fatalf("%+v %v", res, err)
	}
	if got.URL.String() != "http://h:1/base/v1/x%2Fy?b=2&a=1" || got.Method != "PATCH" {
		t.Errorf("sent %s %s", got.Method, got.URL)
	}
	for k, v := range map[string]string{"User-Agent": "mtce/1.0", "Accept": "application/json",
		"Content-Type": "application/json", "X-Auth-Project-Id": "admin"} {
		if got.Header.Get(k) != v {
			t.Errorf("%s = %q", k, got.Header.Get(k))
		}
	}
	if got.Header.Get("X-Auth-Token") != "" {
		t.Error("token set by the endpoint")
	}
	if string(replay) != `[1]` {
		t.Errorf("body not replayable: %q", replay)
	}
	// Empty UserAgent/ProjectID omit the headers.
	ep = NewEndpoint(EndpointConfig{Service: "svc", BaseURL: "http://h:1", Client: &http.Client{Transport: rtFunc(
		func(r *http.Request) (*http.Response, error) { got = r; return resp(r, 200, http.NoBody), nil })}})
	_, _ = ep.Do(context.Background(), Request{Method: "GET", Path: "/", Accept: ContentOctets})
	if _, ok := got.Header["X-Auth-Project-Id"]; ok || got.Header.Get("Accept") != ContentOctets {
		t.Errorf("headers %v", got.Header)
	}
}

func TestDoStatusMapping(t *testing.T) {
	for status := 100; status < 600; status++ {
		if status < 200 && status != 100 {
			continue
		}
		ep := endpoint(rtFunc(func(r *http.Request) (*http.Response, error) {
			return resp(r, status, strings.NewReader("body")), nil
		}))
		_, err := ep.Do(context.Background(), Request{Method: "GET", Path: "/x"})
		pass := status >= 200 && status <= 204
		if pass != (err == nil) {
			t.Errorf("%d: err = %v", status, err)
			continue
		}
		if pass {
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != status {
			t.Fatalf("%d: %v", status, err)
		}
		want := ErrStatus
		switch status {
		case 401:
			want = ErrUnauthorized
		case 404:
			want = ErrNotFound
		}
		if e.Kind != want {
			t.Errorf("%d: kind %v", status, e.Kind)
		}
		perm := status >= 400 && status < 500 && status != 401 && status != 404 && status != 408 && status != 429
		if Permanent(err) != perm {
			t.Errorf("%d: Permanent = %v", status, Permanent(err))
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", status)) {
			t.Errorf("%d: text %q", status, err)
		}
	}
}

func TestDoTransportErrors(t *testing.T) {
	boom := errors.New("connection reset by peer")
	ep := endpoint(rtFunc(func(r *http.Request) (*http.Response, error) { return nil, boom }))
	_, err := ep.Do(context.Background(), Request{Op: "find", Method: "GET", Path: "/v1/secrets", RawQuery: "name=SECRETQ"})
	var e *Error
	if !errors.Is(err, ErrTransport) || !errors.Is(err, boom) || !errors.As(err, &e) || e.Status != 0 {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "SECRETQ") {
		t.Errorf("query leaked: %v", err)
	}
	if Permanent(err) {
		t.Error("transport error permanent")
	}

	ep = endpoint(rtFunc(func(r *http.Request) (*http.Response, error) {
		return nil, &keystone.Error{Kind: keystone.ErrUnauthorized, Status: 401}
	}))
	_, err = ep.Do(context.Background(), Request{Method: "GET", Path: "/"})
	if !errors.Is(err, ErrUnauthorized) || !errors.Is(err, keystone.ErrUnauthorized) || !IsAuth(err) {
		t.Errorf("keystone 401: %v", err)
	}

	ep = endpoint(rtFunc(func(r *http.Request) (*http.Response, error) {
		return resp(r, 200, io.MultiReader(strings.NewReader("{"), errReader{boom})), nil
	}))
	_, err = ep.Do(context.Background(), Request{Method: "GET", Path: "/"})
	if !errors.Is(err, ErrTransport) || !errors.Is(err, boom) {
		t.Errorf("body cut: %v", err)
	}

	ep = endpoint(rtFunc(func(r *http.Request) (*http.Response, error) {
		return resp(r, 200, bytes.NewReader(make([]byte, MaxBody+1))), nil
	}))
	_, err = ep.Do(context.Background(), Request{Method: "GET", Path: "/"})
	var de *DecodeError
	if !errors.Is(err, ErrBadResponse) || !errors.As(err, &de) {
		t.Errorf("huge body: %v", err)
	}

	_, err = endpoint(nil).Do(context.Background(), Request{Method: "GET", Path: "/%zz"})
	if !errors.Is(err, ErrInvalidArgument) || !Permanent(err) {
		t.Errorf("bad path: %v", err)
	}
}

func TestNoRedirect(t *testing.T) {
	n := 0
	ep := endpoint(rtFunc(func(r *http.Request) (*http.Response, error) {
		n++
		rs := resp(r, http.StatusFound, strings.NewReader(""))
		rs.Header.Set("Location", "http://elsewhere/v1/ihosts")
		return rs, nil
	}))
	_, err := ep.Do(context.Background(), Request{Method: http.MethodPatch, Path: "/v1/ihosts/x", Body: []byte("[]")})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusFound || e.Kind != ErrStatus || n != 1 || Permanent(err) {
		t.Errorf("redirect: %v after %d requests", err, n)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestDoTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ep := endpoint(rtFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}))
		start := time.Now()
		_, err := ep.Do(t.Context(), Request{Method: "GET", Path: "/", Timeout: 8 * time.Second})
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTransport) || time.Since(start) != 8*time.Second {
			t.Errorf("err = %v after %v", err, time.Since(start))
		}
	})
}

func TestExcerpt(t *testing.T) {
	cases := map[string]string{
		`{"error_message": "{\"faultstring\": \"Host x could not be found.\", \"debuginfo\": null}"}`: "Host x could not be found.",
		`{"error_message": "plain words"}`: "plain words",
		"  some text \n":                   "some text",
		`{"error":"Invalid token"}`:        "[withheld]",
		"password=hunter2":                 "[withheld]",
		"\xff\xfeab":                       "?ab",
	}
	for in, want := range cases {
		if got := Excerpt([]byte(in)); got != want {
			t.Errorf("Excerpt(%q) = %q, want %q", in, got, want)
		}
	}
	long := Excerpt([]byte(strings.Repeat("é", 500)))
	if len(long) > detailMax+4 || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "é") {
		t.Errorf("long excerpt %d bytes: %q", len(long), long)
	}
}

func TestJSONHelpers(t *testing.T) {
	for body, ok := range map[string]bool{`{}`: true, ` {"a":1} `: true, ``: false, `null`: false, `[]`: false,
		`{} {}`: false, `{"a":`: false, `"x"`: false} {
		if _, err := Object("doc", []byte(body)); (err == nil) != ok {
			t.Errorf("Object(%q): %v", body, err)
		}
	}
	for raw, want := range map[string]string{`"a"`: "a", `12.5`: "12.5", `true`: "true", ` false `: "false"} {
		if s, null, err := Text("d", "k", []byte(raw)); s != want || null || err != nil {
			t.Errorf("Text(%s) = %q %v %v", raw, s, null, err)
		}
	}
	if _, null, err := Text("d", "k", []byte(`null`)); !null || err != nil {
		t.Error("null")
	}
	for _, raw := range []string{`{}`, `[]`, ``} {
		if _, _, err := Text("d", "k", []byte(raw)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("Text(%s): %v", raw, err)
		}
	}
	if _, err := String("d", "k", []byte(`1`)); !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "is a number") {
		t.Errorf("String(1): %v", err)
	}
	b, _ := Marshal(Obj("z", 1, "a", "<&>", "m", Obj("x", nil)))
	if string(b) != `{"z":1,"a":"<&>","m":{"x":null}}` {
		t.Errorf("Ordered: %s", b)
	}
	defer func() {
		if recover() == nil {
			t.Error("Obj with an odd count did not panic")
		}
	}()
	Obj("a")
}

func TestValidation(t *testing.T) {
	for s, ok := range map[string]bool{"0a4e8c1b-7f3d-4e5a-9b6c-1d2e3f405162": true, "0A4E8C1B-7F3D-4E5A-9B6C-1D2E3F405162": true,
		"0a4e8c1b-7f3d-4e5a-9b6c-1d2e3f40516": false, "0a4e8c1b_7f3d-4e5a-9b6c-1d2e3f405162": false,
		"0a4e8c1b-7f3d-4e5a-9b6c-1d2e3f40516g": false, "": false} {
		if ValidUUID(s) != ok {
			t.Errorf("ValidUUID(%q)", s)
		}
	}
	for s, ok := range map[string]bool{"controller-0": true, "": false, "none": false, "a/b": false, "a b": false,
		strings.Repeat("x", 256): false, "a\x7f": false} {
		if (CheckName("svc", "name", s) == nil) != ok {
			t.Errorf("CheckName(%q)", s)
		}
	}
	if got := HTTPURL("[fd00::1]", 80); got != "http://[fd00::1]:80" {
		t.Errorf("HTTPURL = %q", got)
	}
	for raw, ok := range map[string]bool{"http://h:1": true, "https://h/p": true, "": false, "h:1": false,
		"http://": false, "http://h/?q=1": false, "http://h/#f": false, "http://u@h": false, "::": false} {
		if (ValidateBaseURL("svc", "BaseURL", raw) == nil) != ok {
			t.Errorf("ValidateBaseURL(%q)", raw)
		}
	}
}

// TestCallLateAttempt: an attempt cut short by Cancel that then returns a
// value must not change the call's outcome.
func TestCallLateAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, err := workqueue.New(workqueue.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(context.Background())
		release := make(chan struct{})
		c, err := Submit(q, Spec[string]{Key: "k", Name: "late", Run: func(ctx context.Context, _ int) (string, error) {
			<-ctx.Done()
			<-release
			return "late value", nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		c.Cancel()
		v, err := c.Wait(t.Context())
		if !errors.Is(err, workqueue.ErrCanceled) || v != "" {
			t.Fatalf("after cancel: %q %v", v, err)
		}
		close(release)
		synctest.Wait()
		if v, err := c.Result(); !errors.Is(err, workqueue.ErrCanceled) || v != "" {
			t.Errorf("late attempt changed the outcome: %q %v", v, err)
		}
	})
}

func TestSubmitPermanentAndValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, _ := workqueue.New(workqueue.DefaultConfig())
		defer q.Close(context.Background())
		n := 0
		c, _ := Submit(q, Spec[int]{Key: "k", Run: func(context.Context, int) (int, error) {
			n++
			return 0, &Error{Service: "s", Status: 409, Kind: ErrStatus}
		}})
		if _, err := c.Wait(t.Context()); !errors.Is(err, ErrStatus) || n != 1 {
			t.Errorf("409: %v after %d", err, n)
		}
		c2, _ := Submit(q, Spec[int]{Key: "k", Attempts: 3, Run: func(_ context.Context, a int) (int, error) {
			if a < 3 {
				return a, errors.New("again")
			}
			return a * 10, nil
		}})
		if v, err := c2.Wait(t.Context()); v != 30 || err != nil {
			t.Errorf("value %d %v", v, err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := c2.Wait(ctx); err != nil {
			t.Errorf("Wait on a finished call with a done ctx: %v", err)
		}
	})
}

func FuzzExcerpt(f *testing.F) {
	f.Add([]byte(`{"error_message": "{\"faultstring\": \"Host x could not be found.\"}"}`))
	f.Add([]byte(`{"error_message": "{\"faultstring\": \"bad token\"}"}`))
	f.Add([]byte("\xff\xfe" + strings.Repeat("é", 300)))
	f.Add([]byte(`{"error_message": 5}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := Excerpt(body)
		if len(s) > detailMax+len("…") {
			t.Fatalf("excerpt of %d bytes", len(s))
		}
		low := strings.ToLower(s)
		if strings.Contains(low, "token") || strings.Contains(low, "assword") {
			t.Fatalf("sensitive excerpt %q", s)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q", s)
		}
	})
}
