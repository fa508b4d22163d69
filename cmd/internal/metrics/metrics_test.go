package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	for _, bad := range []string{":9101", "0.0.0.0:9101", "[::]:9101", "10.0.0.1:9101", "192.168.1.5:1",
		"controller:9101", "example.com:80", "127.0.0.1", "", "unix:", "unix:run/x.sock", "[fe80::1]:1"} {
		err := Config{Addr: bad}.Validate()
		if !errors.Is(err, ErrNotLoopback) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%q: %v", bad, err)
		}
		if _, err := New(Config{Addr: bad}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	for _, good := range []string{"127.0.0.1:9101", "127.9.8.7:0", "[::1]:0", "localhost:9101", "[::ffff:127.0.0.1]:1", "unix:/run/mtc/m.sock"} {
		if err := (Config{Addr: good}).Validate(); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	if err := (Config{Addr: "127.0.0.1:1", ShutdownTimeout: -1}).Validate(); err == nil {
		t.Error("negative timeout")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
	if e := (Config{Addr: ":9101"}).Validate().Error(); !strings.Contains(e, "all interfaces") {
		t.Errorf("unclear: %s", e)
	}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Over loopback, wall time.
func TestServeTCP(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "mtc_test_total", Help: "test"})
	s.Registry().MustRegister(c)
	c.Add(3)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if s.Listen() != ErrStarted {
		t.Error("second Listen")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	base := "http://" + s.Addr()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if code, body := get(t, hc, base+"/healthz"); code != 503 || body != "not ready\n" {
		t.Errorf("%d %q", code, body)
	}
	s.SetReady(true)
	if code, body := get(t, hc, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("%d %q", code, body)
	}
	code, body := get(t, hc, base+"/metrics")
	for _, want := range []string{"mtc_test_total 3", "go_goroutines ", "process_resident_memory_bytes ", "promhttp_metric_handler_requests_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("%d: /metrics lacks %q", code, want)
		}
	}
	if code, _ := get(t, hc, base+"/other"); code != 404 {
		t.Errorf("other: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Get(base + "/healthz"); err == nil {
		t.Error("still serving")
	}
	// The default registry is untouched.
	mfs, _ := prometheus.DefaultGatherer.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "mtc_test_total" {
			t.Error("registered globally")
		}
	}
}

func TestUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "mtr")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m.sock")
	// A stale socket: its file is left behind by a listener that is gone.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()

	s, err := New(Config{Addr: UnixPrefix + path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	// A live socket is not taken over.
	s2, _ := New(Config{Addr: UnixPrefix + path})
	if err := s2.Listen(); err == nil || !strings.Contains(err.Error(), "listening") {
		t.Errorf("live socket: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}}
	s.SetReady(true)
	if code, _ := get(t, hc, "http://unix/healthz"); code != 200 {
		t.Errorf("%d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left: %v", err)
	}
	// A regular file is never removed.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s3, _ := New(Config{Addr: UnixPrefix + path})
	if err := s3.Listen(); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
	s3.Shutdown(t.Context())
}

func TestShutdownBeforeServe(t *testing.T) {
	s, _ := New(Config{Addr: "127.0.0.1:0"})
	if s.Serve() != ErrNotListening {
		t.Error("Serve before Listen")
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("listener not closed")
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Error("second Shutdown", err)
	}
}

// memListener is an in-memory net.Listener of net.Pipe connections, so
// that the server runs inside a synctest bubble.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *memListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *memListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9101} }
func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case l.conns <- s:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// blocking is a collector whose Collect waits until released.
type blocking struct {
	entered, release chan struct{}
}

func (b *blocking) Describe(chan<- *prometheus.Desc) {}
func (b *blocking) Collect(chan<- prometheus.Metric) {
	close(b.entered)
	<-b.release
}

// Run's shutdown is bounded by ShutdownTimeout: a scrape stuck in a
// collector makes Run return context.DeadlineExceeded exactly at the
// timeout (virtual time).
func TestRunShutdownBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ml := newMemListener()
		s, err := New(Config{Addr: "127.0.0.1:9101", ShutdownTimeout: 7 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s.listen = func(string, string) (net.Listener, error) { return ml, nil }
		b := &blocking{entered: make(chan struct{}), release: make(chan struct{})}
		s.Registry().MustRegister(b)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		hc := &http.Client{Transport: &http.Transport{DialContext: ml.dial}}
		scraped := make(chan error, 1)
		go func() {
			resp, err := hc.Get("http://m/metrics")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			scraped <- err
		}()
		<-b.entered
		start := time.Now()
		cancel()
		err = <-done
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run = %v", err)
		}
		if d := time.Since(start); d != 7*time.Second {
			t.Errorf("shutdown took %v, want 7s", d)
		}
		close(b.release)
		<-scraped // the forced close ends the scrape, with or without error
		hc.CloseIdleConnections()
		synctest.Wait()
	})
}

// A prompt shutdown returns nil at once.
func TestRunShutdownPrompt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ml := newMemListener()
		s, _ := New(Config{Addr: "[::1]:9101"})
		s.listen = func(string, string) (net.Listener, error) { return ml, nil }
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		hc := &http.Client{Transport: &http.Transport{DialContext: ml.dial}}
		if code, _ := get(t, hc, "http://m/healthz"); code != 503 {
			t.Error(code)
		}
		hc.CloseIdleConnections()
		start := time.Now()
		cancel()
		if err := <-done; err != nil || time.Since(start) > time.Second {
			t.Errorf("%v after %v", err, time.Since(start))
		}
		synctest.Wait()
	})
}
