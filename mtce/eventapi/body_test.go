package eventapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
)

func TestParseBodySysinvRecord(t *testing.T) {
	raw, err := os.ReadFile("testdata/sysinv_add_worker.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) < 55 {
		t.Fatalf("testdata record has %d keys; sysinv sends about 62", len(m))
	}
	f, err := ParseBody(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"uuid": uuidW1, "hostname": "compute-0", "personality": "worker", "subfunctions": "worker",
		"mgmt_ip": "192.168.204.103", "mgmt_mac": "52:54:00:8F:1A:03", "cluster_host_ip": None,
		"bm_ip": None, "bm_type": None, "bm_username": None, "administrative": "locked",
		"operational": "disabled", "availability": "offline", "subfunction_oper": "disabled",
		"subfunction_avail": "offline", "task": None, "action": "none", "uptime": "0", "id": "3",
		"mtce_info": None, "operation": "add", "invprovision": "unprovisioned", "severity": None,
	}
	for _, k := range keys {
		if got := *k.f(&f); got != want[k.key] {
			t.Errorf("%s = %q, want %q", k.key, got, want[k.key])
		}
	}
}

func TestParseBodyValues(t *testing.T) {
	f, err := ParseBody([]byte(` {"uptime": 12.50, "id": true, "task": {"b": [1, 2], "a": null}, "mtce_info": "", "hostname": null, "action": "x\u00e9"} `))
	if err != nil {
		t.Fatal(err)
	}
	if f.Uptime != "12.50" || f.ID != "true" || f.Task != `{"b":[1,2],"a":null}` || f.MtceInfo != "" || f.Hostname != None || f.Action != "xé" || f.UUID != None {
		t.Fatalf("%+v", f)
	}
	f, err = ParseBody([]byte(`{"error_message": "boom", "hostname": "h"}`))
	if err != nil || f.Hostname != None {
		t.Fatalf("error_message: %+v %v", f, err)
	}
	for _, bad := range []string{"", "null", "[]", `"s"`, "1", `{"a":1} {}`, `{"a":1}x`, `{"a":}`, `{`, "\xff"} {
		if _, err := ParseBody([]byte(bad)); !errors.Is(err, ErrBadBody) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func FuzzParseBody(f *testing.F) {
	raw, err := os.ReadFile("testdata/sysinv_add_worker.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(raw), "null", "{}", `{"uuid":null}`, `{"uptime":1e400}`, `{"a":"\ud800"}`,
		`{"action": "event", "hostname":"controller-1", "operational": "disabled", "availability": "failed"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseBody(b)
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		valid := dec.Decode(&m) == nil && m != nil
		if _, err := dec.Token(); err != io.EOF {
			valid = false
		}
		if (err == nil) != valid {
			t.Fatalf("ParseBody err %v, json valid object %v", err, valid)
		}
		if err != nil {
			if got != noneFields() {
				t.Fatalf("a refused body loaded fields: %+v", got)
			}
			return
		}
		if _, ok := m["error_message"]; ok {
			return
		}
		for _, k := range keys {
			v, present := m[k.key]
			s := *k.f(&got)
			switch x := v.(type) {
			case nil:
				if s != None {
					t.Fatalf("%s: absent/null read %q", k.key, s)
				}
				_ = present
			case string:
				if s != x {
					t.Fatalf("%s: string %q read %q", k.key, x, s)
				}
			default:
				if !json.Valid([]byte(s)) {
					t.Fatalf("%s: %v read as non-JSON %q", k.key, x, s)
				}
			}
		}
	})
}
