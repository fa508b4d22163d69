package eventapi

import (
	"testing"

	"opendev.org/starlingx/metal-go/mtce"
)

// body returns sysinv fields for a host, as ParseBody would give them.
func body(name, uuid, pers, ip, mac string, kv ...string) Fields {
	f := noneFields()
	f.Hostname, f.UUID, f.Personality, f.MgmtIP, f.MgmtMAC = name, uuid, pers, ip, mac
	f.Subfunctions = pers
	f.Administrative, f.Operational, f.Availability = "locked", "disabled", "offline"
	f.Operation = "add"
	for i := 0; i+1 < len(kv); i += 2 {
		for _, k := range keys {
			if k.key == kv[i] {
				*k.f(&f) = kv[i+1]
			}
		}
	}
	return f
}

const uuidNew = "44444444-4444-4444-8444-444444444444"

func TestDecideAdd(t *testing.T) {
	hosts := fixture().hosts
	for _, c := range []struct {
		name string
		self string
		f    Fields
		rc   mtce.RC
	}{
		{"new worker", "controller-0", body("compute-1", uuidNew, "worker", "192.168.204.60", "52:54:00:00:00:60"), mtce.Pass},
		{"hostname None", "controller-0", body("None", uuidNew, "worker", "192.168.204.60", "52:54:00:00:00:60"), mtce.FailInvalidHostname},
		{"hostname none", "controller-0", body("none", uuidNew, "worker", "192.168.204.60", "52:54:00:00:00:60"), mtce.FailInvalidHostname},
		{"dup hostname", "controller-0", body("compute-0", uuidNew, "worker", "192.168.204.60", "52:54:00:00:00:60"), mtce.FailDupHostname},
		{"dup ip", "controller-0", body("compute-1", uuidNew, "worker", "192.168.204.50", "52:54:00:00:00:60"), mtce.FailDupIPAddr},
		{"dup mac any case", "controller-0", body("compute-1", uuidNew, "worker", "192.168.204.60", "52:54:00:00:00:50"), mtce.FailDupMACAddr},
		{"hostname before ip", "controller-0", body("compute-0", uuidNew, "worker", "192.168.204.50", "52:54:00:00:00:50"), mtce.FailDupHostname},
		{"ip none is no clash", "controller-0", body("compute-1", uuidNew, "worker", "none", "none"), mtce.Pass},
		{"reserved storage-0", "controller-0", body("storage-0", uuidNew, "worker", "192.168.204.60", "52:54:00:00:00:60"), mtce.FailReservedName},
		{"storage-0 storage", "controller-0", body("storage-0", uuidNew, "storage", "192.168.204.60", "52:54:00:00:00:60"), mtce.Pass},
		// controller-2 is a controller while controller-1 (not us) is recorded.
		{"inactive controller recorded", "controller-0", body("controller-2", uuidNew, "controller", "192.168.204.60", "52:54:00:00:00:60"), mtce.Fail},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := decideSysinv(c.self, hosts, false, c.f)
			if d.reply.RC != c.rc {
				t.Fatalf("rc %v, want %v (%q)", d.reply.RC, c.rc, d.reply.Reason)
			}
			if c.rc != mtce.Pass && (d.add != nil || d.modify != nil || d.swact != nil) {
				t.Fatalf("a refusal carries an acceptance: %+v", d)
			}
			if d.reply.Code != 200 {
				t.Fatalf("sysinv refusal code %d", d.reply.Code)
			}
			if c.rc != mtce.Pass && (d.reply.Reason == "" || d.reply.Action == "") {
				t.Fatalf("refusal without reason or action: %+v", d.reply)
			}
		})
	}
}

