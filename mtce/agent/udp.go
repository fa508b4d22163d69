package agent

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// PacketConn is the agent's UDP: receive on mtc_agent_port (mgmt,
// cluster-host), send to hosts' client ports. *wire.Transport satisfies
// it; agenttest.Network gives an in-memory one.
type PacketConn interface {
	Recv(ctx context.Context) (wire.Packet, error)
	Send(ctx context.Context, n mtce.Network, to netip.AddrPort, m *wire.Message) error
	Close() error
}

// addrer is the optional part of a PacketConn that tells its own address
// per network (*wire.Transport has it).
type addrer interface {
	Addr(n mtce.Network) netip.AddrPort
}

// statser is the optional part of a PacketConn that counts what it
// dropped before Recv (*wire.Transport has it).
type statser interface{ Stats() wire.Stats }

// Drop reasons counted by the agent (on top of the transport's own).
const (
	DropUnknownSource = "unknown-source" // no host has the source address and no identity names one
	DropLockedResult  = "locked-result"  // a host-services result from a locked host (E.2)
	DropUnexpected    = "unexpected"     // an ACK or result nobody waits for
	DropUnsupported   = "unsupported"    // a message kind this agent does not handle
	DropNoIdentity    = "no-identity"    // an mtcAlive from an unknown source without usable identity
	DropInboxFull     = "inbox-full"     // a waiting exchange's inbox was full
)

// offlineAfter is the offline rule: a host is offline when no mtcAlive
// has arrived for offline_period × offline_threshold, raised to at least
// MinOfflineAfter (two 5 s mtcAlive intervals and a second: one lost
// datagram never makes a host offline) and capped at MaxOfflineAfter.
// StarlingX's defaults (100 ms × 90 = 9 s) are therefore raised to 11 s.
func (a *Agent) offlineAfter() time.Duration {
	m := a.mtc.Load()
	d := m.Agent.OfflinePeriod * time.Duration(max(m.Agent.OfflineThreshold, 1))
	return min(max(d, MinOfflineAfter), MaxOfflineAfter)
}

// receive is the receive loop: one packet at a time, never blocking on
// anything but the host records' lock.
func (a *Agent) receive(ctx context.Context) error {
	for {
		p, err := a.conn.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("agent: UDP receive: %w", err)
		}
		a.met.udpIn.Add(1)
		a.handlePacket(p)
	}
}

func (a *Agent) drop(reason string, p wire.Packet) {
	a.met.drop(reason)
	a.log.Debug("UDP message dropped", "reason", reason, "from", p.From, "network", p.Network)
}

func (a *Agent) handlePacket(p wire.Packet) {
	a.lock()
	defer a.unlock()
	h := a.byAddr[p.From.Addr().Unmap().String()]
	if p.Kind != wire.KindMessage {
		if h == nil {
			a.drop(DropUnknownSource, p)
		} else {
			a.drop(DropUnsupported, p) // collectd degrade notices: not acted on
		}
		return
	}
	m := &p.Message
	if h == nil {
		if m.Signature != wire.SigWorker || m.Command != wire.CmdMtcAlive {
			a.drop(DropUnknownSource, p)
			return
		}
		al, err := m.MtcAlive()
		if err != nil || !given(al.Identity.Hostname) {
			a.drop(DropNoIdentity, p)
			return
		}
		h = a.hosts[al.Identity.Hostname]
		if h == nil {
			a.drop(DropUnknownSource, p)
			return
		}
		// K.2: the source becomes the host's pxeboot address, whatever
		// the interface.
		a.unindexLocked(h)
		h.pxeboot = p.From.Addr().Unmap().String()
		a.indexLocked(h)
	}
	switch {
	case m.Signature == wire.SigWorker && m.Command == wire.CmdMtcAlive:
		// Only the binary parameters are read for a known source: the
		// identity JSON (K.2) serves only to find an unknown source's
		// host, above. Parsing it for every mtcAlive was ~40 % of the
		// agent's own CPU at 5,000 hosts.
		al, _ := m.MtcAliveParams() // signature and command checked above
		a.onAliveLocked(h, al, a.mgmtRestartLocked(h, p, al))
	case m.Signature == wire.SigResponse:
		if subs := a.subs[h.rec.Name]; len(subs) > 0 {
			for _, ch := range subs {
				mm := *m
				select {
				case ch <- &mm:
				default:
					a.drop(DropInboxFull, p)
				}
			}
			return
		}
		if m.Command != wire.CmdHostServicesResult {
			a.drop(DropUnexpected, p)
			return
		}
		if h.rec.Admin == mtce.AdminLocked {
			a.drop(DropLockedResult, p)
			return
		}
		r, _ := m.HostServicesResult()
		if r.Status != mtce.Pass && h.rec.UnlockedEnabled() && h.run == nil && !h.arOff[causeServices] {
			a.log.Warn("unsolicited host-services failure", "host", h.rec.Name, "text", r.Text)
			a.startLocked(h, mtce.ActionRecover, func(ctx context.Context) error { return a.recover(ctx, h, causeServices) })
			return
		}
		a.drop(DropUnexpected, p)
	default:
		a.drop(DropUnsupported, p)
	}
}

