package mtce

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// enumCase lists, for one enumeration, every text StarlingX writes and some
// that it does not.
type enumCase struct {
	name   string
	valid  []string
	reject []string
	parse  func(string) (string, error) // parse then String
}

func wrap[T interface{ String() string }](p func(string) (T, error)) func(string) (string, error) {
	return func(s string) (string, error) {
		v, err := p(s)
		if err != nil {
			return "", err
		}
		return v.String(), nil
	}
}

func TestEnumsAcceptExactlyStarlingXTexts(t *testing.T) {
	common := []string{"", " ", "NONE", "None", "unknown", "x"}
	cases := []enumCase{
		{"admin", []string{"none", "locked", "unlocked"}, []string{"Locked", "locked ", " unlocked", "unlock"}, wrap(ParseAdminState)},
		{"oper", []string{"none", "disabled", "enabled"}, []string{"Enabled", "enable", "disabled\n"}, wrap(ParseOperState)},
		{"avail", []string{"none", "not-installed", "available", "degraded", "failed", "intest", "power-off", "offline", "online", "offduty"},
			[]string{"powered-off", "poweroff", "in-test", "off-duty", "Online", "not_installed"}, wrap(ParseAvailStatus)},
		{"action", []string{"none", "lock", "unlock", "reset", "reboot", "reinstall", "power-off", "power-on", "recovery", "delete",
			"powercycle", "add", "swact", "force-lock", "force-swact", "enable", "enable-subf"},
			[]string{"recover", "force-unlock", "force-unsafe-lock", "Lock", "power_off", "subfunction_config"}, wrap(ParseAdminAction)},
		{"personality", []string{"none", "controller", "worker", "storage", "edgeworker"}, []string{"compute", "Controller", "controller,worker", "edge-worker"}, wrap(ParsePersonality)},
		{"systemtype", []string{"standard", "duplex", "duplex-direct", "simplex"}, []string{"none", "Standard", "All-in-one", "aio-simplex", "duplex_direct"}, wrap(ParseSystemType)},
		{"network", []string{"Mgmnt", "Clstr", "Pxeboot"}, []string{"none", "mgmnt", "mgmt", "Mgmt", "cluster-host", "pxeboot"}, wrap(ParseNetwork)},
		{"bmtype", []string{"none", "bmc", "dynamic", "ipmi", "redfish"}, []string{"IPMI", "Redfish", "ilo", "quanta", "ipmitool"}, wrap(ParseBMCType)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range c.valid {
				got, err := c.parse(s)
				if err != nil {
					t.Errorf("parse(%q): %v", s, err)
				} else if got != s {
					t.Errorf("parse(%q).String() = %q", s, got)
				}
			}
			for _, s := range append(append([]string{}, common...), c.reject...) {
				if slicesContains(c.valid, s) {
					continue
				}
				_, err := c.parse(s)
				if err == nil {
					t.Errorf("parse(%q) accepted", s)
					continue
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("parse(%q) error %v does not wrap ErrInvalid", s, err)
				}
				pe, ok := errors.AsType[*ParseError](err)
				if !ok || pe.Value != s {
					t.Errorf("parse(%q) error %#v does not name the value", s, err)
				}
				if !strings.Contains(err.Error(), strconv.Quote(s)) {
					t.Errorf("error text %q does not quote the value", err)
				}
			}
		})
	}
}

func slicesContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestActionNumbersAreMtceEnum(t *testing.T) {
	// mtc_nodeAdminAction_enum values (nodeBase.h).
	want := map[AdminAction]int{ActionNone: 0, ActionLock: 1, ActionUnlock: 2, ActionReset: 3, ActionReboot: 4,
		ActionReinstall: 5, ActionPowerOff: 6, ActionPowerOn: 7, ActionRecover: 8, ActionDelete: 9,
		ActionPowercycle: 10, ActionAdd: 11, ActionSwact: 12, ActionForceLock: 13, ActionForceSwact: 14,
		ActionEnable: 15, ActionEnableSubf: 16}
	for a, n := range want {
		if int(a) != n {
			t.Errorf("%v = %d, want %d", a, a, n)
		}
	}
}

func TestInvalidValuesPrintAndRefuseToMarshal(t *testing.T) {
	if got := AdminState(9).String(); got != "admin state(9)" {
		t.Errorf("AdminState(9) = %q", got)
	}
	if got := SystemType(0).String(); got != "system type(0)" {
		t.Errorf("SystemType(0) = %q", got)
	}
	if _, err := Network(0).MarshalText(); err == nil {
		t.Error("Network(0) marshalled")
	}
	if Network(0).Valid() || !NetworkPxeboot.Valid() {
		t.Error("Network.Valid wrong")
	}
}

