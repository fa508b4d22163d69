package client

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// processStart is the fallback origin of the uptime.
var processStart = time.Now()

// Client is the maintenance client of one host. Create it with New, run it
// with Run, release it with Close.
type Client struct {
	cfg      Config
	log      *slog.Logger
	node     hostsvc.Node
	launcher hostsvc.Launcher
	sched    *hostsvc.Scheduler
	conn     PacketConn
	m        *metrics
	self     []netip.Addr

	started   atomic.Bool
	ready     chan struct{}
	done      chan struct{} // closed when Run returns
	closeOnce sync.Once

	mu          sync.Mutex
	cancelRun   context.CancelFunc
	closed      bool
	seq         map[mtce.Network]uint32
	smUnhealthy map[mtce.Network]int
	pxeboot     wire.PxebootInfo // learned controller pxeboot addresses
	busy        bool             // a script set is running
	draining    bool
	schedCancel context.CancelFunc
	actions     sync.WaitGroup
	goRuns      [2]goFlight       // main, subf: one run of each test set at a time
	goRequests  [2]bool           // main, subf: an agent's goEnabled request is being answered
	luksFailed  atomic.Bool       // the last LUKS check failed
	ackMu       sync.Mutex        // held while a host-services request is submitted and ACKed
	autoWaiting bool              // the start-up auto-start has not submitted yet
	autoPlan    []hostsvc.Command // what it will submit
	heldStarts  []hostsvc.Command // agent start requests held for it
}

// New validates cfg, fills in its defaults, builds the host-services
// runner and scheduler and, when cfg.Packets is nil, binds the client's
// UDP sockets. Call Close to release them, whether or not Run was called.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	node, _ := nodeOf(cfg.Platform)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:         cfg,
		log:         log,
		node:        node,
		m:           newMetrics(),
		ready:       make(chan struct{}),
		done:        make(chan struct{}),
		seq:         map[mtce.Network]uint32{},
		smUnhealthy: map[mtce.Network]int{},
	}
	for _, a := range []netip.Addr{cfg.MgmtIP, cfg.ClusterHostIP} {
		if a.IsValid() {
			c.self = append(c.self, a)
		}
	}
	if len(cfg.ControllerPxeboot) > 0 {
		c.pxeboot.Controller0 = cfg.ControllerPxeboot[0].String()
		if len(cfg.ControllerPxeboot) > 1 {
			c.pxeboot.Controller1 = cfg.ControllerPxeboot[1].String()
		}
	}

	c.launcher = cfg.Launcher
	if c.launcher == nil {
		l, err := hostsvc.NewExecLauncher(hostsvc.DefaultWaitDelay, cfg.Subreaper)
		if err != nil {
			return nil, err
		}
		c.launcher = l
	}
	rc := hostsvc.DefaultConfig(node)
	rc.ServicesRoot = cfg.ServicesRoot
	rc.Timeout = cfg.HostServicesTimeout
	rc.Env = cfg.ScriptEnv
	rc.TrustCurrentUser = cfg.TrustCurrentUser
	rc.Launcher = c.launcher
	rc.Logger = log.With("component", "hostsvc")
	runner, err := hostsvc.NewRunner(rc)
	if err != nil {
		return nil, configErr("hostsvc", "%v", err)
	}
	sc := hostsvc.DefaultSchedulerConfig(runner)
	if cfg.Root != "/" {
		sc.FlagRoot = cfg.Root
	}
	sc.PollInterval = cfg.PollInterval
	sc.OnRunStart = c.onRunStart
	sc.OnResult = c.onResult
	sc.Logger = log.With("component", "scheduler")
	if c.sched, err = hostsvc.NewScheduler(sc); err != nil {
		return nil, configErr("scheduler", "%v", err)
	}

	c.conn = cfg.Packets
	if c.conn == nil {
		wc := wire.DefaultConfig()
		wc.Endpoints = cfg.endpoints()
		wc.Logger = log.With("component", "wire")
		t, err := wire.Listen(context.Background(), wc)
		if err != nil {
			return nil, err
		}
		c.conn = t
	}
	return c, nil
}

