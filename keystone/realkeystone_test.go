package keystone

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real-Keystone harness. Tests that need Debian's Keystone call
// realKeystone(t): the first call starts one instance for the whole package
// run through the project's own script, scripts/keystone/keystone.sh (found
// relative to this package, or at $KEYSTONE_SCRIPT), on a free port (KS_PORT=0)
// in a fresh temp dir, with a short token expiration and KS_WATCH_PID set to
// this process so that a killed test binary leaves no server behind.
// TestMain stops it at the end. Under CI=true a missing python3-keystone is a
// failure; elsewhere the tests skip with a message.

const realTokenExpiration = 5 * time.Second

type keystoneInstance struct {
	dir         string
	authURL     string
	user        string
	password    string
	project     string
	region      string
	platformURL string
	env         []string
}

var shared struct {
	once sync.Once
	inst *keystoneInstance
	err  error
	skip string
}

func keystoneScript() (string, error) {
	p := os.Getenv("KEYSTONE_SCRIPT")
	if p == "" {
		p = filepath.Join("..", "scripts", "keystone", "keystone.sh")
	}
	return filepath.Abs(p)
}

// runScript runs the script without a shell, in its own process group, killed
// with its group if ctx ends. The server it starts is detached (own session,
// output to files), so Output returns when the script exits.
func runScript(ctx context.Context, env []string, args ...string) (string, error) {
	script, err := keystoneScript()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(script), strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func startSharedKeystone() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := runScript(ctx, nil, "check"); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			shared.skip = "python3-keystone is not installed (scripts/keystone/keystone.sh install)"
			return
		}
		shared.err = err
		return
	}
	root, err := os.MkdirTemp("", "keystone-test-")
	if err != nil {
		shared.err = err
		return
	}
	inst := &keystoneInstance{dir: filepath.Join(root, "ks")}
	inst.env = []string{
		"KS_DIR=" + inst.dir,
		"KS_PORT=0",
		"KS_TOKEN_EXPIRATION=" + strconv.Itoa(int(realTokenExpiration/time.Second)),
		"KS_WATCH_PID=" + strconv.Itoa(os.Getpid()),
		"KS_READY_TIMEOUT=60",
	}
	out, err := runScript(ctx, inst.env, "up")
	if err != nil {
		_ = os.RemoveAll(root)
		shared.err = err
		return
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimPrefix(sc.Text(), "export ")
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = strings.Trim(v, "'")
		}
	}
	inst.authURL, inst.user, inst.password = vars["OS_AUTH_URL"], vars["OS_USERNAME"], vars["OS_PASSWORD"]
	inst.project, inst.region, inst.platformURL = vars["OS_PROJECT_NAME"], vars["OS_REGION_NAME"], vars["KS_PLATFORM_URL"]
	if inst.authURL == "" || inst.password == "" {
		shared.err = fmt.Errorf("script output has no OS_AUTH_URL/OS_PASSWORD:\n%s", out)
		return
	}
	shared.inst = inst
}

// stopSharedKeystone is called by TestMain after the run.
func stopSharedKeystone() {
	if shared.inst == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := runScript(ctx, shared.inst.env, "down"); err != nil {
		fmt.Fprintln(os.Stderr, "stopping keystone:", err)
	}
	_ = os.Remove(filepath.Dir(shared.inst.dir))
}

func realKeystone(t testing.TB) *keystoneInstance {
	t.Helper()
	shared.once.Do(startSharedKeystone)
	if shared.skip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the real Keystone is required: %s", shared.skip)
		}
		t.Skip(shared.skip)
	}
	if shared.err != nil {
		t.Fatalf("starting the real Keystone: %v", shared.err)
	}
	return shared.inst
}

func (ks *keystoneInstance) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := runScript(ctx, ks.env, "stop"); err != nil {
		t.Fatal(err)
	}
}

func (ks *keystoneInstance) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := runScript(ctx, ks.env, "start"); err != nil {
		t.Fatal(err)
	}
}

