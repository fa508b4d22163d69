package demo

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/redfish"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// agentRun is one agent process: started on a controller, stopped by a
// swact or Close.
type agentRun struct {
	host    *host
	a       *agent.Agent
	cancel  context.CancelFunc
	started time.Time
	readyAt time.Time
	ready   chan struct{} // closed when the agent is ready
	done    chan struct{} // closed when Run returned
	err     error         // Run's result, after done
	last    agent.Status  // the last status seen (kept after it stopped)
}

// SwactTiming is one swact as the demo saw it.
type SwactTiming struct {
	From, To string
	// Requested: the user's swact went to SysInv. InProgress: SysInv got
	// "Swact: In-Progress" for From. Moved: SM completed the swact
	// (OnSwact). OldStopped: the old agent finished its drain.
	// NewReady: the agent on To is ready.
	Requested, InProgress, Moved, OldStopped, NewReady time.Time
	// OldErr is the error of the move, if any.
	Err string
}

// startAgent starts an agent on controller h, bound to the floating
// controller address: UDP mgmt on it, UDP cluster-host on h's own
// cluster-host address, the event API on it too (SysInv's MtcAgentURL).
func (d *Demo) startAgent(h *host) (*agentRun, error) {
	if h == nil || !h.controller {
		return nil, fmt.Errorf("demo: no controller to run the agent on")
	}
	cfg, err := agent.Load(agent.Paths{Root: h.root, Hostname: h.name}, nil)
	if err != nil {
		return nil, fmt.Errorf("demo: agent on %s: %w", h.name, err)
	}
	cfg.Logger = d.log.With("component", "agent", "on", h.name)
	cfg.SMURL = d.ep.SM
	cfg.UDPEndpoints = []wire.Endpoint{
		{Network: mtce.NetworkMgmt, Addr: netip.AddrPortFrom(d.floating, agentPort).String()},
		{Network: mtce.NetworkClusterHost, Addr: netip.AddrPortFrom(h.cluster, agentPort).String()},
	}
	cfg.Addresses = map[mtce.Network]string{mtce.NetworkMgmt: d.floating.String(), mtce.NetworkClusterHost: h.cluster.String()}
	cfg.NewBMC = d.newBMC
	cfg.CloseTimeout = 5 * time.Second
	cfg.InventoryWait = time.Second
	// The event API on the floating address: the old agent has just
	// released it after a swact; a socket in its last moments may hold it
	// briefly.
	var ln interface{ Close() error }
	evAddr := netip.AddrPortFrom(d.floating, eventPort).String()
	for i := 0; ; i++ {
		l, err := eventapi.Listen(d.ctx, evAddr)
		if err == nil {
			cfg.EventListener, ln = l, l
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || i == 50 {
			return nil, fmt.Errorf("demo: agent on %s: event API: %w", h.name, err)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-d.ctx.Done():
			return nil, ErrClosed
		}
	}
	a, err := agent.New(cfg)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("demo: agent on %s: %w", h.name, err)
	}
	ctx, cancel := context.WithCancel(d.ctx)
	r := &agentRun{host: h, a: a, cancel: cancel, started: time.Now(), ready: make(chan struct{}), done: make(chan struct{})}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		cancel()
		a.Close()
		ln.Close()
		return nil, ErrClosed
	}
	d.cur = r
	d.wg.Go(func() {
		defer close(r.done)
		err := a.Run(ctx)
		d.mu.Lock()
		r.err = err
		d.mu.Unlock()
		if err != nil {
			d.emit(Event{Kind: KindAgent, Host: h.name, Text: "agent ended: " + err.Error()})
		}
	})
	d.wg.Go(func() {
		select {
		case <-a.Ready():
			d.mu.Lock()
			r.readyAt = time.Now()
			for i := range d.swacts {
				if s := &d.swacts[i]; s.To == h.name && s.NewReady.IsZero() {
					s.NewReady = r.readyAt
				}
			}
			d.mu.Unlock()
			close(r.ready)
			d.emit(Event{Kind: KindAgent, Host: h.name, Text: fmt.Sprintf("agent ready on %s (inventory loaded, %v after start)", h.name, r.readyAt.Sub(r.started).Round(time.Millisecond))})
		case <-r.done:
		}
	})
	d.mu.Unlock()
	d.emit(Event{Kind: KindAgent, Host: h.name, Text: "agent starting on " + h.name + " (floating controller " + d.floating.String() + ")"})
	return r, nil
}

