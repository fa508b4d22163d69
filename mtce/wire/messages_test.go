package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"opendev.org/starlingx/metal-go/mtce"
)

var testIdentity = Identity{
	Hostname: "controller-0", Personality: "controller,worker", PxebootIP: "169.254.202.2",
	MgmtIP: "192.168.204.2", ClusterHostIP: "192.168.206.2", MgmtMAC: "08:00:27:9f:ef:57",
	Interface: mtce.NetworkMgmt,
}

func TestMtcAliveExact(t *testing.T) {
	// spec K.2: exact buffer, cmd 5, num 4, ver/rev 0, length 100 + JSON + 1.
	const want = `{"hostname":"controller-0","personality":"controller,worker","pxeboot_ip":"169.254.202.2","mgmt_ip":"192.168.204.2","cluster_host_ip":"192.168.206.2","mgmt_mac":"08:00:27:9f:ef:57","interface":"Mgmnt","sequence":145}`
	m, err := NewMtcAlive(Alive{Uptime: 3600, Health: HealthHealthy, Flags: FlagConfigured | FlagMainGoEnabled,
		Sequence: 145, Identity: testIdentity})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.MarshalBinary()
	c := cStruct{hdr: "cgts mtc message:", cmd: 5, num: 4, parm: [5]uint32{3600, 1, 0x21, 145, 0}, buf: want}.bytes(100 + len(want) + 1)
	if !bytes.Equal(b, c) {
		t.Fatalf("mtcAlive differs from C layout:\n%q\n%q", b[100:], c[100:])
	}
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Message.MtcAlive()
	if err != nil {
		t.Fatal(err)
	}
	wantID := testIdentity
	wantID.Sequence = 145
	if a.Uptime != 3600 || a.Health != HealthHealthy || a.Flags != FlagConfigured|FlagMainGoEnabled || a.Sequence != 145 || a.Identity != wantID {
		t.Errorf("read back %+v", a)
	}
	// Unknown IPs are "".
	id := testIdentity
	id.PxebootIP, id.ClusterHostIP = "", ""
	txt, _ := id.MarshalText()
	if !strings.Contains(string(txt), `"pxeboot_ip":"","mgmt_ip"`) {
		t.Errorf("%s", txt)
	}
	if _, err := NewMtcAlive(Alive{}); err == nil {
		t.Error("identity without interface accepted")
	}
}

