package bmcsim

import (
	"errors"
	"net/http"
	"net/http/httptest"
)

// Transport returns an http.RoundTripper that serves requests with s in
// memory, without sockets: any URL host reaches s. It honours the request
// context (a hung request returns the context's error), which makes it the
// seam for tests in a testing/synctest bubble.
func (s *Server) Transport() http.RoundTripper { return memTransport{s} }

// Client returns an *http.Client using Transport.
func (s *Server) Client() *http.Client { return &http.Client{Transport: s.Transport()} }

type memTransport struct{ s *Server }

var errAborted = errors.New("bmcsim: connection aborted by the emulator")

func (t memTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "192.0.2.1:1234"
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	defer func() {
		// A hung or slow handler aborts when the request's context ends,
		// like a server dropping the connection.
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler { //nolint:errorlint // sentinel value from panic
				panic(p)
			}
			resp, err = nil, req.Context().Err()
			if err == nil {
				err = errAborted
			}
		}
	}()
	t.s.ServeHTTP(rec, sreq)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	resp = rec.Result()
	resp.Request = req
	return resp, nil
}
