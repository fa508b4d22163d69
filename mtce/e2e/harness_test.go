package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/client"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// sampleRoot is the repository's sample configuration (an AIO duplex
// controller-0): the agent loads it, and each host's mtc.conf and
// platform.conf are copied from it.
const sampleRoot = "../../packaging/sample"

const simPassword = "St8rlingX*"

// Ports of the sample mtc.conf.
const (
	agentPort         = 2101 // [agent] mtc_agent_port
	clientMgmtPort    = 2118 // [client] mtc_rx_mgmnt_port
	clientClusterPort = 2115 // [client] mtc_rx_clstr_port
)

var (
	// floatingIP is the "controller" address; the agent on controller-0
	// binds it on the management network, and controller-0's
	// cluster-host address (controller-0-cluster-host) on that network.
	// Nothing listens on controller-1-cluster-host:2101 (its agent is not
	// running), so that copy of each cluster-host mtcAlive is dropped by
	// the network as to an unknown destination.
	floatingIP           = netip.MustParseAddr("192.168.204.2")
	controllerClusterIPs = []netip.Addr{netip.MustParseAddr("192.168.206.3"), netip.MustParseAddr("192.168.206.4")}
	agentMgmt            = netip.AddrPortFrom(floatingIP, agentPort)
	agentCluster         = netip.AddrPortFrom(controllerClusterIPs[0], agentPort)
	eventAddr            = netip.MustParseAddrPort("127.0.0.1:2112")
)

// The agenttest Conn is each client's UDP too; the recording wrapper is
// the agent's.
var (
	_ client.PacketConn = (*agenttest.Conn)(nil)
	_ agent.PacketConn  = (*recConn)(nil)
)

// aioInventory: two AIO controllers (controller and worker
// subfunctions), unlocked-enabled-available, each with a cluster-host
// address, no BMC.
func aioInventory() []sim.Host {
	hs := sim.Inventory(2)
	for i := range hs {
		hs[i].ClusterHostIP = strings.Replace(hs[i].MgmtIP, "192.168.204.", "192.168.206.", 1)
		hs[i].Subfunctions = "controller,worker"
		hs[i].SubfunctionOper, hs[i].SubfunctionAvail = "enabled", "available"
	}
	return hs
}

func logger(t *testing.T) *slog.Logger {
	if os.Getenv("E2E_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// received is one message the agent received.
type received struct {
	Index   int // position in the agent's receive order
	At      time.Time
	Network mtce.Network
	From    netip.AddrPort
	Host    string // the sender, by source address ("" if unknown)
	Boot    int    // the sender's boot number when it was received
	Msg     wire.Message
}

// recConn is the agent's PacketConn: an agenttest.Conn that records
// every message the agent receives (Addr and Stats are the Conn's).
type recConn struct {
	*agenttest.Conn
	sys *system

	mu  sync.Mutex
	log []received
}

func (c *recConn) Recv(ctx context.Context) (wire.Packet, error) {
	p, err := c.Conn.Recv(ctx)
	if err == nil && p.Kind == wire.KindMessage {
		r := received{At: time.Now(), Network: p.Network, From: p.From, Msg: p.Message}
		if h := c.sys.hostAt(p.From.Addr()); h != nil {
			r.Host, r.Boot = h.name, h.Boots()
		}
		c.mu.Lock()
		r.Index = len(c.log)
		c.log = append(c.log, r)
		c.mu.Unlock()
	}
	return p, err
}

// mark returns the position of the next message the agent will receive:
// a point in its receive order (virtual time does not order the messages
// of one instant).
func (c *recConn) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.log)
}

