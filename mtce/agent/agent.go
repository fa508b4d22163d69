package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/barbican"
	"opendev.org/starlingx/metal-go/mtce/config"
	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/hwmon"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/mtce/swact"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
	"opendev.org/starlingx/metal-go/mtce/vim"
	"opendev.org/starlingx/metal-go/mtce/wire"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Agent is the maintenance agent. Create it with New, run it with Run,
// stop it by cancelling Run's context or with Close.
type Agent struct {
	cfg Config
	log *slog.Logger
	mtc atomic.Pointer[config.Mtc] // replaced by Reload

	started  atomic.Bool
	ready    chan struct{}
	done     chan struct{} // closed when Run has returned
	closing  chan struct{} // closed by Close
	closeOne sync.Once
	phase    atomic.Value // string: what start-up waits for

	eventAddr atomic.Value // net.Addr

	// Components, set by Run before ready is closed.
	km      *keystone.Manager
	q       *workqueue.Queue
	si      *sysinv.Client
	smc     *sm.Client
	vimc    *vim.Client
	bb      *barbican.Client
	sw      *swact.Controller
	handler *eventapi.Handler
	hq      *workqueue.Queue // the hardware monitor's own queue
	mon     *hwmon.Monitor   // nil when Config.HardwareMonitor is false
	conn    PacketConn
	comp    atomic.Bool // components set (for Status before ready)

	// Host records: sem is the lock (a channel so Transact can give up
	// when its context ends).
	sem     chan struct{}
	hosts   map[string]*host   // by name
	byAddr  map[string]*host   // by mgmt, cluster-host and pxeboot IP text
	byUUID  map[string]*host   // a hint for the event API's uuid lookups, checked on each use (hostByUUIDLocked)
	runCtx  context.Context    // actions' context (set before ready)
	stopped bool               // no new action or fetch may start
	selfUp  atomic.Uint32      // the agent's own host's uptime
	wg      sync.WaitGroup     // action and password goroutines
	pw      map[string]pwEntry // BMC passwords by host name
	subs    map[string][]chan *wire.Message

	met metrics
}

// New validates cfg and returns an Agent. It starts nothing: Run does.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		cfg:     cfg,
		log:     log,
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
		sem:     make(chan struct{}, 1),
		hosts:   map[string]*host{},
		byAddr:  map[string]*host{},
		byUUID:  map[string]*host{},
		pw:      map[string]pwEntry{},
		subs:    map[string][]chan *wire.Message{},
	}
	a.mtc.Store(cfg.Mtc)
	a.phase.Store("not started")
	a.met.init()
	return a, nil
}

// Ready is closed once the inventory is loaded and the agent serves.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// EventAddr is the event API's listening address (nil before Ready).
func (a *Agent) EventAddr() net.Addr {
	if v, ok := a.eventAddr.Load().(net.Addr); ok {
		return v
	}
	return nil
}

// Close stops the agent: Run's context is cancelled and Close waits, at
// most Config.CloseTimeout, for Run to return. Idempotent; safe before Run
// (Run then returns ErrClosed at once).
func (a *Agent) Close() error {
	a.closeOne.Do(func() { close(a.closing) })
	if !a.started.Load() {
		return nil
	}
	t := time.NewTimer(a.cfg.CloseTimeout + time.Second)
	defer t.Stop()
	select {
	case <-a.done:
		return nil
	case <-t.C:
		return fmt.Errorf("agent: Close: Run did not return within %v", a.cfg.CloseTimeout+time.Second)
	}
}

func (a *Agent) setPhase(p string) {
	a.phase.Store(p)
	a.log.Info("start-up: " + p)
}

