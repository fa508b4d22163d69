package agent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// memNet is a tiny in-memory packet network: one agent conn and fake
// hosts addressed by their client address.
type memNet struct {
	mu    sync.Mutex
	in    chan wire.Packet
	hosts map[netip.AddrPort]*fakeHost
	done  chan struct{}
	once  sync.Once
}

func newMemNet() *memNet {
	return &memNet{in: make(chan wire.Packet, 256), hosts: map[netip.AddrPort]*fakeHost{}, done: make(chan struct{})}
}

func (n *memNet) Recv(ctx context.Context) (wire.Packet, error) {
	select {
	case p := <-n.in:
		return p, nil
	case <-n.done:
		return wire.Packet{}, net.ErrClosed
	case <-ctx.Done():
		return wire.Packet{}, ctx.Err()
	}
}

func (n *memNet) Send(ctx context.Context, nw mtce.Network, to netip.AddrPort, m *wire.Message) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	d, err := wire.Decode(b)
	if err != nil {
		return err
	}
	n.mu.Lock()
	h := n.hosts[to]
	n.mu.Unlock()
	if h == nil {
		return nil // lost, as UDP
	}
	select {
	case h.in <- d.Message:
	default:
	}
	return nil
}

func (n *memNet) Close() error {
	n.once.Do(func() { close(n.done) })
	return nil
}

// deliver sends a message to the agent as from.
func (n *memNet) deliver(from netip.AddrPort, m wire.Message) {
	b, err := m.MarshalBinary()
	if err != nil {
		panic(err)
	}
	d, err := wire.Decode(b)
	if err != nil {
		panic(err)
	}
	select {
	case n.in <- wire.Packet{Network: mtce.NetworkMgmt, From: from, Datagram: d}:
	case <-n.done:
	}
}

// fakeHost is a minimal mtcClient: mtcAlive every 5 s, ACKs, host
// services results, reboot/reset (silent for boot, then back with a reset
// uptime), locked/unlocked files.
type fakeHost struct {
	t        *testing.T
	net      *memNet
	name     string
	mac      string
	addr     netip.AddrPort
	subf     string
	boot     time.Duration
	in       chan wire.Message
	mu       sync.Mutex
	locked   bool
	bootedAt time.Time
	down     bool // rebooting or stopped: no mtcAlive, no answers
	mute     bool // alive but never answers commands
	stopped  bool // sends nothing at all
	flags    wire.AliveFlags
	failSvc  bool // services failure flag after each boot
	cmds     []wire.Command
	seq      uint32
}

func (n *memNet) addHost(t *testing.T, h sim.Host, locked bool) *fakeHost {
	f := &fakeHost{
		t: t, net: n, name: h.Hostname, mac: h.MgmtMAC, subf: h.Subfunctions,
		addr: netip.AddrPortFrom(netip.MustParseAddr(h.MgmtIP), 2118),
		boot: 30 * time.Second, in: make(chan wire.Message, 64), locked: locked, bootedAt: time.Now().Add(-time.Hour),
		flags: wire.FlagConfigured | wire.FlagMainGoEnabled,
	}
	n.mu.Lock()
	n.hosts[f.addr] = f
	n.mu.Unlock()
	return f
}

func (f *fakeHost) set(fn func(f *fakeHost)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeHost) commands() []wire.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wire.Command(nil), f.cmds...)
}

func (f *fakeHost) alive() {
	f.mu.Lock()
	if f.down || f.stopped {
		f.mu.Unlock()
		return
	}
	f.seq++
	flags := f.flags
	if f.locked {
		flags |= wire.FlagLocked
	}
	if f.failSvc {
		flags |= wire.FlagMainServicesFail
	}
	al := wire.Alive{Uptime: uint32(time.Since(f.bootedAt) / time.Second), Health: wire.HealthHealthy, Flags: flags, Sequence: f.seq,
		Identity: wire.Identity{Hostname: f.name, Personality: f.subf, MgmtIP: f.addr.Addr().String(), MgmtMAC: f.mac, Interface: mtce.NetworkMgmt}}
	f.mu.Unlock()
	m, err := wire.NewMtcAlive(al)
	if err != nil {
		f.t.Error(err)
		return
	}
	f.net.deliver(f.addr, m)
}