// messages returns what the agent received from host (any host if ""),
// for which keep holds.
func (c *recConn) messages(host string, keep func(received) bool) []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []received
	for _, r := range c.log {
		if (host == "" || r.Host == host) && keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// result is a host-services result the agent received.
type result struct {
	received
	wire.Result
}

// results returns the host-services results (cmd 21) the agent received
// from host in boot (0: any boot).
func (c *recConn) results(host string, boot int) []result {
	var out []result
	for _, r := range c.messages(host, func(r received) bool {
		return r.Msg.Signature == wire.SigResponse && r.Msg.Command == wire.CmdHostServicesResult && (boot == 0 || r.Boot == boot)
	}) {
		res, err := r.Msg.HostServicesResult()
		if err != nil {
			panic(err)
		}
		out = append(out, result{r, res})
	}
	return out
}

// alives returns the mtcAlive messages the agent received from host in
// boot (0: any boot).
func (c *recConn) alives(host string, boot int) []received {
	return c.messages(host, func(r received) bool {
		return r.Msg.Signature == wire.SigWorker && r.Msg.Command == wire.CmdMtcAlive && (boot == 0 || r.Boot == boot)
	})
}

// system is one virtual-time StarlingX: the simulated platform, the
// in-memory UDP network, the simulated hosts with their real clients, and
// the real agent on controller-0.
type system struct {
	t      *testing.T
	ctx    context.Context
	sim    *sim.Sim
	net    *agenttest.Network
	conn   *recConn
	ln     *agenttest.Listener
	agent  *agent.Agent
	hosts  map[string]*simHost
	order  []*simHost
	runErr chan error
}

// hostAt returns the host with address a (mgmt or cluster-host).
func (s *system) hostAt(a netip.Addr) *simHost {
	for _, h := range s.order {
		if h.mgmt == a || h.cluster == a {
			return h
		}
	}
	return nil
}

// start builds and runs an AIO duplex system inside the calling synctest
// bubble: both hosts running (boot 1), the agent on controller-0, ready.
// before, if set, runs after the hosts are made and before any client
// starts. Cleanup stops everything in order.
func start(t *testing.T, before func(*system)) *system {
	t.Helper()
	s := &system{t: t, ctx: context.Background(), net: agenttest.NewNetwork(), hosts: map[string]*simHost{},
		ln: agenttest.NewListener(eventAddr), runErr: make(chan error, 1)}
	inv := aioInventory()

	sc := sim.DefaultConfig()
	sc.Seed = 13
	sc.Password = simPassword
	sc.Hosts = inv
	sc.MtcAgentURL = "http://" + eventAddr.String()
	sc.MtcAgentTransport = s.ln.Transport()
	sc.Logger = logger(t)
	sm, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	s.sim = sm
	s.conn = &recConn{Conn: s.net.Agent(agentMgmt, agentCluster), sys: s}

	hctx, hcancel := context.WithCancel(context.Background())
	stopAgent := func() {}
	var loops sync.WaitGroup
	t.Cleanup(func() {
		stopAgent()
		if s.agent != nil {
			select {
			case err := <-s.runErr:
				if err != nil {
					t.Errorf("agent Run: %v", err)
				}
			case <-time.After(time.Minute):
				t.Errorf("agent Run did not return within a minute")
			}
		}
		hcancel()
		loops.Wait()
		for _, h := range s.order {
			h.mu.Lock()
			errs := h.clientErrors
			h.mu.Unlock()
			for _, err := range errs {
				t.Errorf("%s: %v", h.name, err)
			}
		}
		if err := sm.Close(); err != nil {
			t.Errorf("sim Close: %v", err)
		}
		s.ln.Close()
		s.conn.Close()
	})

	for _, h := range inv {
		sh := newSimHost(t, s, h)
		s.hosts[h.Hostname] = sh
		s.order = append(s.order, sh)
	}
	if before != nil {
		before(s)
	}
	for _, h := range s.order {
		if err := h.runFirst(hctx); err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		loops.Go(func() { h.loop(hctx) })
	}

	root, err := filepath.Abs(sampleRoot)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.Load(agent.Paths{Root: root, Hostname: "controller-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep := sm.MemoryEndpoints()
	cfg.SysInvURL, cfg.VIMURL, cfg.BarbicanURL, cfg.SMURL = ep.SysInv, ep.VIM, ep.Barbican, ep.SM
	cfg.KeystoneURL = ep.AuthURL()
	cfg.Keystone.AuthURL = ep.AuthURL()
	cfg.Keystone.Username, cfg.Keystone.Password = sc.Username, keystone.Secret(simPassword)
	cfg.Keystone.ProjectName, cfg.Keystone.UserDomainName, cfg.Keystone.ProjectDomainName = sc.ProjectName, sc.UserDomainName, sc.ProjectDomainName
	cfg.Keystone.Region = sc.Region
	cfg.HTTPTransport = sm.Transport()
	cfg.EventListener = s.ln
	cfg.Packets = s.conn
	if l := logger(t); l != nil {
		cfg.Logger = l.With("component", "agent")
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.agent = a
	actx, acancel := context.WithCancel(context.Background())
	stopAgent = acancel
	go func() { s.runErr <- a.Run(actx) }()
	select {
	case <-a.Ready():
	case err := <-s.runErr:
		s.runErr <- err
		t.Fatalf("agent ended before ready: %v", err)
	}
	s.eventually(time.Minute, "both hosts online and enabled, their process-start auto-start done", func() bool {
		for _, h := range s.order {
			if !s.agentHost(h.name).Online || s.states(h.name) != "unlocked-enabled-available" ||
				h.launcher.liveCount() != 0 || len(s.conn.results(h.name, 1)) < 2 {
				return false
			}
		}
		return true
	})
	// Every client started controller then worker services at process
	// start (E.3), one result each.
	for _, h := range s.order {
		if rs := s.conn.results(h.name, 1); len(rs) != 2 || rs[0].Text != startController || rs[1].Text != startWorker {
			t.Fatalf("%s: process-start results %+v", h.name, rs)
		}
	}
	return s
}

// eventually polls cond every virtual second for up to d.
func (s *system) eventually(d time.Duration, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if !time.Now().Before(deadline) {
			s.t.Fatalf("%s: not within %v; %s", what, d, s.describe())
		}
		time.Sleep(time.Second)
	}
}

// during checks cond every virtual second for d.
func (s *system) during(d time.Duration, what string, cond func() bool) {
	s.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if !cond() {
			s.t.Fatalf("%s: broken; %s", what, s.describe())
		}
		time.Sleep(time.Second)
	}
}

func (s *system) simHost(name string) sim.Host {
	s.t.Helper()
	h, ok := s.sim.Host(name)
	if !ok {
		s.t.Fatalf("sim has no host %s", name)
	}
	return h
}

// states is SysInv's "admin-oper-avail" of a host.
func (s *system) states(name string) string {
	h := s.simHost(name)
	return h.Administrative + "-" + h.Operational + "-" + h.Availability
}

func (s *system) subfStates(name string) string {
	h := s.simHost(name)
	return h.SubfunctionOper + "-" + h.SubfunctionAvail
}

func (s *system) agentHost(name string) agent.HostStatus {
	for _, h := range s.agent.Hosts() {
		if h.Name == name {
			return h
		}
	}
	s.t.Fatalf("agent has no host %s", name)
	return agent.HostStatus{}
}

func (s *system) describe() string {
	var b strings.Builder
	for _, h := range s.sim.Hosts() {
		fmt.Fprintf(&b, "\n  %s %s-%s-%s subf %s-%s task %q", h.Hostname, h.Administrative, h.Operational, h.Availability,
			h.SubfunctionOper, h.SubfunctionAvail, h.Task)
	}
	for _, h := range s.agent.Hosts() {
		fmt.Fprintf(&b, "\n  agent %s online=%v flags=%s running=%q ar-off=%v", h.Name, h.Online, h.Flags, h.Running, h.ARDisabled)
	}
	for _, h := range s.order {
		fmt.Fprintf(&b, "\n  %s boots=%d hook-reboots=%d launches=[%s] results=%d", h.name, h.Boots(), h.HookReboots(),
			joined(h.launcher.all()), len(s.conn.results(h.name, 0)))
	}
	return b.String()
}

// action is a user's host action through SysInv, which hands it to the
// agent's event API.
func (s *system) action(host, act string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	if err := s.sim.UserAction(ctx, host, act); err != nil {
		s.t.Fatalf("%s %s: %v", act, host, err)
	}
}

// sendFromAgent sends a command from the agent's own socket (its
// management address) to host's client, addressed with its MAC, as the
// agent's command path builds it.
func (s *system) sendFromAgent(host string, build func(wire.Target) (wire.Message, error)) {
	s.t.Helper()
	h := s.hosts[host]
	m, err := build(wire.Target{MAC: h.mac, Address: floatingIP.String(), Network: mtce.NetworkMgmt})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.conn.Send(s.ctx, mtce.NetworkMgmt, netip.AddrPortFrom(h.mgmt, clientMgmtPort), &m); err != nil {
		s.t.Fatal(err)
	}
}

// taskSeen reports whether host's task was ever set to task.
func (s *system) taskSeen(host string, task mtce.Task) bool {
	for _, c := range s.sim.TaskHistory(host) {
		if c.Task == string(task) {
			return true
		}
	}
	return false
}

func (s *system) tasks(host string) []string {
	var out []string
	for _, c := range s.sim.TaskHistory(host) {
		out = append(out, fmt.Sprint(c))
	}
	return out
}
