package sdnotify

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// listen returns a unixgram socket in a short temporary directory and sets
// NOTIFY_SOCKET to it.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

// Real unixgram socket, wall time.
func TestNotifySocket(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "")
	n := FromEnv(nil)
	if !n.Enabled() || n.WatchdogInterval() != 0 {
		t.Fatalf("%v %v", n.Enabled(), n.WatchdogInterval())
	}
	for _, step := range []struct {
		f    func() error
		want string
	}{
		{n.Ready, "READY=1"}, {n.Stopping, "STOPPING=1"}, {func() error { return n.Status("draining 3") }, "STATUS=draining 3"},
	} {
		if err := step.f(); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, c); got != step.want {
			t.Errorf("got %q want %q", got, step.want)
		}
	}
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Errorf("%q", got)
	}
	if err := n.Watchdog(t.Context()); err != nil {
		t.Error("watchdog off must return nil at once", err)
	}
}

func TestWatchdogSocket(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "20000") // 20 ms: pings every 10 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := FromEnv(nil)
	if n.WatchdogInterval() != 20*time.Millisecond {
		t.Fatal(n.WatchdogInterval())
	}
	stop := n.StartWatchdog(t.Context())
	for range 3 {
		if got := recv(t, c); got != "WATCHDOG=1" {
			t.Fatalf("%q", got)
		}
	}
	stop()
	stop()
}

func TestNoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000000")
	n := FromEnv(nil)
	if n.Enabled() || n.WatchdogInterval() != 0 {
		t.Fatal("enabled without NOTIFY_SOCKET")
	}
	n.send = func(string) error { t.Error("sent"); return nil }
	for _, f := range []func() error{n.Ready, n.Stopping, n.Reloading, func() error { return n.Watchdog(t.Context()) }} {
		if err := f(); err != nil {
			t.Error(err)
		}
	}
	var zero *Notifier
	if zero.Enabled() || zero.WatchdogInterval() != 0 {
		t.Error("nil")
	}
	var z Notifier
	if z.Ready() != nil || z.Watchdog(t.Context()) != nil {
		t.Error("zero value")
	}
}

func TestWatchdogEnv(t *testing.T) {
	c := listen(t)
	_ = c
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		warn      bool
	}{
		{"30000000", "", 30 * time.Second, false},
		{"30000000", strconv.Itoa(os.Getpid()), 30 * time.Second, false},
		{"30000000", strconv.Itoa(os.Getpid() + 1), 0, false},
		{"abc", "", 0, true},
		{"-5", "", 0, true},
		{"", "", 0, false},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		var warned bool
		log := slog.New(handlerFunc(func(r slog.Record) { warned = r.Level == slog.LevelWarn }))
		if got := FromEnv(log).WatchdogInterval(); got != tc.want || warned != tc.warn {
			t.Errorf("%+v: %v warned=%v", tc, got, warned)
		}
	}
}

type handlerFunc func(slog.Record)

func (h handlerFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (h handlerFunc) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h handlerFunc) WithGroup(string) slog.Handler                 { return h }

// The interval logic in virtual time: a ping at start, then exactly every
// WATCHDOG_USEC/2, none after stop; failed pings are logged and do not end
// the loop.
func TestWatchdogInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		fail := true
		var warnings int
		n := &Notifier{enabled: true, interval: 30 * time.Second,
			log: slog.New(handlerFunc(func(r slog.Record) { warnings++ })),
			send: func(state string) error {
				mu.Lock()
				defer mu.Unlock()
				if state != "WATCHDOG=1" {
					t.Errorf("%q", state)
				}
				at = append(at, time.Since(start))
				if fail {
					fail = false
					return errors.New("ECONNREFUSED")
				}
				return nil
			}}
		stop := n.StartWatchdog(t.Context())
		time.Sleep(61 * time.Second)
		synctest.Wait()
		stop()
		time.Sleep(time.Minute)
		synctest.Wait()
		want := []time.Duration{0, 15 * time.Second, 30 * time.Second, 45 * time.Second, 60 * time.Second}
		if len(at) != len(want) {
			t.Fatalf("pings at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("pings at %v, want %v", at, want)
			}
		}
		if warnings != 1 {
			t.Errorf("warnings %d", warnings)
		}
	})
}

func TestWatchdogStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &Notifier{enabled: true, interval: 2 * time.Second, log: slog.New(slog.DiscardHandler),
			send: func(string) error { return nil }}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if err := n.Watchdog(ctx); err != nil || time.Since(start) != 10*time.Second {
			t.Errorf("%v after %v", err, time.Since(start))
		}
	})
}
