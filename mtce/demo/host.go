package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/bmc/bmcsim"
	"opendev.org/starlingx/metal-go/mtce/client"
	"opendev.org/starlingx/metal-go/mtce/config"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

// hostCmd is what happens to a simulated machine.
type hostCmd int

const (
	cmdBoot     hostCmd = iota // power on / first boot
	cmdReboot                  // reboot or reset: client stopped, /var/run emptied, boot
	cmdPowerOff                // client stopped, host down
)

func (c hostCmd) String() string {
	return [...]string{"boot", "reboot", "power-off"}[c]
}

// ServiceResult is one host-services result a client sent.
type ServiceResult struct {
	Boot    int    // the host's boot number (1 = the demo's start)
	Command string // "start controller", "stop worker", ...
	Outcome string // "pass", "failed", ...
	At      time.Time
}

// host is one simulated machine: its root directory, its mtcClient, its
// BMC.
type host struct {
	d                        *Demo
	idx                      int
	name, uuid, mac          string
	controller, aio          bool
	subfunctions             string
	mgmt, cluster            netip.Addr
	bmcAddr                  string
	root                     string
	bmc                      *bmcsim.Server
	cmds                     chan hostCmd
	mu                       sync.Mutex
	cli                      *client.Client
	cliCancel                context.CancelFunc
	cliDone                  chan struct{}
	up                       bool
	state                    string // "down", "booting", "up"
	bootAt                   time.Time
	boots                    int
	services                 string
	results                  []ServiceResult
	lastPower                string
	lastResets               int // the emulator's boot count last seen
	bmcResets, clientActions int
	goingDown                int // the boot whose client already asked for a reboot
}

func newHost(d *Demo, i int, base netip.Addr) *host {
	name := fmt.Sprintf("worker-%d", i-2)
	if i < 2 {
		name = fmt.Sprintf("controller-%d", i)
	}
	h := &host{
		d: d, idx: i, name: name, uuid: sim.NameUUID(name),
		mac:        fmt.Sprintf("08:00:27:de:%02x:%02x", base.As4()[2], 10+i),
		controller: i < 2, aio: d.cfg.System == SystemAIODuplex && i < 2,
		mgmt: addr(base, 10+i), cluster: addr(base, 100+i),
		bmcAddr: addr(base, 200+i).String(),
		root:    filepath.Join(d.dir, name),
		cmds:    make(chan hostCmd, 8),
		state:   "down",
	}
	switch {
	case h.aio:
		h.subfunctions = "controller,worker"
	case h.controller:
		h.subfunctions = "controller"
	default:
		h.subfunctions = "worker"
	}
	h.bmc, _ = bmcsim.New(bmcsim.Config{Username: bmcUser, Password: bmcPassword, PowerState: "On"})
	h.lastPower = "On"
	return h
}

// functions are the host-services function directories of the host.
func (h *host) functions() []string {
	switch {
	case h.aio:
		return []string{"controller", "worker"}
	case h.controller:
		return []string{"controller"}
	}
	return []string{"worker"}
}

func (h *host) path(rel string) string { return filepath.Join(h.root, rel) }

// send queues a command for the host's loop.
func (h *host) send(c hostCmd) {
	select {
	case h.cmds <- c:
	default: // a burst of power commands: the queued ones do it
	}
}

// loop is the machine: it plays boots, reboots and power-offs in order,
// and stops the client when the demo closes.
func (h *host) loop(ctx context.Context) {
	defer h.shutdown("demo closing")
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-h.cmds:
			switch c {
			case cmdBoot:
				h.mu.Lock()
				up := h.state != "down"
				h.mu.Unlock()
				if !up {
					h.boot(ctx)
				}
			case cmdReboot:
				if !h.minUptime(ctx) {
					return
				}
				h.shutdown("reboot")
				h.boot(ctx)
			case cmdPowerOff:
				h.shutdown("power off")
			}
		}
	}
}

