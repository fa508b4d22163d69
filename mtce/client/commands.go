package client

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// Drop reasons counted in mtcclient_packets_dropped_total.
const (
	dropNotCommand  = "not-command"  // JSON, or not "cgts mtc cmd req:"
	dropMACMismatch = "mac-mismatch" // addressed to another host (spec K.8)
)

// receive hands every received packet to handle until ctx ends or the
// connection is closed.
func (c *Client) receive(ctx context.Context) {
	for {
		p, err := c.conn.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, wire.ErrClosed) {
				return
			}
			c.log.Warn("receive failed", "err", err)
			if !sleep(ctx, 10*time.Millisecond) {
				return
			}
			continue
		}
		c.handle(ctx, p)
	}
}

// handle acts on one agent command (spec K.8).
func (c *Client) handle(ctx context.Context, p wire.Packet) {
	m := &p.Message
	if p.Kind != wire.KindMessage || m.Signature != wire.SigRequest {
		c.m.dropped.WithLabelValues(dropNotCommand).Inc()
		return
	}
	// The addressed-command check: silent drop, no ACK.
	if m.Version >= wire.VersionMACInHeader && !slices.Contains(c.self, p.From.Addr()) && !m.AddressedTo(c.cfg.MgmtMAC) {
		c.m.dropped.WithLabelValues(dropMACMismatch).Inc()
		c.log.Debug("command for another host dropped", "command", m.Command.String(), "mac", m.MAC, "from", p.From)
		return
	}
	c.m.commands.WithLabelValues(m.Command.String()).Inc()
	c.log.Info("command received", "command", m.Command.String(), "network", p.Network.String(), "from", p.From)

	if fn, start, ok := m.Command.HostServices(); ok {
		c.hostServices(ctx, p, fn, start)
		return
	}
	switch m.Command {
	case wire.CmdMtcAliveRequest:
		// An immediate mtcAlive only over pxeboot; nothing, no ACK, on
		// mgmt and cluster-host (spec K.2).
		if p.Network == mtce.NetworkPxeboot {
			c.learnPxeboot(m)
			c.sendAlive(ctx, mtce.NetworkPxeboot)
		}
		return
	case wire.CmdSubfGoEnabledFailed, wire.CmdInfo, wire.CmdSync:
		return // never ACKed
	}
	c.ack(ctx, p)
	switch m.Command {
	case wire.CmdLocked:
		if err := c.writeFlag(hostsvc.NodeLockedFile, ""); err != nil {
			c.log.Error("cannot write node locked flag", "err", err)
		}
		var err error
		if m.LockPersist() {
			err = c.writeFlag(PersistLockedFile, "")
		} else {
			err = c.removeFlag(PersistLockedFile)
		}
		if err != nil {
			c.log.Error("cannot update persistent node locked flag", "err", err)
		}
	case wire.CmdUnlocked:
		for _, f := range []string{hostsvc.NodeLockedFile, PersistLockedFile} {
			if err := c.removeFlag(f); err != nil {
				c.log.Error("cannot remove node locked flag", "file", f, "err", err)
			}
		}
	case wire.CmdMainGoEnabledRequest, wire.CmdSubfGoEnabledRequest:
		s := goMain
		if m.Command == wire.CmdSubfGoEnabledRequest {
			s = goSubf
		}
		c.mu.Lock()
		busy := c.goRequests[s]
		c.goRequests[s] = true
		c.mu.Unlock()
		if busy {
			c.log.Info("goenabled request joins the one being answered", "tests", s.String())
			return
		}
		c.actions.Go(func() { c.goEnabledRequest(ctx, s) })
	case wire.CmdReboot, wire.CmdReset, wire.CmdWipedisk, wire.CmdLazyReboot:
		delay := time.Duration(0)
		if m.Command == wire.CmdLazyReboot {
			delay = time.Duration(m.LazyRebootDelay()) * time.Second
		}
		cmd := m.Command
		c.actions.Go(func() { c.act(ctx, cmd, delay) })
	}
}

