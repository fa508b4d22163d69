package client

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// Real processes, wall time, short timeouts: hostsvc's ExecLauncher runs
// small shell scripts from t.TempDir().

func writeExec(t testing.TB, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func execConfig(t *testing.T, h hostSpec) (string, *fakeConn, Config) {
	root := writeRoot(t, h)
	conn := newFakeConn()
	cfg := testConfig(t, root, conn, nil) // nil: hostsvc's ExecLauncher
	cfg.PollInterval = 10 * time.Millisecond
	cfg.AliveFirst, cfg.ReadyPeriod = time.Hour, time.Hour
	return root, conn, cfg
}

func results(ss []sent) []sent { return filterCmd(ss, wire.CmdHostServicesResult) }

func TestExecHostServices(t *testing.T) {
	h := standardController()
	h.Files = []string{hostsvc.NodeLockedFile}
	root, conn, cfg := execConfig(t, h)
	out := filepath.Join(t.TempDir(), "args")
	writeExec(t, filepath.Join(root, "/etc/services.d/controller/c1"), "echo \"$*\" >> "+out+"\n")
	writeExec(t, filepath.Join(root, "/etc/services.d/controller/c2"), "[ \"$1\" = stop ] && exit 7\nexit 0\n")
	start(t, cfg)

	conn.inject(t, mtce.NetworkMgmt, agentFrom, mustMsg(t)(wire.NewHostServicesRequest(mtce.FunctionController, true, target(mtce.NetworkMgmt))))
	got := conn.waitSent(t, 10*time.Second, func(ss []sent) bool { return len(results(ss)) == 1 })
	r, _ := results(got)[0].Msg.HostServicesResult()
	if r.Status != mtce.Pass || r.Text != "start controller host services" {
		t.Errorf("start result %+v", r)
	}
	if b, _ := os.ReadFile(out); string(b) != "start both\n" {
		t.Errorf("script args %q", b)
	}

	conn.take()
	conn.inject(t, mtce.NetworkMgmt, agentFrom, mustMsg(t)(wire.NewHostServicesRequest(mtce.FunctionController, false, target(mtce.NetworkMgmt))))
	got = conn.waitSent(t, 10*time.Second, func(ss []sent) bool { return len(results(ss)) == 1 })
	r, _ = results(got)[0].Msg.HostServicesResult()
	c2 := "/etc/services.d/controller/c2"
	if r.Status != mtce.FailOperation || !strings.HasPrefix(c2+" failed ; rc:7", r.Text) {
		t.Errorf("stop result %+v", r)
	}
}

func TestExecGoEnabledAndAutoStart(t *testing.T) {
	h := standardController()
	h.Files = []string{ConfigCompleteFile, GoEnabledGateFile}
	root, conn, cfg := execConfig(t, h)
	writeExec(t, filepath.Join(root, DefaultGoEnabledDir, "check"), "exit 0\n")
	c, _ := start(t, cfg)
	got := conn.waitSent(t, 10*time.Second, func(ss []sent) bool { return len(results(ss)) == 1 })
	if got := results(got)[0].Msg.Buf; got != "start controller host services" {
		t.Errorf("auto-start result %q", got)
	}
	if !c.exists(hostsvc.GoEnabledFile) {
		t.Error("goenabled flag not written")
	}
}

// SIGTERM with a script set in flight: the set is let run up to the drain
// bound, then its process group (including a background child) is killed.
func TestExecDrainKillsGroup(t *testing.T) {
	h := standardController()
	h.Files = []string{hostsvc.NodeLockedFile}
	root, conn, cfg := execConfig(t, h)
	fifo := filepath.Join(t.TempDir(), "pid")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	writeExec(t, filepath.Join(root, "/etc/services.d/controller/c1"), "sleep 60 &\necho $! > "+fifo+"\nwait\n")
	cfg.Drain = 300 * time.Millisecond
	_, stop := start(t, cfg)
	conn.inject(t, mtce.NetworkMgmt, agentFrom, mustMsg(t)(wire.NewHostServicesRequest(mtce.FunctionController, false, target(mtce.NetworkMgmt))))
	// The background child's pid arrives through the FIFO once it exists.
	pidc := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		pidc <- strings.TrimSpace(string(b))
	}()
	var pid string
	select {
	case pid = <-pidc:
	case <-time.After(10 * time.Second):
		t.Fatal("script did not start")
	}
	t0 := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("drain took %v, want about 300ms", d)
	}
	if _, err := os.Stat("/proc/" + pid); err == nil {
		if b, _ := os.ReadFile("/proc/" + pid + "/stat"); !strings.Contains(string(b), ") Z") {
			t.Errorf("background child %s still alive after drain", pid)
		}
	}
	if res := results(conn.take()); len(res) != 1 || res[0].Msg.Parm[0] != uint32(mtce.FailOperation) {
		t.Errorf("results %+v, want one failure", res)
	}
}