// run serves until ctx ends.
func (f *fakeHost) run(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var up <-chan time.Time
	f.alive()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.net.done:
			return
		case <-tick.C:
			f.alive()
		case <-up:
			up = nil
			f.set(func(f *fakeHost) { f.down = false; f.bootedAt = time.Now(); f.seq = 0 }) // a new client: sequence from 1 (K.2)
			f.alive()
		case m := <-f.in:
			f.mu.Lock()
			f.cmds = append(f.cmds, m.Command)
			skip := f.down || f.mute || f.stopped
			f.mu.Unlock()
			if skip || (m.MAC != "" && m.MAC != f.mac) {
				continue
			}
			if _, _, ok := m.Command.HostServices(); ok {
				ack, _ := wire.NewHostServicesAck(&m, mtce.Pass)
				f.net.deliver(f.addr, ack)
				res, _ := wire.NewHostServicesResult(wire.Result{Kind: wire.ResultPass, Command: wire.CmdNone})
				f.net.deliver(f.addr, res)
				continue
			}
			ack, err := wire.NewAck(&m)
			if err != nil {
				continue
			}
			f.net.deliver(f.addr, ack)
			switch m.Command {
			case wire.CmdLocked:
				f.set(func(f *fakeHost) { f.locked = true })
			case wire.CmdUnlocked:
				f.set(func(f *fakeHost) { f.locked = false })
			case wire.CmdReboot, wire.CmdReset:
				f.set(func(f *fakeHost) { f.down = true })
				up = time.After(f.boot)
			}
		}
	}
}

// memListener is an in-memory net.Listener (never accepts: tests use
// Request, the in-process path).
type memListener struct {
	once sync.Once
	done chan struct{}
}

func newMemListener() *memListener { return &memListener{done: make(chan struct{})} }

func (l *memListener) Accept() (net.Conn, error) {
	<-l.done
	return nil, net.ErrClosed
}
func (l *memListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *memListener) Addr() net.Addr { return memAddr{} }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem:2112" }

// simConfig is a sim with controller-0 (the agent's host), controller-1
// and worker-0, all unlocked-enabled-available.
func simConfig() sim.Config {
	sc := sim.DefaultConfig()
	sc.Hosts = sim.Inventory(3)
	sc.SwactDelay = 6 * time.Second
	return sc
}

// testConfig points an agent at s, with an in-memory packet network.
func testConfig(t *testing.T, s *sim.Sim, n *memNet) Config {
	t.Helper()
	root, err := filepath.Abs("testdata/root")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(Paths{Root: root, Hostname: "controller-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := sim.DefaultConfig()
	ep := s.MemoryEndpoints()
	c.SysInvURL, c.VIMURL, c.BarbicanURL, c.SMURL = ep.SysInv, ep.VIM, ep.Barbican, ep.SM
	c.KeystoneURL = ep.AuthURL()
	c.Keystone.AuthURL = ep.AuthURL()
	c.Keystone.Username, c.Keystone.Password = sc.Username, "Sim-Passw0rd!"
	c.Keystone.ProjectName, c.Keystone.UserDomainName, c.Keystone.ProjectDomainName = sc.ProjectName, sc.UserDomainName, sc.ProjectDomainName
	c.HTTPTransport = s.Transport()
	c.EventListener = newMemListener()
	c.Packets = n
	if os.Getenv("AGENT_TEST_LOG") != "" {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c.Addresses = map[mtce.Network]string{mtce.NetworkMgmt: "192.168.204.2", mtce.NetworkClusterHost: "192.168.206.2"}
	return c
}

// started runs a in the background and waits for Ready.
func started(t *testing.T, a *Agent) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-errc
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	select {
	case <-a.Ready():
	case err := <-errc:
		cancel()
		once.Do(func() { runErr = err })
		t.Fatalf("Run returned before ready: %v", err)
	}
	return stop
}

func hostRec(a *Agent, name string) HostStatus {
	for _, h := range a.Hosts() {
		if h.Name == name {
			return h
		}
	}
	return HostStatus{}
}

var errTimeoutWaiting = errors.New("timed out")

// waitUntil checks cond whenever the bubble is idle, every second of
// virtual time, up to d. Only inside a synctest bubble.
func waitUntil(d time.Duration, cond func() bool) error {
	end := time.Now().Add(d)
	for synctest.Wait(); !cond(); synctest.Wait() {
		if time.Now().After(end) {
			return errTimeoutWaiting
		}
		time.Sleep(time.Second)
	}
	return nil
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
