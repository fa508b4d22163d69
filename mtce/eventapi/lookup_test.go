package eventapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestHostLookupSameReplies proves that a State with HostLookup gets the
// same replies and the same calls as one read through Hosts, for every
// kind of request that reads the records (lookups by uuid and name,
// getNode by each key, the add's duplicate and mate checks, the bm_ip
// clash, the swact mate, VIM's list with and without an unfinished add),
// and that the handler then never calls Hosts (no copy of every record).
func TestHostLookupSameReplies(t *testing.T) {
	sysinv := func(kv ...string) string {
		m := map[string]any{"personality": "worker", "subfunctions": "worker",
			"administrative": "unlocked", "operational": "enabled", "availability": "available",
			"bm_ip": "none", "bm_type": "none", "bm_username": "none", "operation": "modify"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	type req struct{ ua, method, path, body string }
	w0 := "/v1/hosts/" + uuidW0
	reqs := []req{
		{"sysinv/1.0", "PATCH", w0, sysinv("uuid", uuidW0, "hostname", "compute-0", "mgmt_ip", "192.168.204.50", "bm_ip", "10.10.10.50", "bm_type", "redfish", "bm_username", "root")},
		{"sysinv/1.0", "PATCH", w0, sysinv("uuid", uuidW0, "hostname", "compute-0", "action", "lock")},
		{"sysinv/1.0", "PATCH", w0, sysinv("uuid", uuidW0, "hostname", "compute-0", "administrative", "locked")},
		{"sysinv/1.0", "PATCH", w0, sysinv("uuid", uuidW0, "hostname", "compute-0", "bm_ip", "192.168.204.11", "bm_type", "redfish", "bm_username", "root")},
		{"sysinv/1.0", "PATCH", w0, sysinv("uuid", uuidW0, "hostname", "compute-0", "bm_ip", "10.10.10.51", "bm_type", "redfish", "bm_username", "root")},
		{"sysinv/1.0", "PATCH", w0, sysinv("uuid", uuidW0, "hostname", "compute-9")},
		{"sysinv/1.0", "PATCH", "/v1/hosts/" + uuidC1, sysinv("uuid", uuidC1, "hostname", "controller-1", "personality", "controller", "subfunctions", "controller", "action", "swact")},
		{"sysinv/1.0", "PATCH", "/v1/hosts/" + uuidC1, sysinv("uuid", uuidC1, "hostname", "controller-1", "personality", "controller", "subfunctions", "controller", "bm_ip", "10.10.10.50", "bm_type", "redfish", "bm_username", "root")},
		{"sysinv/1.0", "POST", "/v1/hosts/", sysinv("uuid", uuidW1, "hostname", "compute-0", "operation", "add")},
		{"sysinv/1.0", "POST", "/v1/hosts/", sysinv("uuid", uuidW1, "hostname", "compute-1", "mgmt_ip", "192.168.204.50", "operation", "add")},
		{"sysinv/1.0", "POST", "/v1/hosts/", sysinv("uuid", uuidW1, "hostname", "compute-1", "mgmt_mac", "52:54:00:00:00:50", "operation", "add")},
		{"sysinv/1.0", "POST", "/v1/hosts/", sysinv("uuid", uuidW1, "hostname", "compute-1", "mgmt_ip", "192.168.204.51", "operation", "add")},
		{"sysinv/1.0", "POST", "/v1/hosts/", sysinv("uuid", uuidW1, "hostname", "controller-2", "personality", "controller", "subfunctions", "controller", "operation", "add")},
		{"sysinv/1.0", "POST", "/v1/hosts/", sysinv("uuid", uuidW1, "hostname", "controller-1", "personality", "controller", "subfunctions", "controller", "administrative", "locked", "operation", "add")},
		{"sysinv/1.0", "DELETE", "/v1/hosts/192.168.206.50", "null"},
		{"sysinv/1.0", "DELETE", "/v1/hosts/169.254.202.50", "null"},
		{"sysinv/1.0", "DELETE", "/v1/hosts/compute-7", "null"},
		{"sysinv/1.0", "GET", w0, ""},
		{"vim/1.0", "GET", "/v1/systems", ""},
		{"vim/1.0", "GET", "/v1/hosts/controller-1", ""},
		{"vim/1.0", "GET", "/v1/hosts/192.168.204.50", ""},
		{"vim/1.0", "GET", "/v1/hosts/nosuchhost", ""},
		{"vim/1.0", "PATCH", w0, `{"uuid": "` + uuidW0 + `", "hostname": "compute-0", "severity": "failed"}`},
		{"vim/1.0", "PATCH", w0, `{"uuid": "` + uuidW0 + `", "hostname": "compute-7", "severity": "failed"}`},
		{"sm/1.0", "PATCH", "/v1/hosts/controller-1", `{"hostname":"controller-1","action":"event","operational":"disabled","availability":"failed"}`},
		{"sm/1.0", "PATCH", "/v1/hosts/controller-7", `{"hostname":"controller-7","action":"event","operational":"disabled","availability":"failed"}`},
	}
	run := func(lookup, adding bool, r req) (string, *fakeBackend) {
		b := fixture()
		b.lookup = lookup
		b.hosts[2].Adding = adding
		w := do(newHandler(t, b), r.ua, r.method, r.path, r.body)
		return fmt.Sprintf("%d %s", w.Code, w.Body.String()), b
	}
	for _, adding := range []bool{false, true} {
		for _, r := range reqs {
			slow, bs := run(false, adding, r)
			fast, bf := run(true, adding, r)
			name := fmt.Sprintf("%s %s %s adding=%v", r.ua, r.method, r.path, adding)
			if slow != fast {
				t.Errorf("%s: reply differs\nHosts:      %s\nHostLookup: %s", name, slow, fast)
			}
			bs.copies = 0
			if !reflect.DeepEqual(bs.adds, bf.adds) || !reflect.DeepEqual(bs.modifies, bf.modifies) ||
				!reflect.DeepEqual(bs.swacts, bf.swacts) || !reflect.DeepEqual(bs.deletes, bf.deletes) ||
				!reflect.DeepEqual(bs.vim, bf.vim) || !reflect.DeepEqual(bs.sm, bf.sm) || !reflect.DeepEqual(bs.rejected, bf.rejected) {
				t.Errorf("%s: calls differ\nHosts:      %s\nHostLookup: %s", name, bs.calls(), bf.calls())
			}
			if bf.copies != 0 {
				t.Errorf("%s: Hosts called %d times with HostLookup", name, bf.copies)
			}
		}
	}
}

// TestVIMListEncoding proves that VIM's host list, encoded without
// reflection, is byte for byte what encoding/json writes (HTML escaping
// off, one final newline), for names and uuids that need escaping.
func TestVIMListEncoding(t *testing.T) {
	odd := []string{"", "compute-0", `a"b`, `back\slash`, "tab\there", "nl\n", "<&>", "ünïcode", "\u2028\u2029",
		"bad\xffutf8", "\x00\x1f\x7f", "none", strings.Repeat("x", 300)}
	var l vimList
	for i, s := range odd {
		l.Hosts = append(l.Hosts, vimListHost{UUID: odd[(i+1)%len(odd)], Hostname: s, Uptime: uint32(i) * 4000000000 / 13})
	}
	for _, c := range []vimList{{Hosts: []vimListHost{}}, l} {
		want := encodeStd(t, c)
		if got := string(c.appendJSON(nil)); got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	}
}

func FuzzVIMListEncoding(f *testing.F) {
	f.Add("compute-0", "11111111-1111-4111-8111-111111111111", uint32(7))
	f.Add("a\"<b>\u2028", "\xff", uint32(0))
	f.Fuzz(func(t *testing.T, name, uuid string, up uint32) {
		l := vimList{Hosts: []vimListHost{{UUID: uuid, Hostname: name, Uptime: up}, {UUID: name, Hostname: uuid}}}
		got := string(l.appendJSON(nil))
		if want := encodeStd(t, l); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
		if !utf8.ValidString(got) || !json.Valid([]byte(got)) {
			t.Fatalf("invalid: %q", got)
		}
	})
}

func encodeStd(t *testing.T, l vimList) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
