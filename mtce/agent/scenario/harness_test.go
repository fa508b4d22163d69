package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// sampleRoot is the repository's sample configuration (an AIO duplex
// controller-0); the harness overrides what a scenario needs.
const sampleRoot = "../../../packaging/sample"

const simPassword = "St8rlingX*"

var (
	agentMgmt    = netip.MustParseAddrPort("192.168.204.2:2101")
	agentCluster = netip.MustParseAddrPort("192.168.206.2:2101")
	eventAddr    = netip.MustParseAddrPort("127.0.0.1:2112")
)

// options shape one scenario's system.
type options struct {
	hosts   []sim.Host                          // inventory (default: standard, 2 controllers + 2 workers)
	aio     bool                                // AIO duplex platform.conf
	simCfg  func(*sim.Config)                   // adjust the simulator
	agentFn func(*agent.Config)                 // adjust the agent
	hostFn  func(string, *agenttest.HostConfig) // adjust a fake host
	before  func(*env)                          // after the Sim is made, before the agent runs
	noWait  bool                                // do not wait for Ready
}

// env is one virtual-time system: the simulated platform, the in-memory
// UDP network with a fake client per inventory host, and the agent.
type env struct {
	t      *testing.T
	ctx    context.Context
	sim    *sim.Sim
	net    *agenttest.Network
	conn   *agenttest.Conn
	ln     *agenttest.Listener
	agent  *agent.Agent
	hosts  map[string]*agenttest.Host
	runErr chan error
	hctx   context.Context
	cancel context.CancelFunc
	opts   options

	stopAgent context.CancelFunc
}

// standardInventory: controller-0/1 and n-2 workers, each with a
// cluster-host address.
func standardInventory(n int) []sim.Host {
	hs := sim.Inventory(n)
	for i := range hs {
		hs[i].ClusterHostIP = strings.Replace(hs[i].MgmtIP, "192.168.204.", "192.168.206.", 1)
	}
	return hs
}

// aioInventory: two AIO controllers (controller and worker
// subfunctions) and n-2 workers.
func aioInventory(n int) []sim.Host {
	hs := standardInventory(n)
	for i := range hs[:2] {
		hs[i].Subfunctions = "controller,worker"
		hs[i].SubfunctionOper, hs[i].SubfunctionAvail = "enabled", "available"
	}
	return hs
}

// hostConfig is the fake client of an inventory host.
func hostConfig(h sim.Host) agenttest.HostConfig {
	p, err := mtce.ParsePersonality(h.Personality)
	if err != nil {
		panic(err)
	}
	c := agenttest.HostConfig{
		Name:         h.Hostname,
		Personality:  p,
		Subfunctions: mtce.FunctionsOf(h.Subfunctions),
		Mgmt:         netip.AddrPortFrom(netip.MustParseAddr(h.MgmtIP), 2118),
		MAC:          h.MgmtMAC,
		AgentMgmt:    agentMgmt,
		Running:      true,
		Uptime:       2 * time.Hour,
		Locked:       h.Administrative == "locked",
	}
	if h.ClusterHostIP != "" {
		c.Cluster = netip.AddrPortFrom(netip.MustParseAddr(h.ClusterHostIP), 2115)
		c.AgentCluster = agentCluster
	}
	return c
}

