package client

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/config"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// sent is one message the client sent.
type sent struct {
	Network mtce.Network
	To      netip.AddrPort
	Msg     wire.Message
	At      time.Time
}

// fakeConn is an in-memory PacketConn: the test injects packets and reads
// what the client sent. Every message goes through the wire codec, so the
// test sees what a UDP peer would.
type fakeConn struct {
	in     chan wire.Packet
	mu     sync.Mutex
	out    []sent
	closed chan struct{}
	once   sync.Once
	sig    chan struct{} // signalled on every Send
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan wire.Packet, 64), closed: make(chan struct{}), sig: make(chan struct{}, 1)}
}

// waitSent waits, in wall time, until pred holds for everything sent so
// far (not taken), and returns it.
func (f *fakeConn) waitSent(t testing.TB, d time.Duration, pred func([]sent) bool) []sent {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		f.mu.Lock()
		out := slices.Clone(f.out)
		f.mu.Unlock()
		if pred(out) {
			return out
		}
		select {
		case <-f.sig:
		case <-timer.C:
			t.Fatalf("condition not met within %v; sent: %+v", d, out)
		}
	}
}

func (f *fakeConn) Recv(ctx context.Context) (wire.Packet, error) {
	select {
	case p := <-f.in:
		return p, nil
	case <-f.closed:
		return wire.Packet{}, wire.ErrClosed
	case <-ctx.Done():
		return wire.Packet{}, ctx.Err()
	}
}

func (f *fakeConn) Send(_ context.Context, n mtce.Network, to netip.AddrPort, m *wire.Message) error {
	select {
	case <-f.closed:
		return wire.ErrClosed
	default:
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	d, err := wire.Decode(b)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.out = append(f.out, sent{Network: n, To: to, Msg: d.Message, At: time.Now()})
	f.mu.Unlock()
	select {
	case f.sig <- struct{}{}:
	default:
	}
	return nil
}

func (f *fakeConn) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// inject delivers an agent message as received on network n from from.
func (f *fakeConn) inject(t testing.TB, n mtce.Network, from netip.AddrPort, m wire.Message) {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	f.in <- wire.Packet{Network: n, From: from, Datagram: d}
}

// take returns and forgets everything sent so far.
func (f *fakeConn) take() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.out
	f.out = nil
	return out
}

func filterCmd(ss []sent, cmd wire.Command) []sent {
	var out []sent
	for _, s := range ss {
		if s.Msg.Command == cmd {
			out = append(out, s)
		}
	}
	return out
}

// --- fake launcher (virtual time) ---

type fakeBehavior struct {
	Duration time.Duration
	Code     int
	Hang     bool
}

type fakeLauncher struct {
	mu        sync.Mutex
	behaviors map[string]fakeBehavior // by base name
	launches  []string                // paths in launch order
	kills     []string
	live      int
}

func newFakeLauncher() *fakeLauncher {
	return &fakeLauncher{behaviors: map[string]fakeBehavior{}}
}

func (f *fakeLauncher) set(name string, b fakeBehavior) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.behaviors[name] = b
}

func (f *fakeLauncher) Launch(spec hostsvc.LaunchSpec) (hostsvc.Process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.behaviors[filepath.Base(spec.Path)]
	f.launches = append(f.launches, spec.Path)
	f.live++
	return &fakeProcess{f: f, b: b, path: spec.Path, killed: make(chan struct{})}, nil
}

func (f *fakeLauncher) paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.launches...)
}

func (f *fakeLauncher) liveCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

type fakeProcess struct {
	f      *fakeLauncher
	b      fakeBehavior
	path   string
	once   sync.Once
	killed chan struct{}
}

func (p *fakeProcess) Wait() (int, error) {
	var done <-chan time.Time
	if !p.b.Hang {
		t := time.NewTimer(p.b.Duration)
		defer t.Stop()
		done = t.C
	}
	code := p.b.Code
	select {
	case <-done:
	case <-p.killed:
		code = 128 + 9
	}
	p.f.mu.Lock()
	p.f.live--
	p.f.mu.Unlock()
	return code, nil
}

func (p *fakeProcess) Kill() error {
	p.once.Do(func() {
		p.f.mu.Lock()
		p.f.kills = append(p.f.kills, p.path)
		p.f.mu.Unlock()
		close(p.killed)
	})
	return nil
}

// --- test host ---