// minUptime delays a reboot until the client has sent its second
// mtcAlive. The agent tells a reboot by the uptime going down (or by the
// host going offline, which a one-second boot never shows): a host that
// rebooted before its second mtcAlive would report the same uptime as
// after its previous boot, and the agent would wait for it until its boot
// timeout. A real boot takes minutes, so this never happens on a real
// system; here it costs a reboot requested within 6 s of a boot at most
// that much.
func (h *host) minUptime(ctx context.Context) bool {
	h.mu.Lock()
	at, up := h.bootAt, h.state == "up"
	h.mu.Unlock()
	if !up {
		return true
	}
	floor := client.DefaultAliveFirst + client.DefaultAlivePeriod + 200*time.Millisecond
	wait := time.Until(at.Add(floor))
	if wait <= 0 {
		return true
	}
	h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: fmt.Sprintf("shutting down (%v: a boot lasts until its second mtcAlive, so that the agent sees the uptime go down)", wait.Round(100*time.Millisecond))})
	return sleepCtx(ctx, wait)
}

// shutdown stops the client (its running scripts are let finish for a
// short bound, then killed) and marks the host down.
func (h *host) shutdown(why string) {
	h.mu.Lock()
	cli, cancel, done := h.cli, h.cliCancel, h.cliDone
	h.cli, h.cliCancel, h.cliDone = nil, nil, nil
	wasUp := h.state != "down"
	h.state, h.up, h.services = "down", false, ""
	h.mu.Unlock()
	if cli != nil {
		cancel()
		<-done
		_ = cli.Close()
	}
	if wasUp && why != "demo closing" {
		h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: "host down (" + why + "): mtcClient stopped"})
	}
}

// boot plays a boot: /var/run emptied, BootDelay, a fresh client, then
// the configuration steps (config complete and pass, the goenabled gate;
// on AIO the worker configuration and the subfunction gate), so that the
// client's goenabled tests and auto-start run for real.
func (h *host) boot(ctx context.Context) {
	h.mu.Lock()
	h.state = "booting"
	h.boots++
	n := h.boots
	h.mu.Unlock()
	run := h.path("var/run")
	if err := os.RemoveAll(run); err != nil {
		h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: "cannot empty /var/run: " + err.Error()})
	}
	_ = os.MkdirAll(run, 0o755)
	if n > 1 {
		h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: fmt.Sprintf("booting (boot %d; /var/run emptied, /etc/platform and /var/persist kept)", n)})
	}
	if !sleepCtx(ctx, h.d.cfg.BootDelay) {
		return
	}
	if err := h.startClient(ctx, n); err != nil {
		h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: "mtcClient did not start: " + err.Error()})
		h.mu.Lock()
		h.state = "down"
		h.mu.Unlock()
		return
	}
	// What puppet and the init scripts do while the host comes up.
	step := func(files ...string) bool {
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return false
		}
		for _, f := range files {
			if err := writeFile(h.root, f, "", 0o644); err != nil {
				h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: "configuration step: " + err.Error()})
			}
		}
		return true
	}
	if !step(client.ConfigCompleteFile, client.ConfigPassFile, client.GoEnabledGateFile) {
		return
	}
	text := "configured (.initial_config_complete, .config_pass, .goenabled)"
	if h.aio {
		if !step(client.WorkerConfigFile, client.GoEnabledSubfGateFile) {
			return
		}
		text = "configured (.initial_config_complete, .config_pass, .goenabled, .worker_config_complete, .goenabled_subf)"
	}
	h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: text})
}

