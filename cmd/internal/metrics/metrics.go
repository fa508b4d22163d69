package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"opendev.org/starlingx/metal-go/cmd/internal/localhttp"
)

// Errors of this package.
var (
	// ErrNotLoopback is wrapped by Config.Validate (and so New) when Addr
	// is not a loopback address or a unix socket; also by Listen when
	// "localhost" resolved to something else.
	ErrNotLoopback = localhttp.ErrNotLoopback
	// ErrStarted is returned by Listen or Run on a server already started.
	ErrStarted = errors.New("metrics: server already started")
	// ErrNotListening is returned by Serve before Listen.
	ErrNotListening = errors.New("metrics: Serve called before Listen")
)

// UnixPrefix marks a unix socket path in Config.Addr.
const UnixPrefix = localhttp.UnixPrefix

// Config configures a Server.
type Config struct {
	// Addr is "host:port" with a loopback host (an IP in 127.0.0.0/8 or
	// ::1, or "localhost"), or "unix:/absolute/path". Port 0 picks a free
	// port (see Server.Addr).
	Addr string
	// ShutdownTimeout bounds Run's graceful shutdown after its context is
	// done. Zero means 5 s.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers. Zero means 5 s.
	ReadHeaderTimeout time.Duration
	// Logger receives serve errors; nil is silent.
	Logger *slog.Logger
}

// DefaultConfig returns Addr "127.0.0.1:9101" and the default timeouts.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:9101", ShutdownTimeout: 5 * time.Second, ReadHeaderTimeout: 5 * time.Second}
}

// Validate reports the first problem with c: an address that is neither
// loopback nor a unix socket (wrapping ErrNotLoopback), or a negative
// timeout. It does no I/O.
func (c Config) Validate() error {
	if _, _, err := localhttp.ParseAddr(c.Addr); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if c.ShutdownTimeout < 0 || c.ReadHeaderTimeout < 0 {
		return errors.New("metrics: timeouts must not be negative")
	}
	return nil
}

// Server serves a Prometheus registry on /metrics and a readiness flag on
// /healthz. Create it with New.
type Server struct {
	cfg   Config
	reg   *prometheus.Registry
	ready atomic.Bool
	srv   *http.Server
	log   *slog.Logger

	// listen is net.Listen; tests replace it with an in-memory listener.
	listen func(network, address string) (net.Listener, error)

	mu      sync.Mutex
	ln      net.Listener // set by Listen; guarded by mu
	started bool         // guarded by mu
}

// New validates cfg and returns a server with its own registry (not
// prometheus.DefaultRegisterer) holding the Go runtime and process
// collectors. It does not listen.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	def := DefaultConfig()
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = def.ShutdownTimeout
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = def.ReadHeaderTimeout
	}
	s := &Server{cfg: cfg, reg: prometheus.NewRegistry(), log: cfg.Logger, listen: net.Listen}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(s.reg,
		promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg, ErrorLog: errorLog{s.log}})))
	mux.HandleFunc("GET /healthz", s.healthz)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

type errorLog struct{ l *slog.Logger }

func (e errorLog) Println(v ...any) { e.l.Warn("metrics: " + strings.TrimSpace(fmt.Sprintln(v...))) }

// Registry returns the server's registry, for the daemon's collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// SetReady sets what /healthz reports: 200 "ok" when true, 503 "not ready"
// otherwise (the initial state).
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready")
		return
	}
	fmt.Fprintln(w, "ok")
}

// Listen binds the configured address. A stale unix socket file (one no
// process accepts on) is removed first; any other existing file is an
// error. When the host is "localhost", the bound address is checked to be
// loopback.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.started {
		return ErrStarted
	}
	network, address, err := localhttp.ParseAddr(s.cfg.Addr)
	if err != nil {
		return err
	}
	if network == "unix" {
		if err := localhttp.RemoveStale(address); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	ln, err := s.listen(network, address)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := localhttp.CheckBound(s.cfg.Addr, ln); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address ("127.0.0.1:43121", "/run/x.sock"), or ""
// before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Serve serves on the listener bound by Listen until Shutdown; it returns
// nil after Shutdown, another error if serving failed.
func (s *Server) Serve() error {
	s.mu.Lock()
	ln := s.ln
	if ln == nil {
		s.mu.Unlock()
		return ErrNotListening
	}
	if s.started {
		s.mu.Unlock()
		return ErrStarted
	}
	s.started = true
	s.mu.Unlock()
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("metrics: %w", err)
}

// Shutdown stops accepting, waits for in-flight requests until ctx is
// done, then closes what remains; it returns ctx's error in that case. A
// unix socket file is removed. It may be called before Serve (it then
// closes the listener) and more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	s.mu.Lock()
	if s.ln != nil && !s.started {
		s.ln.Close() // Serve never ran, so Shutdown did not close it
	}
	s.mu.Unlock()
	return err
}

// Run listens (unless Listen was called), serves until ctx is done, then
// shuts down within Config.ShutdownTimeout. It returns nil after a clean
// shutdown, the listen or serve error otherwise, or
// context.DeadlineExceeded when requests outlived the timeout. Every
// goroutine it starts has returned when it returns.
func (s *Server) Run(ctx context.Context) error {
	if s.Addr() == "" {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.Shutdown(sctx)
	if serr := <-errc; err == nil {
		err = serr
	}
	return err
}