var (
	agentMgmt  = netip.MustParseAddr("192.168.204.2")
	agentClstr = []netip.Addr{netip.MustParseAddr("192.168.206.3"), netip.MustParseAddr("192.168.206.4")}
	hostMgmt   = netip.MustParseAddr("192.168.204.10")
	hostClstr  = netip.MustParseAddr("192.168.206.10")
	hostPxe    = netip.MustParseAddr("169.254.202.10")
	hostMAC    = "08:00:27:aa:bb:cc"
	agentFrom  = netip.AddrPortFrom(agentMgmt, 40000)
)

const mtcConf = `[agent]
mtc_agent_port = 2101
mtc_rx_pxeboot_port = 2102
[client]
mtc_rx_mgmnt_port = 2118
mtc_rx_clstr_port = 2115
mtc_rx_pxeboot_port = 2119
[timeouts]
host_services_timeout = 300
goenabled_timeout = 600
failsafe_shutdown_delay = 120
`

// hostSpec describes a test host's files.
type hostSpec struct {
	Subfunction string // platform.conf subfunction
	SystemType  string // "standard" or "All-in-one"
	SystemMode  string // "duplex", "simplex", ...
	Scripts     map[string][]string
	GoEnabled   []string // tests in /etc/goenabled.d
	Files       []string // flag files to create (relative)
}

func aio() hostSpec {
	return hostSpec{Subfunction: "controller,worker", SystemType: "All-in-one", SystemMode: "duplex",
		Scripts: map[string][]string{"controller": {"c1", "c2"}, "worker": {"w1"}}}
}

func standardController() hostSpec {
	return hostSpec{Subfunction: "controller", SystemType: "standard", SystemMode: "duplex",
		Scripts: map[string][]string{"controller": {"c1"}, "worker": {}}}
}

// writeRoot creates the host's file tree under a new temporary root.
func writeRoot(t testing.TB, h hostSpec) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, content string, mode os.FileMode) {
		p := filepath.Join(root, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(content), mode))
		must(os.Chmod(p, mode))
	}
	write("/etc/mtc.conf", mtcConf, 0o644)
	pc := fmt.Sprintf("nodetype=%s\nsubfunction=%s\nsystem_type=%s\nsystem_mode=%s\nmanagement_interface=lo\n",
		strings.Split(h.Subfunction, ",")[0], h.Subfunction, h.SystemType, h.SystemMode)
	write("/etc/platform/platform.conf", pc, 0o644)
	for fn, names := range h.Scripts {
		dir := filepath.Join(root, "/etc/services.d", fn)
		must(os.MkdirAll(dir, 0o755))
		must(os.Chmod(dir, 0o755))
		for _, n := range names {
			write(filepath.Join("/etc/services.d", fn, n), "#!/bin/sh\nexit 0\n", 0o755)
		}
	}
	for _, n := range h.GoEnabled {
		write(filepath.Join(DefaultGoEnabledDir, n), "#!/bin/sh\nexit 0\n", 0o755)
	}
	for _, f := range h.Files {
		write(f, "", 0o644)
	}
	return root
}

// testConfig builds a Config for the host tree at root, with the fake conn
// and launcher.
func testConfig(t testing.TB, root string, conn PacketConn, l hostsvc.Launcher) Config {
	t.Helper()
	cc := config.Config{Root: root, Role: config.RoleClient}
	mtc, err := config.LoadMtc(cc)
	if err != nil {
		t.Fatal(err)
	}
	plat, err := config.LoadPlatform(cc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Root = root
	cfg.Hostname = "controller-0"
	cfg.Mtc = mtc
	cfg.Platform = plat
	cfg.MgmtIP = hostMgmt
	cfg.MgmtMAC = hostMAC
	cfg.Controller = agentMgmt
	cfg.Packets = conn
	cfg.Launcher = l
	cfg.TrustCurrentUser = true
	cfg.Uptime = func() time.Duration { return 1234 * time.Second }
	if testing.Verbose() {
		cfg.Logger = testLogger(t)
	}
	return cfg
}

// start runs a client in the current goroutine's bubble and returns a stop
// function that ends Run, waits for it and closes the client.
func start(t testing.TB, cfg Config) (*Client, func() error) {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	<-c.Ready()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-errc
			_ = c.Close()
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return c, stop
}

func target(n mtce.Network) wire.Target {
	return wire.Target{MAC: hostMAC, Address: agentMgmt.String(), Network: n}
}

func mustMsg(t testing.TB) func(wire.Message, error) wire.Message {
	return func(m wire.Message, err error) wire.Message {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}