// Run starts the agent's components, gets the first token, loads the
// inventory, then serves the event API and UDP until ctx ends or Close.
// It returns nil when stopped that way, the start-up's error (ErrInventory
// naming the last error) or the first component's failure. Every goroutine
// it starts has ended when it returns.
func (a *Agent) Run(ctx context.Context) (err error) {
	if !a.started.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer close(a.done)
	select {
	case <-a.closing:
		return ErrClosed
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var watch sync.WaitGroup
	watch.Go(func() {
		select {
		case <-a.closing:
			cancel()
		case <-ctx.Done():
		}
	})
	defer watch.Wait()
	defer cancel()
	// quiet ends Run with nil when the stop was asked for.
	quiet := func(err error) error {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	if err := a.build(); err != nil {
		return err
	}
	defer a.teardown()

	if err := a.firstToken(ctx); err != nil {
		return quiet(err)
	}
	hosts, err := a.loadInventory(ctx)
	if err != nil {
		return quiet(err)
	}
	a.lock()
	now := time.Now()
	for _, sh := range hosts {
		h := a.addRecordLocked(sh.Host, uint32(min(sh.Uptime, 1<<32-1)))
		// The inventory's availability is believed for one offline
		// threshold: a host that SysInv shows up and that sends no
		// mtcAlive goes offline (or failed, if enabled) after it.
		switch h.rec.Avail {
		case mtce.AvailOffline, mtce.AvailPowerOff, mtce.AvailNotInstalled, mtce.AvailNone:
		default:
			h.alive, h.lastAlive = true, now
		}
	}
	a.unlock()

	if err := a.openSockets(ctx); err != nil {
		return quiet(err)
	}

	g, gctx := errgroup.WithContext(ctx)
	a.runCtx = gctx
	srv := a.handler.NewServer()
	ln := a.cfg.EventListener
	a.eventAddr.Store(ln.Addr())
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("agent: event API: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, c := context.WithTimeout(context.Background(), a.cfg.CloseTimeout/2)
		defer c()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		return nil
	})
	g.Go(func() error { return a.receive(gctx) })
	g.Go(func() error { return a.audit(gctx) })
	if a.mon != nil {
		g.Go(func() error {
			if err := a.mon.Run(gctx); err != nil && !errors.Is(err, hwmon.ErrClosed) {
				return fmt.Errorf("agent: hardware monitor: %w", err)
			}
			return nil
		})
	}
	a.setPhase("ready")
	a.lock()
	for _, h := range a.hosts {
		a.bmcChangedLocked(h, BMCHost{})
	}
	a.unlock()
	close(a.ready)

	err = g.Wait()
	cancel()
	a.lock()
	a.stopped = true
	a.unlock()
	a.wg.Wait() // actions and password fetches end with gctx
	return quiet(err)
}

// build creates the token manager, the queue and the clients.
func (a *Agent) build() error {
	c := a.cfg
	base := c.HTTPTransport
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	kc := c.Keystone
	if kc.AuthURL == "" {
		kc.AuthURL = c.KeystoneURL
	}
	if kc.Transport == nil && kc.CAFile == "" && !kc.InsecureSkipVerify {
		kc.Transport = base
	}
	if kc.Logger == nil {
		kc.Logger = a.log.With("component", "keystone")
	}
	km, err := keystone.New(kc)
	if err != nil {
		return fmt.Errorf("agent: keystone: %w", err)
	}
	a.km = km
	qc := workqueue.DefaultConfig()
	qc.Gate = km
	qc.Logger = a.log.With("component", "workqueue")
	qc.Observer = workqueue.ObserverFunc(a.met.queueEvent)
	qc.CloseTimeout = c.CloseTimeout
	q, err := workqueue.New(qc)
	if err != nil {
		km.Close()
		return fmt.Errorf("agent: work queue: %w", err)
	}
	a.q = q
	tok := &http.Client{Transport: &keystone.Transport{Manager: km, Base: base}}
	fail := func(err error) error { a.teardown(); return err }

	sc := sysinv.DefaultConfig()
	sc.BaseURL, sc.HTTPClient, sc.Queue = c.SysInvURL, tok, q
	sc.Logger = a.log.With("component", "sysinv")
	if t := c.Mtc.Timeouts.Sysinv; t > 0 {
		sc.Timeout = t
	}
	if t := c.Mtc.Timeouts.SysinvNoncrit; t > 0 {
		sc.NoncriticalTimeout = t
	}
	if a.si, err = sysinv.New(sc); err != nil {
		return fail(fmt.Errorf("agent: sysinv: %w", err))
	}
	mc := sm.DefaultConfig()
	mc.BaseURL, mc.HTTPClient, mc.Queue = c.SMURL, tok, q
	mc.Logger = a.log.With("component", "sm")
	if a.smc, err = sm.New(mc); err != nil {
		return fail(fmt.Errorf("agent: sm: %w", err))
	}
	vc := vim.DefaultConfig()
	vc.BaseURL, vc.HTTPClient, vc.Queue = c.VIMURL, &http.Client{Transport: base}, q
	vc.Logger = a.log.With("component", "vim")
	if a.vimc, err = vim.New(vc); err != nil {
		return fail(fmt.Errorf("agent: vim: %w", err))
	}
	if c.BarbicanURL != "" {
		bc := barbican.DefaultConfig()
		bc.BaseURL, bc.HTTPClient, bc.Queue = c.BarbicanURL, tok, q
		bc.Logger = a.log.With("component", "barbican")
		if a.bb, err = barbican.New(bc); err != nil {
			return fail(fmt.Errorf("agent: barbican: %w", err))
		}
	}
	wc := swact.DefaultConfig()
	wc.ApplyTimeouts(c.Mtc.Timeouts)
	wc.SM, wc.SysInv, wc.Queue = a.smc, a.si, q
	simplex := c.Platform.Simplex
	wc.Simplex = func() bool { return simplex }
	wc.Uptime = a.selfUptime
	wc.Logger = a.log.With("component", "swact")
	if a.sw, err = swact.New(wc); err != nil {
		return fail(fmt.Errorf("agent: swact: %w", err))
	}
	if c.HardwareMonitor {
		if err := a.buildMonitor(base); err != nil {
			return fail(err)
		}
	}
	ec := eventapi.DefaultConfig()
	ec.Hostname = c.Hostname
	ec.Observer = a.met.eventObserved
	ec.Logger = a.log.With("component", "eventapi")
	if a.handler, err = eventapi.New(ec, a); err != nil {
		return fail(fmt.Errorf("agent: event API: %w", err))
	}
	a.comp.Store(true)
	return nil
}

// buildMonitor creates the hardware-monitor role (spec G.3, issue part 5):
// its own work queue, gated by the agent's one token manager, and its own
// SysInv client with User-Agent hwmon/1.0 on that queue, so that sensor
// writes never sit ahead of the agent's SM, VIM and SysInv state calls (a
// swact's included) on a host's lane. Sharing the agent's token is a
// deliberate deviation from spec B.6, where hwmond is a process of its own
// with its own token: one manager renews one token for both roles.
func (a *Agent) buildMonitor(base http.RoundTripper) error {
	c := a.cfg
	qc := workqueue.DefaultConfig()
	qc.Gate = a.km
	qc.Logger = a.log.With("component", "hwmon-queue")
	qc.CloseTimeout = c.CloseTimeout
	hq, err := workqueue.New(qc)
	if err != nil {
		return fmt.Errorf("agent: hardware monitor's work queue: %w", err)
	}
	a.hq = hq
	sc := sysinv.DefaultConfig()
	sc.BaseURL, sc.Queue, sc.UserAgent = c.SysInvURL, hq, "hwmon/1.0"
	sc.HTTPClient = &http.Client{Transport: &keystone.Transport{Manager: a.km, Base: base}}
	sc.Logger = a.log.With("component", "hwmon-sysinv")
	si, err := sysinv.New(sc)
	if err != nil {
		return fmt.Errorf("agent: hardware monitor's sysinv client: %w", err)
	}
	hc := c.Hwmon
	hc.SysInv = si
	hc.Simplex = c.Platform.Simplex
	hc.Password = func(ctx context.Context, h hwmon.Host) (bmc.Password, error) { return a.Password(ctx, BMCHost(h)) }
	hc.NewDriver = func(ctx context.Context, h hwmon.Host, pw bmc.Password) (bmc.Driver, error) {
		return a.driver(ctx, BMCHost(h), pw)
	}
	obs := hc.Observer
	hc.Observer = func(au hwmon.Audit) {
		a.met.audit(au)
		if obs != nil {
			obs(au)
		}
	}
	if hc.Logger == nil {
		hc.Logger = a.log
	}
	if a.mon, err = hwmon.New(hc); err != nil {
		return fmt.Errorf("agent: hardware monitor: %w", err)
	}
	return nil
}

// openSockets binds the event API listener and the UDP transport when
// the configuration gave none.
func (a *Agent) openSockets(ctx context.Context) error {
	m := a.cfg.Mtc
	if a.cfg.EventListener == nil {
		ln, err := eventapi.Listen(ctx, "127.0.0.1:"+strconv.Itoa(m.Agent.InvEventPort))
		if err != nil {
			return fmt.Errorf("agent: event API listener: %w", err)
		}
		a.cfg.EventListener = ln
	}
	if a.cfg.Packets == nil {
		eps := a.cfg.UDPEndpoints
		if len(eps) == 0 {
			eps = []wire.Endpoint{{Network: mtce.NetworkMgmt, Addr: net.JoinHostPort("0.0.0.0", strconv.Itoa(m.Agent.MtcAgentPort))}}
		}
		wc := wire.DefaultConfig()
		wc.Endpoints = eps
		wc.Logger = a.log.With("component", "udp")
		t, err := wire.Listen(ctx, wc)
		if err != nil {
			a.cfg.EventListener.Close()
			return fmt.Errorf("agent: UDP: %w", err)
		}
		a.cfg.Packets = t
	}
	a.lock()
	a.conn = a.cfg.Packets
	a.unlock()
	return nil
}

// teardown closes what build and openSockets made, in reverse order, each
// bounded.
func (a *Agent) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.CloseTimeout)
	defer cancel()
	// The agent owns the injected sockets too: closed however Run ends.
	if a.cfg.Packets != nil {
		a.cfg.Packets.Close()
	}
	if a.cfg.EventListener != nil {
		a.cfg.EventListener.Close()
	}
	if a.sw != nil {
		if err := a.sw.Close(ctx); err != nil {
			a.log.Warn("closing the swact controller", "err", err)
		}
	}
	if a.mon != nil {
		if err := a.mon.Close(); err != nil {
			a.log.Warn("closing the hardware monitor", "err", err)
		}
	}
	if a.hq != nil {
		qctx, c := context.WithTimeout(ctx, a.cfg.CloseTimeout/2)
		if err := a.hq.Close(qctx); err != nil {
			a.log.Warn("closing the hardware monitor's work queue", "err", err)
		}
		c()
	}
	if a.q != nil {
		qctx, c := context.WithTimeout(ctx, a.cfg.CloseTimeout/2)
		if err := a.q.Close(qctx); err != nil {
			a.log.Warn("closing the work queue", "err", err)
		}
		c()
	}
	if a.km != nil {
		if err := a.km.Close(); err != nil {
			a.log.Warn("closing the token manager", "err", err)
		}
	}
}

