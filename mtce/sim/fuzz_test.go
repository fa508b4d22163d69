package sim

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"
)

var patchSeeds = []string{
	`[{"path":"/task","value":"Swact: Request","op":"replace"},{"path":"/uptime","value":"1234","op":"replace"}]`,
	`[{"path":"/administrative","value":"locked","op":"replace"},{"path":"/operational","value":"disabled","op":"replace"},{"path":"/availability","value":"offline","op":"replace"}]`,
	`[{"path":"/subfunction_oper","value":"enabled","op":"replace"},{"path":"/subfunction_avail","value":"none","op":"replace"}]`,
	`[{"path":"/mtce_info","value":"{\"bmc_protocol\":\"ipmi\"}","op":"replace"}]`,
	`[{"path":"/action","value":"swact","op":"replace"}]`,
	`[{"path":"/uptime","value":42,"op":"add"},{"path":"/task","op":"remove"}]`,
	`[{"path":"/bm_password","value":"pw","op":"replace"},{"path":"/hostname","value":"worker-7","op":"replace"}]`,
	`[{"path":"/uuid","value":"x","op":"replace"}]`,
	`[{"path":"/task","value":{"a":[1,2]},"op":"replace"}]`,
	`[{"path":"/a~1b","value":1,"op":"test"}]`,
	`[]`, `{}`, `null`, `[null]`, `[1]`, `[{"op":1}]`, ``,
}

// FuzzHostPatch feeds JSON-patch documents to the SysInv decoder and to
// the record: a document is either rejected or leaves a valid record with
// the same identity, which survives a JSON round trip.
func FuzzHostPatch(f *testing.F) {
	for _, s := range patchSeeds {
		f.Add([]byte(s))
	}
	base := Inventory(3)[2]
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := decodePatch(body)
		if err != nil {
			return
		}
		h := base
		action, _, err := applyHostPatch(&h, ops)
		if err != nil {
			return
		}
		if action != "" && !hostActions[action] {
			t.Fatalf("action %q accepted", action)
		}
		if h.UUID != base.UUID || h.ID != base.ID {
			t.Fatalf("identity changed: %+v", h)
		}
		if err := h.validate(); err != nil {
			t.Fatalf("patch %s left an invalid record: %v", body, err)
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back Host
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(back, h) {
			t.Fatalf("round trip:\n%+v\n%+v", h, back)
		}
	})
}

// FuzzHostJSON decodes arbitrary ihost records: decoding never panics and
// an accepted record reaches a fixed point after one encode/decode.
func FuzzHostJSON(f *testing.F) {
	for _, h := range Inventory(2) {
		b, _ := json.Marshal(h)
		f.Add(b)
	}
	f.Add([]byte(`{"uuid":"none","hostname":null,"uptime":"77","administrative":"none","id":"3","links":[{"href":"x"}],"extra":{"a":1}}`))
	f.Add([]byte(`{"hostname":12,"task":true,"mtce_info":{"k":"v"},"created_at":"2026-01-02T03:04:05.123456+00:00"}`))
	f.Add([]byte(`{"availability":"sleepy"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var h Host
		if err := json.Unmarshal(body, &h); err != nil {
			return
		}
		b1, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var h2 Host
		if err := json.Unmarshal(b1, &h2); err != nil {
			t.Fatalf("re-decoding %s: %v", b1, err)
		}
		b2, _ := json.Marshal(h2)
		var h3 Host
		if err := json.Unmarshal(b2, &h3); err != nil || !reflect.DeepEqual(h2, h3) {
			t.Fatalf("no fixed point: %s → %s (%v)", b1, b2, err)
		}
	})
}

// FuzzAuthRequest feeds Keystone auth requests to the decoder and the
// credential check.
func FuzzAuthRequest(f *testing.F) {
	for _, v := range []any{
		passwordAuth("admin", "Sim-Passw0rd!"),
		passwordAuth("admin", "wrong"),
		map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"application_credential"},
			"application_credential": map[string]any{"id": "ac", "secret": "s"}}}},
		map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"token"},
			"token": map[string]any{"id": "t"}}, "scope": "unscoped"}},
		map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{"id": "u", "password": "p"}}},
			"scope": map[string]any{"system": map[string]bool{"all": true}, "project": map[string]string{"id": "p"}}}},
	} {
		b, _ := json.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte(`{"auth":{"identity":{"methods":["password"],"password":{"user":null}}}}`))
	f.Add([]byte(`{"auth":{"identity":{"methods":[]}}} x`))
	s, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	f.Fuzz(func(t *testing.T, body []byte) {
		ar, err := decodeAuthRequest(body)
		if err != nil {
			return
		}
		if len(ar.Methods) == 0 {
			t.Fatal("accepted a request without methods")
		}
		s.mu.Lock()
		tok, ok := s.authenticateLocked(ar, time.Now())
		s.mu.Unlock()
		if ok && tok == nil {
			t.Fatal("authenticated without a token")
		}
	})
}

// FuzzSMPatch feeds SM service-node requests to their decoder.
func FuzzSMPatch(f *testing.F) {
	for _, a := range []string{"swact", "lock", "unlock", "event"} {
		b, _ := json.Marshal(smBody(a, "unlocked", "enabled", "available"))
		f.Add(b)
	}
	f.Add([]byte(`{"origin":"mtce","action":"lock","admin":"none","x":[1]}`))
	f.Add([]byte(`{"origin":7}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeSMPatch(body)
		if err != nil {
			return
		}
		if !smActions[p.Action] || p.Origin == "" {
			t.Fatalf("accepted %+v", p)
		}
		for _, v := range []struct {
			v  string
			ok map[string]bool
		}{{p.Admin, adminStates}, {p.Oper, operStates}, {p.Avail, availStates}} {
			if v.v != "" && v.v != "none" && !v.ok[v.v] {
				t.Fatalf("accepted state %q", v.v)
			}
		}
	})
}