// Collector returns the client's metrics: mtcAlive sent by network,
// commands by name, dropped packets by reason, script sets by command and
// outcome, results sent by status, ACKs, actions and goenabled runs. It is
// not registered anywhere.
func (c *Client) Collector() prometheus.Collector { return c.m }

// Addr returns the bound address of network n's socket when the
// PacketConn can tell (a *wire.Transport, e.g. after binding port 0), and
// the zero AddrPort otherwise.
func (c *Client) Addr(n mtce.Network) netip.AddrPort {
	if a, ok := c.conn.(interface {
		Addr(mtce.Network) netip.AddrPort
	}); ok {
		return a.Addr(n)
	}
	return netip.AddrPort{}
}

// Ready is closed once Run has started serving.
func (c *Client) Ready() <-chan struct{} { return c.ready }

// Flags returns the mtcAlive flags word as it would be sent now on the
// management network (without advancing the SM_UNHEALTHY debounce).
func (c *Client) Flags() wire.AliveFlags {
	f, _ := c.aliveFlags(mtce.NetworkMgmt, false)
	return f
}

// Run starts the client and serves until ctx ends:
//
//   - restores /var/run/.node_locked from /var/persist/mtc/.node_locked;
//   - runs the goenabled tests (see the package documentation) and the
//     start-up auto-start through the scheduler;
//   - sends mtcAlive on each provisioned network and the ready event;
//   - acts on the agent's commands.
//
// When ctx ends it stops receiving, lets a running script set finish for
// at most Config.Drain (its result is still sent), then kills what still
// runs, and returns nil. It returns ErrRunning on a second call and
// ErrClosed after Close.
func (c *Client) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(c.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.cancelRun = cancel
	schedCtx, schedCancel := context.WithCancel(context.WithoutCancel(ctx))
	c.schedCancel = schedCancel
	c.mu.Unlock()
	defer schedCancel()

	c.restoreLock()
	_, plan := hostsvc.AutoStartPlan(c.node)
	c.mu.Lock()
	c.autoWaiting, c.autoPlan = true, plan
	c.mu.Unlock()
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		_ = c.sched.Run(schedCtx)
	}()

	var wg sync.WaitGroup
	wg.Go(func() { c.receive(ctx) })
	wg.Go(func() { c.aliveLoop(ctx) })
	wg.Go(func() { c.readyLoop(ctx) })
	wg.Go(func() { c.goenabled(ctx) })
	wg.Go(func() { c.autoStart(ctx) })
	if c.cfg.Cryptsetup != "" {
		wg.Go(func() { c.luksLoop(ctx) })
	}
	c.log.Info("mtcClient running", "hostname", c.cfg.Hostname, "node", c.node.Functions.String(),
		"system", c.node.System.String(), "mgmt_ip", c.cfg.MgmtIP, "mgmt_mac", c.cfg.MgmtMAC)
	close(c.ready)

	<-ctx.Done()
	c.log.Info("stopping: draining")
	wg.Wait()
	c.drain(schedDone)
	c.actions.Wait()
	c.log.Info("stopped")
	return nil
}

// Close stops Run (draining as on ctx end) and waits for it, then closes
// the sockets. It is idempotent.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		cancel := c.cancelRun
		c.mu.Unlock()
		if cancel != nil {
			cancel()
			<-c.done
		}
		err = c.conn.Close()
	})
	return err
}

// drain lets a running script set finish within Config.Drain, then stops
// the scheduler (killing what still runs) and waits for it.
func (c *Client) drain(schedDone <-chan struct{}) {
	c.mu.Lock()
	c.draining = true
	busy := c.busy
	if !busy {
		c.schedCancel()
	}
	c.mu.Unlock()
	if busy {
		c.log.Info("letting the running script set finish", "bound", c.cfg.Drain)
	}
	t := time.NewTimer(c.cfg.Drain)
	defer t.Stop()
	select {
	case <-schedDone:
	case <-t.C:
		c.log.Warn("drain bound reached; killing the running script set", "bound", c.cfg.Drain)
		c.schedCancel()
		<-schedDone
	}
}