// stopAgent stops r as SM stops mtcAgent (SIGTERM: the agent drains) and
// waits for it.
func (d *Demo) stopAgent(r *agentRun) {
	st := r.a.Status()
	d.mu.Lock()
	r.last = st
	d.mu.Unlock()
	start := time.Now()
	d.emit(Event{Kind: KindAgent, Host: r.host.name, Text: "agent on " + r.host.name + " stopping (SM stops it; drain as on SIGTERM)"})
	r.cancel()
	<-r.done
	r.a.Close()
	d.mu.Lock()
	if d.cur == r {
		d.cur = nil
	}
	d.mu.Unlock()
	d.emit(Event{Kind: KindAgent, Host: r.host.name, Text: fmt.Sprintf("agent on %s stopped after a %v drain", r.host.name, time.Since(start).Round(time.Millisecond))})
}

// onSwact is SM's swact completion (sim.Config.OnSwact), on the Sim's
// goroutine: the agent move runs on the demo's own.
func (d *Demo) onSwact(from, to string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return
	}
	now := time.Now()
	found := false
	for i := len(d.swacts) - 1; i >= 0; i-- {
		if s := &d.swacts[i]; s.From == from && s.Moved.IsZero() {
			s.To, s.Moved, found = to, now, true
			break
		}
	}
	if !found {
		d.swacts = append(d.swacts, SwactTiming{From: from, To: to, Moved: now})
	}
	d.moving = true
	d.wg.Go(func() { d.moveAgent(from, to) })
}

// moveAgent stops the agent on from and starts one on to.
func (d *Demo) moveAgent(from, to string) {
	d.emit(Event{Kind: KindSwact, Text: fmt.Sprintf("sm: activity moved %s → %s", from, to)})
	d.mu.Lock()
	old := d.cur
	d.mu.Unlock()
	if old != nil {
		d.stopAgent(old)
	}
	d.mu.Lock()
	for i := range d.swacts {
		if s := &d.swacts[i]; s.To == to && s.OldStopped.IsZero() && !s.Moved.IsZero() {
			s.OldStopped = time.Now()
		}
	}
	d.mu.Unlock()
	if d.ctx.Err() != nil {
		return
	}
	_, err := d.startAgent(d.byName[to])
	d.mu.Lock()
	d.moving = false
	if err != nil && !errors.Is(err, ErrClosed) {
		for i := range d.swacts {
			if s := &d.swacts[i]; s.To == to && s.NewReady.IsZero() {
				s.Err = err.Error()
			}
		}
	}
	d.mu.Unlock()
	if err != nil && !errors.Is(err, ErrClosed) {
		d.emit(Event{Kind: KindAgent, Host: to, Text: "agent start failed: " + err.Error()})
	}
}

// currentAgent is the agent now running, or nil.
func (d *Demo) currentAgent() *agentRun {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// newBMC is the agent's Config.NewBMC: the real Redfish driver, talking
// to the host's bmcsim emulator in memory. A reset or power change the
// emulator accepts is played on the simulated host.
func (d *Demo) newBMC(_ context.Context, bh agent.BMCHost, pw bmc.Password) (bmc.Driver, error) {
	h, err := d.host(bh.Name)
	if err != nil {
		return nil, err
	}
	rc := redfish.DefaultConfig()
	rc.Endpoint, rc.Username, rc.Password = "https://"+bh.BMIP, bh.BMUsername, pw
	rc.Transport = bmcTransport{h}
	rc.Logger = d.log.With("component", "bmc", "host", h.name)
	return redfish.New(rc)
}
