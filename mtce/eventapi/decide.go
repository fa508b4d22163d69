package eventapi

import (
	"net/netip"
	"strings"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/swact"
)

// hostSet is the records as the handler reads them inside one
// transaction: through the State's [HostLookup] when it has one (no copy
// of every record), else the slice of [State.Hosts].
type hostSet struct {
	lookup HostLookup
	list   []Host
}

func hostsOf(s State) hostSet {
	if l, ok := s.(HostLookup); ok {
		return hostSet{lookup: l}
	}
	return hostSet{list: s.Hosts()}
}

// each calls yield with every record until it returns false.
func (hs hostSet) each(yield func(*Host) bool) {
	if hs.lookup != nil {
		hs.lookup.RangeHosts(yield)
		return
	}
	for i := range hs.list {
		if !yield(&hs.list[i]) {
			return
		}
	}
}

// first returns a copy of the first record for which match is true.
func (hs hostSet) first(match func(*Host) bool) (Host, bool) {
	var out Host
	found := false
	hs.each(func(h *Host) bool {
		if match(h) {
			out, found = *h, true
			return false
		}
		return true
	})
	return out, found
}

// find is mtce's getNode (spec J.2): the first host whose hostname,
// management, cluster-host or pxeboot IP, or uuid equals id. An empty or
// "none" id matches nothing (mtce would match every host whose address is
// "none").
func find(hosts hostSet, id string) (Host, bool) {
	if !given(id) {
		return Host{}, false
	}
	return hosts.first(func(h *Host) bool {
		return h.Name == id || h.UUID == id || h.MgmtIP == id || h.ClusterHostIP == id || h.PxebootIP == id
	})
}

func byName(hosts hostSet, name string) (Host, bool) {
	if !given(name) {
		return Host{}, false
	}
	if hosts.lookup != nil {
		return hosts.lookup.HostByName(name)
	}
	return hosts.first(func(h *Host) bool { return h.Name == name })
}

func byUUID(hosts hostSet, uuid string) (Host, bool) {
	if !given(uuid) {
		return Host{}, false
	}
	if hosts.lookup != nil {
		return hosts.lookup.HostByUUID(uuid)
	}
	return hosts.first(func(h *Host) bool { return h.UUID == uuid })
}

// isController reports whether a host provides the controller function.
func isController(h mtce.Host) bool {
	return h.Personality == mtce.PersonalityController || h.Functions().Has(mtce.FunctionController)
}

// decision is what a sysinv add or modify comes to: a reply and at most
// the calls to make on the State (modify may follow swact).
type decision struct {
	reply  Reply
	add    *AddRequest
	swact  *swact.Request
	modify *ModifyRequest
	reject *Rejection
}

// decideSysinv decides a sysinv add or modify (spec J.5) whose body
// already passed the HTTP-level checks (a JSON object, a 36-character
// uuid, an add… or modify… operation).
func decideSysinv(self string, hosts []Host, held bool, f Fields) decision {
	return decideSysinvIn(self, hostSet{list: hosts}, held, f)
}

func decideSysinvIn(self string, hosts hostSet, held bool, f Fields) decision {
	if h, ok := byUUID(hosts, f.UUID); ok {
		return decideModify(self, hosts, held, h, h, f) // add of a known uuid → modify
	}
	return decideAdd(self, hosts, held, f) // modify of an unknown uuid → add
}

// decideAdd is add_host and add_host_precheck, in mtce's order.
func decideAdd(self string, hosts hostSet, held bool, f Fields) decision {
	ctrlName := f.Hostname == "controller-0" || f.Hostname == "controller-1"
	if ctrlName {
		if h, ok := byName(hosts, f.Hostname); ok {
			// A recorded controller: take the body's states, then modify.
			copied := h
			copyStates(&copied.Host, f)
			return decideModify(self, hosts, held, h, copied, f)
		}
	} else {
		if !validName(f.Hostname) {
			return decision{reply: rejectSysinv(mtce.FailInvalidHostname, f, "")}
		}
		if !validName(f.UUID) {
			return decision{reply: rejectSysinv(mtce.FailInvalidUUID, f, "")}
		}
		mac := strings.ToLower(f.MgmtMAC)
		var dup *decision
		hosts.each(func(o *Host) bool {
			switch {
			case o.Name == f.Hostname:
				dup = &decision{reply: rejectSysinv(mtce.FailDupHostname, f, "")}
			case given(f.MgmtIP) && o.MgmtIP == f.MgmtIP:
				dup = &decision{reply: rejectSysinv(mtce.FailDupIPAddr, f, f.MgmtIP)}
			case given(mac) && strings.ToLower(o.MgmtMAC) == mac:
				dup = &decision{reply: rejectSysinv(mtce.FailDupMACAddr, f, "")}
			}
			return dup == nil
		})
		if dup != nil {
			return *dup
		}
	}
	// A new host.
	nh := newHost(f)
	if isController(nh) {
		if _, ok := hosts.first(func(o *Host) bool { return o.Name != self && isController(o.Host) }); ok {
			// An inactive controller is already recorded.
			return decision{reply: rejectSysinv(mtce.Fail, f, "")}
		}
	}
	switch {
	case ctrlName && nh.Personality != mtce.PersonalityController:
		return decision{reply: rejectSysinv(mtce.FailReservedName, f, "controller")}
	case f.Hostname == "storage-0" && nh.Personality != mtce.PersonalityStorage:
		return decision{reply: rejectSysinv(mtce.FailReservedName, f, "storage")}
	}
	act := initialState(&nh, f)
	return decision{reply: pass(), add: &AddRequest{Host: nh, Action: act, Fields: f}}
}

