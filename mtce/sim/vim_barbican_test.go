package sim

import (
	"net/http"
	"path"
	"testing"
)

func vimChange(uuid, host, admin, oper, avail string) map[string]any {
	return map[string]any{
		"state-change": map[string]string{"administrative": admin, "operational": oper, "availability": avail,
			"subfunction_oper": "disabled", "subfunction_avail": "not-installed"},
		"hostname": host, "uuid": uuid, "subfunctions": "worker", "personality": "worker",
	}
}

func TestVIMStateChange(t *testing.T) {
	s := newSim(t, nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	uuid := NameUUID("worker-1")
	url := ep.VIM + "/nfvi-plugins/v1/hosts/" + uuid
	// No token: the VIM's infrastructure API needs none.
	mustStatus(t, call(t.Context(), c, http.MethodPatch, url, "", vimChange(uuid, "worker-1", "unlocked", "disabled", "failed")), http.StatusOK)
	mustStatus(t, call(t.Context(), c, http.MethodPatch, url, "", vimChange(uuid, "worker-1", "unlocked", "enabled", "available")), http.StatusOK)
	got := s.VIMStateChanges()
	if len(got) != 2 || got[0].State.Availability != "failed" || got[1].State.Operational != "enabled" ||
		got[0].Hostname != "worker-1" || got[0].UUID != uuid || got[0].State.SubfunctionAvail != "not-installed" {
		t.Errorf("recorded %+v", got)
	}
	other := NameUUID("worker-0")
	for _, tc := range []struct {
		url  string
		body any
		want int
	}{
		{url, vimChange(other, "worker-0", "unlocked", "enabled", "available"), http.StatusBadRequest}, // uuid mismatch
		{url, vimChange(uuid, "worker-1", "unlocked", "enabled", "sleepy"), http.StatusBadRequest},
		{url, vimChange(uuid, "", "unlocked", "enabled", "available"), http.StatusBadRequest},
		{url, `{"hostname":"worker-1","uuid":"` + uuid + `"}`, http.StatusBadRequest},
		{url, `{"state-change":`, http.StatusBadRequest},
		{ep.VIM + "/nfvi-plugins/v1/hosts/" + NameUUID("nobody"), vimChange(NameUUID("nobody"), "nobody", "unlocked", "enabled", "available"), http.StatusNotFound},
		{ep.VIM + "/nfvi-plugins/v1/systems", nil, http.StatusNotFound},
	} {
		mustStatus(t, call(t.Context(), c, http.MethodPatch, tc.url, "", tc.body), tc.want)
	}
	mustStatus(t, call(t.Context(), c, http.MethodGet, url, "", nil), http.StatusMethodNotAllowed)
	if n := s.Stats().VIMChanges; n != 2 {
		t.Errorf("VIMChanges = %d", n)
	}
}

// TestBarbicanBMCPassword follows StarlingX's two-step read of a BMC
// password (spec K.7).
func TestBarbicanBMCPassword(t *testing.T) {
	uuid := NameUUID("worker-0")
	s := newSim(t, func(c *Config) { c.Secrets = map[string]Secret{uuid: "bmc-pw"} })
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)

	r := call(t.Context(), c, http.MethodGet, ep.Barbican+"/v1/secrets?name="+uuid+"&limit=1", tok, nil)
	mustStatus(t, r, http.StatusOK)
	var list struct {
		Secrets []struct {
			Name      string `json:"name"`
			SecretRef string `json:"secret_ref"`
		} `json:"secrets"`
		Total int `json:"total"`
	}
	r.json(t, &list)
	if len(list.Secrets) != 1 || list.Secrets[0].Name != uuid || list.Total != 1 {
		t.Fatalf("list %+v", list)
	}
	ref := path.Base(list.Secrets[0].SecretRef)
	payload := ep.Barbican + "/v1/secrets/" + ref + "/payload"
	r = call(t.Context(), c, http.MethodGet, payload, tok, nil, "Accept", "application/octet-stream")
	mustStatus(t, r, http.StatusOK)
	if string(r.body) != "bmc-pw" || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("payload %q (%s)", r.body, r.header.Get("Content-Type"))
	}
	mustStatus(t, call(t.Context(), c, http.MethodGet, payload, tok, nil, "Accept", "application/json"), http.StatusNotAcceptable)
	mustStatus(t, call(t.Context(), c, http.MethodGet, payload, "", nil), http.StatusUnauthorized)
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.Barbican+"/v1/secrets/nope/payload", tok, nil), http.StatusNotFound)
	// A record of the request names the host whose password it is.
	recs := s.RequestsMatching(func(r Record) bool { return r.Service == Barbican })
	if len(recs) == 0 || recs[0].Host != "worker-0" {
		t.Errorf("barbican records %+v", recs)
	}

	// Create, read, delete through the API; PutSecret replaces by name.
	r = call(t.Context(), c, http.MethodPost, ep.Barbican+"/v1/secrets", tok,
		`{"name":"x","payload":"aGVsbG8=","payload_content_encoding":"base64","payload_content_type":"application/octet-stream"}`)
	mustStatus(t, r, http.StatusCreated)
	var created struct {
		SecretRef string `json:"secret_ref"`
	}
	r.json(t, &created)
	if pw, ok := s.SecretByName("x"); !ok || pw.Reveal() != "hello" {
		t.Error("base64 payload not decoded")
	}
	mustStatus(t, call(t.Context(), c, http.MethodGet, created.SecretRef, tok, nil), http.StatusOK)
	mustStatus(t, call(t.Context(), c, http.MethodDelete, created.SecretRef, tok, nil), http.StatusNoContent)
	mustStatus(t, call(t.Context(), c, http.MethodPost, ep.Barbican+"/v1/secrets", tok, `{"name":"y"}`), http.StatusBadRequest)
	if _, err := s.PutSecret(uuid, "new-pw"); err != nil {
		t.Fatal(err)
	}
	r = call(t.Context(), c, http.MethodGet, payload, tok, nil, "Accept", "application/octet-stream")
	if string(r.body) != "new-pw" {
		t.Errorf("payload after PutSecret %q", r.body)
	}
}