func logger(t *testing.T) *slog.Logger {
	if os.Getenv("SCENARIO_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// start builds and runs the system; it must be called inside a synctest
// bubble. Cleanup stops everything in order.
func start(t *testing.T, o options) *env {
	t.Helper()
	if o.hosts == nil {
		o.hosts = standardInventory(4)
		if o.aio {
			o.hosts = aioInventory(2)
		}
	}
	e := &env{t: t, ctx: context.Background(), net: agenttest.NewNetwork(), hosts: map[string]*agenttest.Host{},
		ln: agenttest.NewListener(eventAddr), runErr: make(chan error, 1), opts: o}
	e.hctx, e.cancel = context.WithCancel(context.Background())

	sc := sim.DefaultConfig()
	sc.Seed = 12
	sc.Password = simPassword
	sc.Hosts = o.hosts
	sc.MtcAgentURL = "http://" + eventAddr.String()
	sc.MtcAgentTransport = e.ln.Transport()
	sc.Logger = logger(t)
	if o.simCfg != nil {
		o.simCfg(&sc)
	}
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.sim = s
	e.stopAgent = func() {}
	t.Cleanup(func() {
		e.stopAgent()
		if e.agent != nil {
			if err := e.wait(); err != nil {
				t.Errorf("agent Run: %v", err)
			}
		}
		e.cancel()
		for _, h := range e.hosts {
			h.Close()
		}
		if err := s.Close(); err != nil {
			t.Errorf("sim Close: %v", err)
		}
		e.ln.Close()
		if e.conn != nil {
			e.conn.Close()
		}
	})

	for _, h := range o.hosts {
		e.addHost(hostConfig(h))
	}
	e.conn = e.net.Agent(agentMgmt, agentCluster)

	root, err := filepath.Abs(sampleRoot)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.Load(agent.Paths{Root: root, Hostname: "controller-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep := s.MemoryEndpoints()
	cfg.SysInvURL, cfg.VIMURL, cfg.BarbicanURL, cfg.SMURL = ep.SysInv, ep.VIM, ep.Barbican, ep.SM
	cfg.KeystoneURL = ep.AuthURL()
	cfg.Keystone.AuthURL = ep.AuthURL()
	cfg.Keystone.Username, cfg.Keystone.Password = sc.Username, keystone.Secret(simPassword)
	cfg.Keystone.ProjectName, cfg.Keystone.UserDomainName, cfg.Keystone.ProjectDomainName = sc.ProjectName, sc.UserDomainName, sc.ProjectDomainName
	cfg.Keystone.Region = sc.Region
	cfg.HTTPTransport = s.Transport()
	cfg.EventListener = e.ln
	cfg.Packets = e.conn
	cfg.Logger = logger(t)
	if !o.aio {
		cfg.Platform.SystemType = mtce.SystemStandard
		cfg.Platform.SystemTypeValue, cfg.Platform.SystemModeValue = "Standard", ""
		cfg.Platform.Subfunctions, cfg.Platform.Functions = "controller", mtce.FunctionController
	}
	if o.agentFn != nil {
		o.agentFn(&cfg)
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.agent = a
	if o.before != nil {
		o.before(e)
	}
	actx, acancel := context.WithCancel(context.Background())
	e.stopAgent = acancel
	go func() { e.runErr <- a.Run(actx) }()
	if !o.noWait {
		select {
		case <-a.Ready():
		case err := <-e.runErr:
			e.runErr <- err
			t.Fatalf("agent ended before ready: %v", err)
		}
	}
	return e
}

var errPending = errors.New("still running")

// wait returns Run's result once (later calls return nil).
func (e *env) wait() error {
	select {
	case err, ok := <-e.runErr:
		if !ok {
			return nil
		}
		close(e.runErr)
		return err
	case <-time.After(time.Minute):
		return errPending
	}
}

// addHost attaches and runs a fake client.
func (e *env) addHost(c agenttest.HostConfig) *agenttest.Host {
	e.t.Helper()
	if e.opts.hostFn != nil {
		e.opts.hostFn(c.Name, &c)
	}
	h, err := e.net.AddHost(c)
	if err != nil {
		e.t.Fatal(err)
	}
	e.hosts[c.Name] = h
	go h.Run(e.hctx)
	return h
}

// eventually polls cond every virtual second for up to d.
func (e *env) eventually(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if !time.Now().Before(deadline) {
			e.t.Fatalf("%s: not within %v; sim %s", what, d, e.describe())
		}
		time.Sleep(time.Second)
	}
}

// during checks cond every virtual second for d.
func (e *env) during(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if !cond() {
			e.t.Fatalf("%s: broken; sim %s", what, e.describe())
		}
		time.Sleep(time.Second)
	}
}

// simHost returns SysInv's record.
func (e *env) simHost(name string) sim.Host {
	e.t.Helper()
	h, ok := e.sim.Host(name)
	if !ok {
		e.t.Fatalf("sim has no host %s", name)
	}
	return h
}

// states is SysInv's "admin-oper-avail" of a host.
func (e *env) states(name string) string {
	h := e.simHost(name)
	return h.Administrative + "-" + h.Operational + "-" + h.Availability
}

func (e *env) subfStates(name string) string {
	h := e.simHost(name)
	return h.SubfunctionOper + "-" + h.SubfunctionAvail
}

func (e *env) agentHost(name string) agent.HostStatus {
	for _, h := range e.agent.Hosts() {
		if h.Name == name {
			return h
		}
	}
	e.t.Fatalf("agent has no host %s", name)
	return agent.HostStatus{}
}

func (e *env) describe() string {
	var b strings.Builder
	for _, h := range e.sim.Hosts() {
		fmt.Fprintf(&b, "\n  %s %s-%s-%s subf %s-%s task %q", h.Hostname, h.Administrative, h.Operational, h.Availability,
			h.SubfunctionOper, h.SubfunctionAvail, h.Task)
	}
	for _, h := range e.agent.Hosts() {
		fmt.Fprintf(&b, "\n  agent %s online=%v flags=%s running=%q ar-off=%v", h.Name, h.Online, h.Flags, h.Running, h.ARDisabled)
	}
	return b.String()
}

// action is a user's host action through SysInv (which hands it to the
// agent's event API as StarlingX's SysInv does).
func (e *env) action(host, act string) error {
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	return e.sim.UserAction(ctx, host, act)
}

func (e *env) mustAction(host, act string) {
	e.t.Helper()
	if err := e.action(host, act); err != nil {
		e.t.Fatalf("%s %s: %v", act, host, err)
	}
}

// commands lists the commands a fake host accepted, as names.
func (e *env) commands(host string) []wire.Command {
	var out []wire.Command
	for _, r := range e.hosts[host].Commands() {
		out = append(out, r.Message.Command)
	}
	return out
}

// commandsSince lists the commands accepted at or after t.
func (e *env) commandsSince(host string, t time.Time) []wire.Command {
	var out []wire.Command
	for _, r := range e.hosts[host].Commands() {
		if !r.At.Before(t) {
			out = append(out, r.Message.Command)
		}
	}
	return out
}

func (e *env) tasks(host string) []string {
	var out []string
	for _, c := range e.sim.TaskHistory(host) {
		out = append(out, fmt.Sprint(c))
	}
	return out
}

// token gets a Keystone token from the Sim over its REST API.
func (e *env) token() string {
	e.t.Helper()
	ep := e.sim.MemoryEndpoints()
	body := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"` + sim.DefaultConfig().Username +
		`","domain":{"name":"` + sim.DefaultConfig().UserDomainName + `"},"password":"` + simPassword + `"}}},` +
		`"scope":{"project":{"name":"` + sim.DefaultConfig().ProjectName + `","domain":{"name":"` + sim.DefaultConfig().ProjectDomainName + `"}}}}}`
	resp, err := e.sim.Client().Post(ep.AuthURL()+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("token: %s", resp.Status)
	}
	return resp.Header.Get("X-Subject-Token")
}

// postHost adds a host through SysInv's REST API (POST /v1/ihosts), which
// hands it to the agent as an add.
func (e *env) postHost(h sim.Host) {
	e.t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, e.sim.MemoryEndpoints().SysInv+"/v1/ihosts", bytes.NewReader(b))
	req.Header.Set("X-Auth-Token", e.token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.sim.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("POST /v1/ihosts: %s %s", resp.Status, rb)
	}
}

func has(cmds []wire.Command, want ...wire.Command) bool {
	for _, w := range want {
		if !slices.Contains(cmds, w) {
			return false
		}
	}
	return true
}

// ordered reports whether want appear in cmds in this order (not
// necessarily adjacent).
func ordered(cmds []wire.Command, want ...wire.Command) bool {
	i := 0
	for _, c := range cmds {
		if i < len(want) && c == want[i] {
			i++
		}
	}
	return i == len(want)
}