// counting is a RoundTripper that records every token request to Keystone
// and every service response status.
type counting struct {
	next     http.RoundTripper
	mu       sync.Mutex
	auth     []time.Time
	statuses map[int]int
	errs     int
}

func newCounting() *counting {
	t := http.DefaultTransport.(*http.Transport).Clone()
	return &counting{next: t, statuses: map[int]int{}}
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	isAuth := req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/auth/tokens")
	if isAuth {
		c.mu.Lock()
		c.auth = append(c.auth, time.Now())
		c.mu.Unlock()
	}
	resp, err := c.next.RoundTrip(req)
	if !isAuth {
		c.mu.Lock()
		if err != nil {
			c.errs++
		} else {
			c.statuses[resp.StatusCode]++
		}
		c.mu.Unlock()
	}
	return resp, err
}

func (c *counting) authTimes() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.auth...)
}

func (c *counting) status(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statuses[code]
}

func (c *counting) close() { c.next.(*http.Transport).CloseIdleConnections() }

func (ks *keystoneInstance) config(t testing.TB, tr http.RoundTripper) (Config, *logBuffer) {
	c := DefaultConfig()
	c.AuthURL = ks.authURL
	c.Username, c.UserDomainName = ks.user, "Default"
	c.Password = Secret(ks.password)
	c.ProjectName, c.ProjectDomainName = ks.project, "Default"
	c.Region = ks.region
	c.Transport = tr
	c.RenewTimeout, c.StuckAfter = 5*time.Second, 6*time.Second
	c.RetryMin, c.RetryMax = 250*time.Millisecond, time.Second
	log, logs := newLogger()
	c.Logger = log
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", logs.String())
		}
	})
	return c, logs
}

// stream sends GET /v3/auth/projects (which needs a valid token) every
// period through a Transport until ctx ends; it returns requests and
// failures (errors or non-200).
func stream(ctx context.Context, c *http.Client, url string, period time.Duration, during func(n int)) (n, failed int, firstErr error) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return n, failed, firstErr
		case <-tick.C:
		}
		// The last request may outlive the window, but not forever.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url+"/auth/projects", nil)
		resp, err := c.Do(req)
		cancel()
		n++
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
		if during != nil {
			during(n)
		}
	}
}

// TestRealKeystone runs against Debian's Keystone in wall time. The four
// independent scenarios run at the same time (t.Run from several goroutines,
// not t.Parallel, so that -parallel=GOMAXPROCS on a 2-core machine does not
// serialise what is mostly waiting); the stop/restart scenario runs after
// them because it takes the shared instance down.
func TestRealKeystone(t *testing.T) {
	ks := realKeystone(t)
	scenarios := []struct {
		name string
		run  func(*testing.T, *keystoneInstance)
	}{
		{"FirstToken", realFirstToken},
		{"ExpiryDuringStream", realExpiryDuringStream},
		{"RevokedMidStream", realRevokedMidStream},
		{"WrongPassword", realWrongPassword},
	}
	var wg sync.WaitGroup
	for _, sc := range scenarios {
		wg.Go(func() { t.Run(sc.name, func(t *testing.T) { sc.run(t, ks) }) })
	}
	wg.Wait()
	t.Run("StopAndRestart", func(t *testing.T) { realStopAndRestart(t, ks) })
}