// J.11: the mate controller's add succeeds only when the agent knows which
// controller it runs on.
func TestDecideAddMateController(t *testing.T) {
	hosts := []Host{ctrl("controller-0", uuidC0, "192.168.204.11", mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable)}
	f := body("controller-1", uuidC1, "controller", "192.168.204.12", "52:54:00:00:00:12")
	if d := decideSysinv("controller-0", hosts, false, f); d.add == nil || !d.reply.Pass() {
		t.Fatalf("add of the mate from controller-0: %+v", d.reply)
	}
	if d := decideSysinv("controller-1", hosts, false, f); d.reply.RC != mtce.Fail {
		t.Fatalf("add of controller-1 while controller-0 is the inactive one: %+v", d.reply)
	}
	f.Personality, f.Subfunctions = "worker", "worker"
	if d := decideSysinv("controller-0", hosts, false, f); d.reply.RC != mtce.FailReservedName {
		t.Fatalf("controller-1 as a worker: %+v", d.reply)
	}
}

func TestDecideAddInitialState(t *testing.T) {
	for _, c := range []struct {
		action, admin string
		want          mtce.AdminAction
		a             mtce.AdminState
		v             mtce.AvailStatus
	}{
		{"none", "locked", mtce.ActionNone, mtce.AdminLocked, mtce.AvailOffline},
		{"lock", "unlocked", mtce.ActionLock, mtce.AdminUnlocked, mtce.AvailOffline},
		{"reset", "locked", mtce.ActionReset, mtce.AdminLocked, mtce.AvailOffline},
		{"power-off", "unlocked", mtce.ActionPowerOff, mtce.AdminLocked, mtce.AvailPowerOff},
		{"power-on", "unlocked", mtce.ActionPowerOn, mtce.AdminLocked, mtce.AvailOffline},
		{"swact", "unlocked", mtce.ActionNone, mtce.AdminLocked, mtce.AvailOffline},
		{"unlock", "bogus", mtce.ActionNone, mtce.AdminLocked, mtce.AvailOffline},
	} {
		f := body("compute-1", uuidNew, "worker", "192.168.204.60", "52:54:00:00:00:60", "action", c.action, "administrative", c.admin)
		d := decideSysinv("controller-0", nil, false, f)
		if d.add == nil || d.add.Action != c.want || d.add.Host.Admin != c.a || d.add.Host.Avail != c.v {
			t.Errorf("action %s admin %s: %+v", c.action, c.admin, d.add)
		}
	}
}

// An add of controller-0 that is already recorded (by name, another uuid)
// copies the body's states and becomes a modify.
func TestDecideAddRecordedController(t *testing.T) {
	hosts := fixture().hosts
	f := body("controller-1", uuidNew, "controller", "192.168.204.12", "52:54:00:00:00:12",
		"administrative", "locked", "operational", "disabled", "availability", "online")
	d := decideSysinv("controller-0", hosts, false, f)
	if d.modify == nil || d.add != nil {
		t.Fatalf("not a modify: %+v", d)
	}
	m := d.modify
	if m.Old.UUID != uuidC1 || m.New.UUID != uuidNew || m.New.Admin != mtce.AdminLocked || m.New.Avail != mtce.AvailOnline || m.Action != mtce.ActionNone {
		t.Fatalf("modify %+v", m)
	}
}

func worker(admin mtce.AdminState, oper mtce.OperState, avail mtce.AvailStatus) ([]Host, Host) {
	hosts := fixture().hosts
	hosts[2].Admin, hosts[2].Oper, hosts[2].Avail = admin, oper, avail
	return hosts, hosts[2]
}

