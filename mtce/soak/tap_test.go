package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/workqueue"
)

// tokenReq is one token request seen under the keystone.Manager.
type tokenReq struct {
	start, done time.Time
	status      int           // 0: no answer
	fp          string        // fingerprint of the token issued, "" if none
	lifetime    time.Duration // expires_at - issued_at of the token issued
	err         string        // transport or decoding error
}

// tokenTap is the Manager's transport: it records every token request
// (POST .../auth/tokens) with its start, its end and the token it got, and
// can signal the next one to start (the absorbed-corruption probe).
type tokenTap struct {
	base  http.RoundTripper
	probe chan struct{} // capacity 1; receives when an armed tap sees a token request

	mu    sync.Mutex
	reqs  []tokenReq
	armed bool
}

func newTokenTap(base http.RoundTripper) *tokenTap {
	return &tokenTap{base: base, probe: make(chan struct{}, 1)}
}

func (tp *tokenTap) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/auth/tokens") {
		return tp.base.RoundTrip(req)
	}
	tp.mu.Lock()
	i := len(tp.reqs)
	tp.reqs = append(tp.reqs, tokenReq{start: time.Now()})
	if tp.armed {
		tp.armed = false
		select {
		case tp.probe <- struct{}{}:
		default:
		}
	}
	tp.mu.Unlock()

	resp, err := tp.base.RoundTrip(req)
	r := tokenReq{}
	switch {
	case err != nil:
		r.err = err.Error()
	default:
		r.status = resp.StatusCode
		if resp.StatusCode == http.StatusCreated {
			body, rerr := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if rerr != nil {
				r.err = rerr.Error()
				resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{rerr}))
				break
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			if tok := resp.Header.Get("X-Subject-Token"); tok != "" {
				r.fp = sim.Fingerprint(tok)
			}
			r.lifetime, rerr = tokenLifetime(body)
			if rerr != nil {
				r.err = rerr.Error()
			}
		}
	}
	tp.mu.Lock()
	r.start = tp.reqs[i].start
	r.done = time.Now()
	tp.reqs[i] = r
	tp.mu.Unlock()
	return resp, err
}

// arm makes the next token request signal tp.probe; disarm cancels it.
func (tp *tokenTap) arm()    { tp.setArmed(true) }
func (tp *tokenTap) disarm() { tp.setArmed(false) }

func (tp *tokenTap) setArmed(v bool) {
	tp.mu.Lock()
	tp.armed = v
	tp.mu.Unlock()
}

// requests returns a copy of the token requests, in start order.
func (tp *tokenTap) requests() []tokenReq {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]tokenReq(nil), tp.reqs...)
}