func realFirstToken(t *testing.T, ks *keystoneInstance) {
	tr := newCounting()
	defer tr.close()
	cfg, _ := ks.config(t, tr)
	m := newManager(t, cfg)
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := m.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.IssuedAt().IsZero() || tok.Lifetime() != realTokenExpiration {
		t.Errorf("issued_at %v, lifetime %v, want %v", tok.IssuedAt(), tok.Lifetime(), realTokenExpiration)
	}
	if u, err := tok.Endpoint(EndpointOpts{Type: "platform", Interface: InterfaceAdmin, Region: ks.region}); err != nil || u != ks.platformURL {
		t.Errorf("platform admin endpoint = %q, %v; want %q", u, err, ks.platformURL)
	}
	if u, err := tok.Endpoint(EndpointOpts{Type: "identity"}); err != nil || u != ks.authURL {
		t.Errorf("identity public endpoint = %q, %v", u, err)
	}
	c := &http.Client{Transport: &Transport{Manager: m, Base: tr}}
	if n, failed, err := stream(ctxFor(t, 300*time.Millisecond), c, ks.authURL, 50*time.Millisecond, nil); failed != 0 || n == 0 {
		t.Errorf("%d/%d requests failed: %v", failed, n, err)
	}
	t.Logf("first token %v in %v", tok, m.Stats().LastLatency)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Tokens live 5 s; a request every 50 ms for 12 s crosses at least two
// expiries. Proactive refresh: no request fails, none even sees a 401.
func realExpiryDuringStream(t *testing.T, ks *keystoneInstance) {
	tr := newCounting()
	defer tr.close()
	cfg, _ := ks.config(t, tr)
	m := newManager(t, cfg)
	defer m.Close()
	first, err := m.Token(ctxFor(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &Transport{Manager: m, Base: tr}}
	n, failed, ferr := stream(ctxFor(t, 12*time.Second), c, ks.authURL, 50*time.Millisecond, nil)
	if failed != 0 {
		t.Errorf("%d of %d requests failed across token expiries: %v", failed, n, ferr)
	}
	if u := tr.status(http.StatusUnauthorized); u != 0 {
		t.Errorf("%d requests got 401: the token was not refreshed before expiry", u)
	}
	if !time.Now().After(first.ExpiresAt().Add(realTokenExpiration)) {
		t.Fatalf("stream ended before two token lifetimes had passed")
	}
	st := m.Stats()
	if st.Renewals.Expiry < 2 || st.Renewals.Unauthorized != 0 || st.Failures.Total() != 0 {
		t.Errorf("stats = %+v", st)
	}
	t.Logf("%d requests, 0 failed, %d proactive refreshes, last latency %v", n, st.Renewals.Expiry, st.LastLatency)
}

// A token revoked mid-stream: one 401, one renewal, the request succeeds.
func realRevokedMidStream(t *testing.T, ks *keystoneInstance) {
	tr := newCounting()
	defer tr.close()
	cfg, _ := ks.config(t, tr)
	cfg.RefreshFraction = 0.9 // no proactive refresh during this 3 s stream
	cfg.Jitter = 0
	m := newManager(t, cfg)
	defer m.Close()
	if _, err := m.Token(ctxFor(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &Transport{Manager: m, Base: tr}}
	var revokeErr error
	revoked := Token{}
	n, failed, ferr := stream(ctxFor(t, 3*time.Second), c, ks.authURL, 50*time.Millisecond, func(n int) {
		if n != 10 {
			return
		}
		tok, _ := m.Token(context.Background())
		req, _ := http.NewRequest(http.MethodDelete, ks.authURL+"/auth/tokens", nil)
		req.Header.Set("X-Auth-Token", tok.Secret())
		req.Header.Set("X-Subject-Token", tok.Secret())
		resp, err := tr.next.RoundTrip(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				err = fmt.Errorf("revoke: HTTP %d", resp.StatusCode)
			}
		}
		revokeErr, revoked = err, tok
	})
	if revokeErr != nil || revoked.IsZero() {
		t.Fatalf("revocation: %v", revokeErr)
	}
	if failed != 0 {
		t.Errorf("%d of %d requests failed: %v", failed, n, ferr)
	}
	if u := tr.status(http.StatusUnauthorized); u != 1 {
		t.Errorf("%d requests got 401, want exactly 1 (the first after revocation)", u)
	}
	st := m.Stats()
	if st.Renewals.Unauthorized != 1 || len(tr.authTimes()) != 2 {
		t.Errorf("stats = %+v, %d token requests; want one 401 renewal", st, len(tr.authTimes()))
	}
	if now, _ := m.Token(context.Background()); now.Secret() == revoked.Secret() {
		t.Error("still holding the revoked token")
	}
	t.Logf("401 -> valid token in %v (%d requests, 0 failed)", st.LastLatency, n)
}

// Wrong password: every caller gets ErrAuthFailed; Keystone is asked no
// faster than the spacing (250 ms doubling, capped at 1 s).
func realWrongPassword(t *testing.T, ks *keystoneInstance) {
	tr := newCounting()
	defer tr.close()
	cfg, logs := ks.config(t, tr)
	cfg.Password = "definitely-wrong"
	m := newManager(t, cfg)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := m.Token(ctxFor(t, 4*time.Second))
			errs <- err
		})
	}
	wg.Wait()
	_ = m.Close()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrAuthFailed) {
			t.Errorf("caller got %v, want ErrAuthFailed", err)
		}
	}
	times := tr.authTimes()
	nominal := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}
	for i := 1; i < len(times); i++ {
		if d, want := times[i].Sub(times[i-1]), nominal[min(i-1, 2)]; d < want {
			t.Errorf("attempt %d came %v after the previous one, want >= %v", i, d, want)
		}
	}
	// 0, 0.25, 0.75, 1.75, 2.75, 3.75 s: at most 6 attempts in 4 s.
	if len(times) < 2 || len(times) > 6 {
		t.Errorf("%d token requests in 4 s, want 2..6", len(times))
	}
	if n := logs.count("level=ERROR", "credentials rejected"); n < len(times)-1 {
		t.Errorf("%d 'credentials rejected' log lines for %d attempts", n, len(times))
	}
	t.Logf("%d token requests in 4 s, intervals ok", len(times))
}

