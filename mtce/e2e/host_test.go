package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce/client"
	"opendev.org/starlingx/metal-go/mtce/config"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

// Simulated boot timing (virtual).
const (
	bootDelay   = 40 * time.Second // power-on to mtcClient start
	configStep  = 5 * time.Second  // client start to .config_pass and .goenabled
	subfStep    = 5 * time.Second  // then to .worker_config_complete and .goenabled_subf
	firstUptime = 2 * time.Hour    // the uptime of boot 1 (running when the test starts)
)

// The host-services scripts and goenabled test of every simulated host.
var (
	controllerScripts = []string{"c1.sh", "c2.sh"}
	workerScripts     = []string{"w1.sh"}
	goenabledTests    = []string{"e2e-goenabled.sh"}
)

// hostCmd is what happens to a simulated machine.
type hostCmd int

const (
	cmdReboot hostCmd = iota // client stopped, /var/run emptied, boot
)

// simHost is one simulated machine: its root directory, its fake
// launcher and its real mtcClient, restarted at every boot.
type simHost struct {
	sys           *system
	name, mac     string
	mgmt, cluster netip.Addr
	root          string
	launcher      *fakeLauncher
	cmds          chan hostCmd

	mu           sync.Mutex
	boots        int
	bootAt       []time.Time // start of each boot (power-on), index boot-1
	cli          *client.Client
	cliCancel    context.CancelFunc
	cliDone      chan struct{}
	goingDown    int // the boot whose client already asked for a reboot
	hookReboots  int // reboots asked by the client's actions (the agent's commands)
	spontaneous  int // reboots asked by the test
	clientErrors []error
}

// newSimHost writes the host's persistent tree under a new temporary
// root. mtc.conf is the sample's; platform.conf an AIO duplex controller.
func newSimHost(t *testing.T, s *system, h sim.Host) *simHost {
	t.Helper()
	sh := &simHost{
		sys: s, name: h.Hostname, mac: h.MgmtMAC,
		mgmt:     netip.MustParseAddr(h.MgmtIP),
		cluster:  netip.MustParseAddr(h.ClusterHostIP),
		root:     t.TempDir(),
		launcher: newFakeLauncher(),
		cmds:     make(chan hostCmd, 8),
	}
	mtcConf, err := os.ReadFile(filepath.Join(sampleRoot, "etc/mtc.conf"))
	if err != nil {
		t.Fatal(err)
	}
	platform, err := os.ReadFile(filepath.Join(sampleRoot, "etc/platform/platform.conf"))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(writeFile(sh.root, "etc/mtc.conf", string(mtcConf), 0o644))
	must(writeFile(sh.root, "etc/platform/platform.conf", string(platform), 0o644))
	for dir, list := range map[string][]string{"etc/services.d/controller": controllerScripts, "etc/services.d/worker": workerScripts, "etc/goenabled.d": goenabledTests} {
		for _, n := range list {
			must(writeFile(sh.root, filepath.Join(dir, n), "#!/bin/sh\n# never executed: the fake launcher plays it\nexit 0\n", 0o755))
		}
		must(os.Chmod(filepath.Join(sh.root, dir), 0o755))
	}
	for _, dir := range []string{"var/persist/mtc", "var/run"} {
		must(os.MkdirAll(filepath.Join(sh.root, dir), 0o755))
	}
	// Installed and configured once: kept across reboots.
	must(writeFile(sh.root, client.ConfigCompleteFile, "", 0o644))
	return sh
}

// writeFile writes text to root+rel, creating the directories, with
// exactly mode (whatever the umask).
func writeFile(root, rel, text string, mode os.FileMode) error {
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

func (h *simHost) path(rel string) string { return filepath.Join(h.root, rel) }

func (h *simHost) exists(rel string) bool {
	_, err := os.Stat(h.path(rel))
	return err == nil
}

// Boots returns how many times the host booted (1 = running at the start).
func (h *simHost) Boots() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.boots
}

// HookReboots is how many reboots the client's actions asked for.
func (h *simHost) HookReboots() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hookReboots
}

// BootAt returns the power-on time of boot n.
func (h *simHost) BootAt(n int) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bootAt[n-1]
}

// Up reports whether a client runs.
func (h *simHost) Up() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cli != nil
}

// Reboot is a reboot the agent did not ask for (a kernel panic, a
// watchdog, someone at the console).
func (h *simHost) Reboot() {
	h.mu.Lock()
	h.spontaneous++
	h.mu.Unlock()
	h.cmds <- cmdReboot
}

// runFirst starts boot 1: the host has been up for firstUptime, fully
// configured and goenabled (unless locked, its client auto-starts its
// services at process start, as mtcClient does).
func (h *simHost) runFirst(ctx context.Context) error {
	for _, f := range []string{client.ConfigPassFile, client.GoEnabledGateFile, hostsvc.GoEnabledFile,
		client.WorkerConfigFile, client.GoEnabledSubfGateFile, hostsvc.GoEnabledSubfFile} {
		if err := writeFile(h.root, f, "", 0o644); err != nil {
			return err
		}
	}
	h.mu.Lock()
	h.boots = 1
	h.bootAt = append(h.bootAt, time.Now().Add(-firstUptime))
	h.mu.Unlock()
	h.launcher.setBoot(1)
	return h.startClient(ctx, 1)
}