// hostServices ACKs a host-services command on receipt, before anything
// runs, and hands it to the scheduler: a start only sets the scheduler's
// request, so it coalesces with the auto-start and with other starts
// (spec E.4); the single result goes out from onResult.
func (c *Client) hostServices(ctx context.Context, p wire.Packet, fn mtce.NodeFunctions, start bool) {
	f := hostsvc.Controller
	switch fn {
	case mtce.FunctionWorker:
		f = hostsvc.Worker
	case mtce.FunctionStorage:
		f = hostsvc.Storage
	}
	cmd := hostsvc.StopCommand(f)
	if start {
		cmd = hostsvc.StartCommand(f)
	}
	// The ACK goes out before the set's result can: the scheduler may run
	// an empty set, or finish the set this request joined, as soon as
	// Submit returns, and onResult waits for ackMu. An agent that saw the
	// result first would drop it and wait out its result timeout.
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	rc := mtce.Pass
	if start && c.holdForAutoStart(cmd) {
		c.log.Info("host services request held: the auto-start will run it once goenabled passes", "command", cmd.String())
	} else if _, err := c.sched.Submit(cmd); err != nil {
		c.log.Warn("host services request refused", "command", cmd.String(), "err", err)
		rc = mtce.FailOperation
	}
	ack, err := wire.NewHostServicesAck(&p.Message, rc)
	if err != nil {
		c.log.Error("cannot build host services ACK", "err", err)
		return
	}
	c.sendAck(ctx, p, &ack)
}

// holdForAutoStart reports whether a start request is held for the
// start-up auto-start: while the auto-start waits for its gate (goenabled,
// and on AIO the subfunction goenabled), a start of one of its commands
// would otherwise run at once, before the goenabled tests, and then again
// when the auto-start submits — twice, with two results. Held, it is
// answered by the auto-start's run: one run, one result (spec E.4). As far
// as spec E.3/E.4 describe it, StarlingX's client runs such a request at
// once; its agent has not sent start requests since 6106051. The agent
// waits host_services_timeout + 5 s for the result, so a gate that opens
// later than that makes it time out, as a slow set would.
func (c *Client) holdForAutoStart(cmd hostsvc.Command) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.autoWaiting || !slices.Contains(c.autoPlan, cmd) {
		return false
	}
	if !slices.Contains(c.heldStarts, cmd) {
		c.heldStarts = append(c.heldStarts, cmd)
	}
	return true
}

// ack sends the ACK of every other command: the request itself with the
// response signature (spec K.8).
func (c *Client) ack(ctx context.Context, p wire.Packet) {
	ack, err := wire.NewAck(&p.Message)
	if err != nil {
		c.log.Error("cannot build ACK", "command", p.Message.Command.String(), "err", err)
		return
	}
	c.sendAck(ctx, p, &ack)
}

// sendAck sends an ACK to the fixed destinations of the network it came
// on, not to the sender's port (spec K.8): mgmt → controller:2101,
// cluster-host → every controller-N-cluster-host:2101, pxeboot → the
// sender's address on 2102.
func (c *Client) sendAck(ctx context.Context, p wire.Packet, m *wire.Message) {
	var dests []netip.AddrPort
	switch p.Network {
	case mtce.NetworkMgmt:
		dests = []netip.AddrPort{c.agentAddr(c.cfg.Controller)}
	case mtce.NetworkClusterHost:
		for _, a := range c.cfg.ControllerClusterHost {
			dests = append(dests, c.agentAddr(a))
		}
	case mtce.NetworkPxeboot:
		dests = []netip.AddrPort{netip.AddrPortFrom(p.From.Addr(), uint16(c.cfg.Mtc.Agent.MtcRxPxebootPort))}
	}
	for _, d := range dests {
		if c.send(ctx, p.Network, d, m) {
			c.m.acksSent.WithLabelValues(p.Network.String()).Inc()
		}
	}
}

// learnPxeboot stores the controller pxeboot addresses of a pxeboot
// mtcAlive request; an empty value never clears a stored one (spec K.3).
func (c *Client) learnPxeboot(m *wire.Message) {
	info, err := m.PxebootInfo()
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, kv := range []struct {
		from string
		to   *string
	}{
		{info.Controller, &c.pxeboot.Controller},
		{info.Controller0, &c.pxeboot.Controller0},
		{info.Controller1, &c.pxeboot.Controller1},
	} {
		if _, err := netip.ParseAddr(kv.from); err == nil {
			*kv.to = kv.from
		}
	}
}