func TestIdentityEscapes(t *testing.T) {
	id := Identity{Hostname: `a"b\c<&>`, Personality: "w\x01", Interface: mtce.NetworkPxeboot}
	b, err := id.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"hostname":"a\"b\\c<&>"`) || !strings.Contains(string(b), `"personality":"w\u0001"`) {
		t.Errorf("%s", b)
	}
	back, err := ParseIdentity(string(b))
	if err != nil || back != id {
		t.Errorf("round trip %+v %v", back, err)
	}
}

func TestParseIdentityAsAgent(t *testing.T) {
	// spec K.2: missing personality reads "none"; unknown keys ignored.
	id, err := ParseIdentity(`{"hostname":"worker-3","cluster_host_ip":null,"extra":[1,2],"interface":"Bogus","sequence":"x"}`)
	if err != nil {
		t.Fatal(err)
	}
	if id.Hostname != "worker-3" || id.Personality != "none" || id.ClusterHostIP != "none" || id.MgmtIP != "none" ||
		id.Interface != 0 || id.Sequence != 0 {
		t.Errorf("%+v", id)
	}
	if mtce.FunctionsOf(id.Personality) != 0 {
		t.Error("none personality has functions")
	}
	id, _ = ParseIdentity(`{"hostname":7,"sequence":4294967295}`)
	if id.Hostname != "7" || id.Sequence != 4294967295 {
		t.Errorf("%+v", id)
	}
	for _, bad := range []string{"", `,"interface":"Mgmnt","sequence":3}`, "null", "[1]", `{"a":`} {
		if _, err := ParseIdentity(bad); !errors.Is(err, ErrJSON) {
			t.Errorf("ParseIdentity(%q) = %v", bad, err)
		}
	}
}

func TestMtcAliveWithGoEnabledBuffer(t *testing.T) {
	// goEnabled messages reuse the builder with identity "" so the buffer
	// is not JSON (spec K.2); an mtcAlive like that still yields its parms.
	m := Message{Signature: SigWorker, Command: CmdMtcAlive, Num: 4, Parm: [5]uint32{10, 0, 8, 2},
		Buf: `,"interface":"Mgmnt","sequence":2}`}
	a, err := m.MtcAlive()
	if !errors.Is(err, ErrJSON) || a.Uptime != 10 || a.Flags != FlagLocked || a.Sequence != 2 {
		t.Errorf("%+v %v", a, err)
	}
	m.Num = 2 // parms beyond num read as zero
	if a, _ := m.MtcAlive(); a.Flags != 0 || a.Health != 0 || a.Uptime != 10 {
		t.Errorf("%+v", a)
	}
	m.Command = CmdMainGoEnabled
	if _, err := m.MtcAlive(); !errors.Is(err, ErrWrongMessage) {
		t.Errorf("goEnabled read as mtcAlive: %v", err)
	}
}

var target = Target{MAC: "08:00:27:9f:ef:57", Address: "192.168.204.1", Network: mtce.NetworkMgmt}

func TestRequests(t *testing.T) {
	const info = `{"address":"192.168.204.1","interface":"Mgmnt"}`
	cases := []struct {
		name string
		mk   func() (Message, error)
		cmd  Command
		num  uint32
		p0   uint32
	}{
		{"reboot", func() (Message, error) { return NewReboot(target) }, CmdReboot, 0, 0},
		{"reset", func() (Message, error) { return NewReset(target) }, CmdReset, 0, 0},
		{"wipedisk", func() (Message, error) { return NewWipedisk(target) }, CmdWipedisk, 0, 0},
		{"lazy", func() (Message, error) { return NewLazyReboot(target, 30) }, CmdLazyReboot, 1, 30},
		{"locked persist", func() (Message, error) { return NewLocked(target, true) }, CmdLocked, 1, 1},
		{"locked simplex", func() (Message, error) { return NewLocked(target, false) }, CmdLocked, 0, 0},
		{"unlocked", func() (Message, error) { return NewUnlocked(target) }, CmdUnlocked, 0, 0},
		{"alive req", func() (Message, error) { return NewMtcAliveRequest(target) }, CmdMtcAliveRequest, 0, 0},
		{"stop worker", func() (Message, error) { return NewHostServicesRequest(mtce.FunctionWorker, false, target) }, CmdStopWorkerServices, 0, 0},
		{"start storage", func() (Message, error) { return NewHostServicesRequest(mtce.FunctionStorage, true, target) }, CmdStartStorageServices, 0, 0},
		{"start controller", func() (Message, error) { return NewHostServicesRequest(mtce.FunctionController, true, target) }, CmdStartControllerServices, 0, 0},
	}
	for _, c := range cases {
		m, err := c.mk()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		b, _ := m.MarshalBinary()
		want := cStruct{hdr: "cgts mtc cmd req:", mac: target.MAC, ver: 1, cmd: uint32(c.cmd), num: c.num,
			parm: [5]uint32{c.p0}, buf: info}.bytes(100 + len(info) + 1)
		if !bytes.Equal(b, want) {
			t.Errorf("%s: bytes differ from send_mtc_cmd:\n%q\n%q", c.name, b, want)
		}
		ci, err := m.CommandInfo()
		if err != nil || ci.Address != target.Address || ci.Interface != mtce.NetworkMgmt {
			t.Errorf("%s: info %+v %v", c.name, ci, err)
		}
	}
	if m, _ := NewLocked(target, true); !m.LockPersist() {
		t.Error("LockPersist false")
	}
	if m, _ := NewLocked(target, false); m.LockPersist() {
		t.Error("LockPersist true without parm")
	}
	if m, _ := NewLazyReboot(target, 15); m.LazyRebootDelay() != 15 {
		t.Error("LazyRebootDelay")
	}
	un, _ := NewReboot(Target{Address: "10.0.0.1", Network: mtce.NetworkPxeboot})
	if un.Version != 0 || un.MAC != "" || !un.AddressedTo("anything") {
		t.Errorf("unaddressed: %+v", un)
	}
	if _, err := NewHostServicesRequest(mtce.FunctionController|mtce.FunctionWorker, true, target); err == nil {
		t.Error("two functions accepted")
	}
	if _, err := NewReboot(Target{MAC: target.MAC}); err == nil {
		t.Error("target without network accepted")
	}
}

func TestAddressedTo(t *testing.T) {
	m, _ := NewReboot(target)
	cases := map[string]bool{
		"08:00:27:9f:ef:57":  true,
		"08:00:27:9f:ef:58":  false,
		"08:00:27:9f:ef:5":   false,
		"08:00:27:9f:ef:57x": false, // strncmp over 18 bytes sees the NUL
		"":                   false,
	}
	for mac, want := range cases {
		if got := m.AddressedTo(mac); got != want {
			t.Errorf("AddressedTo(%q) = %v", mac, got)
		}
	}
	m.MAC = "08:00:27:9f:ef:57:AAAA" // longer than 18: only 18 bytes compared
	if !m.AddressedTo("08:00:27:9f:ef:57:B") || m.AddressedTo("08:00:27:9f:ef:57") {
		t.Error("18-byte comparison wrong")
	}
}

func TestAcks(t *testing.T) {
	req, _ := NewLazyReboot(target, 30)
	ack, err := NewAck(&req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ack.MarshalBinary()
	// the MAC's tail stays in header bytes 18–34 (spec K.8).
	want := cStruct{hdr: "cgts mtc cmd rsp:", mac: "\x008:00:27:9f:ef:57", ver: 1, cmd: 20, num: 1, parm: [5]uint32{30}}.bytes(100)
	if !bytes.Equal(b, want) {
		t.Errorf("ACK bytes:\n% x\n% x", b, want)
	}
	a, err := ack.Ack()
	if err != nil || a.Command != CmdLazyReboot || a.Enhanced || a.RC != mtce.Pass {
		t.Errorf("%+v %v", a, err)
	}

	hs, _ := NewHostServicesRequest(mtce.FunctionWorker, false, target)
	hack, err := NewHostServicesAck(&hs, mtce.Pass)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = hack.MarshalBinary()
	want = cStruct{hdr: "cgts mtc cmd rsp:", mac: "\x008:00:27:9f:ef:57", ver: 1, cmd: 15, num: 2, parm: [5]uint32{0, 0x1B0000B1}}.bytes(100)
	if !bytes.Equal(b, want) {
		t.Errorf("HS ACK bytes:\n% x\n% x", b, want)
	}
	if a, _ := hack.Ack(); !a.Enhanced || a.RC != mtce.Pass || a.Command != CmdStopWorkerServices {
		t.Errorf("%+v", a)
	}
	fit, _ := NewHostServicesAck(&hs, mtce.FailFIT)
	if a, _ := fit.Ack(); !a.Enhanced || a.RC != mtce.FailFIT {
		t.Errorf("%+v", a)
	}
	// A legacy client's ACK: num ≤ 1 or no magic.
	legacy := Message{Signature: SigResponse, Command: CmdStopWorkerServices, Num: 2, Parm: [5]uint32{0, 7}}
	if a, _ := legacy.Ack(); a.Enhanced {
		t.Error("legacy ACK read as enhanced")
	}
	legacy.Parm[1], legacy.Num = EnhancedHostServices, 1
	if a, _ := legacy.Ack(); a.Enhanced {
		t.Error("num 1 read as enhanced")
	}
	if _, err := NewHostServicesAck(&req, mtce.Pass); !errors.Is(err, ErrWrongMessage) {
		t.Errorf("HS ACK to lazy reboot: %v", err)
	}
	if _, err := NewAck(&ack); !errors.Is(err, ErrWrongMessage) {
		t.Errorf("ACK to ACK: %v", err)
	}
	res, _ := NewHostServicesResult(Result{Kind: ResultPass})
	if _, err := res.Ack(); !errors.Is(err, ErrWrongMessage) {
		t.Errorf("result read as ACK: %v", err)
	}
}

func TestResults(t *testing.T) {
	long := "/etc/services.d/worker/" + strings.Repeat("s", 50)
	cases := []struct {
		name   string
		r      Result
		text   string
		status mtce.RC
		size   int
	}{
		{"pass", Result{Kind: ResultPass, Command: CmdStartWorkerServices}, "start worker host services", mtce.Pass, 126},
		{"pass none", Result{Kind: ResultPass}, "none", mtce.Pass, 104},
		{"failed", Result{Kind: ResultFailed, Script: "/etc/services.d/worker/a.sh", ExitCode: 3}, "/etc/services.d/worker/a.sh failed ; rc:3", mtce.FailOperation, 141},
		{"timeout", Result{Kind: ResultTimeout, Script: "/etc/services.d/controller/z"}, "/etc/services.d/controller/z timeout", mtce.FailTimeout, 136},
		{"launch", Result{Kind: ResultLaunchFailed, ExitCode: 45}, "launch failed rc:45", mtce.FailOperation, 119},
		{"cut", Result{Kind: ResultFailed, Script: long, ExitCode: 1}, (long + " failed ; rc:1")[:63], mtce.FailOperation, 164},
		{"timeout in path", Result{Kind: ResultFailed, Script: "/etc/services.d/worker/timeoutd", ExitCode: 2},
			"/etc/services.d/worker/timeoutd failed ; rc:2", mtce.FailOperation, 145},
	}
	for _, c := range cases {
		m, err := NewHostServicesResult(c.r)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		b, _ := m.MarshalBinary()
		want := cStruct{hdr: "cgts mtc cmd rsp:", cmd: 21, num: 1, parm: [5]uint32{uint32(c.status)}, buf: c.text}.bytes(c.size)
		if !bytes.Equal(b, want) {
			t.Errorf("%s: bytes\n%q\n%q", c.name, b, want)
		}
		d, _ := Decode(b)
		got, err := d.Message.HostServicesResult()
		if err != nil || got.Kind != c.r.Kind || got.Status != c.status || got.Text != c.text {
			t.Errorf("%s: read back %+v %v", c.name, got, err)
		}
		if c.name != "cut" && (got.Script != c.r.Script || (c.r.Kind != ResultTimeout && got.ExitCode != c.r.ExitCode) || got.Command != c.r.Command) {
			t.Errorf("%s: fields %+v, want %+v", c.name, got, c.r)
		}
		if (got.Err() == nil) != (c.status == mtce.Pass) || mtce.RCOf(got.Err()) != c.status {
			t.Errorf("%s: Err %v", c.name, got.Err())
		}
	}
	if _, err := NewHostServicesResult(Result{}); err == nil {
		t.Error("zero kind accepted")
	}
	// A cut text is classified by status.
	r := ParseResultText(mtce.FailTimeout, "/etc/services.d/worker/very-long-name-that-got-cut-somewhere-in")
	if r.Kind != ResultTimeout || r.ExitCode != -1 {
		t.Errorf("%+v", r)
	}
	r = ParseResultText(mtce.FailOperation, "/etc/services.d/worker/very-long-name-that-got-cut fa")
	if r.Kind != ResultFailed || r.ExitCode != -1 {
		t.Errorf("%+v", r)
	}
	r = ParseResultText(mtce.Pass, "start controller host services")
	if r.Kind != ResultPass || r.Command != CmdStartControllerServices {
		t.Errorf("%+v", r)
	}
	r = ParseResultText(mtce.Pass, "reboot") // names no host-services command
	if r.Kind != ResultPass || r.Command != CmdNone {
		t.Errorf("%+v", r)
	}
}

func TestClientReadyAndEvents(t *testing.T) {
	m, err := NewClientReady("worker-1", "169.254.202.3")
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"hostname":"worker-1","service":"mtcClient","active_controller_pxeboot_address":"169.254.202.3","features":["pxeboot_mtcAlive"]}`
	if m.Buf != want || m.Len() != 100+len(want)+1 || m.Command != EventMonitorReady {
		t.Errorf("%+v", m)
	}
	ev, err := m.Event()
	if err != nil || ev.Service != ServiceMtcClient || ev.Hostname != "worker-1" ||
		ev.ActiveControllerPxebootAddress != "169.254.202.3" || len(ev.Features) != 1 || ev.Features[0] != FeaturePxebootMtcAlive {
		t.Errorf("%+v %v", ev, err)
	}
	if ev.Sensor != None || ev.Degrade != None {
		t.Errorf("absent keys: %+v", ev)
	}
	collectd := AppendCollectd(nil, "compute-0", DegradeAssert, "cpu,memory")
	if string(collectd) != `{"service":"collectd_notifier","hostname":"compute-0","degrade":"assert","resource":"cpu,memory"}` {
		t.Errorf("%s", collectd)
	}
	d, err := Decode(collectd)
	if err != nil || d.Kind != KindJSON || d.JSON.Service != ServiceCollectd || d.JSON.Degrade != DegradeAssert || d.JSON.Resource != "cpu,memory" {
		t.Errorf("%+v %v", d, err)
	}
	hw := Message{Signature: SigEvent, Version: 2, Command: EventHwmonMajor, Buf: `{"service":"hwmond","hostname":"worker-2","sensor":"Fan 1"}`, Size: SizeFull}
	if ev, err := hw.Event(); err != nil || ev.Sensor != "Fan 1" || ev.Process != None {
		t.Errorf("%+v %v", ev, err)
	}
	hw.Buf = "not json"
	if _, err := hw.Event(); !errors.Is(err, ErrJSON) {
		t.Errorf("bad event JSON: %v", err)
	}
	if _, err := (&Message{Signature: SigWorker}).Event(); !errors.Is(err, ErrWrongMessage) {
		t.Error("Event on non-event")
	}
}

