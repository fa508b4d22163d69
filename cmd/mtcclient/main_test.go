package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/cmd/internal/cli"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// The binary built once for the loopback tests, and sentinel executables
// named systemctl and wipedisk first in PATH: if the daemon ran either,
// the run fails (CI runs as root).
var (
	binary      string
	sentinelDir string
)

const sentinelMark = "SENTINEL-RAN"

type testMain struct{ m *testing.M }

func (tm testMain) Run() int {
	code := tm.m.Run()
	if b, err := os.ReadFile(filepath.Join(sentinelDir, sentinelMark)); err == nil {
		fmt.Fprintf(os.Stderr, "FAIL: a sentinel executable was run:\n%s", b)
		code = 1
	}
	_ = os.RemoveAll(sentinelDir)
	return code
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mtcclient-cmd-test-")
	if err != nil {
		panic(err)
	}
	sentinelDir = dir
	for _, name := range []string{"systemctl", "wipedisk"} {
		script := fmt.Sprintf("#!/bin/sh\necho \"%s $*\" >> '%s'\nexit 1\n", name, filepath.Join(dir, sentinelMark))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			panic(err)
		}
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	binary = filepath.Join(dir, "mtcclient")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	goleak.VerifyTestMain(testMain{m})
}

func TestHelpVersionAndFlagErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := mainWith([]string{"--version"}, &out, &errb); code != cli.ExitOK || !strings.HasPrefix(out.String(), "mtcclient ") {
		t.Errorf("--version: %d %q", code, out.String())
	}
	out.Reset()
	errb.Reset()
	if code := mainWith([]string{"--help"}, &out, &errb); code != cli.ExitOK || !strings.Contains(errb.String(), "-actions") {
		t.Errorf("--help: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := mainWith([]string{"--bogus"}, &out, &errb); code != cli.ExitUsage {
		t.Errorf("--bogus: %d", code)
	}
}

func TestConfigErrorsAreOneLine(t *testing.T) {
	root := writeTree(t, 2101, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-root", filepath.Join(root, "missing")}, "mtc.conf"},
		{[]string{"-root", root, "-mgmt-ip", "nope"}, "--mgmt-ip"},
		{[]string{"-root", root, "-mgmt-ip", "127.0.0.1", "-mgmt-mac", "zz"}, "--mgmt-mac"},
		{[]string{"-root", root, "-mgmt-ip", "127.0.0.1", "-mgmt-mac", "08:00:27:aa:bb:cc", "-controller", "127.0.0.1", "-actions", "maybe"}, "--actions"},
		{[]string{"-root", root, "-mgmt-ip", "127.0.0.1", "-mgmt-mac", "08:00:27:aa:bb:cc", "-controller", "127.0.0.1", "-metrics", "0.0.0.0:1"}, "--metrics"},
		{[]string{"-root", root, "-mgmt-ip", "127.0.0.1", "-mgmt-mac", "08:00:27:aa:bb:cc", "-controller", "127.0.0.1", "-cryptsetup", "cryptsetup"}, "Cryptsetup"},
	} {
		var out, errb bytes.Buffer
		code := mainWith(tc.args, &out, &errb)
		lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
		last := lines[len(lines)-1]
		if code != cli.ExitConfig || !strings.HasPrefix(last, "mtcclient: ") || !strings.Contains(last, tc.want) {
			t.Errorf("%v: exit %d, last line %q; want 78 and a line naming %s", tc.args, code, last, tc.want)
		}
	}
}

