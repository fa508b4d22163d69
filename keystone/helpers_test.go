package keystone

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/keystone/keystonetest"
)

// testConfig returns a Config wired to the in-memory fake, with no jitter so
// virtual-time assertions are exact.
func testConfig(srv *keystonetest.Server) Config {
	c := DefaultConfig()
	c.AuthURL = keystonetest.AuthURL
	c.Username, c.UserDomainName = keystonetest.User, keystonetest.Domain
	c.Password = keystonetest.Password
	c.ProjectName, c.ProjectDomainName = keystonetest.Project, keystonetest.Domain
	c.Transport = srv
	c.Jitter = 0
	return c
}

func newManager(t testing.TB, cfg Config) *Manager {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

// firstToken waits for the first token (virtual time inside a bubble).
func firstToken(t testing.TB, m *Manager) Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tok, err := m.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

// logBuffer is a concurrency-safe buffer for a slog text handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) Lines() []string {
	return strings.Split(strings.TrimSpace(b.String()), "\n")
}

// count returns the number of lines containing every needle.
func (b *logBuffer) count(needles ...string) int {
	n := 0
	for _, l := range b.Lines() {
		ok := true
		for _, s := range needles {
			if !strings.Contains(l, s) {
				ok = false
				break
			}
		}
		if ok {
			n++
		}
	}
	return n
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// isClosed reports whether a channel is closed without blocking.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
