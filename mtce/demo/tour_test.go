package demo

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// newDemo makes a demo for a wall-time loopback test; it skips when the
// machine cannot bind 127.0.0.x addresses other than 127.0.0.1, except
// under CI=true, where that is a failure.
func newDemo(t *testing.T, cfg Config) (*Demo, *eventLog) {
	t.Helper()
	ev := &eventLog{}
	cfg.OnEvent = ev.add
	d, err := New(cfg)
	if errors.Is(err, ErrNoLoopbackAlias) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %v", err)
		}
		t.Skipf("skipped: %v (Linux routes 127/8 to lo; elsewhere add loopback aliases)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := os.Stat(d.Dir()); !os.IsNotExist(err) {
			t.Errorf("temporary directory left behind: %v", err)
		}
		if t.Failed() {
			t.Logf("events:\n%s", ev)
		}
	})
	return d, ev
}

// newUnstarted is New with the same skip rule as newDemo; the caller
// closes it.
func newUnstarted(t *testing.T, cfg Config) *Demo {
	t.Helper()
	d, err := New(cfg)
	if errors.Is(err, ErrNoLoopbackAlias) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %v", err)
		}
		t.Skipf("skipped: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.ev...)
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.ev {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestTour runs the -tour over loopback with real 1 s scripts (wall
// time), on AIO duplex and on a standard system, in parallel.
func TestTour(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"aio-duplex", DefaultConfig()},
		{"standard", Config{System: SystemStandard, Workers: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tour(t, c.cfg)
		})
	}
}

func tour(t *testing.T, cfg Config) {
	d, ev := newDemo(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	start := time.Now()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("agent ready %v after Start", time.Since(start))
	steps, err := d.Tour(ctx, func(s string) { t.Log(s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 7 {
		t.Errorf("%d steps", len(steps))
	}
	// The new agent leaves the old one's "Swact: In-Progress" on
	// controller-0 (see the package documentation).
	if task := d.Sim().Task("controller-0"); task != "Swact: In-Progress" {
		t.Errorf("controller-0 task %q after the swact", task)
	}
	sw := d.Swacts()
	if len(sw) != 1 || sw[0].From != "controller-0" || sw[0].To != "controller-1" || sw[0].Err != "" {
		t.Fatalf("swacts %+v", sw)
	}
	s := sw[0]
	if !(s.Requested.Before(s.InProgress) && s.InProgress.Before(s.Moved) && !s.OldStopped.Before(s.Moved) && s.OldStopped.Before(s.NewReady)) {
		t.Errorf("swact out of order: %+v", s)
	}
	if testing.Verbose() {
		t.Logf("events:\n%s", ev)
	}
}