// last returns the latest token request and how many there were.
func (tp *tokenTap) last() (tokenReq, int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if len(tp.reqs) == 0 {
		return tokenReq{}, 0
	}
	return tp.reqs[len(tp.reqs)-1], len(tp.reqs)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// tokenLifetime reads expires_at - issued_at from a Keystone v3 token body.
func tokenLifetime(body []byte) (time.Duration, error) {
	var v struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
			IssuedAt  time.Time `json:"issued_at"`
		} `json:"token"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, err
	}
	return v.Token.ExpiresAt.Sub(v.Token.IssuedAt), nil
}

// tokenUse is what the services did with one token.
type tokenUse struct {
	sent   int
	unauth []time.Time // when a request carrying the token was answered 401
}

// serviceTap is the base of keystone.Transport: it sees the token each
// request carries (after the Manager set it) and the answer.
type serviceTap struct {
	base http.RoundTripper

	mu    sync.Mutex
	byFP  map[string]*tokenUse
	sent  int
	n401  int
	noTok int // requests without a token (must stay 0)
}

func newServiceTap(base http.RoundTripper) *serviceTap {
	return &serviceTap{base: base, byFP: map[string]*tokenUse{}}
}

func (st *serviceTap) RoundTrip(req *http.Request) (*http.Response, error) {
	tok := req.Header.Get("X-Auth-Token")
	resp, err := st.base.RoundTrip(req)
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sent++
	if tok == "" {
		st.noTok++
		return resp, err
	}
	fp := sim.Fingerprint(tok)
	u := st.byFP[fp]
	if u == nil {
		u = &tokenUse{}
		st.byFP[fp] = u
	}
	u.sent++
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		st.n401++
		u.unauth = append(u.unauth, now)
	}
	return resp, err
}

// uses returns a copy of the per-token record.
func (st *serviceTap) uses() map[string]tokenUse {
	st.mu.Lock()
	defer st.mu.Unlock()
	m := make(map[string]tokenUse, len(st.byFP))
	for fp, u := range st.byFP {
		m[fp] = tokenUse{sent: u.sent, unauth: append([]time.Time(nil), u.unauth...)}
	}
	return m
}

func (st *serviceTap) counts() (sent, n401, noTok int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sent, st.n401, st.noTok
}

// itemState tracks one queue item between its two events.
type itemState struct {
	admitted, done bool
}

// queueWatch is the queue's Observer: it checks that every admitted item
// completes exactly once, and keeps the figures the queue's Stats lack.
type queueWatch struct {
	mu        sync.Mutex
	live      map[uint64]*itemState // items seen by one event only
	admitted  uint64
	done      uint64
	failed    uint64
	critFail  uint64
	twice     uint64            // an admission or a completion seen twice
	firstCrit map[string]uint64 // key -> Seq of its first critical failure
	maxDepth  int
	maxKey    string
}

func newQueueWatch() *queueWatch {
	return &queueWatch{live: map[uint64]*itemState{}, firstCrit: map[string]uint64{}}
}

func (w *queueWatch) Observe(e workqueue.Event) {
	switch e.Kind {
	case workqueue.EventAdmitted, workqueue.EventDone:
	default:
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.live[e.Seq]
	if st == nil {
		st = &itemState{}
		w.live[e.Seq] = st
	}
	if e.Kind == workqueue.EventAdmitted {
		// The completion may be observed first: Submit emits the
		// admission after releasing the queue's lock.
		if st.admitted {
			w.twice++
		}
		st.admitted = true
		w.admitted++
		if e.Depth > w.maxDepth {
			w.maxDepth, w.maxKey = e.Depth, e.Key
		}
	} else {
		if st.done {
			w.twice++
		}
		st.done = true
		w.done++
		if e.Err != nil {
			w.failed++
			if e.Critical {
				w.critFail++
				if _, ok := w.firstCrit[e.Key]; !ok {
					w.firstCrit[e.Key] = e.Seq
				}
			}
		}
	}
	if st.admitted && st.done {
		delete(w.live, e.Seq)
	}
}

type watchFigures struct {
	admitted, done, failed, critFail, twice uint64
	live                                    int
	maxDepth                                int
	maxKey                                  string
	firstCrit                               map[string]uint64
}

func (w *queueWatch) figures() watchFigures {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := watchFigures{admitted: w.admitted, done: w.done, failed: w.failed, critFail: w.critFail,
		twice: w.twice, live: len(w.live), maxDepth: w.maxDepth, maxKey: w.maxKey,
		firstCrit: make(map[string]uint64, len(w.firstCrit))}
	for k, v := range w.firstCrit {
		f.firstCrit[k] = v
	}
	return f
}

// logCount is a slog.Handler that counts the queue's warnings and errors
// by message: every failed item must have been logged.
type logCount struct {
	mu sync.Mutex
	n  map[string]int
}

func newLogCount() *logCount { return &logCount{n: map[string]int{}} }

func (h *logCount) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *logCount) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.n[r.Level.String()+" "+r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *logCount) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCount) WithGroup(string) slog.Handler      { return h }

func (h *logCount) all() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]int, len(h.n))
	for k, v := range h.n {
		m[k] = v
	}
	return m
}
