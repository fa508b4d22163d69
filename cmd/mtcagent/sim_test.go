package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/mtce/demo"
)

// skipNoAlias skips when 127.0.0.x addresses other than 127.0.0.1 cannot
// be bound (not Linux), except under CI=true.
func skipNoAlias(t *testing.T, status int, stderr string) {
	t.Helper()
	if status != 0 && strings.Contains(stderr, "cannot bind loopback addresses") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %s", stderr)
		}
		t.Skipf("skipped: %s", stderr)
	}
}

// TestSimTour: `mtcagent -sim -tour` (what CI runs) passes over loopback
// with real 1 s scripts, prints one plain line per event and step, and
// exits 0 within its bound.
func TestSimTour(t *testing.T) {
	out := &lineWriter{}
	errw := &lineWriter{}
	start := time.Now()
	st := realMain(context.Background(), []string{"-sim", "-tour"}, out, errw, make(chan os.Signal))
	skipNoAlias(t, st, errw.String())
	took := time.Since(start)
	if st != 0 {
		t.Fatalf("exit %d after %v\nstderr: %s\nstdout:\n%s", st, took, errw, out)
	}
	text := out.String()
	for _, want := range []string{
		`(?m)^tour: all 7 steps reached their expected state`,
		`(?m)^tour: 4\. after the boot: start controller then start worker host services, one result each: ok`,
		`(?m) token +controller-0 +token renewed after a 401`,
		`(?m) task +controller-0 +task "Swact: In-Progress"`,
		`(?m) agent +controller-1 +agent ready on controller-1`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("output lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b[") {
		t.Error("escape sequences in non-terminal output")
	}
	t.Logf("tour took %v", took)
}

// Ctrl-C (SIGINT) at any moment stops -sim cleanly with exit 0: during
// start-up, and while the system runs.
func TestSimInterrupt(t *testing.T) {
	for _, when := range []string{"starting", "running"} {
		t.Run(when, func(t *testing.T) {
			out := &lineWriter{}
			errw := &lineWriter{}
			sigs := make(chan os.Signal, 1)
			up := out.await(`^system up`)
			booted := out.await(`mtcClient started on controller-1`)
			done := make(chan int, 1)
			go func() { done <- realMain(context.Background(), []string{"-sim"}, out, errw, sigs) }()
			if when == "running" {
				select {
				case <-booted:
				case st := <-done:
					skipNoAlias(t, st, errw.String())
					t.Fatalf("exit %d before running: %s", st, errw)
				case <-time.After(20 * time.Second):
					t.Fatalf("not running 20 s after start:\n%s", out)
				}
				select {
				case <-up:
				default:
					t.Fatal("hosts booting before the system is up")
				}
			}
			sigs <- syscall.SIGINT
			select {
			case st := <-done:
				skipNoAlias(t, st, errw.String())
				if st != 0 {
					t.Fatalf("exit %d after SIGINT: %s", st, errw)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no exit 20 s after SIGINT:\n%s", out)
			}
			if when == "running" && !strings.Contains(out.String(), "stopped: every process ended") {
				t.Errorf("no stop line:\n%s", out)
			}
		})
	}
}

// The prompt's commands, on a demo that is not started (plain output).
func TestSimCommands(t *testing.T) {
	d, err := demo.New(demo.DefaultConfig())
	if err != nil {
		skipNoAlias(t, 1, err.Error())
		t.Fatal(err)
	}
	defer d.Close()
	var buf bytes.Buffer
	out := newSimOutput(&buf, false, true)
	var wg sync.WaitGroup
	ctx := context.Background()
	for _, c := range []struct {
		line, want string
		more       bool
	}{
		{"help", "corrupt-token", true},
		{"lock", "usage: lock HOST (hosts: controller-0, controller-1)", true},
		{"bogus x", `unknown command "bogus"`, true},
		{"fail-scripts nohost", "unknown host", true},
		{"status", "agent: none", true},
		{"corrupt-token", "no token to corrupt yet", true},
		{"   ", "", true},
		{"quit", "", false},
	} {
		buf.Reset()
		if more := command(ctx, d, out, &wg, c.line); more != c.more {
			t.Errorf("%q: continue=%v", c.line, more)
		}
		if !strings.Contains(buf.String(), c.want) {
			t.Errorf("%q: output %q lacks %q", c.line, buf.String(), c.want)
		}
	}
	wg.Wait()
	if got := clip("abcdef", 4); got != "abc" {
		t.Errorf("clip: %q", got)
	}
}

// -sim --admin serves the demo's admin API: the agent's host list, and
// actions through the simulated SysInv (its refusal is 409).
func TestSimAdmin(t *testing.T) {
	out := &lineWriter{}
	errw := &lineWriter{}
	sigs := make(chan os.Signal, 1)
	at := out.await(`admin API listening on (\S+)`)
	done := make(chan int, 1)
	go func() {
		done <- realMain(context.Background(), []string{"-sim", "--admin", "127.0.0.1:0"}, out, errw, sigs)
	}()
	var addr string
	select {
	case m := <-at:
		addr = m[1]
	case st := <-done:
		skipNoAlias(t, st, errw.String())
		t.Fatalf("exit %d: %s", st, errw)
	case <-time.After(20 * time.Second):
		t.Fatalf("no admin API:\n%s", out)
	}
	c := &http.Client{Timeout: 70 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + addr + "/v1/hosts")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "controller-1") {
		t.Errorf("GET /v1/hosts: %d %s", resp.StatusCode, body)
	}
	post := func(path string) (int, string) {
		resp, err := c.Post("http://"+addr+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if st, b := post("/v1/hosts/controller-0/lock"); st != http.StatusConflict {
		t.Errorf("lock of the active controller: %d %s", st, b)
	}
	if st, b := post("/v1/hosts/controller-1/lock"); st != http.StatusAccepted {
		t.Errorf("lock of controller-1: %d %s", st, b)
	}
	if st, b := post("/v1/hosts/nohost/lock"); st != http.StatusNotFound {
		t.Errorf("lock of an unknown host: %d %s", st, b)
	}
	sigs <- syscall.SIGTERM
	select {
	case st := <-done:
		if st != 0 {
			t.Fatalf("exit %d: %s", st, errw)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