// startClient creates and runs a fresh mtcClient for boot n.
func (h *host) startClient(ctx context.Context, n int) error {
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
	c.Controller = h.d.floating
	for _, o := range h.d.hosts {
		if o.controller {
			c.ControllerClusterHost = append(c.ControllerClusterHost, o.cluster)
		}
	}
	c.TrustCurrentUser = true
	c.Drain = 3 * time.Second
	// Nothing is done to the real machine: every machine action is a
	// simulated reboot of this host.
	c.Actions = client.Actions{
		Reboot:      h.action(n, "reboot"),
		ForceReboot: h.action(n, "reset"),
		Wipedisk:    h.action(n, "wipedisk"),
		Failsafe:    -1,
	}
	bootAt := time.Now()
	c.Uptime = func() time.Duration { return time.Since(bootAt) + h.d.cfg.BootDelay }
	c.Logger = h.d.log.With("component", "client", "host", h.name)
	c.OnEvent = clientEvents(h, n)
	cli, err := client.New(c)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	h.mu.Lock()
	h.cli, h.cliCancel, h.cliDone = cli, cancel, done
	h.state, h.up, h.bootAt = "up", true, bootAt
	h.mu.Unlock()
	h.d.wg.Go(func() {
		defer close(done)
		_ = cli.Run(cctx)
	})
	h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: fmt.Sprintf("mtcClient started on %s (mgmt %s, cluster-host %s)", h.name, h.mgmt, h.cluster)})
	return nil
}

// action is a client's machine action (reboot, reset, wipedisk) of boot
// n: it is called on the client's own goroutine after the ACK, so it only
// queues the simulated reboot and returns. The agent sends a reboot on
// every network, so the client may act twice; as on a real machine, a
// reboot already under way makes the second one a no-op.
func (h *host) action(n int, kind string) func(context.Context) error {
	return func(context.Context) error {
		h.mu.Lock()
		if h.goingDown == n {
			h.mu.Unlock()
			return nil
		}
		h.goingDown = n
		h.clientActions++
		h.mu.Unlock()
		h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: "mtcClient: " + kind + " (simulated; nothing done to this machine)"})
		h.send(cmdReboot)
		return nil
	}
}

// bmcTransport carries the agent's Redfish requests to the host's
// emulator and plays on the host what they changed.
type bmcTransport struct{ h *host }

func (t bmcTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.h.bmc.Transport().RoundTrip(req)
	t.h.bmcChanged()
	return resp, err
}

// bmcChanged compares the emulator's power state and boot count with
// what the host last saw: a restart or cycle (a boot while On) reboots
// it, Off takes it down, On boots it. A reset type that changes nothing
// ("On" while on, Nmi) does nothing.
func (h *host) bmcChanged() {
	power, resets := h.bmc.PowerState(), len(h.bmc.Boots())
	h.mu.Lock()
	was, n := h.lastPower, h.lastResets
	h.lastPower, h.lastResets = power, resets
	h.mu.Unlock()
	switch {
	case was == "On" && power == "Off":
		h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: "BMC: powered off"})
		h.send(cmdPowerOff)
	case was == "Off" && power == "On":
		h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: "BMC: powered on"})
		h.send(cmdBoot)
	case resets > n && power == "On":
		h.mu.Lock()
		h.bmcResets++
		h.mu.Unlock()
		h.d.emit(Event{Kind: KindBoot, Host: h.name, Text: "BMC: reset"})
		h.send(cmdReboot)
	}
}

// record notes a result sent by boot n's client.
func (h *host) record(n int, r ServiceResult) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Boot = n
	h.results = append(h.results, r)
	h.services = r.Command + " " + r.Outcome
}

func (h *host) setServices(s string) {
	h.mu.Lock()
	h.services = s
	h.mu.Unlock()
}

// Results returns every host-services result the host's clients sent, in
// order.
func (d *Demo) Results(hostname string) []ServiceResult {
	h, err := d.host(hostname)
	if err != nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]ServiceResult(nil), h.results...)
}

// Boots returns how many times the host booted (1 after the demo's start).
func (d *Demo) Boots(hostname string) int {
	h, err := d.host(hostname)
	if err != nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.boots
}

// Flags is the host's current mtcAlive flags (zero while it is down).
func (h *host) flags() string {
	h.mu.Lock()
	cli := h.cli
	h.mu.Unlock()
	if cli == nil {
		return ""
	}
	return cli.Flags().String()
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