func TestHostServicesCommandMapping(t *testing.T) {
	for _, fn := range []mtce.NodeFunctions{mtce.FunctionController, mtce.FunctionWorker, mtce.FunctionStorage} {
		for _, start := range []bool{false, true} {
			c, err := HostServicesCommand(fn, start)
			if err != nil {
				t.Fatal(err)
			}
			f, s, ok := c.HostServices()
			if !ok || f != fn || s != start {
				t.Errorf("%v/%v → %v → %v %v %v", fn, start, c, f, s, ok)
			}
		}
	}
	if _, _, ok := CmdHostServicesResult.HostServices(); ok {
		t.Error("cmd 21 is not a host-services command")
	}
}

func TestPxebootInfo(t *testing.T) {
	pt := Target{MAC: target.MAC, Address: "169.254.202.1", Network: mtce.NetworkPxeboot}
	m, err := NewPxebootMtcAliveRequest(pt, PxebootInfo{"169.254.202.1", "169.254.202.2", ""})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"pxebootInfo":{"controller":"169.254.202.1","controller-0":"169.254.202.2","controller-1":""}}`
	if m.Buf != want || m.Command != CmdMtcAliveRequest || m.Version != 1 || m.Len() != 100+len(want)+1 {
		t.Fatalf("%+v", m)
	}
	info, err := m.PxebootInfo()
	if err != nil || info != (PxebootInfo{"169.254.202.1", "169.254.202.2", ""}) {
		t.Errorf("%+v %v", info, err)
	}
	m.Buf = `{"pxebootInfo":{"controller-1":null}}`
	if info, err := m.PxebootInfo(); err != nil || info != (PxebootInfo{}) {
		t.Errorf("%+v %v", info, err)
	}
	for _, bad := range []string{`{"address":"x","interface":"Pxeboot"}`, `{"pxebootInfo":"x"}`, "nope"} {
		m.Buf = bad
		if _, err := m.PxebootInfo(); !errors.Is(err, ErrJSON) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestConstructorsReturnNothingOnError: a refused argument gives the zero
// Message with the error, never a half-built one.
func TestConstructorsReturnNothingOnError(t *testing.T) {
	bad := Target{MAC: "08:00:27:9f:ef:57", Address: "192.168.204.1"} // no network
	for name, mk := range map[string]func() (Message, error){
		"lazy":    func() (Message, error) { return NewLazyReboot(bad, 30) },
		"locked":  func() (Message, error) { return NewLocked(bad, true) },
		"reboot":  func() (Message, error) { return NewReboot(bad) },
		"pxeboot": func() (Message, error) { return NewPxebootMtcAliveRequest(bad, PxebootInfo{}) },
		"hs":      func() (Message, error) { return NewHostServicesRequest(mtce.FunctionWorker, true, bad) },
		"hs fn":   func() (Message, error) { return NewHostServicesRequest(0, true, target) },
		"long MAC": func() (Message, error) {
			return NewLocked(Target{MAC: strings.Repeat("m", 47), Network: mtce.NetworkMgmt}, true)
		},
		"long lazy": func() (Message, error) {
			return NewLazyReboot(Target{MAC: strings.Repeat("m", 47), Network: mtce.NetworkMgmt}, 5)
		},
	} {
		m, err := mk()
		if err == nil || m != (Message{}) {
			t.Errorf("%s: %+v, %v", name, m, err)
		}
	}
}
