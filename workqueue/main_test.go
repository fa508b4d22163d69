package workqueue

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestQueue builds a queue from DefaultConfig changed by mod. The caller
// closes it (inside the synctest bubble, when there is one).
func newTestQueue(t *testing.T, mod func(*Config)) *Queue {
	t.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	q, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return q
}

func closeQueue(t *testing.T, q *Queue) {
	t.Helper()
	if err := q.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// fakeGate is a Gate the test opens and closes.
type fakeGate struct {
	mu sync.Mutex
	ch chan struct{}
}

func (g *fakeGate) Held() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		return nil
	}
	return g.ch
}

func (g *fakeGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
}

func (g *fakeGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}

// logRecorder is a slog.Handler that keeps messages.
type logRecorder struct {
	mu   sync.Mutex
	recs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// count returns how many records contain sub.
func (r *logRecorder) count(sub string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.recs {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// attemptLog records attempts with virtual timestamps relative to t0.
type attemptLog struct {
	mu sync.Mutex
	t0 time.Time
	as []Attempt
}

func newAttemptLog() *attemptLog { return &attemptLog{t0: time.Now()} }

func (l *attemptLog) record(a Attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.as = append(l.as, a)
}

// starts returns the attempts' start offsets from t0.
func (l *attemptLog) starts() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, a := range l.as {
		out = append(out, a.Start.Sub(l.t0))
	}
	return out
}

func (l *attemptLog) all() []Attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Attempt(nil), l.as...)
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func isDone(h *Handle) bool {
	select {
	case <-h.Done():
		return true
	default:
		return false
	}
}
