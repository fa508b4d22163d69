package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// responder is the server side of one exchange, implemented by the
// in-memory transport and by the loopback server.
type responder interface {
	// writeHeader sends the status line and headers (once).
	writeHeader(status int, h http.Header)
	// write sends part of the body.
	write(p []byte)
	// flush pushes what was written to the requester.
	flush()
	// abort cuts the connection: before the headers the requester sees a
	// reset, after them a body that ends in a reset.
	abort()
}

// resetError is what the in-memory transport returns for a cut connection:
// the error a loopback client sees for a TCP RST. It matches
// syscall.ECONNRESET with errors.Is.
func resetError() error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

// memTransport is the in-memory http.RoundTripper.
type memTransport struct{ s *Sim }

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// RoundTrip serves req in memory. The exchange honours req's context at
// every step: before the answer starts RoundTrip returns ctx.Err() as soon
// as the context ends, and a body being read returns ctx.Err() from Read.
// It never makes up a response of its own.
func (t *memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := t.s
	if req.URL == nil {
		closeRequestBody(req)
		return nil, errors.New("sim: request has no URL")
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeRequestBody(req)
		return nil, err
	}
	hostport := strings.ToLower(req.URL.Host)
	if req.URL.Port() == "" {
		hostport += ":80"
	}
	svc, ok := s.memHosts[hostport]
	if !ok || req.URL.Scheme != "http" {
		closeRequestBody(req)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{
			Err: "no such host (not a simulator endpoint)", Name: req.URL.Hostname(), IsNotFound: true}}
	}

	// The handler's context ends when the requester's does (with the same
	// cause), when the requester closes the body, or when the handler is
	// done: what a server sees of a socket.
	srvCtx, cancelCause := context.WithCancelCause(context.Background())
	cancel := func() { cancelCause(errRequesterGone) }
	gone := func() { cancelCause(context.Cause(ctx)) }
	stop := context.AfterFunc(ctx, gone)
	e := &memExchange{
		ctx:         ctx,
		cancelSrv:   cancelCause,
		headerReady: make(chan struct{}),
		notify:      make(chan struct{}, 1),
	}
	sreq := req.Clone(srvCtx)
	sreq.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:0"
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	started := s.goOwned(func() {
		defer stop()
		defer cancel()
		defer closeRequestBody(req)
		s.serve(srvCtx, svc, sreq, "memory", e)
		e.finish()
	})
	if !started {
		stop()
		cancel()
		closeRequestBody(req)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connection refused: %w", ErrClosed)}
	}
	select {
	case <-e.headerReady:
	case <-ctx.Done():
		gone()
		return nil, ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		gone()
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		return nil, resetError()
	}
	resp := &http.Response{
		Status:        fmt.Sprintf("%d %s", e.status, http.StatusText(e.status)),
		StatusCode:    e.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        e.header,
		Body:          &memBody{e: e},
		ContentLength: -1,
		Request:       req,
	}
	if cl := e.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
			resp.ContentLength = n
		}
	}
	return resp, nil
}

// memExchange connects a handler goroutine to the requester.
type memExchange struct {
	ctx         context.Context // the requester's
	cancelSrv   context.CancelCauseFunc
	headerReady chan struct{} // closed when the headers are sent or the exchange ends without them
	notify      chan struct{} // capacity 1: "something changed" for a waiting reader

	mu      sync.Mutex
	started bool // headers sent
	ended   bool // handler done or connection cut
	aborted bool
	closed  bool // requester closed the body
	status  int
	header  http.Header
	buf     []byte
}

func (e *memExchange) signal() {
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

func (e *memExchange) writeHeader(status int, h http.Header) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.ended {
		return
	}
	e.started, e.status, e.header = true, status, h.Clone()
	close(e.headerReady)
}

func (e *memExchange) write(p []byte) {
	e.mu.Lock()
	if !e.started || e.ended || e.closed || len(p) == 0 {
		e.mu.Unlock()
		return
	}
	e.buf = append(e.buf, p...)
	e.mu.Unlock()
	e.signal()
}

func (e *memExchange) flush() {}

func (e *memExchange) abort() {
	e.mu.Lock()
	if e.ended {
		e.mu.Unlock()
		return
	}
	e.ended, e.aborted = true, true
	if !e.started {
		close(e.headerReady)
	}
	e.mu.Unlock()
	e.signal()
}

// finish ends the exchange after the handler returned; a handler that
// wrote nothing answers 200 with an empty body, as net/http does.
func (e *memExchange) finish() {
	e.mu.Lock()
	if e.ended {
		e.mu.Unlock()
		return
	}
	e.ended = true
	if !e.started {
		e.started, e.status, e.header = true, http.StatusOK, http.Header{}
		close(e.headerReady)
	}
	e.mu.Unlock()
	e.signal()
}

// memBody is the response body of an in-memory exchange.
type memBody struct{ e *memExchange }

var (
	errBodyClosed    = errors.New("http: read on closed response body")
	errRequesterGone = errors.New("requester went away")
)

func (b *memBody) Read(p []byte) (int, error) {
	e := b.e
	for {
		if err := e.ctx.Err(); err != nil {
			e.cancelSrv(context.Cause(e.ctx))
			return 0, err
		}
		e.mu.Lock()
		switch {
		case e.closed:
			e.mu.Unlock()
			return 0, errBodyClosed
		case len(e.buf) > 0:
			n := copy(p, e.buf)
			e.buf = e.buf[n:]
			e.mu.Unlock()
			return n, nil
		case e.ended:
			aborted := e.aborted
			e.mu.Unlock()
			if aborted {
				return 0, resetError()
			}
			return 0, io.EOF
		}
		e.mu.Unlock()
		select {
		case <-e.notify:
		case <-e.ctx.Done():
		}
	}
}

// Close releases the exchange; a handler still sending sees the requester
// go away.
func (b *memBody) Close() error {
	e := b.e
	e.mu.Lock()
	e.closed = true
	e.buf = nil
	e.mu.Unlock()
	e.cancelSrv(errRequesterGone)
	return nil
}