// writeTree creates a standard controller's files: mtc.conf pointing the
// agent port at agentPort, one controller script (script body), and
// the flags that let goenabled and auto-start run.
func writeTree(t *testing.T, agentPort int, script string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"/etc/mtc.conf":                          fmt.Sprintf("[agent]\nmtc_agent_port = %d\n[client]\nmtc_rx_mgmnt_port = 2118\nmtc_rx_clstr_port = 2115\n[timeouts]\nhost_services_timeout = 30\nfailsafe_shutdown_delay = 120\n", agentPort),
		"/etc/platform/platform.conf":            "nodetype=controller\nsubfunction=controller\nsystem_type=standard\nsystem_mode=duplex\nmanagement_interface=lo\n",
		"/etc/platform/.initial_config_complete": "",
		"/var/run/.goenabled":                    "",
		"/var/run/.config_pass":                  "",
	}
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"/etc/services.d/controller", "/etc/goenabled.d"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if script != "" {
		for _, p := range []string{"/etc/services.d/controller/c1", "/etc/goenabled.d/check"} {
			body := script
			if strings.Contains(p, "goenabled") {
				body = "exit 0\n"
			}
			full := filepath.Join(root, p)
			if err := os.WriteFile(full, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(full, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// agent is the test's side of the UDP conversation.
type agent struct {
	t    *testing.T
	conn *net.UDPConn
}

func (a *agent) port() int { return a.conn.LocalAddr().(*net.UDPAddr).Port }

// next returns the next message from the client whose command is one of
// cmds, skipping others, within d.
func (a *agent) next(d time.Duration, cmds ...wire.Command) (wire.Message, netip.AddrPort) {
	a.t.Helper()
	deadline := time.Now().Add(d)
	buf := make([]byte, 2048)
	for {
		if err := a.conn.SetReadDeadline(deadline); err != nil {
			a.t.Fatal(err)
		}
		n, from, err := a.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			a.t.Fatalf("waiting for %v: %v", cmds, err)
		}
		dg, err := wire.Decode(buf[:n])
		if err != nil || dg.Kind != wire.KindMessage {
			continue
		}
		for _, c := range cmds {
			if dg.Message.Command == c {
				return dg.Message, from
			}
		}
	}
}

func (a *agent) must(m wire.Message, err error) wire.Message {
	a.t.Helper()
	if err != nil {
		a.t.Fatal(err)
	}
	return m
}

func (a *agent) send(to netip.AddrPort, m wire.Message) {
	a.t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.conn.WriteToUDPAddrPort(b, to); err != nil {
		a.t.Fatal(err)
	}
}

// syncBuffer is a goroutine-safe stderr capture.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The binary over loopback: goenabled and auto-start with a real script,
// mtcAlive, a reboot ACKed and refused (the sentinel systemctl must not
// run), a stop in flight at SIGTERM finishing within the drain, exit 0.
func TestLoopbackDaemon(t *testing.T) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	ag := &agent{t: t, conn: udp}
	mac := "08:00:27:aa:bb:cc"
	root := writeTree(t, ag.port(), "[ \"$1\" = stop ] && sleep 1\nexit 0\n")

	cmd := exec.Command(binary, "-root", root, "-hostname", "controller-0", "-mgmt-ip", "127.0.0.2", "-mgmt-mac", mac,
		"-controller", "127.0.0.1", "-listen-mgmt", "127.0.0.2:0", "-metrics", "127.0.0.1:0",
		"-trust-current-user", "-drain", "10s", "-log-level", "debug")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	defer func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", stderr.String())
		}
	}()

	// mtcAlive tells us the client's address (the client is 127.0.0.2, the
	// agent 127.0.0.1, so the addressed check applies); the auto-start
	// result follows.
	m, from := ag.next(10*time.Second, wire.CmdMtcAlive)
	alive, err := m.MtcAlive()
	if err != nil || alive.Identity.Hostname != "controller-0" || alive.Identity.MgmtMAC != mac || alive.Flags&wire.FlagConfigured == 0 {
		t.Fatalf("mtcAlive %+v %v", alive, err)
	}
	res, _ := ag.next(10*time.Second, wire.CmdHostServicesResult)
	if res.Buf != "start controller host services" || res.Parm[0] != uint32(mtce.Pass) {
		t.Fatalf("auto-start result %q %d", res.Buf, res.Parm[0])
	}

	// The metrics endpoint (its address is in the "ready" log line).
	logs := stderr.String()
	i := strings.Index(logs, "metrics=")
	if i < 0 {
		t.Fatal("no metrics address logged")
	}
	addr := strings.Fields(logs[i+len("metrics="):])[0]
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`mtcclient_mtcalive_sent_total{network="Mgmnt"}`, `mtcclient_script_sets_total{command="start controller host services",outcome="pass"} 1`,
		`mtcclient_results_sent_total{status="pass"} 1`, `mtcclient_goenabled_runs_total{outcome="pass",tests="main"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	tgt := wire.Target{MAC: mac, Address: "127.0.0.1", Network: mtce.NetworkMgmt}
	ag.send(from, ag.must(wire.NewReboot(tgt)))
	if ack, _ := ag.next(5*time.Second, wire.CmdReboot); ack.Signature != wire.SigResponse {
		t.Fatalf("reboot ACK %+v", ack)
	}
	// A reboot for another host is dropped silently.
	ag.send(from, ag.must(wire.NewReboot(wire.Target{MAC: "08:00:27:00:00:01", Address: "127.0.0.1", Network: mtce.NetworkMgmt})))

	// A stop (1 s script) in flight at SIGTERM: its result still comes.
	ag.send(from, ag.must(wire.NewHostServicesRequest(mtce.FunctionController, false, tgt)))
	if ack, _ := ag.next(5*time.Second, wire.CmdStopControllerServices); ack.Num != 2 || ack.Parm[1] != wire.EnhancedHostServices {
		t.Fatalf("stop ACK %+v", ack)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res, _ = ag.next(10*time.Second, wire.CmdHostServicesResult)
	if res.Buf != "stop controller host services" {
		t.Errorf("stop result during drain %q", res.Buf)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("exit: %v", waitErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not exit after SIGTERM")
	}
	logs = stderr.String()
	if !strings.Contains(logs, "action refused") {
		t.Errorf("no refusal logged")
	}
	if strings.Count(logs, "command received") != 2 {
		t.Errorf("commands received: %d, want 2 (the other host's reboot dropped)", strings.Count(logs, "command received"))
	}
	if b, err := os.ReadFile(filepath.Join(sentinelDir, sentinelMark)); err == nil {
		t.Fatalf("sentinel ran: %s", b)
	}
	if _, err := os.Stat(filepath.Join(root, "/var/run/goenabled")); err != nil {
		t.Errorf("goenabled flag: %v", err)
	}
}