func (c *Client) onRunStart(cmd hostsvc.Command) {
	c.mu.Lock()
	c.busy = true
	if c.draining {
		c.schedCancel() // nothing new starts once the drain has begun
	}
	c.mu.Unlock()
	c.log.Info("host services starting", "command", cmd.String())
	c.emit(Event{Kind: EventServicesStarting, Command: cmd})
}

// onResult sends the single result message of an executed set (spec E.2,
// K.4). It runs on the scheduler's goroutine.
func (c *Client) onResult(r hostsvc.Result) {
	c.mu.Lock()
	c.busy = false
	if c.draining {
		c.schedCancel()
	}
	c.mu.Unlock()
	// Never ahead of the ACK of a request being answered (hostServices).
	c.ackMu.Lock()
	c.ackMu.Unlock() //nolint:staticcheck // an ordering barrier, not a critical section
	c.m.scriptSets.WithLabelValues(r.Command.String(), r.Outcome.String()).Inc()
	lvl := slog.LevelInfo
	if !r.OK() {
		lvl = slog.LevelWarn
	}
	c.log.Log(context.Background(), lvl, "host services done", "command", r.Command.String(),
		"outcome", r.Outcome.String(), "text", r.Text(), "duration", r.Duration)
	wr := resultOf(r)
	wr.Script = c.hostPath(wr.Script)
	msg, err := wire.NewHostServicesResult(wr)
	if err != nil {
		c.log.Error("cannot build result", "err", err)
		return
	}
	sent := c.send(context.Background(), mtce.NetworkMgmt, c.agentAddr(c.cfg.Controller), &msg)
	if sent {
		c.m.resultsSent.WithLabelValues(wr.Kind.String()).Inc()
	}
	c.emit(Event{Kind: EventServicesDone, Command: r.Command, Result: r, ResultSent: sent})
}

// resultOf converts a script set's result to the wire result. A canceled
// run (shutdown) is reported as a failure of its first unfinished script.
func resultOf(r hostsvc.Result) wire.Result {
	fn := mtce.FunctionController
	switch r.Command.Function {
	case hostsvc.Worker:
		fn = mtce.FunctionWorker
	case hostsvc.Storage:
		fn = mtce.FunctionStorage
	}
	cmd, _ := wire.HostServicesCommand(fn, r.Command.Action == hostsvc.Start)
	wr := wire.Result{Command: cmd, Script: r.Script, ExitCode: r.ExitCode}
	switch r.Outcome {
	case hostsvc.Pass:
		wr.Kind = wire.ResultPass
	case hostsvc.Failed:
		wr.Kind = wire.ResultFailed
	case hostsvc.TimedOut:
		wr.Kind = wire.ResultTimeout
	case hostsvc.LaunchFailed:
		wr.Kind, wr.ExitCode = wire.ResultLaunchFailed, hostsvc.RCLaunchFailed
	default: // Canceled
		wr.Kind = wire.ResultFailed
		if wr.Script == "" {
			wr.Script = r.Command.String()
		}
		if wr.ExitCode == 0 {
			wr.ExitCode = -1
		}
	}
	return wr
}

// autoStart runs the start-up auto-start (spec E.3) through the scheduler.
// Agent start requests for its commands that came while it waited for its
// gate were held (hostServices): when it submits, they are answered by its
// runs; when it gives up (node locked, goenabled failed), they are
// submitted as the agent asked.
func (c *Client) autoStart(ctx context.Context) {
	tickets, err := c.sched.AutoStart(ctx)
	c.mu.Lock()
	held := c.heldStarts
	c.autoWaiting, c.heldStarts = false, nil
	c.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		for _, cmd := range held {
			if _, serr := c.sched.Submit(cmd); serr != nil {
				c.log.Warn("held host services request refused", "command", cmd.String(), "err", serr)
				continue
			}
			c.log.Info("held host services request submitted: the auto-start gave up", "command", cmd.String())
		}
	}
	switch {
	case err == nil:
		cmds := make([]string, len(tickets))
		for i, t := range tickets {
			cmds[i] = t.Command().String()
		}
		c.log.Info("auto-start requested", "commands", cmds)
		ev := Event{Kind: EventAutoStart}
		for _, t := range tickets {
			ev.Commands = append(ev.Commands, t.Command())
		}
		c.emit(ev)
	case errors.Is(err, hostsvc.ErrNodeLocked):
		c.log.Info("node locked: no auto-start")
		c.emit(Event{Kind: EventAutoStart, Reason: "node locked"})
	case errors.Is(err, hostsvc.ErrGoEnabledFailed):
		c.log.Warn("auto-start rejected: goenabled failed", "err", err)
		c.emit(Event{Kind: EventAutoStart, Reason: err.Error()})
	case ctx.Err() != nil, errors.Is(err, hostsvc.ErrClosed):
	default:
		c.log.Error("auto-start failed", "err", err)
	}
}