// loop is the machine: it plays reboots in order and stops the client
// when ctx ends.
func (h *simHost) loop(ctx context.Context) {
	defer h.shutdown()
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-h.cmds:
			if c == cmdReboot {
				h.shutdown()
				h.boot(ctx)
			}
		}
	}
}

// shutdown stops the client (a running script set is let finish for
// the client's Drain, then killed) and closes its sockets.
func (h *simHost) shutdown() {
	h.mu.Lock()
	cli, cancel, done := h.cli, h.cliCancel, h.cliDone
	h.cli, h.cliCancel, h.cliDone = nil, nil, nil
	h.mu.Unlock()
	if cli == nil {
		return
	}
	cancel()
	<-done
	_ = cli.Close()
}

// boot plays a boot: /var/run emptied, bootDelay, a fresh client, then
// the configuration steps of a real boot, so goenabled and the
// auto-start run for real.
func (h *simHost) boot(ctx context.Context) {
	h.mu.Lock()
	h.boots++
	n := h.boots
	h.bootAt = append(h.bootAt, time.Now())
	h.mu.Unlock()
	h.launcher.setBoot(n)
	if err := os.RemoveAll(h.path("var/run")); err != nil {
		h.fail(err)
	}
	if err := os.MkdirAll(h.path("var/run"), 0o755); err != nil {
		h.fail(err)
	}
	if !sleepCtx(ctx, bootDelay) {
		return
	}
	if err := h.startClient(ctx, n); err != nil {
		h.fail(err)
		return
	}
	// What puppet and the init scripts do while the host comes up.
	if !sleepCtx(ctx, configStep) {
		return
	}
	for _, f := range []string{client.ConfigPassFile, client.GoEnabledGateFile} {
		if err := writeFile(h.root, f, "", 0o644); err != nil {
			h.fail(err)
		}
	}
	if !sleepCtx(ctx, subfStep) {
		return
	}
	for _, f := range []string{client.WorkerConfigFile, client.GoEnabledSubfGateFile} {
		if err := writeFile(h.root, f, "", 0o644); err != nil {
			h.fail(err)
		}
	}
}

func (h *simHost) fail(err error) {
	h.mu.Lock()
	h.clientErrors = append(h.clientErrors, err)
	h.mu.Unlock()
}

// startClient creates and runs a fresh mtcClient for boot n, on new
// sockets at the host's mgmt:2118 and cluster-host:2115.
func (h *simHost) startClient(ctx context.Context, n int) error {
	cc := config.Config{Root: h.root, Role: config.RoleClient}
	m, err := config.LoadMtc(cc)
	if err != nil {
		return err
	}
	pl, err := config.LoadPlatform(cc)
	if err != nil {
		return err
	}
	c := client.DefaultConfig()
	c.Root = h.root
	c.Hostname = h.name
	c.Mtc, c.Platform = m, pl
	c.MgmtIP, c.MgmtMAC, c.ClusterHostIP = h.mgmt, h.mac, h.cluster
	c.Controller = floatingIP
	c.ControllerClusterHost = controllerClusterIPs
	c.Launcher = h.launcher
	c.TrustCurrentUser = true
	c.Drain = 5 * time.Second
	c.Actions = client.Actions{
		Reboot:      h.action(n),
		ForceReboot: h.action(n),
		Wipedisk:    h.action(n),
		Failsafe:    -1,
	}
	bootAt := h.BootAt(n)
	c.Uptime = func() time.Duration { return time.Since(bootAt) }
	c.Packets = h.sys.net.Agent(netip.AddrPortFrom(h.mgmt, clientMgmtPort), netip.AddrPortFrom(h.cluster, clientClusterPort))
	if l := logger(h.sys.t); l != nil {
		c.Logger = l.With("host", h.name, "boot", n)
	}
	cli, err := client.New(c)
	if err != nil {
		_ = c.Packets.Close()
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := cli.Run(cctx); err != nil {
			h.fail(fmt.Errorf("boot %d: Run: %w", n, err))
		}
	}()
	<-cli.Ready()
	h.mu.Lock()
	h.cli, h.cliCancel, h.cliDone = cli, cancel, done
	h.mu.Unlock()
	return nil
}

// action is the client's reboot, reset and wipedisk of boot n. It runs
// on the client's own goroutine after the ACK, so it only queues the
// reboot. The agent sends a reboot on every network, so the client may
// act twice: as on a real machine, a reboot under way makes the second a
// no-op.
func (h *simHost) action(n int) func(context.Context) error {
	return func(context.Context) error {
		h.mu.Lock()
		if h.goingDown == n {
			h.mu.Unlock()
			return nil
		}
		h.goingDown = n
		h.hookReboots++
		h.mu.Unlock()
		h.cmds <- cmdReboot
		return nil
	}
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