// firstToken blocks until the token manager has a token (it retries on its
// own with capped spacing), logging what it waits for.
func (a *Agent) firstToken(ctx context.Context) error {
	a.setPhase("waiting for the first Keystone token")
	start := time.Now()
	for {
		wctx, c := context.WithTimeout(ctx, DefaultTokenLogEvery)
		_, err := a.km.Token(wctx)
		c()
		if err == nil {
			a.log.Info("first token obtained", "after", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, keystone.ErrAuthFailed):
			a.log.Error("still waiting for the first token: Keystone rejects the credentials (wrong credentials)", "waited", time.Since(start).Round(time.Second), "err", err)
		case errors.Is(err, keystone.ErrUnavailable), errors.Is(err, keystone.ErrTimeout):
			a.log.Warn("still waiting for the first token: Keystone unreachable", "waited", time.Since(start).Round(time.Second), "err", err)
		case errors.Is(err, keystone.ErrClosed):
			return err
		default:
			a.log.Warn("still waiting for the first token", "waited", time.Since(start).Round(time.Second), "err", err)
		}
	}
}

// loadInventory is B.7: the agent's own record, then the whole inventory,
// InventoryAttempts times InventoryWait apart; an authentication failure
// forces a token renewal inside the loop.
func (a *Agent) loadInventory(ctx context.Context) ([]sysinv.Host, error) {
	n := a.cfg.InventoryAttempts
	a.setPhase(fmt.Sprintf("loading the inventory (own host %s, up to %d attempts %v apart)", a.cfg.Hostname, n, a.cfg.InventoryWait))
	var last error
	for i := 1; i <= n; i++ {
		_, err := a.si.LoadHost(ctx, a.cfg.Hostname)
		if err == nil {
			var hosts []sysinv.Host
			if hosts, err = a.si.ListHosts(ctx); err == nil {
				a.log.Info("inventory loaded", "hosts", len(hosts), "attempt", i)
				return hosts, nil
			}
		}
		last = err
		a.met.inventoryFailures.Add(1)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if i == n {
			break
		}
		a.log.Warn("inventory load failed; retrying", "attempt", i, "of", n, "wait", a.cfg.InventoryWait, "err", err)
		if errors.Is(err, sysinv.ErrUnauthorized) {
			a.log.Warn("inventory load: SysInv refused the token; forcing a renewal")
			if tok, terr := a.km.Token(ctx); terr == nil {
				if _, rerr := a.km.Renew(ctx, tok); rerr != nil {
					a.log.Warn("token renewal failed", "err", rerr)
				}
			}
		}
		if err := sleepCtx(ctx, a.cfg.InventoryWait); err != nil {
			return nil, err
		}
	}
	a.log.Error("inventory load gave up", "attempts", n, "err", last)
	return nil, fmt.Errorf("%w after %d attempts: %w", ErrInventory, n, last)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// selfUptime is the uptime sent with task updates: the agent's own host's
// last reported uptime (0 when unknown).
// It takes no lock: the swact controller calls it while a Transact holds
// the records.
func (a *Agent) selfUptime() uint32 { return a.selfUp.Load() }

func (a *Agent) lock()   { a.sem <- struct{}{} }
func (a *Agent) unlock() { <-a.sem }
