package sim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// sysinvError extracts SysInv's fault string.
func sysinvError(t *testing.T, r reply) string {
	t.Helper()
	var outer struct {
		ErrorMessage string `json:"error_message"`
	}
	r.json(t, &outer)
	var inner struct {
		FaultString string `json:"faultstring"`
		FaultCode   string `json:"faultcode"`
	}
	if err := json.Unmarshal([]byte(outer.ErrorMessage), &inner); err != nil {
		t.Fatalf("error_message %q: %v", outer.ErrorMessage, err)
	}
	return inner.FaultString
}

func TestHostListAndGet(t *testing.T) {
	s := newSim(t, func(c *Config) { c.Hosts = Inventory(7) })
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)
	var list struct {
		IHosts []map[string]any `json:"ihosts"`
		Next   string           `json:"next"`
	}
	r := call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts", tok, nil)
	mustStatus(t, r, http.StatusOK)
	r.json(t, &list)
	if len(list.IHosts) != 7 || list.Next != "" {
		t.Fatalf("%d hosts, next %q", len(list.IHosts), list.Next)
	}
	// Paging as maintenance's batch load does (limit ≤ 5).
	var names []string
	url := ep.SysInv + "/v1/ihosts/?limit=5"
	for url != "" {
		list.Next = ""
		r := call(t.Context(), c, http.MethodGet, url, tok, nil)
		mustStatus(t, r, http.StatusOK)
		r.json(t, &list)
		for _, h := range list.IHosts {
			names = append(names, h["hostname"].(string))
		}
		url = list.Next
	}
	if got := strings.Join(names, ","); got != "controller-0,controller-1,worker-0,worker-1,worker-2,worker-3,worker-4" {
		t.Errorf("paged hostnames %s", got)
	}
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts?marker=nope", tok, nil), http.StatusBadRequest)

	// By hostname (maintenance's load_host) and by UUID.
	for _, id := range []string{"worker-1", NameUUID("worker-1")} {
		r := call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts/"+id, tok, nil)
		mustStatus(t, r, http.StatusOK)
		var raw map[string]any
		r.json(t, &raw)
		if raw["uuid"] != NameUUID("worker-1") || raw["hostname"] != "worker-1" || raw["uptime"] != 0.0 ||
			raw["task"] != nil || raw["bm_type"] != "none" || raw["administrative"] != "unlocked" {
			t.Errorf("record %v", raw)
		}
		var h Host
		r.json(t, &h)
		if h.Personality != "worker" || h.CreatedAt.IsZero() {
			t.Errorf("decoded %+v", h)
		}
	}
	r = call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts/worker-9", tok, nil)
	mustStatus(t, r, http.StatusNotFound)
	if msg := sysinvError(t, r); !strings.Contains(msg, "worker-9") {
		t.Errorf("fault string %q", msg)
	}
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts", "", nil), http.StatusUnauthorized)
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/nothing", tok, nil), http.StatusNotFound)
	mustStatus(t, call(t.Context(), c, http.MethodPut, ep.SysInv+"/v1/ihosts", tok, nil), http.StatusMethodNotAllowed)
}

func TestHostPatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		ep, c := s.MemoryEndpoints(), s.Client()
		tok := getToken(t, c, ep)
		uuid := NameUUID("worker-0")
		url := ep.SysInv + "/v1/ihosts/" + uuid
		patch := func(body any) reply { return call(t.Context(), c, http.MethodPatch, url, tok, body) }

		time.Sleep(time.Second)
		// As maintenance sends them: string values, uptime as a string.
		r := patch(`[{"path":"/task","value":"Enabling","op":"replace"},{"path":"/uptime","value":"1234","op":"replace"}]`)
		mustStatus(t, r, http.StatusOK)
		var h Host
		r.json(t, &h)
		if h.Task != "Enabling" || h.Uptime != 1234 {
			t.Errorf("patched record %+v", h)
		}
		time.Sleep(time.Second)
		mustStatus(t, patch(`[{"path":"/administrative","value":"locked","op":"replace"},
			{"path":"/operational","value":"disabled","op":"replace"},
			{"path":"/availability","value":"online","op":"replace"},
			{"path":"/subfunction_oper","value":"none","op":"replace"},
			{"path":"/subfunction_avail","value":"none","op":"replace"},
			{"path":"/mtce_info","value":"{\"bmc_protocol\":\"redfish\"}","op":"replace"},
			{"path":"/uptime","value":99,"op":"add"},
			{"path":"/task","value":"","op":"replace"}]`), http.StatusOK)
		got, _ := s.Host("worker-0")
		if got.Administrative != "locked" || got.Operational != "disabled" || got.Availability != "online" ||
			got.SubfunctionOper != "none" || got.MtceInfo != `{"bmc_protocol":"redfish"}` || got.Uptime != 99 ||
			got.Task != "" {
			t.Errorf("record after states patch %+v", got)
		}
		hist := s.TaskHistory("worker-0")
		if len(hist) != 2 || hist[0].Task != "Enabling" || hist[1].Task != "" ||
			hist[1].Time.Sub(hist[0].Time) != time.Second {
			t.Errorf("task history %+v", hist)
		}
		mustStatus(t, patch(`[{"path":"/task","op":"remove"}]`), http.StatusOK)

		for _, bad := range []string{
			`[{"path":"/administrative","value":"broken","op":"replace"}]`,
			`[{"path":"/no_such","value":"x","op":"replace"}]`,
			`[{"path":"/uuid","value":"x","op":"replace"}]`,
			`[{"path":"/uptime","value":"soon","op":"replace"}]`,
			`[{"path":"/task","op":"replace"}]`,
			`[{"path":"/task","value":"x","op":"move"}]`,
			`[{"path":"/task/x","value":"x","op":"replace"}]`,
			`{"path":"/task","value":"x","op":"replace"}`,
			`[{"path":"/task","value":"x"`,
			`[null]`,
		} {
			r := patch(bad)
			mustStatus(t, r, http.StatusBadRequest)
			if sysinvError(t, r) == "" {
				t.Errorf("%s: empty fault string", bad)
			}
		}
		if h, _ := s.Host(uuid); h.Administrative != "locked" {
			t.Error("a rejected patch changed the record")
		}

		// PATCH is by UUID: a hostname or a stale UUID gets 404.
		mustStatus(t, call(t.Context(), c, http.MethodPatch, ep.SysInv+"/v1/ihosts/worker-0", tok, taskPatch("x")), http.StatusNotFound)
		newUUID := "0d1b4d54-6a0f-4f39-9a0e-6f3a7b3c5e11"
		if err := s.SetUUID("worker-0", newUUID); err != nil {
			t.Fatal(err)
		}
		mustStatus(t, patch(taskPatch("x")), http.StatusNotFound)
		mustStatus(t, call(t.Context(), c, http.MethodPatch, ep.SysInv+"/v1/ihosts/"+newUUID, tok, taskPatch("Rebooting")), http.StatusOK)
		if s.Task("worker-0") != "Rebooting" {
			t.Errorf("task %q", s.Task("worker-0"))
		}
	})
}

func TestHostAction(t *testing.T) {
	var got []Action
	s := newSim(t, func(c *Config) {
		c.OnAction = func(ctx context.Context, a Action) error {
			if a.Action == "reboot" {
				return errors.New("Operation Rejected: host is unlocked")
			}
			got = append(got, a)
			return nil
		}
	})
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)
	url := ep.SysInv + "/v1/ihosts/" + NameUUID("controller-0")
	act := func(a string) reply {
		return call(t.Context(), c, http.MethodPatch, url, tok, []map[string]string{{"path": "/action", "value": a, "op": "replace"}})
	}
	mustStatus(t, act("swact"), http.StatusOK)
	r := act("reboot")
	mustStatus(t, r, http.StatusBadRequest)
	if msg := sysinvError(t, r); msg != "Operation Rejected: host is unlocked" {
		t.Errorf("rejection %q", msg)
	}
	mustStatus(t, act("dance"), http.StatusBadRequest)
	mustStatus(t, act("none"), http.StatusOK)
	if err := s.UserAction(t.Context(), "controller-1", "lock"); err != nil {
		t.Fatal(err)
	}
	if err := s.UserAction(t.Context(), "controller-1", "reboot"); err == nil {
		t.Error("callback rejection not returned")
	}
	if err := s.UserAction(t.Context(), "nobody", "lock"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown host: %v", err)
	}
	if err := s.UserAction(t.Context(), "controller-1", "dance"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("unknown action: %v", err)
	}
	if len(got) != 2 || got[0].Action != "swact" || got[0].Via != "api" || got[0].Host.Hostname != "controller-0" ||
		got[1].Action != "lock" || got[1].Via != "direct" {
		t.Errorf("callback saw %+v", got)
	}
	if acts := s.Actions(); len(acts) != 2 || s.Stats().Actions != 2 {
		t.Errorf("recorded actions %+v", acts)
	}
}