func TestFunctionsOf(t *testing.T) {
	// spec K.5: case-sensitive substrings.
	cases := []struct {
		in   string
		want NodeFunctions
	}{
		{"controller", FunctionController},
		{"controller,worker", FunctionController | FunctionWorker},
		{"controller,worker,lowlatency", FunctionController | FunctionWorker},
		{"worker", FunctionWorker},
		{"storage", FunctionStorage},
		{"worker,storage", FunctionWorker | FunctionStorage},
		{"Controller", 0},
		{"WORKER", 0},
		{"none", 0},
		{"", 0},
		{"xcontrollerx", FunctionController}, // substring, as mtce
		{`"controller"`, FunctionController},
	}
	for _, c := range cases {
		if got := FunctionsOf(c.in); got != c.want {
			t.Errorf("FunctionsOf(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseNodeFunctions(t *testing.T) {
	good := map[string]NodeFunctions{
		"none":                         0,
		"controller":                   FunctionController,
		"controller,worker":            FunctionController | FunctionWorker,
		"controller,worker,lowlatency": FunctionController | FunctionWorker,
		"worker,lowlatency":            FunctionWorker,
		"storage":                      FunctionStorage,
		"worker,controller":            FunctionController | FunctionWorker,
		// sysinv copies the personality when subfunctions is unset, and
		// puts it first otherwise.
		"edgeworker":                   FunctionWorker,
		"controller,lowlatency,worker": FunctionController | FunctionWorker,
	}
	for in, want := range good {
		got, err := ParseNodeFunctions(in)
		if err != nil || got != want {
			t.Errorf("ParseNodeFunctions(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Controller", "controller,", ",worker", "controller, worker", "lowlatency",
		"controller,controller", "worker,lowlatency,lowlatency", "compute", "xcontrollerx",
		"edgeworker,worker", "edgeworker,edgeworker", "edge-worker"} {
		if f, err := ParseNodeFunctions(in); err == nil {
			t.Errorf("ParseNodeFunctions(%q) = %v, want error", in, f)
		}
	}
}

func TestNodeFunctionsMethods(t *testing.T) {
	aio := FunctionController | FunctionWorker
	if aio.String() != "controller,worker" || NodeFunctions(0).String() != "none" {
		t.Errorf("String: %q %q", aio, NodeFunctions(0))
	}
	if got := (aio | 0x40).String(); got != "controller,worker,0x40" {
		t.Errorf("unknown bits: %q", got)
	}
	if aio.Main() != FunctionController || (FunctionWorker|FunctionStorage).Main() != FunctionWorker ||
		FunctionStorage.Main() != FunctionStorage || NodeFunctions(0).Main() != 0 {
		t.Error("Main wrong")
	}
	if !aio.Has(FunctionWorker) || aio.Has(FunctionStorage) || aio.Has(0) || !aio.Has(aio) {
		t.Error("Has wrong")
	}
	for _, p := range []Personality{PersonalityController, PersonalityWorker, PersonalityStorage, PersonalityEdgeworker} {
		if FunctionsOf(p.String()) != p.Function() {
			t.Errorf("%v.Function() = %v", p, p.Function())
		}
	}
	if PersonalityNone.Function() != 0 {
		t.Error("none has a function")
	}
}

func TestSystemTypeOf(t *testing.T) {
	// spec K.5 / daemon_system_type.
	cases := []struct {
		typ, mode string
		want      SystemType
	}{
		{"Standard", "", SystemStandard},
		{"standard", "duplex", SystemStandard},
		{"STANDARD", "simplex", SystemStandard},
		{"All-in-one", "duplex", SystemAIODuplex},
		{"All-in-one", "Duplex", SystemAIODuplex},
		{"All-in-one", "duplex-direct", SystemAIODuplexDirect},
		{"All-in-one", "DUPLEX-DIRECT", SystemAIODuplexDirect},
		{"All-in-one", "simplex", SystemAIOSimplex},
		{"All-in-one", "", SystemAIOSimplex},
		{"All-in-one", "triplex", SystemAIOSimplex},
		{"", "", SystemAIOSimplex},
		{"", "duplex", SystemAIODuplex},
		{`"Standard"`, "duplex", SystemAIODuplex}, // quotes are kept, so not standard
	}
	for _, c := range cases {
		if got := SystemTypeOf(c.typ, c.mode); got != c.want {
			t.Errorf("SystemTypeOf(%q, %q) = %v, want %v", c.typ, c.mode, got, c.want)
		}
	}
	if SystemStandard.IsAIO() || !SystemAIODuplex.IsAIO() || !SystemAIOSimplex.IsAIO() || SystemType(0).IsAIO() {
		t.Error("IsAIO wrong")
	}
}

func TestTasks(t *testing.T) {
	good := []string{"", "none", "Rebooting", "Swact: In-Progress", "Locking", "Force Locking", "Swacting",
		"Request Failed, Management Controlle  Not Accessible",
		"Reboot Failed, retrying (2 of 5)", "Power-Off Failed, retrying (10 of 10)",
		"Critical Event Power-Cycle 3; recovery in 5 minute(s)",
		"Reset Failed - controller-1 is powered off", "Manifest apply timeout ; Unlock to retry",
		string(TaskPowercycleFail(1)), string(TaskResetPoweredOff("worker-0")),
	}
	for _, s := range good {
		task, err := ParseTask(s)
		if err != nil {
			t.Errorf("ParseTask(%q): %v", s, err)
			continue
		}
		if s == "none" {
			s = ""
		}
		if string(task) != s {
			t.Errorf("ParseTask(%q) = %q", s, task)
		}
	}
	bad := []string{"rebooting", "Rebooting ", "Reboot Failed, retrying (a of 5)", "Reboot Failed, retrying ( of 5)",
		"Reset Failed -  is powered offx", "Reset Failed - is powered off", "Critical Event Power-Cycle 3;",
		"Request Failed, Management Controller Not Accessible", "whatever"}
	for _, s := range bad {
		if _, err := ParseTask(s); err == nil {
			t.Errorf("ParseTask(%q) accepted", s)
		}
	}
	if TaskNone.String() != "none" || TaskBooting.String() != "Booting" {
		t.Error("Task.String wrong")
	}
	if b, _ := TaskNone.MarshalText(); len(b) != 0 {
		t.Errorf("TaskNone marshals as %q, want empty (mtce's clear)", b)
	}
	for _, task := range []Task{TaskRebootFailRetry(99, 99), TaskPowercycleHold(99, 99), TaskARDisabledConfig, TaskFailedSwactRequest} {
		if len(task) > MaxTaskLen {
			t.Errorf("%q longer than %d", task, MaxTaskLen)
		}
	}
	for task := range taskFixed {
		if len(task) > MaxTaskLen {
			t.Errorf("%q longer than %d", task, MaxTaskLen)
		}
	}
}

func TestRC(t *testing.T) {
	// spec K.1 values.
	want := map[RC]uint32{Pass: 0, Fail: 1, Retry: 2, FailBadParm: 3, FailBadCase: 4, FailINIConfig: 6,
		FailGetHostname: 7, FailTimeout: 16, FailJSONParse: 18, FailInvalidOperation: 45, FailUnknownHostname: 58,
		FailNodeType: 69, FailInvalidData: 71, FailKeyValueParse: 73, FailReadFiles: 85, FailOperation: 107,
		FailNoCmdAck: 123, FailCancelled: 253, FailFIT: 254}
	for c, v := range want {
		if uint32(c) != v {
			t.Errorf("%v = %d, want %d", c, uint32(c), v)
		}
		back, err := ParseRC(c.String())
		if err != nil || back != c {
			t.Errorf("ParseRC(%q) = %v, %v", c.String(), back, err)
		}
	}
	if FailTimeout.String() != "FAIL_TIMEOUT" || RC(95).String() != "RC(95)" || RC(95).Known() || !FailFIT.Known() {
		t.Error("RC.String/Known wrong")
	}
	for in, want := range map[string]RC{"16": FailTimeout, "0": Pass, "95": 95, "4294967295": 4294967295} {
		if got, err := ParseRC(in); err != nil || got != want {
			t.Errorf("ParseRC(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "pass", "-1", "+1", "0x10", "4294967296", "16 ", "FAIL_NOPE"} {
		if _, err := ParseRC(in); err == nil {
			t.Errorf("ParseRC(%q) accepted", in)
		}
	}
	for _, c := range []RC{Pass, FailTimeout, 95} {
		b, _ := c.MarshalText()
		var back RC
		if err := back.UnmarshalText(b); err != nil || back != c {
			t.Errorf("text round trip of %v: %v %v", c, back, err)
		}
	}
}

func TestRCError(t *testing.T) {
	if Pass.Err() != nil {
		t.Error("Pass.Err() != nil")
	}
	err := FailTimeout.Err()
	if !errors.Is(err, &RCError{RC: FailTimeout}) || errors.Is(err, &RCError{RC: Fail}) {
		t.Error("RCError.Is wrong")
	}
	wrapped := errors.Join(errors.New("ctx"), &RCError{RC: FailNoCmdAck, Detail: "no ack"})
	if RCOf(wrapped) != FailNoCmdAck || RCOf(nil) != Pass || RCOf(errors.New("x")) != Fail {
		t.Error("RCOf wrong")
	}
	if got := (&RCError{RC: FailOperation, Detail: "x failed"}).Error(); got != "mtce: FAIL_OPERATION (rc:107): x failed" {
		t.Errorf("Error() = %q", got)
	}
}

func TestHostJSON(t *testing.T) {
	// A sysinv-like body (spec J.4); null reads as the "none" member.
	body := `{"uuid":"2f7a1c2e-6f55-4b9b-9f5e-3a3c1c0e9d11","hostname":"controller-0","personality":"controller",
	"subfunctions":"controller,worker,lowlatency","mgmt_ip":"192.168.204.2","mgmt_mac":"08:00:27:9f:ef:57",
	"cluster_host_ip":"192.168.206.2","administrative":"unlocked","operational":"enabled","availability":"available",
	"subfunction_oper":"enabled","subfunction_avail":"degraded","task":"","action":"none",
	"bm_ip":"10.10.10.2","bm_username":"root","bm_type":"redfish","invprovision":"provisioned","id":3}`
	var h Host
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Admin != AdminUnlocked || h.Oper != OperEnabled || h.Avail != AvailAvailable || h.SubfAvail != AvailDegraded ||
		h.Personality != PersonalityController || h.BMType != BMCRedfish || h.Action != ActionNone || h.Task != TaskNone {
		t.Errorf("decoded %+v", h)
	}
	if h.Functions() != FunctionController|FunctionWorker || !h.BMCProvisioned() || !h.UnlockedEnabled() {
		t.Errorf("derived values wrong for %+v", h)
	}
	out, err := json.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	var back Host
	if err := json.Unmarshal(out, &back); err != nil || back != h {
		t.Errorf("round trip: %v\n%+v\n%+v", err, back, h)
	}

	var n Host
	if err := json.Unmarshal([]byte(`{"administrative":null,"bm_type":null}`), &n); err != nil || n.Admin != AdminNone || n.BMCProvisioned() {
		t.Errorf("null handling: %+v %v", n, err)
	}
	if err := json.Unmarshal([]byte(`{"administrative":"Locked"}`), &n); err == nil || !strings.Contains(err.Error(), `"Locked"`) {
		t.Errorf("bad state accepted or not named: %v", err)
	}
	// The task field is free text written by mtce, sysinv and the VIM.
	var tk Host
	if err := json.Unmarshal([]byte(`{"task":"Powering-on by the VIM"}`), &tk); err != nil || tk.Task != "Powering-on by the VIM" {
		t.Errorf("foreign task: %q %v", tk.Task, err)
	}
	if err := json.Unmarshal([]byte(`{"task":"none"}`), &tk); err != nil || tk.Task != TaskNone {
		t.Errorf("none task: %q %v", tk.Task, err)
	}
	h.BMUsername = "none"
	if h.BMCProvisioned() {
		t.Error("bm_username none counts as provisioned")
	}
}

// FuzzParse checks every Parse function: no panic, and an accepted text is
// the canonical one (or one of the documented aliases).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"none", "locked", "available", "power-off", "recovery", "controller,worker",
		"edgeworker", "duplex-direct", "Clstr", "redfish", "Rebooting", "Reboot Failed, retrying (1 of 2)", "FAIL_TIMEOUT", "16", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(name, back string, err error, aliases ...string) {
			if err != nil {
				return
			}
			if back != s && !slicesContains(aliases, s) {
				t.Errorf("%s(%q) accepted but prints %q", name, s, back)
			}
		}
		a, err := ParseAdminState(s)
		check("ParseAdminState", a.String(), err)
		o, err := ParseOperState(s)
		check("ParseOperState", o.String(), err)
		av, err := ParseAvailStatus(s)
		check("ParseAvailStatus", av.String(), err)
		ac, err := ParseAdminAction(s)
		check("ParseAdminAction", ac.String(), err)
		p, err := ParsePersonality(s)
		check("ParsePersonality", p.String(), err)
		st, err := ParseSystemType(s)
		check("ParseSystemType", st.String(), err)
		nw, err := ParseNetwork(s)
		check("ParseNetwork", nw.String(), err)
		b, err := ParseBMCType(s)
		check("ParseBMCType", b.String(), err)
		if nf, err := ParseNodeFunctions(s); err == nil {
			if again, err := ParseNodeFunctions(nf.String()); err != nil || again != nf {
				t.Errorf("ParseNodeFunctions(%q) = %v does not round trip", s, nf)
			}
			if FunctionsOf(s) != nf {
				t.Errorf("strict %v and lenient %v disagree on %q", nf, FunctionsOf(s), s)
			}
		}
		if task, err := ParseTask(s); err == nil && string(task) != s && !(task == TaskNone && s == "none") {
			t.Errorf("ParseTask(%q) = %q", s, task)
		}
		if c, err := ParseRC(s); err == nil {
			if again, err := ParseRC(c.String()); c.Known() && (err != nil || again != c) {
				t.Errorf("ParseRC(%q) = %v does not round trip", s, c)
			}
		}
	})
}
