package agent

import (
	"context"
	"net/netip"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/swact"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// host is the agent's record of one host. Every field is guarded by the
// agent's lock.
type host struct {
	rec     mtce.Host
	pxeboot string

	uptime    uint32
	flags     wire.AliveFlags
	alive     bool      // online by the mtcAlive rule
	lastAlive time.Time // last mtcAlive
	seen      bool      // an mtcAlive arrived since the agent started
	epoch     uint64    // bumped when the host went offline or rebooted (rebootedLocked)
	mgmt      mgmtAlive // the last mtcAlive from the host's mgmt IP on the mgmt network
	changed   chan struct{}

	adding   bool
	addUntil time.Time

	patching, patched bool

	run     *run
	ar      map[cause]int
	arOff   map[cause]bool
	deleted bool
	bmcOn   bool // BMC provisioned, as last reported to the hooks
}

// run is a host's current action.
type run struct {
	action mtce.AdminAction
	cancel context.CancelFunc
	done   chan struct{}
}

// tracksAvail reports whether the online/offline availability of h, a
// locked host, follows its mtcAlive while h's current action runs: with no
// action, and during the actions that do not set availability themselves
// (the add, a reboot, the BMC power actions — the host goes away and comes
// back under them). Lock, force-lock, unlock and recovery set availability
// themselves.
func (h *host) tracksAvail() bool {
	if h.rec.Admin != mtce.AdminLocked {
		return false
	}
	if h.run == nil {
		return true
	}
	switch h.run.action {
	case mtce.ActionAdd, mtce.ActionReboot, mtce.ActionReset, mtce.ActionPowerOn, mtce.ActionPowerOff, mtce.ActionPowercycle:
		return true
	}
	return false
}

// syncAvailLocked makes a locked host's recorded availability (and
// SysInv's) follow whether its mtcAlive arrives: online when it does,
// offline when it stopped. Power-off and failed are left alone (the
// power actions and recovery own them).
func (a *Agent) syncAvailLocked(h *host) {
	if !h.tracksAvail() || h.deleted {
		return
	}
	switch avail := h.rec.Avail; {
	case h.alive && (avail == mtce.AvailOffline || avail == mtce.AvailNone):
		a.setStatesLocked(h, h.rec.Admin, mtce.OperDisabled, mtce.AvailOnline)
	case !h.alive && avail == mtce.AvailOnline:
		a.setStatesLocked(h, h.rec.Admin, h.rec.Oper, mtce.AvailOffline)
	}
}

// cause is an auto-recovery cause.
type cause uint8

const (
	causeNone     cause = iota // spontaneous reboot or offline: no counting
	causeServices              // host-services failure flag or result (ar_hostservices)
	causeGoEnable              // goenabled failure flag (ar_goenable)
	causeSM                    // SM's failed event (autorecovery_threshold)
)

func (c cause) String() string {
	return [...]string{"none", "hostservices", "goenable", "sm"}[c]
}

func (h *host) notify() {
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *host) ref() sysinv.Ref { return sysinv.Ref{Name: h.rec.Name, UUID: h.rec.UUID} }

func (h *host) isController() bool {
	return h.rec.Personality == mtce.PersonalityController || h.rec.Functions().Has(mtce.FunctionController)
}

// aio: the host carries the worker subfunction next to the controller one.
func (h *host) aio() bool {
	f := h.rec.Functions()
	return f.Has(mtce.FunctionController) && f.Has(mtce.FunctionWorker)
}

func (h *host) bmcHost() BMCHost {
	return BMCHost{Name: h.rec.Name, UUID: h.rec.UUID, BMIP: h.rec.BMIP, BMUsername: h.rec.BMUsername, BMType: h.rec.BMType}
}

func (h *host) evHost() eventapi.Host {
	return eventapi.Host{
		Host:            h.rec,
		PxebootIP:       h.pxeboot,
		Uptime:          h.uptime,
		Patching:        h.patching,
		PatchedNoReboot: h.patched,
		Adding:          h.adding,
	}
}

// addRecordLocked records a host (inventory load or add).
func (a *Agent) addRecordLocked(r mtce.Host, uptime uint32) *host {
	if old := a.hosts[r.Name]; old != nil {
		a.forgetLocked(old)
	}
	h := &host{rec: r, uptime: uptime, changed: make(chan struct{}), ar: map[cause]int{}, arOff: map[cause]bool{}}
	a.hosts[r.Name] = h
	a.indexLocked(h)
	return h
}

func addrKey(s string) string {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap().String()
	}
	return ""
}

