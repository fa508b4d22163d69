package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lineWriter is stderr for realMain: it keeps the output and signals when
// a line matching a pattern appears.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	watch []watch
}

type watch struct {
	re *regexp.Regexp
	ch chan []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, line := range strings.Split(string(p), "\n") {
		for i := 0; i < len(w.watch); i++ {
			if m := w.watch[i].re.FindStringSubmatch(line); m != nil {
				w.watch[i].ch <- m
				w.watch = append(w.watch[:i], w.watch[i+1:]...)
				i--
			}
		}
	}
	return len(p), nil
}

func (w *lineWriter) await(pattern string) <-chan []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan []string, 1)
	w.watch = append(w.watch, watch{regexp.MustCompile(pattern), ch})
	return ch
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func runMain(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	status = realMain(context.Background(), args, &out, &errw, make(chan os.Signal))
	return status, out.String(), errw.String()
}

func TestFlags(t *testing.T) {
	if st, out, _ := runMain(t, "--version"); st != 0 || !strings.HasPrefix(out, "mtcagent ") {
		t.Errorf("--version: %d %q", st, out)
	}
	if st, _, errs := runMain(t, "--help"); st != 0 || !strings.Contains(errs, "-admin") || !strings.Contains(errs, "-root") {
		t.Errorf("--help: %d %q", st, errs)
	}
	if st, _, _ := runMain(t, "--no-such-flag"); st != 2 {
		t.Errorf("bad flag: %d", st)
	}
	if st, _, errs := runMain(t, "-sim", "-system", "simplex"); st != 2 || !strings.Contains(errs, "System") {
		t.Errorf("-sim -system simplex: %d %q", st, errs)
	}
}

// A missing or bad configuration is one line naming the file, exit 78.
func TestConfigErrors(t *testing.T) {
	empty := t.TempDir()
	st, _, errs := runMain(t, "--root", empty, "--hostname", "controller-0", "--admin", "", "--metrics", "")
	if st != 78 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "mtc.conf") {
		t.Errorf("missing config: %d %q", st, errs)
	}
	sample := sampleRoot(t)
	st, _, errs = runMain(t, "--root", sample, "--hostname", "controller-0", "--admin", "", "--metrics", "0.0.0.0:9102")
	if st != 78 || !strings.Contains(errs, "--metrics") || strings.Count(errs, "\n") != 1 {
		t.Errorf("non-loopback metrics: %d %q", st, errs)
	}
	st, _, errs = runMain(t, "--root", sample, "--hostname", "controller-0", "--admin", "10.0.0.1:80", "--metrics", "")
	if st != 78 || !strings.Contains(errs, "--admin") {
		t.Errorf("non-loopback admin: %d %q", st, errs)
	}
	st, _, errs = runMain(t, "--root", sample, "--hostname", "controller-0", "--admin", "", "--metrics", "", "--event-api", "0.0.0.0:0")
	if st != 78 || !strings.Contains(errs, "--event-api") {
		t.Errorf("non-loopback event API: %d %q", st, errs)
	}
}