// restoreLock recreates /var/run/.node_locked from its persistent copy, so
// that a locked host that rebooted does not auto-start (spec K.8, I.3).
func (c *Client) restoreLock() {
	if !c.exists(PersistLockedFile) || c.exists(hostsvc.NodeLockedFile) {
		return
	}
	if err := c.writeFlag(hostsvc.NodeLockedFile, ""); err != nil {
		c.log.Error("cannot restore node locked flag", "err", err)
		return
	}
	c.log.Info("node locked flag restored from persistent copy")
}

// hostPath returns p as the host sees it: relative to Config.Root, with a
// leading slash ("/etc/services.d/worker/w1" for a Root of /tmp/h1), so
// that the texts sent to the agent read as on a real host whatever the
// Root, and a long Root does not push the script's name past the 63 bytes
// a result carries. Paths outside Root are returned unchanged.
func (c *Client) hostPath(p string) string {
	if p == "" || c.cfg.Root == "/" {
		return p
	}
	rel, err := filepath.Rel(c.cfg.Root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return p
	}
	return "/" + rel
}

// agentAddr is addr on the agent's management/cluster port.
func (c *Client) agentAddr(a netip.Addr) netip.AddrPort {
	return netip.AddrPortFrom(a, uint16(c.cfg.Mtc.Agent.MtcAgentPort))
}

// send sends m, counting and logging a failure; it reports success.
func (c *Client) send(ctx context.Context, n mtce.Network, to netip.AddrPort, m *wire.Message) bool {
	if err := c.conn.Send(ctx, n, to, m); err != nil {
		c.m.sendErrors.Inc()
		c.log.Debug("send failed", "network", n.String(), "to", to, "command", m.Command.String(), "err", err)
		return false
	}
	return true
}

// destinations returns where mtcAlive goes on network n (spec K.2).
func (c *Client) destinations(n mtce.Network) []netip.AddrPort {
	switch n {
	case mtce.NetworkMgmt:
		return []netip.AddrPort{c.agentAddr(c.cfg.Controller)}
	case mtce.NetworkClusterHost:
		if !c.cfg.ClusterHostIP.IsValid() {
			return nil
		}
		var out []netip.AddrPort
		for _, a := range c.cfg.ControllerClusterHost {
			out = append(out, c.agentAddr(a))
		}
		return out
	case mtce.NetworkPxeboot:
		if !c.cfg.PxebootIP.IsValid() || c.node.System == hostsvc.AIOSimplex {
			return nil
		}
		c.mu.Lock()
		info := c.pxeboot
		c.mu.Unlock()
		var out []netip.AddrPort
		port := uint16(c.cfg.Mtc.Agent.MtcRxPxebootPort)
		for _, s := range []string{info.Controller0, info.Controller1} {
			if a, err := netip.ParseAddr(s); err == nil {
				ap := netip.AddrPortFrom(a, port)
				if !slices.Contains(out, ap) {
					out = append(out, ap)
				}
			}
		}
		if len(out) == 0 {
			if a, err := netip.ParseAddr(info.Controller); err == nil {
				out = append(out, netip.AddrPortFrom(a, port))
			}
		}
		return out
	}
	return nil
}