func (a *Agent) indexLocked(h *host) {
	for _, s := range []string{h.rec.MgmtIP, h.rec.ClusterHostIP, h.pxeboot} {
		if k := addrKey(s); k != "" {
			a.byAddr[k] = h
		}
	}
}

func (a *Agent) unindexLocked(h *host) {
	for _, s := range []string{h.rec.MgmtIP, h.rec.ClusterHostIP, h.pxeboot} {
		if k := addrKey(s); k != "" && a.byAddr[k] == h {
			delete(a.byAddr, k)
		}
	}
}

// forgetLocked removes a host: its action is cancelled, its BMC
// deprovisioned.
func (a *Agent) forgetLocked(h *host) {
	a.unindexLocked(h)
	if a.hosts[h.rec.Name] == h {
		delete(a.hosts, h.rec.Name)
	}
	if a.byUUID[h.rec.UUID] == h {
		delete(a.byUUID, h.rec.UUID)
	}
	h.deleted = true
	if h.run != nil {
		h.run.cancel()
	}
	if h.bmcOn {
		h.bmcOn = false
		a.bmcDeprovisioned(h.rec.Name)
	}
	delete(a.pw, h.rec.Name)
	h.notify()
}

// ---- eventapi.Backend and eventapi.State ----

// Transact implements eventapi.Backend: fn runs with the host records
// locked, so the decision and its acceptance are one step.
func (a *Agent) Transact(ctx context.Context, fn func(eventapi.State) error) error {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer a.unlock()
	return fn(state{a})
}

// state is the agent seen inside one Transact.
type state struct{ a *Agent }

func (s state) Hosts() []eventapi.Host {
	out := make([]eventapi.Host, 0, len(s.a.hosts))
	for _, h := range s.a.hosts {
		out = append(out, h.evHost())
	}
	return out
}

// HostByUUID, HostByName and RangeHosts implement eventapi.HostLookup:
// the handler reads the records in place instead of a copy of all of
// them per request (Hosts, kept for the interface).
func (s state) HostByUUID(uuid string) (eventapi.Host, bool) {
	if h := s.a.hostByUUIDLocked(uuid); h != nil {
		return h.evHost(), true
	}
	return eventapi.Host{}, false
}

// hostByUUIDLocked returns the recorded host whose uuid is uuid. byUUID is
// only a hint, never trusted: an entry is used only while its host is
// still the recorded one and still has that uuid (a modify may change a
// uuid, a delete or re-add replaces the record), so it can never return a
// record a scan would not; on a miss the records are scanned and the hint
// refreshed. The uuids of the records are unique (an add of a recorded
// uuid is a modify, spec J.5), so the hint and a scan agree.
func (a *Agent) hostByUUIDLocked(uuid string) *host {
	if h := a.byUUID[uuid]; h != nil {
		if h.rec.UUID == uuid && !h.deleted && a.hosts[h.rec.Name] == h {
			return h
		}
		delete(a.byUUID, uuid)
	}
	for _, h := range a.hosts {
		if h.rec.UUID == uuid {
			a.byUUID[uuid] = h
			return h
		}
	}
	return nil
}

func (s state) HostByName(name string) (eventapi.Host, bool) {
	if h := s.a.hosts[name]; h != nil {
		return h.evHost(), true
	}
	return eventapi.Host{}, false
}