// mgmtAlive is what the reboot rule keeps of a host's last mtcAlive on
// the management network.
type mgmtAlive struct {
	seen   bool
	seq    uint32    // parm[3]
	uptime uint32    // parm[0]
	at     time.Time // arrival
}

// restartSlack is how much less than the agent's clock a host's uptime
// may advance between two mgmt mtcAlives before the boot time counts as
// moved: one second of truncation at each end of the host's uptime.
const restartSlack = 2 * time.Second

// mgmtRestartLocked records an mtcAlive that came from h's management IP
// on the management network and reports whether it proves that h
// rebooted since the previous one although its uptime did not go down
// (a reboot faster than one mtcAlive period, seen when the previous
// uptime was below the new one). It fires only when all three hold:
//
//   - the sequence did not advance (seq ≤ the previous one): mtcClient's
//     mgmt sequence is pre-incremented per message from 1 at each process
//     start (K.2), so within one client process a later message always
//     has a higher sequence;
//   - the uptime went up (uptime > the previous one): within one boot, a
//     message with a sequence not above the previous one was sent no
//     later and so has an uptime not above the previous one. With the
//     first rule this is what a reordered, duplicated or late datagram
//     can never satisfy: it would have both a lower-or-equal sequence and
//     a lower-or-equal uptime. Both together mean a new client process;
//   - the boot time moved: the uptime went up by at least restartSlack
//     less than the agent's clock since the previous mgmt mtcAlive. A
//     client process restart without a reboot keeps the uptime in step
//     with the clock, so it does not fire.
//
// Only the mgmt network is used: each interface has its own sequence, and
// the cluster-host and pxeboot messages would interleave with it. The
// uptime-down rule of onAliveLocked is unchanged.
func (a *Agent) mgmtRestartLocked(h *host, p wire.Packet, al wire.Alive) bool {
	if p.Network != mtce.NetworkMgmt {
		return false
	}
	if ip, err := netip.ParseAddr(h.rec.MgmtIP); err != nil || ip.Unmap() != p.From.Addr().Unmap() {
		return false
	}
	now := time.Now()
	prev := h.mgmt
	h.mgmt = mgmtAlive{seen: true, seq: al.Sequence, uptime: al.Uptime, at: now}
	if !prev.seen || al.Sequence > prev.seq || al.Uptime <= prev.uptime {
		return false
	}
	advanced := time.Duration(al.Uptime-prev.uptime) * time.Second
	return advanced+restartSlack < now.Sub(prev.at)
}

