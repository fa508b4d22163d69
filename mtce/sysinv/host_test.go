package sysinv

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"opendev.org/starlingx/metal-go/mtce"
)

const (
	uuidA = "0a4e8c1b-7f3d-4e5a-9b6c-1d2e3f405162"
	uuidB = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
)

// record returns a SysInv-like ihost record, changed by mod.
func record(name, uuid string, mod func(map[string]any)) string {
	m := map[string]any{
		"id": 3, "uuid": uuid, "hostname": name, "personality": "worker", "subfunctions": "worker",
		"administrative": "unlocked", "operational": "enabled", "availability": "available",
		"subfunction_oper": "disabled", "subfunction_avail": "not-installed",
		"task": "", "action": "none", "uptime": 1234, "mgmt_ip": "192.168.204.10",
		"mgmt_mac": "08:00:27:aa:bb:cc", "cluster_host_ip": nil, "bm_ip": nil, "bm_type": nil,
		"bm_username": nil, "mtce_info": nil, "invprovision": "provisioned",
		"links":      []any{map[string]any{"href": "http://x/v1/ihosts/" + uuid, "rel": "self"}},
		"created_at": "2026-01-01T00:00:00.000000+00:00",
	}
	if mod != nil {
		mod(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestParseHost(t *testing.T) {
	h, err := ParseHost([]byte(record("compute-0", uuidA, nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := Host{Host: mtce.Host{
		Name: "compute-0", UUID: uuidA, Personality: mtce.PersonalityWorker, Subfunctions: "worker",
		MgmtIP: "192.168.204.10", MgmtMAC: "08:00:27:aa:bb:cc", ClusterHostIP: "none",
		Admin: mtce.AdminUnlocked, Oper: mtce.OperEnabled, Avail: mtce.AvailAvailable,
		SubfOper: mtce.OperDisabled, SubfAvail: mtce.AvailNotInstalled,
		Task: mtce.TaskNone, Action: mtce.ActionNone, BMIP: "none", BMUsername: "none", BMType: mtce.BMCNone,
	}, Uptime: 1234, MtceInfo: "none", InvProvision: "provisioned", ActionText: "none"}
	if h != want {
		t.Errorf("ParseHost\n got %+v\nwant %+v", h, want)
	}

	// Lenient where StarlingX is: numbers as text, upper-case bm_type,
	// absent keys, sysinv's own task and action texts, uptime as text.
	h, err = ParseHost([]byte(record("controller-0", uuidA, func(m map[string]any) {
		m["bm_type"], m["bm_ip"], m["bm_username"] = "REDFISH", "10.0.0.9", "root"
		m["task"], m["action"] = "Swacting", "force-unlock"
		m["uptime"] = "99"
		m["mtce_info"] = 7
		delete(m, "subfunction_oper")
		m["personality"] = nil
	})))
	if err != nil {
		t.Fatal(err)
	}
	if h.BMType != mtce.BMCRedfish || h.Task != "Swacting" || h.Action != mtce.ActionNone ||
		h.ActionText != "force-unlock" || h.Uptime != 99 || h.MtceInfo != "7" || h.SubfOper != mtce.OperNone ||
		h.Personality != mtce.PersonalityNone || !h.BMCProvisioned() {
		t.Errorf("lenient parse: %+v", h)
	}
	h, _ = ParseHost([]byte(record("controller-0", uuidA, func(m map[string]any) { m["action"], m["task"] = "swact", "none" })))
	if h.Action != mtce.ActionSwact || h.Task != mtce.TaskNone {
		t.Errorf("action/task: %+v", h)
	}

	bad := map[string]string{
		"empty":           ``,
		"array":           `[]`,
		"null":            `null`,
		"trailing":        record("c", uuidA, nil) + `x`,
		"no uuid":         record("c", uuidA, func(m map[string]any) { delete(m, "uuid") }),
		"short uuid":      record("c", "1234", nil),
		"no hostname":     record("c", uuidA, func(m map[string]any) { delete(m, "hostname") }),
		"hostname none":   record("none", uuidA, nil),
		"hostname slash":  record("a/b", uuidA, nil),
		"admin bogus":     record("c", uuidA, func(m map[string]any) { m["administrative"] = "sort-of" }),
		"oper number":     record("c", uuidA, func(m map[string]any) { m["operational"] = 1 }),
		"avail object":    record("c", uuidA, func(m map[string]any) { m["availability"] = map[string]any{} }),
		"subf avail bad":  record("c", uuidA, func(m map[string]any) { m["subfunction_avail"] = "great" }),
		"personality bad": record("c", uuidA, func(m map[string]any) { m["personality"] = "router" }),
		"bm_type bad":     record("c", uuidA, func(m map[string]any) { m["bm_type"] = "idrac" }),
		"uptime negative": record("c", uuidA, func(m map[string]any) { m["uptime"] = -1 }),
		"uptime float":    record("c", uuidA, func(m map[string]any) { m["uptime"] = 1.5 }),
		"uptime text":     record("c", uuidA, func(m map[string]any) { m["uptime"] = "soon" }),
		"task array":      record("c", uuidA, func(m map[string]any) { m["task"] = []int{1} }),
	}
	for name, body := range bad {
		_, err := ParseHost([]byte(body))
		var de *DecodeError
		if !errors.Is(err, ErrBadResponse) || !errors.As(err, &de) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	_, err = ParseHost([]byte(bad["admin bogus"]))
	var pe *mtce.ParseError
	if !errors.As(err, &pe) || pe.Value != "sort-of" {
		t.Errorf("state error does not carry the mtce.ParseError: %v", err)
	}
}

func TestParseHostList(t *testing.T) {
	body := `{"ihosts":[` + record("controller-0", uuidA, nil) + `,` + record("controller-1", uuidB, nil) +
		`],"next":"http://192.168.204.2:6385/v1/ihosts?limit=2&marker=` + uuidB + `"}`
	p, err := ParseHostList([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Hosts) != 2 || p.Hosts[1].Name != "controller-1" || p.Next != "limit=2&marker="+uuidB {
		t.Errorf("page %+v", p)
	}
	p, err = ParseHostList([]byte(`{"ihosts":[]}`))
	if err != nil || len(p.Hosts) != 0 || p.Next != "" {
		t.Errorf("empty page %+v %v", p, err)
	}
	for _, b := range []string{`{}`, `{"ihosts":{}}`, `{"ihosts":[1]}`, `{"ihosts":[{}]}`, `{"ihosts":[],"next":5}`,
		`{"ihosts":[],"next":"http://x/v1/ihosts"}`} {
		if _, err := ParseHostList([]byte(b)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v", b, err)
		}
	}
}

func FuzzParseHost(f *testing.F) {
	f.Add([]byte(record("controller-0", uuidA, nil)))
	f.Add([]byte(record("compute-1", uuidB, func(m map[string]any) { m["bm_type"] = "IPMI"; m["uptime"] = "12" })))
	f.Add([]byte(record("c", uuidA, func(m map[string]any) { m["administrative"] = 3 })))
	f.Add([]byte(`{"uuid":"` + uuidA + `","hostname":"h"}`))
	f.Add([]byte(`{"uuid":null}`))
	f.Add([]byte(`[{}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := ParseHost(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if len(h.UUID) != 36 || h.Name == "" || h.Name == "none" || strings.Contains(h.Name, "/") {
			t.Fatalf("accepted identity %q %q", h.Name, h.UUID)
		}
		// Whatever was accepted prints back as texts mtce knows.
		for _, s := range []string{h.Admin.String(), h.Oper.String(), h.Avail.String(), h.SubfOper.String(),
			h.SubfAvail.String(), h.Personality.String(), h.BMType.String()} {
			if strings.Contains(s, "(") {
				t.Fatalf("invalid enum value accepted: %s", s)
			}
		}
	})
}

func FuzzParseHostList(f *testing.F) {
	f.Add([]byte(`{"ihosts":[` + record("controller-0", uuidA, nil) + `],"next":"http://x/v1/ihosts?limit=1&marker=` + uuidA + `"}`))
	f.Add([]byte(`{"ihosts":[]}`))
	f.Add([]byte(`{"ihosts":[{"uuid":"x"}]}`))
	f.Add([]byte(`{"ihosts":null,"next":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseHostList(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		for _, h := range p.Hosts {
			if len(h.UUID) != 36 {
				t.Fatalf("accepted uuid %q", h.UUID)
			}
		}
	})
}