// validName is mtce's hostname and uuid test for an add.
func validName(s string) bool { return given(s) && s != "None" }

// newHost builds a new record from an add's body. Unknown personality
// and state texts read as none; bm_type is lower-cased first.
func newHost(f Fields) mtce.Host {
	h := mtce.Host{
		Name:          f.Hostname,
		UUID:          f.UUID,
		Subfunctions:  f.Subfunctions,
		MgmtIP:        f.MgmtIP,
		MgmtMAC:       strings.ToLower(f.MgmtMAC),
		ClusterHostIP: None,
		BMIP:          f.BMIP,
		BMUsername:    f.BMUsername,
	}
	if _, err := netip.ParseAddr(f.ClusterHostIP); err == nil {
		h.ClusterHostIP = f.ClusterHostIP
	}
	h.Personality, _ = mtce.ParsePersonality(f.Personality)
	h.BMType, _ = mtce.ParseBMCType(strings.ToLower(f.BMType))
	h.SubfOper, _ = mtce.ParseOperState(f.SubfunctionOper)
	h.SubfAvail, _ = mtce.ParseAvailStatus(f.SubfunctionAvail)
	_ = h.Task.UnmarshalText([]byte(f.Task))
	return h
}

// bodyStates returns the body's admin, oper and avail, and whether all
// three are known, non-none values.
func bodyStates(f Fields) (mtce.AdminState, mtce.OperState, mtce.AvailStatus, bool) {
	a, e1 := mtce.ParseAdminState(f.Administrative)
	o, e2 := mtce.ParseOperState(f.Operational)
	v, e3 := mtce.ParseAvailStatus(f.Availability)
	ok := e1 == nil && e2 == nil && e3 == nil && a != mtce.AdminNone && o != mtce.OperNone && v != mtce.AvailNone
	return a, o, v, ok
}

// initialState sets a new host's states from the body (spec J.5) and
// returns its initial admin action.
func initialState(h *mtce.Host, f Fields) mtce.AdminAction {
	lockedOffline := func() {
		h.Admin, h.Oper, h.Avail = mtce.AdminLocked, mtce.OperDisabled, mtce.AvailOffline
	}
	a, o, v, ok := bodyStates(f)
	if !ok {
		lockedOffline()
		return mtce.ActionNone
	}
	h.Admin, h.Oper, h.Avail = a, o, v
	switch f.Action {
	case "unlock", "lock", "force-lock", "reboot", "reset":
		act, _ := mtce.ParseAdminAction(f.Action)
		return act
	case "power-off":
		h.Admin, h.Oper, h.Avail = mtce.AdminLocked, mtce.OperDisabled, mtce.AvailPowerOff
		return mtce.ActionPowerOff
	case "power-on":
		lockedOffline()
		return mtce.ActionPowerOn
	case None, "":
		return mtce.ActionNone
	}
	lockedOffline()
	return mtce.ActionNone
}

// copyStates copies the body's known states into a recorded controller
// (add of controller-0/1 that is already recorded), and on an All-in-one
// controller its subfunction states.
func copyStates(h *mtce.Host, f Fields) {
	if a, err := mtce.ParseAdminState(f.Administrative); err == nil && a != mtce.AdminNone {
		h.Admin = a
	}
	if o, err := mtce.ParseOperState(f.Operational); err == nil && o != mtce.OperNone {
		h.Oper = o
	}
	if v, err := mtce.ParseAvailStatus(f.Availability); err == nil && v != mtce.AvailNone {
		h.Avail = v
	}
	fn := h.Functions() | mtce.FunctionsOf(f.Subfunctions)
	if fn.Has(mtce.FunctionController | mtce.FunctionWorker) {
		if o, err := mtce.ParseOperState(f.SubfunctionOper); err == nil && o != mtce.OperNone {
			h.SubfOper = o
		}
		if v, err := mtce.ParseAvailStatus(f.SubfunctionAvail); err == nil && v != mtce.AvailNone {
			h.SubfAvail = v
		}
	}
}

