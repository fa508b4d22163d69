package sim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// loopback is the set of real HTTP servers started by Listen.
type loopback struct {
	endpoints Endpoints
	servers   []*http.Server
}

// Listen starts one HTTP server per service on 127.0.0.1 with a free port
// and returns their URLs; later calls return the same URLs. Tokens issued
// over loopback carry a catalog of loopback URLs. Close shuts the servers
// down.
func (s *Sim) Listen() (Endpoints, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed() {
		return Endpoints{}, ErrClosed
	}
	if s.loop != nil {
		return s.loop.endpoints, nil
	}
	lb := &loopback{}
	var lns []net.Listener
	for _, svc := range Services() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return Endpoints{}, fmt.Errorf("sim: listen for %s: %w", svc, err)
		}
		lns = append(lns, ln)
		lb.endpoints.set(svc, "http://"+ln.Addr().String())
		lb.servers = append(lb.servers, &http.Server{
			Handler:           s.httpHandler(svc),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		})
	}
	for i, srv := range lb.servers {
		ln := lns[i]
		if !s.goOwned(func() { _ = srv.Serve(ln) }) {
			for _, l := range lns[i:] {
				_ = l.Close()
			}
			return Endpoints{}, ErrClosed
		}
	}
	s.loop = lb
	s.log.Debug("sim: listening", "keystone", lb.endpoints.Keystone, "sysinv", lb.endpoints.SysInv,
		"sm", lb.endpoints.SM, "vim", lb.endpoints.VIM, "barbican", lb.endpoints.Barbican)
	return lb.endpoints, nil
}

// LoopbackEndpoints returns the loopback URLs, or false before Listen.
func (s *Sim) LoopbackEndpoints() (Endpoints, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loop == nil {
		return Endpoints{}, false
	}
	return s.loop.endpoints, true
}

// shutdown stops the servers: a graceful Shutdown bounded by timeout, then
// Close for whatever is left.
func (lb *loopback) shutdown(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, srv := range lb.servers {
		_ = srv.Shutdown(ctx)
	}
	for _, srv := range lb.servers {
		_ = srv.Close()
	}
}

func (s *Sim) httpHandler(svc Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.life.Lock()
		if s.closing {
			s.life.Unlock()
			(&httpResponder{w: w}).abort()
			return
		}
		s.wg.Add(1)
		s.life.Unlock()
		defer s.wg.Done()
		s.serve(r.Context(), svc, r, "loopback", &httpResponder{w: w})
	})
}

// httpResponder answers through net/http.
type httpResponder struct {
	w     http.ResponseWriter
	wrote bool
}

func (h *httpResponder) writeHeader(status int, hdr http.Header) {
	if h.wrote {
		return
	}
	h.wrote = true
	dst := h.w.Header()
	for k, v := range hdr {
		dst[k] = v
	}
	h.w.WriteHeader(status)
}

func (h *httpResponder) write(p []byte) { _, _ = h.w.Write(p) }

func (h *httpResponder) flush() { _ = http.NewResponseController(h.w).Flush() }

// abort cuts the connection with a TCP RST; if the connection cannot be
// taken over it falls back to net/http's abort (the client sees EOF).
func (h *httpResponder) abort() {
	conn, _, err := http.NewResponseController(h.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