func (s state) RangeHosts(yield func(*eventapi.Host) bool) {
	var x eventapi.Host
	for _, h := range s.a.hosts {
		x = h.evHost()
		if !yield(&x) {
			return
		}
	}
}

var _ eventapi.HostLookup = state{}

func (s state) SwactHeld() bool { return s.a.sw.Held() }

func (s state) closing() error {
	if s.a.runCtx == nil || s.a.runCtx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// Add records a new host; its add finishes at its first mtcAlive or, at
// the latest, host_add_delay + the offline threshold after the request
// (the bound on Host.Adding). The initial action runs after
// host_add_delay.
func (s state) Add(ctx context.Context, r eventapi.AddRequest) error {
	if err := s.closing(); err != nil {
		return err
	}
	a := s.a
	m := a.mtc.Load()
	h := a.addRecordLocked(r.Host, 0)
	h.adding = true
	h.addUntil = time.Now().Add(m.Agent.HostAddDelay + a.offlineAfter())
	a.log.Info("host added", "host", h.rec.Name, "action", r.Action)
	a.bmcChangedLocked(h, BMCHost{})
	a.startLocked(h, mtce.ActionAdd, func(ctx context.Context) error { return a.doAdd(ctx, h, r.Action) })
	return nil
}

// Modify applies an accepted modify and starts its action.
func (s state) Modify(ctx context.Context, r eventapi.ModifyRequest) error {
	if err := s.closing(); err != nil {
		return err
	}
	a := s.a
	h := a.hosts[r.Old.Name]
	if h == nil {
		return ErrUnknownHost
	}
	old := h.bmcHost()
	a.unindexLocked(h)
	if r.New.Name != h.rec.Name {
		delete(a.hosts, h.rec.Name)
		a.hosts[r.New.Name] = h
	}
	action := h.rec.Action
	h.rec = r.New
	h.rec.Action = action
	a.indexLocked(h)
	a.bmcChangedLocked(h, old)
	if r.Action != mtce.ActionNone {
		a.startActionLocked(h, r.Action)
	}
	return nil
}

func (s state) Swact(ctx context.Context, r swact.Request) error {
	if err := s.closing(); err != nil {
		return err
	}
	err := s.a.sw.Request(ctx, r)
	if err == nil {
		s.a.met.swacts.Add(1)
	} else {
		s.a.log.Info("swact not started", "host", r.Host, "err", err)
	}
	return err
}

func (s state) Delete(ctx context.Context, eh eventapi.Host) error {
	if err := s.closing(); err != nil {
		return err
	}
	if h := s.a.hosts[eh.Name]; h != nil {
		s.a.log.Info("host deleted", "host", eh.Name)
		s.a.forgetLocked(h)
	}
	return nil
}

func (s state) VIMFailed(ctx context.Context, eh eventapi.Host, reboot bool) error {
	if err := s.closing(); err != nil {
		return err
	}
	a := s.a
	h := a.hosts[eh.Name]
	if h == nil {
		return ErrUnknownHost
	}
	if reboot {
		a.startActionLocked(h, mtce.ActionReboot)
		return nil
	}
	_, err := a.si.ForceStates(h.ref(), mtce.AdminUnlocked, mtce.OperDisabled, mtce.AvailFailed)
	return err
}

func (s state) SMFailed(ctx context.Context, eh eventapi.Host) error {
	if err := s.closing(); err != nil {
		return err
	}
	a := s.a
	h := a.hosts[eh.Name]
	if h == nil {
		return ErrUnknownHost
	}
	if h.arOff[causeSM] || h.run != nil {
		return nil
	}
	a.startLocked(h, mtce.ActionRecover, func(ctx context.Context) error { return a.recover(ctx, h, causeSM) })
	return nil
}

func (s state) Rejected(r eventapi.Rejection) {
	s.a.met.rejections.Add(1)
	s.a.log.Info("request rejected", "host", r.Host.Name, "action", r.Text, "rc", r.Reply.RC)
}
