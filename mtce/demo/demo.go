package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"opendev.org/starlingx/metal-go/mtce/sim"
)

// Credentials of the simulated Keystone (written into mtc.ini).
const (
	simUser     = "admin"
	simPassword = "Demo-Passw0rd!"
	simProject  = "admin"
	bmcUser     = "root"
	bmcPassword = "Demo-BMC-pw1"
)

// Demo is a whole simulated StarlingX system in one process. Create it
// with New, start it with Start, drive it with Action, CorruptToken and
// FailScripts, watch it with Snapshot and Config.OnEvent, and release it
// with Close.
type Demo struct {
	cfg      Config
	log      *slog.Logger
	dir      string
	floating netip.Addr
	hosts    []*host
	byName   map[string]*host
	sim      *sim.Sim
	ep       sim.Endpoints

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // host loops, clients, agents, swact moves, monitor

	ev *eventQueue

	startOnce sync.Once
	startErr  error
	startMu   sync.Mutex // held by start; Close waits for it
	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	closing bool
	started bool
	cur     *agentRun // the agent on the active controller (nil between two)
	swacts  []SwactTiming
	moving  bool // a swact's agent move is running
}

// New validates cfg, picks the hosts' loopback addresses and creates the
// temporary root directory. It starts nothing; Close removes the
// directory.
func New(cfg Config) (*Demo, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Demo{cfg: cfg, log: log, byName: map[string]*host{}}
	base, err := pickBase(cfg.Base, 2+cfg.Workers)
	if err != nil {
		return nil, err
	}
	d.floating = addr(base, 2)
	dir, err := os.MkdirTemp(cfg.Dir, "mtce-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.dir = dir
	n := 2 + cfg.Workers
	for i := range n {
		h := newHost(d, i, base)
		d.hosts = append(d.hosts, h)
		d.byName[h.name] = h
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.ev = newEventQueue(cfg.OnEvent)
	return d, nil
}

// addr is base.x.y.n.
func addr(base netip.Addr, n int) netip.Addr {
	b := base.As4()
	b[3] = byte(n)
	return netip.AddrFrom4(b)
}

// pickBase chooses the 127.x.y.0/24 of the demo's addresses and checks
// that the floating controller address and the first host's can be bound
// on the ports the demo uses.
func pickBase(want netip.Addr, hosts int) (netip.Addr, error) {
	if hosts > 80 {
		return netip.Addr{}, fmt.Errorf("%w: too many hosts (%d)", ErrConfig, hosts)
	}
	tries := 8
	if want.IsValid() {
		tries = 1
	}
	var last error
	for range tries {
		base := want
		if !base.IsValid() {
			base = netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), 0})
		}
		err := probe(addr(base, 2), agentPort, eventPort)
		if err == nil {
			err = probe(addr(base, 10), clientMgmtPort, 0)
		}
		if err == nil {
			return base, nil
		}
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			return netip.Addr{}, fmt.Errorf("%w: %v", ErrNoLoopbackAlias, err)
		}
		last = err
	}
	return netip.Addr{}, fmt.Errorf("demo: no free loopback addresses: %w", last)
}

// probe binds a UDP port and, when tcpPort is not 0, a TCP port on a, and
// releases them.
func probe(a netip.Addr, udpPort, tcpPort int) error {
	u, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(udpPort))))
	if err != nil {
		return err
	}
	u.Close()
	if tcpPort == 0 {
		return nil
	}
	l, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(tcpPort))))
	if err != nil {
		return err
	}
	return l.Close()
}

// Dir is the demo's temporary root directory (one subdirectory per host).
func (d *Demo) Dir() string { return d.dir }

// Controller is the floating controller address the agent binds.
func (d *Demo) Controller() netip.Addr { return d.floating }

// Sim is the simulated platform (for tests and the prompt's extras).
func (d *Demo) Sim() *sim.Sim { return d.sim }

// HostNames lists the hosts, controllers first.
func (d *Demo) HostNames() []string {
	out := make([]string, len(d.hosts))
	for i, h := range d.hosts {
		out[i] = h.name
	}
	return out
}