// SystemActions executes its programs directly, without a shell, with
// the StarlingX arguments. The programs here are fakes; the sentinels
// named systemctl and wipedisk must never run.
func TestSystemActionsExec(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	fake := filepath.Join(dir, "fake-systemctl")
	writeExec(t, fake, "echo \"$0 $*\" >> "+log+"\n")
	wipe := filepath.Join(dir, "fake-wipedisk")
	writeExec(t, wipe, "echo \"$0 $*\" >> "+log+"\n")
	a := SystemActions(SystemCommands{Systemctl: fake, Wipedisk: wipe})
	ctx := context.Background()
	for _, f := range []func(context.Context) error{a.Reboot, a.ForceReboot, a.Wipedisk} {
		if err := f(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(log)
	want := fake + " reboot\n" + fake + " reboot --force\n" + wipe + " --force\n"
	if string(b) != want {
		t.Errorf("executed:\n%s\nwant:\n%s", b, want)
	}
	// A failing program is reported.
	bad := filepath.Join(dir, "bad")
	writeExec(t, bad, "echo nope; exit 3\n")
	if err := SystemActions(SystemCommands{Systemctl: bad}).Reboot(ctx); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("failing action: %v", err)
	}
	checkSentinel(t)
}

// The sentinels are what PATH finds for systemctl and wipedisk in this
// test binary, so an accidental real action would be caught.
func TestSentinelsGuardPath(t *testing.T) {
	for _, name := range []string{"systemctl", "wipedisk"} {
		p, err := exec.LookPath(name)
		if err != nil || filepath.Dir(p) != sentinelDir {
			t.Errorf("%s resolves to %q (%v), want the sentinel in %s", name, p, err, sentinelDir)
		}
	}
	// The default commands are refused: SystemActions is never the zero
	// Actions, and DefaultConfig carries no actions.
	if a := DefaultConfig().Actions; a.Reboot != nil || a.ForceReboot != nil || a.Wipedisk != nil {
		t.Error("DefaultConfig has actions")
	}
	checkSentinel(t)
}

// With Packets nil the client binds a real wire.Transport on Endpoints
// (127.0.0.1:0 here, never the fixed ports) and Addr reports it.
func TestRealTransportAddr(t *testing.T) {
	h := standardController()
	h.Files = []string{hostsvc.NodeLockedFile}
	root := writeRoot(t, h)
	cfg := testConfig(t, root, nil, newFakeLauncher())
	cfg.Packets = nil
	cfg.Endpoints = []wire.Endpoint{{Network: mtce.NetworkMgmt, Addr: "127.0.0.1:0"}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if a := c.Addr(mtce.NetworkMgmt); !a.Addr().IsLoopback() || a.Port() == 0 {
		t.Errorf("Addr = %v", a)
	}
	if a := c.Addr(mtce.NetworkClusterHost); a.IsValid() {
		t.Errorf("cluster Addr = %v", a)
	}
}

// The LUKS check executes Cryptsetup directly with "status
// luks_encrypted_vault"; its exit code decides; a hung check is killed
// with its process group at LUKSTimeout.
func TestExecLUKSCheck(t *testing.T) {
	_, _, cfg := execConfig(t, standardController())
	dir := t.TempDir()
	args, rc := filepath.Join(dir, "args"), filepath.Join(dir, "rc")
	fifo := filepath.Join(dir, "pid")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Cryptsetup = filepath.Join(dir, "cryptsetup")
	writeExec(t, cfg.Cryptsetup, "echo \"$*\" >> "+args+"\n[ -f "+rc+".hang ] && { sleep 60 & echo $! > "+fifo+"; wait; }\nexit $(cat "+rc+")\n")
	cfg.LUKSTimeout = 300 * time.Millisecond
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, code := range []string{"0", "2"} {
		if err := os.WriteFile(rc, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		failed, why := c.luksCheck(ctx)
		if failed != (code != "0") {
			t.Errorf("exit %s: failed=%v (%s)", code, failed, why)
		}
	}
	if b, _ := os.ReadFile(args); string(b) != "status luks_encrypted_vault\nstatus luks_encrypted_vault\n" {
		t.Errorf("arguments %q", b)
	}
	writeFile(t, rc+".hang")
	pidc := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		pidc <- strings.TrimSpace(string(b))
	}()
	t0 := time.Now()
	failed, why := c.luksCheck(ctx)
	if !failed || !strings.Contains(why, "timeout") {
		t.Errorf("hung check: failed=%v (%s)", failed, why)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("hung check took %v, want about 300ms", d)
	}
	pid := <-pidc
	if _, err := os.Stat("/proc/" + pid); err == nil {
		if b, _ := os.ReadFile("/proc/" + pid + "/stat"); !strings.Contains(string(b), ") Z") {
			t.Errorf("the check's background child %s still alive", pid)
		}
	}
}