// decideModify is mod_host (spec J.5, J.11): the swact mutex first, then
// the administrative-state change (step 1) or the action (step 2), then
// the bm_ip clash; a refusal changes nothing. old is the record as
// stored, cur the record the checks read (old with a body's states copied
// in for an add of a recorded controller).
func decideModify(self string, hosts hostSet, held bool, old, cur Host, f Fields) decision {
	reject := func(rc mtce.RC, detail string) decision {
		r := rejectSysinv(rc, f, detail)
		act, _ := mtce.ParseAdminAction(f.Action)
		return decision{reply: r, reject: &Rejection{Host: old, Action: act, Text: f.Action, Reply: r}}
	}
	bodyAdmin, err := mtce.ParseAdminState(f.Administrative)
	step1 := err == nil && bodyAdmin != mtce.AdminNone && cur.Admin != mtce.AdminNone && bodyAdmin != cur.Admin
	if held && (step1 || given(f.Action)) {
		return reject(mtce.FailSwactInProgress, "")
	}
	act := mtce.ActionNone
	var sw *swact.Request
	switch {
	case step1 && cur.Admin == mtce.AdminUnlocked:
		if f.Action == "lock" {
			act = mtce.ActionLock
		}
	case step1 && cur.Admin == mtce.AdminLocked:
		if cur.Patching {
			return reject(mtce.FailPatchInProgress, "")
		}
		act = mtce.ActionUnlock
	case given(f.Action):
		switch f.Action {
		case "lock":
			if cur.Admin != mtce.AdminLocked {
				act = mtce.ActionLock
			}
		case "force-lock":
			if cur.Admin != mtce.AdminLocked && cur.Action != mtce.ActionForceLock {
				act = mtce.ActionForceLock
			}
		case "unlock":
			if cur.Patching {
				return reject(mtce.FailPatchInProgress, "")
			}
			if cur.Admin != mtce.AdminUnlocked {
				act = mtce.ActionUnlock
			}
		case "swact", "force-swact":
			sw = swactRequest(hosts, cur, f)
		case "reboot":
			act = mtce.ActionReboot
		case "reinstall":
			act = mtce.ActionReinstall
		case "reset":
			if !cur.BMType.Provisioned() {
				return reject(mtce.FailBMProvisionErr, "")
			}
			if cur.Avail == mtce.AvailPowerOff {
				return reject(mtce.FailResetPowerOff, "")
			}
			act = mtce.ActionReset
		case "power-on", "power-off":
			if !cur.BMType.Provisioned() {
				return reject(mtce.FailBMProvisionErr, "")
			}
			act, _ = mtce.ParseAdminAction(f.Action)
		default:
			return reject(mtce.FailAdminAction, f.Action)
		}
	}
	nh, clash := applyDeltas(hosts, cur, f)
	if clash {
		return reject(mtce.FailDupIPAddr, f.BMIP)
	}
	return decision{reply: pass(), swact: sw, modify: &ModifyRequest{Old: old, New: nh, Action: act, Fields: f}}
}

// swactRequest builds the swact controller's request from the records.
func swactRequest(hosts hostSet, h Host, f Fields) *swact.Request {
	pers, _ := mtce.ParsePersonality(f.Personality)
	r := &swact.Request{
		Host: h.Name, UUID: h.UUID, Force: f.Action == "force-swact",
		Personality: pers, Avail: h.Avail, Action: h.Action,
		HostPatching: h.Patching,
	}
	if m, ok := hosts.first(func(m *Host) bool { return m.UUID != h.UUID && m.Name != h.Name && isController(m.Host) }); ok {
		r.MateEnabled = m.UnlockedEnabled()
		r.MatePatching = m.Patching
		r.MatePatchedNoReboot = m.PatchedNoReboot
	}
	return r
}

// applyDeltas is mod_host's step 3 on a copy of h: the fields a modify
// may change, each as mtce accepts it. clash reports a bm_ip that another
// host already uses.
func applyDeltas(hosts hostSet, h Host, f Fields) (mtce.Host, bool) {
	n := h.Host
	if given(f.UUID) {
		n.UUID = f.UUID
	}
	if p, err := mtce.ParsePersonality(f.Personality); err == nil && p != mtce.PersonalityNone {
		n.Personality = p
	}
	if given(f.MgmtIP) { // mtce refuses "none"
		n.MgmtIP = f.MgmtIP
	}
	if given(f.MgmtMAC) {
		n.MgmtMAC = strings.ToLower(f.MgmtMAC)
	}
	if _, err := netip.ParseAddr(f.ClusterHostIP); err == nil {
		n.ClusterHostIP = f.ClusterHostIP
	}
	if given(f.Hostname) {
		n.Name = f.Hostname
	}
	n.BMUsername = f.BMUsername
	if given(f.BMIP) && f.BMIP != h.BMIP {
		if _, ok := hosts.first(func(o *Host) bool { return o.UUID != h.UUID && o.BMIP == f.BMIP }); ok {
			return n, true
		}
	}
	n.BMIP = f.BMIP
	n.BMType, _ = mtce.ParseBMCType(strings.ToLower(f.BMType))
	changed := n.Name != h.Name || n.BMIP != h.BMIP || n.BMUsername != h.BMUsername || n.BMType != h.BMType
	if changed && !n.BMCProvisioned() {
		n.BMIP, n.BMUsername, n.BMType = None, None, mtce.BMCNone
	}
	return n, false
}
