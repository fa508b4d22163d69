// Package platformtest is an in-memory HTTP transport for the platform
// clients' tests: a handler function answers each request in the caller's
// goroutine, so it works inside testing/synctest bubbles, and every request
// is recorded.
package platformtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/workqueue"
)

// Request is a recorded request.
type Request struct {
	Method   string
	Path     string // unescaped path
	RawPath  string // escaped path as sent
	RawQuery string
	Header   http.Header
	Body     []byte
	At       time.Time // when it arrived (virtual time inside a bubble)
}

// Reply says how to answer.
type Reply struct {
	Status int         // 0 means 200
	Body   string      // response body
	Header http.Header // extra response headers
	Err    error       // if set, RoundTrip returns it (connection failure)
	Hang   bool        // never answer: block until the request's context ends
	Delay  time.Duration
}

// JSON returns a reply with v encoded as the body.
func JSON(status int, v any) Reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return Reply{Status: status, Body: string(b)}
}

// Transport is an http.RoundTripper answering with a handler.
type Transport struct {
	handler func(Request) Reply

	mu   sync.Mutex
	reqs []Request
}

// New returns a Transport that answers with h.
func New(h func(Request) Reply) *Transport { return &Transport{handler: h} }

// Client returns an *http.Client using t.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// Requests returns a copy of the recorded requests, in arrival order.
func (t *Transport) Requests() []Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Request(nil), t.reqs...)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := Request{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), At: time.Now()}
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		rec.Body = b
	}
	t.mu.Lock()
	t.reqs = append(t.reqs, rec)
	t.mu.Unlock()

	rep := t.handler(rec)
	ctx := r.Context()
	if rep.Hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if rep.Delay > 0 {
		tm := time.NewTimer(rep.Delay)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rep.Err != nil {
		return nil, rep.Err
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	h := http.Header{}
	for k, v := range rep.Header {
		h[k] = v
	}
	return &http.Response{
		Status: http.StatusText(status), StatusCode: status, Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: r,
		Body: io.NopCloser(strings.NewReader(rep.Body)), ContentLength: int64(len(rep.Body)),
	}, nil
}

// Events is a workqueue.Observer that records every event.
type Events struct {
	mu  sync.Mutex
	evs []workqueue.Event
}

// Observe implements workqueue.Observer.
func (e *Events) Observe(ev workqueue.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

// Admitted returns the EventAdmitted events so far, in order.
func (e *Events) Admitted() []workqueue.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []workqueue.Event
	for _, ev := range e.evs {
		if ev.Kind == workqueue.EventAdmitted {
			out = append(out, ev)
		}
	}
	return out
}

// Queue starts a work queue with the default configuration observed by
// obs (may be nil) and closes it at the test's cleanup.
func Queue(t testing.TB, obs workqueue.Observer) *workqueue.Queue {
	t.Helper()
	qc := workqueue.DefaultConfig()
	qc.Observer = obs
	q, err := workqueue.New(qc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close(context.Background()) })
	return q
}
