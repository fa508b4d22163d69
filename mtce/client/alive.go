package client

import (
	"context"
	"net/netip"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// aliveLoop sends mtcAlive on every provisioned network AliveFirst after
// start, then every AlivePeriod (spec F.4, K.2).
func (c *Client) aliveLoop(ctx context.Context) {
	if !sleep(ctx, c.cfg.AliveFirst) {
		return
	}
	t := time.NewTicker(c.cfg.AlivePeriod)
	defer t.Stop()
	for {
		for _, n := range []mtce.Network{mtce.NetworkMgmt, mtce.NetworkClusterHost, mtce.NetworkPxeboot} {
			c.sendAlive(ctx, n)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// sendAlive sends one mtcAlive on network n to each of its destinations,
// with the next sequence number of n (pre-incremented, first 1).
func (c *Client) sendAlive(ctx context.Context, n mtce.Network) {
	dests := c.destinations(n)
	if len(dests) == 0 {
		return
	}
	msg, err := c.alive(n)
	if err != nil {
		c.log.Error("cannot build mtcAlive", "network", n.String(), "err", err)
		return
	}
	for _, d := range dests {
		if c.send(ctx, n, d, &msg) {
			c.m.aliveSent.WithLabelValues(n.String()).Inc()
		}
	}
}

// alive builds the next mtcAlive of network n.
func (c *Client) alive(n mtce.Network) (wire.Message, error) {
	flags, health := c.aliveFlags(n, true)
	c.mu.Lock()
	c.seq[n]++
	seq := c.seq[n]
	c.mu.Unlock()
	id := wire.Identity{
		Hostname:    c.cfg.Hostname,
		Personality: c.cfg.Platform.Subfunctions,
		MgmtIP:      addrText(c.cfg.MgmtIP),
		MgmtMAC:     c.cfg.MgmtMAC,
		Interface:   n,
	}
	id.ClusterHostIP = addrText(c.cfg.ClusterHostIP)
	id.PxebootIP = addrText(c.cfg.PxebootIP)
	up := c.cfg.Uptime() / time.Second
	return wire.NewMtcAlive(wire.Alive{
		Uptime:   uint32(max(up, 0)),
		Health:   health,
		Flags:    flags,
		Sequence: seq,
		Identity: id,
	})
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// aliveFlags reads the flag files (spec K.2) and the scheduler's failure
// flags (spec E.2). With debounce it advances network n's SM_UNHEALTHY
// count. LUKS_VOL_FAILED comes from the last LUKS check (luksLoop).
func (c *Client) aliveFlags(n mtce.Network, debounce bool) (wire.AliveFlags, wire.Health) {
	var f wire.AliveFlags
	set := func(rel string, bit wire.AliveFlags) {
		if c.exists(rel) {
			f |= bit
		}
	}
	set(ConfigCompleteFile, wire.FlagConfigured)
	set(hostsvc.NodeLockedFile, wire.FlagLocked)
	set(hostsvc.GoEnabledFile, wire.FlagMainGoEnabled)
	set(hostsvc.GoEnabledFailedFile, wire.FlagMainGoEnableFail)
	set(PatchingFile, wire.FlagPatching)
	set(PatchedFile, wire.FlagPatched)
	set(SMDegradedFile, wire.FlagSMDegraded)
	if c.node.Functions.Has(hostsvc.Worker) && c.node.Functions.Has(hostsvc.Controller) {
		set(WorkerConfigFile, wire.FlagSubfConfigured)
		set(hostsvc.GoEnabledSubfFile, wire.FlagSubfGoEnabled)
		set(hostsvc.GoEnabledSubfFailedFile, wire.FlagSubfGoEnableFail)
	}
	if c.luksFailed.Load() {
		f |= wire.FlagLUKSVolFailed
	}
	sf := c.sched.Flags()
	if sf.MainServicesFailed {
		f |= wire.FlagMainServicesFail
	}
	if sf.SubfServicesFailed {
		f |= wire.FlagSubfServicesFail
	}
	unhealthy := c.exists(SMUnhealthyFile)
	c.mu.Lock()
	count := c.smUnhealthy[n]
	if debounce {
		if unhealthy {
			count++
		} else {
			count = 0
		}
		c.smUnhealthy[n] = count
	}
	c.mu.Unlock()
	if count > smUnhealthyDebounce {
		f |= wire.FlagSMUnhealthy
	}
	health := wire.HealthUnknown
	switch {
	case c.exists(ConfigPassFile):
		health = wire.HealthHealthy
	case c.exists(ConfigFailFile):
		health = wire.HealthUnhealthy
	}
	return f, health
}

// readyLoop sends the client's ready event at start and every ReadyPeriod
// to the agent's management port and, once the active controller's
// pxeboot address is known (from a pxeboot mtcAlive request) and the host
// has a pxeboot address, over pxeboot to that address's agent port (spec
// K.3).
func (c *Client) readyLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.ReadyPeriod)
	defer t.Stop()
	for {
		c.mu.Lock()
		active := c.pxeboot.Controller
		c.mu.Unlock()
		if msg, err := wire.NewClientReady(c.cfg.Hostname, active); err == nil {
			c.send(ctx, mtce.NetworkMgmt, c.agentAddr(c.cfg.Controller), &msg)
			if a, err := netip.ParseAddr(active); err == nil && c.cfg.PxebootIP.IsValid() && c.node.System != hostsvc.AIOSimplex {
				c.send(ctx, mtce.NetworkPxeboot, netip.AddrPortFrom(a, uint16(c.cfg.Mtc.Agent.MtcRxPxebootPort)), &msg)
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