// FuzzVIMStateChange feeds VIM host updates to their decoder.
func FuzzVIMStateChange(f *testing.F) {
	b, _ := json.Marshal(vimChange(NameUUID("worker-0"), "worker-0", "unlocked", "enabled", "available"))
	f.Add(b)
	f.Add([]byte(`{"state-change":{"administrative":"locked","operational":"disabled","availability":"offline","data_ports_oper":"x"},"hostname":"h","uuid":"u"}`))
	f.Add([]byte(`{"state-change":null,"hostname":"h","uuid":"u"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ch, err := decodeVIMStateChange(body)
		if err != nil {
			return
		}
		if ch.Hostname == "" || ch.UUID == "" || ch.State.Administrative == "" ||
			(ch.State.Administrative != "none" && !adminStates[ch.State.Administrative]) {
			t.Fatalf("accepted %+v", ch)
		}
	})
}

// FuzzSecretPost feeds Barbican secret creations to their decoder.
func FuzzSecretPost(f *testing.F) {
	f.Add([]byte(`{"name":"n","payload":"p"}`))
	f.Add([]byte(`{"name":"n","payload":"aGVsbG8=","payload_content_encoding":"base64"}`))
	f.Add([]byte(`{"payload":"%%%","payload_content_encoding":"base64"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, payload, err := decodeSecretPost(body)
		if err != nil {
			return
		}
		if len(payload) == 0 && p.ContentEncoding == "" {
			t.Fatalf("accepted an empty payload: %+v", p)
		}
		if p.ContentType == "" {
			t.Fatal("no content type")
		}
	})
}

// FuzzSensorPatch feeds sensor records and patches to their decoders: a
// patch never changes the simulator-owned attributes.
func FuzzSensorPatch(f *testing.F) {
	f.Add([]byte(`{"sensorname":"Fan 1","host_uuid":"h","state":"enabled"}`), []byte(patchSeeds[0]))
	f.Add([]byte(`{"sensorname":"Fan 1"}`), []byte(`[{"path":"/uuid","value":"x","op":"replace"}]`))
	f.Add([]byte(`{"sensorname":"Fan 1"}`), []byte(`[{"path":"/sensorname","op":"remove"}]`))
	f.Fuzz(func(t *testing.T, rec, patch []byte) {
		m, err := decodeItem(rec)
		if err != nil {
			return
		}
		m["uuid"], m["sensorname"] = "u", "s"
		ops, err := decodePatch(patch)
		if err != nil {
			return
		}
		if err := applyItemPatch(sensorItem, m, ops); err != nil {
			return
		}
		if m["uuid"] != "u" {
			t.Fatal("uuid changed")
		}
		if n, ok := m["sensorname"].(string); !ok || n == "" {
			t.Fatalf("sensorname became %v", m["sensorname"])
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSysInvOverTransport sends arbitrary PATCH bodies through the
// in-memory transport: SysInv answers 200 or 400 with a JSON body, never
// anything else.
func FuzzSysInvOverTransport(f *testing.F) {
	for _, s := range patchSeeds {
		f.Add([]byte(s))
	}
	s, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	c := s.Client()
	ep := s.MemoryEndpoints()
	tok := getToken(f, c, ep)
	url := ep.SysInv + "/v1/ihosts/" + NameUUID("worker-1")
	f.Fuzz(func(t *testing.T, body []byte) {
		r := call(t.Context(), c, http.MethodPatch, url, tok, body)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.status != http.StatusOK && r.status != http.StatusBadRequest && r.status != http.StatusConflict {
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
		if !json.Valid(r.body) {
			t.Fatalf("invalid JSON answer %q", r.body)
		}
		if r.status == http.StatusOK {
			// Keep the record usable for the next input.
			_, _ = s.UpdateHost(NameUUID("worker-1"), func(h *Host) { h.Hostname = "worker-1" })
		}
	})
}