// inventory is SysInv's initial host list: every host unlocked, enabled
// and available, with its loopback addresses and a provisioned Redfish
// BMC whose password Barbican keeps under the host's UUID.
func (d *Demo) inventory() ([]sim.Host, map[string]sim.Secret) {
	var hs []sim.Host
	secrets := map[string]sim.Secret{}
	for _, h := range d.hosts {
		sh := sim.Host{
			ID: int64(h.idx + 1), UUID: h.uuid, Hostname: h.name,
			Personality: "worker", Subfunctions: h.subfunctions,
			Administrative: "unlocked", Operational: "enabled", Availability: "available",
			SubfunctionOper: "disabled", SubfunctionAvail: "not-installed",
			MgmtIP: h.mgmt.String(), MgmtMAC: h.mac, ClusterHostIP: h.cluster.String(),
			BMType: "redfish", BMIP: h.bmcAddr, BMUsername: bmcUser,
			InvProvision: "provisioned",
		}
		if h.controller {
			sh.Personality = "controller"
		}
		if h.aio {
			sh.SubfunctionOper, sh.SubfunctionAvail = "enabled", "available"
		}
		hs = append(hs, sh)
		secrets[h.uuid] = bmcPassword
	}
	return hs, secrets
}

// Start starts the simulated platform on loopback, boots every host
// (its client starts, the configuration steps and goenabled run, then
// the auto-start), and starts the agent on the active controller. It
// returns once the agent is ready, or with the first error (the caller
// still calls Close). A second call returns the first one's result.
func (d *Demo) Start(ctx context.Context) error {
	d.startOnce.Do(func() { d.startErr = d.start(ctx) })
	return d.startErr
}

func (d *Demo) start(ctx context.Context) error {
	d.startMu.Lock()
	defer d.startMu.Unlock()
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return ErrClosed
	}
	d.mu.Unlock()
	inv, secrets := d.inventory()
	sc := sim.DefaultConfig()
	sc.Seed = uint64(time.Now().UnixNano())
	sc.Username, sc.Password, sc.ProjectName = simUser, simPassword, simProject
	sc.Hosts = inv
	sc.Secrets = secrets
	sc.ActiveController = "controller-0"
	sc.SwactDelay = d.cfg.SwactDelay
	sc.OnSwact = d.onSwact
	sc.MtcAgentURL = "http://" + netip.AddrPortFrom(d.floating, eventPort).String()
	sc.Logger = d.log.With("component", "sim")
	sc.CloseTimeout = 3 * time.Second
	s, err := sim.New(sc)
	if err != nil {
		return fmt.Errorf("demo: simulator: %w", err)
	}
	d.sim = s
	if d.ep, err = s.Listen(); err != nil {
		return fmt.Errorf("demo: simulator: %w", err)
	}
	for _, h := range d.hosts {
		if err := writeHostTree(d, h); err != nil {
			return fmt.Errorf("demo: %s: %w", h.name, err)
		}
		if h.controller {
			if err := writeAgentTree(d, h); err != nil {
				return fmt.Errorf("demo: %s: %w", h.name, err)
			}
		}
	}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return ErrClosed
	}
	d.started = true
	for _, h := range d.hosts {
		d.wg.Go(func() { h.loop(d.ctx) })
	}
	d.wg.Go(func() { d.monitor(d.ctx) })
	d.mu.Unlock()
	d.emit(Event{Kind: KindDemo, Text: fmt.Sprintf("system %s: %d hosts, controller (floating) %s, root %s", d.cfg.System, len(d.hosts), d.floating, d.dir)})
	for _, h := range d.hosts {
		h.send(cmdBoot)
	}
	r, err := d.startAgent(d.byName[s.ActiveController()])
	if err != nil {
		return err
	}
	select {
	case <-r.ready:
		return nil
	case <-r.done:
		return fmt.Errorf("demo: agent on %s ended at start-up: %w", r.host.name, r.err)
	case <-ctx.Done():
		return ctx.Err()
	case <-d.ctx.Done():
		return ErrClosed
	}
}