func sampleRoot(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../packaging/sample")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The repository's sample configuration loads.
func TestSampleConfigLoads(t *testing.T) {
	c, err := agent.Load(agent.Paths{Root: sampleRoot(t), Hostname: "controller-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Mtc.Corrections) != 0 {
		t.Errorf("the sample needs corrections: %+v", c.Mtc.Corrections)
	}
	if c.SysInvURL != "http://127.0.0.1:6385" || c.Mtc.Agent.InvEventPort != 2112 {
		t.Errorf("sample: sysinv %q, event port %d", c.SysInvURL, c.Mtc.Agent.InvEventPort)
	}
}

// copyTree copies the sample configuration to a temporary root.
func copyTree(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

func hostPort(t *testing.T, raw string) (string, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// TestDaemon runs the daemon in process against the simulator over
// loopback (wall time): it becomes ready, serves the event API, the admin
// API on a unix socket and metrics, and drains on SIGTERM with exit 0.
func TestDaemon(t *testing.T) {
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	root := copyTree(t, sampleRoot(t))
	write := func(rel, text string) {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ini, err := os.ReadFile(filepath.Join(root, "etc/mtc.ini"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(ini)
	for k, v := range map[string]string{
		"keystone_auth_uri":      ep.AuthURL(),
		"keystone_auth_username": "admin",
		"keystone_auth_pw":       "Sim-Passw0rd!",
		"keystone_auth_project":  "admin",
	} {
		text = regexp.MustCompile(`(?m)^`+k+` = .*$`).ReplaceAllString(text, k+" = "+v)
	}
	write("etc/mtc.ini", text)
	h, p := hostPort(t, ep.SysInv)
	write("etc/sysinv/sysinv.conf", "[DEFAULT]\nsysinv_api_bind_ip = "+h+"\nsysinv_api_port = "+p+"\n")
	h, p = hostPort(t, ep.Barbican)
	write("etc/barbican/barbican.conf", "[DEFAULT]\nbind_host = "+h+"\nbind_port = "+p+"\n")
	_, p = hostPort(t, ep.VIM)
	write("etc/nfv/nfv_plugins/nfvi_plugins/config.ini", "[infrastructure-rest-api]\nport = "+p+"\n")

	admin := filepath.Join(t.TempDir(), "run", "mtc", "mtcagent.sock")
	stderr := &lineWriter{}
	ready := stderr.await(`agent ready.*event_api=(\S+)`)
	metricsAt := stderr.await(`metrics listening.*addr=(\S+)`)
	sigs := make(chan os.Signal, 1)
	done := make(chan int, 1)
	go func() {
		done <- realMain(context.Background(), []string{
			"--root", root, "--hostname", "controller-0", "--sm-url", ep.SM,
			"--event-api", "127.0.0.1:0", "--udp-mgmt", "127.0.0.1:0",
			"--metrics", "127.0.0.1:0", "--admin", "unix:" + admin, "--drain", "10s",
		}, io.Discard, stderr, sigs)
	}()
	timeout := time.After(30 * time.Second)
	var eventAddr, metricsAddr string
	select {
	case m := <-metricsAt:
		metricsAddr = m[1]
	case st := <-done:
		t.Fatalf("exited %d before serving metrics:\n%s", st, stderr)
	case <-timeout:
		t.Fatalf("metrics not served:\n%s", stderr)
	}
	select {
	case m := <-ready:
		eventAddr = m[1]
	case st := <-done:
		t.Fatalf("exited %d before ready:\n%s", st, stderr)
	case <-timeout:
		t.Fatalf("not ready in 30 s:\n%s", stderr)
	}

	// The event API, as the VIM asks it.
	req, _ := http.NewRequest("GET", "http://"+eventAddr+"/v1/systems", nil)
	req.Header.Set("User-Agent", "vim/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var systems struct {
		Hosts []struct {
			Hostname string
			Uptime   json.Number
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&systems)
	resp.Body.Close()
	if err != nil || len(systems.Hosts) != 4 {
		t.Errorf("GET /v1/systems: %v %+v", err, systems)
	}

	// The admin API, on its unix socket, mode 0600.
	if fi, err := os.Stat(admin); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket: %v %v", fi, err)
	}
	uc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", admin)
	}}}
	defer uc.CloseIdleConnections()
	resp, err = uc.Get("http://admin/v1/hosts")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "worker-0") {
		t.Errorf("admin /v1/hosts: %d %s", resp.StatusCode, body)
	}

	// An unknown client is refused (403) and counted; a lock is taken
	// through the admin API and left in flight (worker-0 has no client:
	// its stop command waits for an ACK that never comes).
	req, _ = http.NewRequest("GET", "http://"+eventAddr+"/v1/systems", nil)
	req.Header.Set("User-Agent", "curl/8.0")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("unknown client: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, err = uc.Post("http://admin/v1/hosts/worker-0/lock", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("admin lock: %d %s", resp.StatusCode, body)
	}

	// Metrics and readiness.
	resp, err = http.Get("http://" + metricsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz %d after ready", resp.StatusCode)
	}
	resp, err = http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		`mtcagent_eventapi_requests_total{client="vim",code="200"} 1`:     false,
		`mtcagent_eventapi_requests_total{client="unknown",code="403"} 1`: false,
		`mtcagent_actions_total{action="lock",outcome="started"} 1`:       false,
	}
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		if _, ok := want[sc.Text()]; ok {
			want[sc.Text()] = true
		}
	}
	resp.Body.Close()
	for line, seen := range want {
		if !seen {
			t.Errorf("metrics lack %s", line)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	// SIGHUP: mtc.conf and mtc.ini re-read and applied.
	reloaded := stderr.await(`configuration reloaded`)
	sigs <- syscall.SIGHUP
	select {
	case <-reloaded:
	case <-time.After(10 * time.Second):
		t.Fatalf("no reload 10 s after SIGHUP:\n%s", stderr)
	}

	// SIGTERM with the lock in flight: a clean drain, exit 0, well
	// before the lock's 10 s ACK wait would have ended.
	sigs <- syscall.SIGTERM
	start := time.Now()
	select {
	case st := <-done:
		if st != 0 {
			t.Fatalf("exit %d after SIGTERM:\n%s", st, stderr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("drain took %v with a lock in flight", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit 20 s after SIGTERM:\n%s", stderr)
	}
	if out := stderr.String(); strings.Contains(out, "Sim-Passw0rd!") {
		t.Error("the Keystone password appears in the log")
	}
	if _, err := os.Stat(admin); err == nil {
		t.Error("admin socket left behind")
	}
}