// onAliveLocked records an mtcAlive and starts what it calls for.
// restarted is mgmtRestartLocked's verdict: a reboot that the uptime
// alone does not show.
func (a *Agent) onAliveLocked(h *host, al wire.Alive, restarted bool) {
	now := time.Now()
	wasAlive := h.alive
	rebooted := h.seen && (al.Uptime < h.uptime || restarted)
	if rebooted {
		h.epoch++ // the host rebooted
		a.met.reboots.Add(1)
	}
	h.seen = true
	h.uptime = al.Uptime
	if h.rec.Name == a.cfg.Hostname {
		a.selfUp.Store(al.Uptime)
	}
	h.flags = al.Flags
	h.lastAlive = now
	h.alive = true
	h.patching = al.Flags&wire.FlagPatching != 0
	h.patched = al.Flags&wire.FlagPatched != 0
	a.met.alives.Add(1)
	if h.adding {
		h.adding = false
		if h.isController() {
			a.sw.AddDone()
		}
	}
	defer h.notify()
	if h.run != nil {
		// The action watches the record; a locked host's plain
		// online/offline still follows (see tracksAvail).
		a.syncAvailLocked(h)
		return
	}
	switch {
	case h.rec.UnlockedEnabled() && h.rec.Name != a.cfg.Hostname:
		if rebooted {
			a.log.Warn("unlocked-enabled host rebooted on its own: failed until it returns", "host", h.rec.Name, "uptime", al.Uptime)
			a.startLocked(h, mtce.ActionRecover, func(ctx context.Context) error { return a.recover(ctx, h, causeNone) })
			break
		}
		if c, ok := failureCause(al.Flags); ok && !h.arOff[c] {
			a.log.Warn("failure flag in mtcAlive", "host", h.rec.Name, "flags", al.Flags, "cause", c)
			a.startLocked(h, mtce.ActionRecover, func(ctx context.Context) error { return a.recover(ctx, h, c) })
		}
	case h.rec.Admin == mtce.AdminUnlocked && h.rec.Avail == mtce.AvailFailed:
		// Failed while away (or left failed): re-enable when it returns.
		if !anyAROff(h) {
			a.startLocked(h, mtce.ActionRecover, func(ctx context.Context) error { return a.recover(ctx, h, causeNone) })
		}
	case !wasAlive && h.rec.Oper != mtce.OperEnabled && (h.rec.Avail == mtce.AvailOffline || h.rec.Avail == mtce.AvailPowerOff || h.rec.Avail == mtce.AvailNone):
		a.setStatesLocked(h, h.rec.Admin, mtce.OperDisabled, mtce.AvailOnline)
	}
}

func failureCause(f wire.AliveFlags) (cause, bool) {
	switch {
	case f&(wire.FlagMainServicesFail|wire.FlagSubfServicesFail) != 0:
		return causeServices, true
	case f&(wire.FlagMainGoEnableFail|wire.FlagSubfGoEnableFail) != 0:
		return causeGoEnable, true
	}
	return causeNone, false
}

func anyAROff(h *host) bool {
	for _, v := range h.arOff {
		if v {
			return true
		}
	}
	return false
}

// audit applies the offline rule and the add bound once a second.
func (a *Agent) audit(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		a.auditOnce()
	}
}

func (a *Agent) auditOnce() {
	now := time.Now()
	limit := a.offlineAfter()
	a.lock()
	defer a.unlock()
	for _, h := range a.hosts {
		if h.adding && now.After(h.addUntil) {
			h.adding = false
			a.log.Info("add finished without an mtcAlive (bound reached)", "host", h.rec.Name)
		}
		if !h.alive || now.Sub(h.lastAlive) < limit || h.rec.Name == a.cfg.Hostname {
			continue
		}
		h.alive = false
		h.epoch++
		a.met.offlines.Add(1)
		a.log.Info("host offline: no mtcAlive", "host", h.rec.Name, "for", now.Sub(h.lastAlive).Round(time.Second))
		h.notify()
		if h.run != nil {
			a.syncAvailLocked(h) // see tracksAvail
			continue
		}
		switch {
		case h.rec.UnlockedEnabled():
			a.log.Warn("unlocked-enabled host went away: failed", "host", h.rec.Name)
			a.startLocked(h, mtce.ActionRecover, func(ctx context.Context) error { return a.recover(ctx, h, causeNone) })
		case h.rec.Avail != mtce.AvailPowerOff && h.rec.Avail != mtce.AvailFailed:
			a.setStatesLocked(h, h.rec.Admin, h.rec.Oper, mtce.AvailOffline)
		}
	}
}

// ---- commands ----

// subscribe gives an inbox that receives every response ("cmd rsp")
// message from the host until the returned function is called.
func (a *Agent) subscribeLocked(name string) (chan *wire.Message, func()) {
	ch := make(chan *wire.Message, 32)
	a.subs[name] = append(a.subs[name], ch)
	return ch, func() {
		a.lock()
		defer a.unlock()
		s := a.subs[name]
		for i, c := range s {
			if c == ch {
				s = append(s[:i], s[i+1:]...)
				break
			}
		}
		if len(s) == 0 {
			delete(a.subs, name)
		} else {
			a.subs[name] = s
		}
	}
}

// dest is one network's destination for a host.
type dest struct {
	n  mtce.Network
	to netip.AddrPort
}