// Close stops the agent (it drains as on SIGTERM), every client (a
// running script set is let finish for a short bound, then killed), the
// simulator and the event delivery, waits for all of them and removes
// the temporary directory. It is idempotent and safe from any goroutine
// except Config.OnEvent's.
func (d *Demo) Close() error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closing = true
		d.mu.Unlock()
		d.cancel()
		d.startMu.Lock() // a Start in progress ends promptly once d.ctx is done
		//nolint:staticcheck // the lock only orders Close after start
		d.startMu.Unlock()
		d.wg.Wait()
		var errs []error
		if d.sim != nil {
			errs = append(errs, d.sim.Close())
		}
		for _, h := range d.hosts {
			h.bmc.Close()
		}
		d.ev.close()
		errs = append(errs, os.RemoveAll(d.dir))
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// host returns the named host.
func (d *Demo) host(name string) (*host, error) {
	h, ok := d.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (hosts: %v)", ErrUnknownHost, name, d.HostNames())
	}
	return h, nil
}

func (d *Demo) ready() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closing:
		return ErrClosed
	case !d.started:
		return ErrNotStarted
	}
	return nil
}

// Action sends a user's host action (lock, unlock, force-lock, reboot,
// reset, power-on, power-off, swact, ...) the way "system host-<action>"
// does: to the simulated SysInv, which checks it and hands it to the
// agent's event API. The agent's refusal is the returned error
// (errors.Is sim.ErrRejected).
func (d *Demo) Action(ctx context.Context, hostname, action string) error {
	if err := d.ready(); err != nil {
		return err
	}
	if _, err := d.host(hostname); err != nil {
		return err
	}
	d.emit(Event{Kind: KindAction, Host: hostname, Text: "user: system host-" + action + " " + hostname})
	if action == "swact" || action == "force-swact" {
		d.mu.Lock()
		d.swacts = append(d.swacts, SwactTiming{From: hostname, Requested: time.Now()})
		d.mu.Unlock()
	}
	err := d.sim.UserAction(ctx, hostname, action)
	if err != nil {
		d.emit(Event{Kind: KindAction, Host: hostname, Text: action + " refused: " + err.Error()})
	} else {
		d.emit(Event{Kind: KindAction, Host: hostname, Text: action + " accepted"})
	}
	return err
}

// Swact asks for a swact of the active controller.
func (d *Demo) Swact(ctx context.Context) error {
	if err := d.ready(); err != nil {
		return err
	}
	return d.Action(ctx, d.sim.ActiveController(), "swact")
}

// CorruptToken corrupts the newest Keystone token (the agent's), as
// StarlingX's FIT corrupt_token does: its next use gets 401 and the agent
// must renew it. It reports whether there was a token to corrupt.
func (d *Demo) CorruptToken() bool {
	if d.ready() != nil {
		return false
	}
	ok := d.sim.CorruptToken()
	if ok {
		d.emit(Event{Kind: KindToken, Text: "keystone: newest token corrupted (FIT corrupt_token)"})
	}
	return ok
}

// FailScripts makes the host's start scripts fail (on) or pass again.
func (d *Demo) FailScripts(hostname string, on bool) error {
	h, err := d.host(hostname)
	if err != nil {
		return err
	}
	p := h.path(failFlag)
	if on {
		err = os.WriteFile(p, nil, 0o644)
		d.emit(Event{Kind: KindServices, Host: hostname, Text: "start scripts will fail (fail-scripts)"})
	} else {
		err = os.Remove(p)
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		d.emit(Event{Kind: KindServices, Host: hostname, Text: "start scripts pass again"})
	}
	return err
}

// ActiveController is SM's active controller.
func (d *Demo) ActiveController() string {
	if d.sim == nil {
		return ""
	}
	return d.sim.ActiveController()
}

// Swacts returns the timings of every swact asked for through Action.
// InProgress is SysInv's own record of the task's arrival.
func (d *Demo) Swacts() []SwactTiming {
	d.mu.Lock()
	out := slices.Clone(d.swacts)
	d.mu.Unlock()
	for i := range out {
		s := &out[i]
		if d.sim == nil || s.Requested.IsZero() {
			continue
		}
		for _, c := range d.sim.TaskHistory(s.From) {
			if c.Task == "Swact: In-Progress" && !c.Time.Before(s.Requested) {
				s.InProgress = c.Time
				break
			}
		}
	}
	return out
}