func mod(h Host, kv ...string) Fields {
	f := body(h.Name, h.UUID, h.Personality.String(), h.MgmtIP, h.MgmtMAC,
		"administrative", h.Admin.String(), "operational", h.Oper.String(), "availability", h.Avail.String(),
		"bm_ip", h.BMIP, "bm_username", h.BMUsername, "bm_type", h.BMType.String(), "cluster_host_ip", h.ClusterHostIP,
		"operation", "modify")
	f2 := body("", "", "", "", "", kv...)
	for _, k := range keys {
		if v := *k.f(&f2); v != None && v != "" && k.key != "administrative" && k.key != "operational" && k.key != "availability" && k.key != "operation" {
			*k.f(&f) = v
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		for _, k := range keys {
			if k.key == kv[i] {
				*k.f(&f) = kv[i+1]
			}
		}
	}
	return f
}

func TestDecideModify(t *testing.T) {
	U, L := mtce.AdminUnlocked, mtce.AdminLocked
	E, D := mtce.OperEnabled, mtce.OperDisabled
	for _, c := range []struct {
		name   string
		admin  mtce.AdminState
		oper   mtce.OperState
		avail  mtce.AvailStatus
		held   bool
		patch  bool
		noBM   bool
		kv     []string
		rc     mtce.RC
		action mtce.AdminAction
		swact  bool
	}{
		{name: "lock", admin: U, oper: E, avail: mtce.AvailAvailable, kv: []string{"action", "lock"}, action: mtce.ActionLock},
		{name: "lock when locked is a no-op", admin: L, oper: D, avail: mtce.AvailOnline, kv: []string{"action", "lock"}},
		{name: "force-lock", admin: U, oper: E, avail: mtce.AvailAvailable, kv: []string{"action", "force-lock", "task", "Force Locking"}, action: mtce.ActionForceLock},
		{name: "unlock", admin: L, oper: D, avail: mtce.AvailOnline, kv: []string{"action", "unlock"}, action: mtce.ActionUnlock},
		{name: "unlock when unlocked", admin: U, oper: E, avail: mtce.AvailAvailable, kv: []string{"action", "unlock"}},
		{name: "unlock patching", admin: L, oper: D, avail: mtce.AvailOnline, patch: true, kv: []string{"action", "unlock"}, rc: mtce.FailPatchInProgress},
		{name: "mutex before everything", admin: L, oper: D, avail: mtce.AvailOnline, held: true, patch: true, kv: []string{"action", "unlock"}, rc: mtce.FailSwactInProgress},
		{name: "mutex on swact", admin: U, oper: E, avail: mtce.AvailAvailable, held: true, kv: []string{"action", "swact"}, rc: mtce.FailSwactInProgress},
		{name: "mutex on unknown action", admin: U, oper: E, avail: mtce.AvailAvailable, held: true, kv: []string{"action", "dance"}, rc: mtce.FailSwactInProgress},
		{name: "mutex lets a plain modify through", admin: U, oper: E, avail: mtce.AvailAvailable, held: true, kv: []string{"mgmt_ip", "192.168.204.99"}},
		{name: "step 1 unlock", admin: L, oper: D, avail: mtce.AvailOnline, kv: []string{"administrative", "unlocked"}, action: mtce.ActionUnlock},
		{name: "step 1 unlock patching", admin: L, oper: D, avail: mtce.AvailOnline, patch: true, kv: []string{"administrative", "unlocked"}, rc: mtce.FailPatchInProgress},
		{name: "step 1 lock needs action lock", admin: U, oper: E, avail: mtce.AvailAvailable, kv: []string{"administrative", "locked", "action", "reboot"}},
		{name: "step 1 lock", admin: U, oper: E, avail: mtce.AvailAvailable, kv: []string{"administrative", "locked", "action", "lock"}, action: mtce.ActionLock},
		{name: "absent administrative unlocks nothing", admin: L, oper: D, avail: mtce.AvailOnline, kv: []string{"administrative", "none"}},
		{name: "reboot", admin: L, oper: D, avail: mtce.AvailOnline, kv: []string{"action", "reboot"}, action: mtce.ActionReboot},
		{name: "reinstall", admin: L, oper: D, avail: mtce.AvailOnline, kv: []string{"action", "reinstall"}, action: mtce.ActionReinstall},
		{name: "reset", admin: L, oper: D, avail: mtce.AvailOnline, kv: []string{"action", "reset"}, action: mtce.ActionReset},
		{name: "reset no bmc before powered off", admin: L, oper: D, avail: mtce.AvailPowerOff, noBM: true, kv: []string{"action", "reset"}, rc: mtce.FailBMProvisionErr},
		{name: "reset powered off", admin: L, oper: D, avail: mtce.AvailPowerOff, kv: []string{"action", "reset"}, rc: mtce.FailResetPowerOff},
		{name: "power-on", admin: L, oper: D, avail: mtce.AvailPowerOff, kv: []string{"action", "power-on"}, action: mtce.ActionPowerOn},
		{name: "power-off no bmc", admin: L, oper: D, avail: mtce.AvailOnline, noBM: true, kv: []string{"action", "power-off"}, rc: mtce.FailBMProvisionErr},
		{name: "force-unsafe-lock", admin: U, oper: E, avail: mtce.AvailAvailable, kv: []string{"action", "force-unsafe-lock"}, rc: mtce.FailAdminAction},
		{name: "delete is not a modify action", admin: L, oper: D, avail: mtce.AvailOnline, kv: []string{"action", "delete"}, rc: mtce.FailAdminAction},
		{name: "swact", admin: U, oper: E, avail: mtce.AvailAvailable, kv: []string{"action", "swact"}, swact: true},
		{name: "bm_ip clash", admin: L, oper: D, avail: mtce.AvailOnline, kv: []string{"action", "reboot", "bm_ip", "10.10.10.11"}, rc: mtce.FailDupIPAddr},
	} {
		t.Run(c.name, func(t *testing.T) {
			hosts, w := worker(c.admin, c.oper, c.avail)
			hosts[0].BMIP = "10.10.10.11"
			hosts[2].Patching = c.patch
			if c.noBM {
				hosts[2].BMType = mtce.BMCNone
			}
			w = hosts[2]
			f := mod(w, c.kv...)
			d := decideSysinv("controller-0", hosts, c.held, f)
			if d.reply.RC != c.rc {
				t.Fatalf("rc %v, want %v (%s)", d.reply.RC, c.rc, d.reply.Reason)
			}
			if c.rc != mtce.Pass {
				if d.modify != nil || d.swact != nil || d.add != nil || d.reject == nil {
					t.Fatalf("refusal %+v", d)
				}
				return
			}
			if d.modify == nil || d.modify.Action != c.action || (d.swact != nil) != c.swact {
				t.Fatalf("decision %+v %+v", d.modify, d.swact)
			}
		})
	}
}

func TestDecideDeltas(t *testing.T) {
	hosts, w := worker(mtce.AdminLocked, mtce.OperDisabled, mtce.AvailOnline)
	f := mod(w, "mgmt_ip", "none", "cluster_host_ip", "not-an-ip", "bm_type", "IPMI", "hostname", "compute-9")
	d := decideSysinv("controller-0", hosts, false, f)
	n := d.modify.New
	if n.MgmtIP != w.MgmtIP || n.ClusterHostIP != w.ClusterHostIP || n.BMType != mtce.BMCIPMI || n.Name != "compute-9" || n.BMIP != w.BMIP {
		t.Fatalf("deltas %+v", n)
	}
	// bm_username removed: BMC deprovisioned, fields reset to none.
	f = mod(w, "bm_username", "none")
	d = decideSysinv("controller-0", hosts, false, f)
	if n := d.modify.New; n.BMIP != None || n.BMUsername != None || n.BMType != mtce.BMCNone {
		t.Fatalf("deprovision %+v", n)
	}
}

func TestDecideSwactRequest(t *testing.T) {
	hosts := fixture().hosts
	hosts[0].Patching = true
	hosts[1].PatchedNoReboot = true
	f := mod(hosts[0], "action", "force-swact", "personality", "controller")
	d := decideSysinv("controller-0", hosts, false, f)
	r := d.swact
	if r == nil || r.Host != "controller-0" || r.UUID != uuidC0 || !r.Force || !r.MateEnabled || !r.HostPatching ||
		r.MatePatching || !r.MatePatchedNoReboot || r.Personality != mtce.PersonalityController {
		t.Fatalf("swact request %+v", r)
	}
}