// Keystone stopped: typed error (ErrUnavailable), failure spacing; recovery
// once it is back.
func realStopAndRestart(t *testing.T, ks *keystoneInstance) {
	tr := newCounting()
	defer tr.close()
	cfg, _ := ks.config(t, tr)
	m := newManager(t, cfg)
	defer m.Close()
	tok, err := m.Token(ctxFor(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ks.stop(t)
	restarted := false
	defer func() {
		if !restarted {
			ks.start(t)
		}
	}()
	_, err = m.Renew(ctxFor(t, 10*time.Second), tok)
	var e *Error
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &e) || e.Retry.IsZero() {
		t.Fatalf("Renew with Keystone stopped: %v, want ErrUnavailable", err)
	}
	if _, err2 := m.Renew(context.Background(), tok); err2 != error(e) {
		t.Errorf("Renew within the spacing asked Keystone again: %v", err2)
	}
	ks.start(t)
	restarted = true
	back := time.Now()
	ctx := ctxFor(t, 15*time.Second)
	var fresh Token
	for {
		fresh, err = m.Renew(ctx, tok)
		if err == nil || ctx.Err() != nil {
			break
		}
		if !errors.As(err, &e) {
			t.Fatalf("untyped error: %v", err)
		}
		// Wait for the time the Manager itself announced.
		select {
		case <-time.After(time.Until(e.Retry)):
		case <-ctx.Done():
		}
	}
	if err != nil {
		t.Fatalf("no recovery 15 s after Keystone came back: %v", err)
	}
	if fresh.Secret() == tok.Secret() {
		t.Fatal("no new token")
	}
	c := &http.Client{Transport: &Transport{Manager: m, Base: tr}}
	if n, failed, err := stream(ctxFor(t, 300*time.Millisecond), c, ks.authURL, 50*time.Millisecond, nil); failed != 0 || n == 0 {
		t.Errorf("after recovery %d/%d requests failed: %v", failed, n, err)
	}
	t.Logf("recovered %v after Keystone was back; stats %+v", time.Since(back), m.Stats())
}