func TestHostPostDelete(t *testing.T) {
	s := newSim(t, nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)
	url := ep.SysInv + "/v1/ihosts/"
	r := call(t.Context(), c, http.MethodPost, url, tok, `{"hostname":"storage-0","personality":"storage",
		"mgmt_ip":"192.168.204.60","bm_ip":"none","bm_type":"none","bm_username":null,"uptime":"none",
		"bm_password":"s3cret","id":77,"links":[]}`)
	mustStatus(t, r, http.StatusOK)
	var h Host
	r.json(t, &h)
	if len(h.UUID) != 36 || h.Administrative != "locked" || h.Availability != "offline" || h.BMIP != "none" || h.ID != 5 {
		t.Errorf("created %+v", h)
	}
	if pw, ok := s.SecretByName(h.UUID); !ok || pw.Reveal() != "s3cret" {
		t.Error("bm_password not stored in Barbican under the host UUID")
	}
	mustStatus(t, call(t.Context(), c, http.MethodPost, url, tok, `{"hostname":"storage-0","personality":"storage"}`), http.StatusConflict)
	mustStatus(t, call(t.Context(), c, http.MethodPost, url, tok, `{"hostname":"controller-2","personality":"controller"}`), http.StatusConflict)
	mustStatus(t, call(t.Context(), c, http.MethodPost, url, tok, `{"hostname":"x"}`), http.StatusBadRequest)
	mustStatus(t, call(t.Context(), c, http.MethodPost, url, tok, `{"hostname":"x","personality":"worker","colour":"red"}`), http.StatusBadRequest)
	mustStatus(t, call(t.Context(), c, http.MethodDelete, url+"storage-0", tok, nil), http.StatusNotFound) // by UUID only
	mustStatus(t, call(t.Context(), c, http.MethodDelete, url+h.UUID, tok, nil), http.StatusNoContent)
	if _, ok := s.Host("storage-0"); ok {
		t.Error("host still there after DELETE")
	}
	if _, err := s.AddHost(Host{Hostname: "worker-9", Personality: "worker"}); err != nil {
		t.Error(err)
	}
	if _, err := s.AddHost(Host{Hostname: "worker-9", Personality: "worker"}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate AddHost: %v", err)
	}
	if _, err := s.UpdateHost("worker-9", func(h *Host) { h.Availability = "degraded" }); err != nil {
		t.Error(err)
	}
	if _, err := s.UpdateHost("worker-9", func(h *Host) { h.Availability = "sleepy" }); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("invalid UpdateHost: %v", err)
	}
	if err := s.DeleteHost("worker-9"); err != nil {
		t.Error(err)
	}
}

func TestSensors(t *testing.T) {
	s := newSim(t, nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	tok := getToken(t, c, ep)
	host := NameUUID("worker-0")
	for _, kind := range []struct{ coll, name string }{{"isensors", "sensorname"}, {"isensorgroups", "sensorgroupname"}} {
		post := func(body string) reply {
			return call(t.Context(), c, http.MethodPost, ep.SysInv+"/v1/"+kind.coll, tok, body)
		}
		r := post(`{"host_uuid":"` + host + `","` + kind.name + `":"Fan 1","datatype":"discrete","state":"enabled","audit_interval":120}`)
		mustStatus(t, r, http.StatusOK)
		var rec map[string]any
		r.json(t, &rec)
		uuid, _ := rec["uuid"].(string)
		if len(uuid) != 36 || rec["host_uuid"] != host || rec["audit_interval"] != 120.0 {
			t.Fatalf("created %v", rec)
		}
		mustStatus(t, post(`{"host_uuid":"`+host+`","`+kind.name+`":"Fan 1"}`), http.StatusConflict)
		mustStatus(t, post(`{"host_uuid":"nope","`+kind.name+`":"Fan 2"}`), http.StatusBadRequest)
		mustStatus(t, post(`{"host_uuid":"`+host+`"}`), http.StatusBadRequest)
		mustStatus(t, post(`[]`), http.StatusBadRequest)

		item := ep.SysInv + "/v1/" + kind.coll + "/" + uuid
		mustStatus(t, call(t.Context(), c, http.MethodPatch, item, tok,
			`[{"path":"/state","value":"minor","op":"replace"},{"path":"/suppress","value":true,"op":"add"},{"path":"/datatype","op":"remove"}]`), http.StatusOK)
		mustStatus(t, call(t.Context(), c, http.MethodPatch, item, tok, `[{"path":"/host_uuid","value":"x","op":"replace"}]`), http.StatusBadRequest)
		mustStatus(t, call(t.Context(), c, http.MethodPatch, item, tok, `[{"path":"/`+kind.name+`","value":7,"op":"replace"}]`), http.StatusBadRequest)

		for _, id := range []string{"worker-0", host} {
			r := call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts/"+id+"/"+kind.coll, tok, nil)
			mustStatus(t, r, http.StatusOK)
			var list map[string][]map[string]any
			r.json(t, &list)
			if l := list[kind.coll]; len(l) != 1 || l[0]["state"] != "minor" || l[0]["suppress"] != true || l[0]["datatype"] != nil {
				t.Errorf("%s of %s: %v", kind.coll, id, list)
			}
		}
		mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts/worker-1/"+kind.coll, tok, nil), http.StatusOK)
		mustStatus(t, call(t.Context(), c, http.MethodGet, item, tok, nil), http.StatusOK)
		mustStatus(t, call(t.Context(), c, http.MethodDelete, item, tok, nil), http.StatusNoContent)
		mustStatus(t, call(t.Context(), c, http.MethodGet, item, tok, nil), http.StatusNotFound)
	}
	post := call(t.Context(), c, http.MethodPost, ep.SysInv+"/v1/isensors", tok, `{"host_uuid":"`+host+`","sensorname":"Temp"}`)
	mustStatus(t, post, http.StatusOK)
	if l := s.Sensors("worker-0"); len(l) != 1 || l[0]["sensorname"] != "Temp" {
		t.Errorf("Sensors() = %v", l)
	}
	if err := s.DeleteHost("worker-0"); err != nil {
		t.Fatal(err)
	}
	if l := s.Sensors("worker-0"); l != nil {
		t.Errorf("sensors survive their host: %v", l)
	}
}