// destsLocked lists the host's client addresses: mgmt IP on the client's
// mgmt port, cluster-host IP on its cluster port (K.8).
func (a *Agent) destsLocked(h *host) []dest {
	m := a.mtc.Load()
	var out []dest
	if ip, err := netip.ParseAddr(h.rec.MgmtIP); err == nil {
		out = append(out, dest{mtce.NetworkMgmt, netip.AddrPortFrom(ip.Unmap(), uint16(m.Client.MtcRxMgmtPort))})
	}
	if ip, err := netip.ParseAddr(h.rec.ClusterHostIP); err == nil {
		out = append(out, dest{mtce.NetworkClusterHost, netip.AddrPortFrom(ip.Unmap(), uint16(m.Client.MtcRxClstrPort))})
	}
	return out
}

// selfAddr is the agent's address on n for the command JSON.
func (a *Agent) selfAddr(n mtce.Network) string {
	if s, ok := a.cfg.Addresses[n]; ok {
		return s
	}
	if ad, ok := a.conn.(addrer); ok {
		if ap := ad.Addr(n); ap.IsValid() {
			return ap.Addr().String()
		}
	}
	return ""
}

func (a *Agent) send(ctx context.Context, d dest, m *wire.Message) error {
	err := a.conn.Send(ctx, d.n, d.to, m)
	if err != nil {
		a.met.udpSendErrors.Add(1)
		return err
	}
	a.met.udpOut.Add(1)
	return nil
}

// command sends cmd (built per network by mk) on every network of h and
// waits up to wait for the first ACK of cmd on any of them (K.8: one
// suffices). It returns ErrNoAck-wrapping errors when none came.
func (a *Agent) command(ctx context.Context, h *host, cmd wire.Command, wait time.Duration, mk func(wire.Target) (wire.Message, error)) error {
	a.lock()
	dests := a.destsLocked(h)
	mac := h.rec.MgmtMAC
	name := h.rec.Name
	in, unsub := a.subscribeLocked(name)
	a.unlock()
	defer unsub()
	if len(dests) == 0 {
		return fmt.Errorf("agent: %s has no usable address", name)
	}
	sent := 0
	for _, d := range dests {
		m, err := mk(wire.Target{MAC: normMAC(mac), Address: a.selfAddr(d.n), Network: d.n})
		if err != nil {
			return err
		}
		if err := a.send(ctx, d, &m); err != nil {
			a.log.Debug("command send failed", "host", name, "cmd", cmd, "network", d.n, "err", err)
			continue
		}
		sent++
	}
	if sent == 0 {
		return fmt.Errorf("agent: %s: %v could not be sent", name, cmd)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case m := <-in:
			if ack, err := m.Ack(); err == nil && ack.Command == cmd {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("agent: %s: %v: %w", name, cmd, wire.ErrNoAck)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func normMAC(s string) string {
	if !given(s) {
		return ""
	}
	return s
}

// link is a wire.Link to one host's mgmt client port, fed by the receive
// loop, for wire.RequestHostServices.
type link struct {
	a  *Agent
	d  dest
	in chan *wire.Message
}

func (l *link) Send(ctx context.Context, m *wire.Message) error { return l.a.send(ctx, l.d, m) }
func (l *link) Recv(ctx context.Context) (*wire.Message, error) {
	select {
	case m := <-l.in:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hostServices sends a stop (or start) of fn's host services and waits as
// mtcAgent does: ACK within 10 s, result within host_services_timeout + 5 s.
func (a *Agent) hostServices(ctx context.Context, h *host, fn mtce.NodeFunctions, start bool) (wire.Result, error) {
	a.lock()
	dests := a.destsLocked(h)
	mac := h.rec.MgmtMAC
	name := h.rec.Name
	in, unsub := a.subscribeLocked(name)
	a.unlock()
	defer unsub()
	if len(dests) == 0 || dests[0].n != mtce.NetworkMgmt {
		return wire.Result{}, fmt.Errorf("agent: %s has no management address", name)
	}
	req, err := wire.NewHostServicesRequest(fn, start, wire.Target{MAC: normMAC(mac), Address: a.selfAddr(mtce.NetworkMgmt), Network: mtce.NetworkMgmt})
	if err != nil {
		return wire.Result{}, err
	}
	return wire.RequestHostServices(ctx, &link{a: a, d: dests[0], in: in}, &req, a.mtc.Load().Timeouts.HostServices)
}
