package sysinv

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce/internal/platform/platformtest"
	"opendev.org/starlingx/metal-go/workqueue"
)

const (
	sensorU = "5b019f20-fec1-4173-ab5a-0fb12be34a4d"
	groupU  = "6c12a031-0fd2-4284-bc6b-10c23cf45b5e"
)

// From hwmonHttp.cpp's comment: a sensor record as SysInv lists it.
const sensorRec = `{"status": "ok", "t_critical_upper": null, "actions_minor": null, "sensorname": "5V Rail",
 "suppress": "False", "updated_at": null, "sensortype": "voltage", "t_critical_lower": null, "unit_base": null,
 "state_requested": null, "path": "", "unit_rate": null, "actions_critical": "ALARM", "id": 8, "t_minor_lower": "4.750",
 "uuid": "` + sensorU + `", "unit_modifier": null, "sensor_action_requested": null, "t_minor_upper": 5.25,
 "datatype": "analog", "capabilities": {}, "t_major_lower": null, "state": "disabled", "sensorgroup_id": null,
 "host_id": 3, "algorithm": null, "t_major_upper": null, "audit_interval": null, "actions_major": null,
 "host_uuid": "` + uuidA + `", "sensorgroup_uuid": null}`

const groupRec = `{"uuid": "` + groupU + `", "host_uuid": "` + uuidA + `", "sensorgroupname": "Voltage",
 "sensortype": "voltage", "datatype": "analog", "state": "enabled", "status": "ok", "path": "",
 "actions_minor_group": "Log", "actions_major_group": "log", "actions_critical_group": "alarm",
 "actions_minor_choices": "ignore,log,alarm", "actions_major_choices": "ignore,log,alarm",
 "actions_critical_choices": "ignore,log,alarm,reset,powercycle", "algorithm": "debounce-1",
 "suppress": true, "audit_interval_group": 120, "t_critical_upper_group": "60", "unit_base_group": "volts",
 "sensors": []}`

func TestParseSensors(t *testing.T) {
	s, err := ParseSensor([]byte(sensorRec))
	if err != nil {
		t.Fatal(err)
	}
	want := Sensor{UUID: sensorU, HostUUID: uuidA, Name: "5V Rail", Type: "voltage", DataType: "analog",
		Status: "ok", State: "disabled", ActionsCritical: "alarm",
		Thresholds: Thresholds{MinorLower: 4.75, MinorUpper: 5.25}}
	if s != want {
		t.Errorf("sensor\n got %+v\nwant %+v", s, want)
	}
	g, err := ParseSensorGroup([]byte(groupRec))
	if err != nil {
		t.Fatal(err)
	}
	wantG := SensorGroup{UUID: groupU, HostUUID: uuidA, Name: "Voltage", Type: "voltage", DataType: "analog",
		State: "enabled", Status: "ok", ActionsMinor: "log", ActionsMajor: "log", ActionsCritical: "alarm",
		ActionsMinorChoices: "ignore,log,alarm", ActionsMajorChoices: "ignore,log,alarm",
		ActionsCriticalChoices: "ignore,log,alarm,reset,powercycle", Algorithm: "debounce-1", Suppress: true,
		AuditInterval: 120, Thresholds: Thresholds{CriticalUpper: 60}, Units: Units{Base: "volts"}}
	if g != wantG {
		t.Errorf("group\n got %+v\nwant %+v", g, wantG)
	}
	list, err := ParseSensorList([]byte(`{"isensors": [` + sensorRec + `,` + sensorRec + `]}`))
	if err != nil || len(list) != 2 {
		t.Errorf("list: %d %v", len(list), err)
	}
	gl, err := ParseSensorGroupList([]byte(`{"isensorgroups": []}`))
	if err != nil || gl == nil || len(gl) != 0 {
		t.Errorf("empty group list: %v %v", gl, err)
	}
	mod := func(k string, v any) []byte {
		var m map[string]any
		_ = json.Unmarshal([]byte(sensorRec), &m)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	bad := map[string][]byte{
		"no uuid":         mod("uuid", nil),
		"bad uuid":        mod("uuid", "12"),
		"no name":         mod("sensorname", nil),
		"name object":     mod("sensorname", map[string]any{}),
		"threshold text":  mod("t_minor_lower", "low"),
		"interval float":  mod("audit_interval", 1.5),
		"interval huge":   mod("audit_interval", 1e12),
		"actions array":   mod("actions_minor", []any{}),
		"not an object":   []byte(`"x"`),
		"trailing":        []byte(sensorRec + "]"),
		"list missing":    []byte(`{}`),
		"list not array":  []byte(`{"isensors": {}}`),
		"list bad member": []byte(`{"isensors": [1]}`),
	}
	for name, b := range bad {
		var err error
		if strings.HasPrefix(name, "list") {
			_, err = ParseSensorList(b)
		} else {
			_, err = ParseSensor(b)
		}
		var de *DecodeError
		if !errors.Is(err, ErrBadResponse) || !errors.As(err, &de) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseSensor(f *testing.F) {
	f.Add([]byte(sensorRec))
	f.Add([]byte(`{"uuid":"` + sensorU + `","sensorname":"x","t_major_upper":"1e400"}`))
	f.Add([]byte(`{"uuid":"` + sensorU + `","sensorname":7,"suppress":true}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseSensor(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if len(s.UUID) != 36 || s.Name == "" || s.AuditInterval < 0 {
			t.Fatalf("accepted %+v", s)
		}
	})
}

func FuzzParseSensorGroupList(f *testing.F) {
	f.Add([]byte(`{"isensorgroups": [` + groupRec + `]}`))
	f.Add([]byte(`{"isensorgroups": [{"uuid":"` + groupU + `"}]}`))
	f.Add([]byte(`{"isensorgroups": null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		gs, err := ParseSensorGroupList(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		for _, g := range gs {
			if len(g.UUID) != 36 || g.Name == "" {
				t.Fatalf("accepted %+v", g)
			}
		}
	})
}

func TestSensorBodies(t *testing.T) {
	s := Sensor{Name: "Inlet Temp", Type: "temperature", DataType: "analog", State: "enabled", Status: "ok",
		ActionsMinor: "log", ActionsMajor: "log", ActionsCritical: "alarm", Algorithm: "debounce",
		Thresholds: Thresholds{MinorUpper: 40, MajorUpper: 45.5, CriticalUpper: 50.125},
		Units:      Units{Base: "degrees C", Rate: "none", Modifier: "none"}}
	b, err := sensorBody(uuidA, s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sensortype":"temperature","datatype":"analog","sensorname":"Inlet Temp","host_uuid":"` + uuidA +
		`","path":"","state":"enabled","status":"ok","t_critical_lower":"0.000","t_major_lower":"0.000",` +
		`"t_minor_lower":"0.000","t_minor_upper":"40.000","t_major_upper":"45.500","t_critical_upper":"50.125",` +
		`"unit_base":"degrees C","unit_rate":"none","unit_modifier":"none","actions_minor":"log","actions_major":"log",` +
		`"actions_critical":"alarm","algorithm":"debounce","audit_interval":0,"suppress":"False"}`
	if string(b) != want {
		t.Errorf("analog sensor body\n got %s\nwant %s", b, want)
	}
	s = Sensor{Name: "PSU Redundancy", Type: "power", DataType: "discrete", Suppress: true, AuditInterval: 30}
	b, _ = sensorBody(uuidA, s)
	want = `{"sensortype":"power","datatype":"discrete","sensorname":"PSU Redundancy","host_uuid":"` + uuidA +
		`","path":"","state":"","status":"","actions_minor":"","actions_major":"","actions_critical":"",` +
		`"algorithm":"","audit_interval":30,"suppress":"True"}`
	if string(b) != want {
		t.Errorf("discrete sensor body\n got %s\nwant %s", b, want)
	}
	g := SensorGroup{Name: "Fans", Type: "fan", DataType: "discrete", State: "enabled",
		ActionsCriticalChoices: "ignore,log,alarm", ActionsMajorChoices: "ignore,log", ActionsMinorChoices: "ignore",
		ActionsMinor: "ignore", ActionsMajor: "log", ActionsCritical: "alarm", Algorithm: "debounce-1", AuditInterval: 120}
	b, _ = groupBody(uuidA, g)
	want = `{"sensortype":"fan","datatype":"discrete","sensorgroupname":"Fans","host_uuid":"` + uuidA +
		`","state":"enabled","path":"","actions_critical_choices":"ignore,log,alarm","actions_major_choices":"ignore,log",` +
		`"actions_minor_choices":"ignore","actions_minor_group":"ignore","actions_major_group":"log",` +
		`"actions_critical_group":"alarm","algorithm":"debounce-1","audit_interval_group":120,"suppress":"False"}`
	if string(b) != want {
		t.Errorf("group body\n got %s\nwant %s", b, want)
	}
	g.DataType = "analog"
	b, _ = groupBody(uuidA, g)
	if !strings.Contains(string(b), `"t_critical_upper_group":"0.000","unit_base_group":""`) {
		t.Errorf("analog group body lacks thresholds: %s", b)
	}
}

func TestSensorCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			switch req.Method + " " + req.Path {
			case "GET /v1/ihosts/" + uuidA + "/isensors":
				return platformtest.Reply{Body: `{"isensors":[` + sensorRec + `]}`}
			case "GET /v1/ihosts/" + uuidA + "/isensorgroups":
				return platformtest.Reply{Body: `{"isensorgroups":[` + groupRec + `]}`}
			case "POST /v1/isensors", "PATCH /v1/isensors/" + sensorU:
				return platformtest.Reply{Body: sensorRec}
			case "POST /v1/isensorgroups", "PATCH /v1/isensorgroups/" + groupU:
				return platformtest.Reply{Body: groupRec}
			case "DELETE /v1/isensors/" + sensorU, "DELETE /v1/isensorgroups/" + groupU:
				return platformtest.Reply{Status: 204}
			}
			return platformtest.Reply{Status: 500}
		}, nil)
		ctx := t.Context()
		sc, err := r.c.Sensors(refA)
		if err != nil {
			t.Fatal(err)
		}
		if ss, err := sc.Wait(ctx); err != nil || len(ss) != 1 || ss[0].Name != "5V Rail" {
			t.Errorf("Sensors = %+v, %v", ss, err)
		}
		gc, _ := r.c.SensorGroups(refA)
		if gs, err := gc.Wait(ctx); err != nil || len(gs) != 1 || gs[0].Name != "Voltage" {
			t.Errorf("SensorGroups = %+v, %v", gs, err)
		}
		ac, _ := r.c.AddSensor(refA, Sensor{Name: "5V Rail", Type: "voltage", DataType: "discrete"})
		if s, err := ac.Wait(ctx); err != nil || s.UUID != sensorU {
			t.Errorf("AddSensor = %+v, %v", s, err)
		}
		agc, _ := r.c.AddSensorGroup(refA, SensorGroup{Name: "Voltage"})
		if g, err := agc.Wait(ctx); err != nil || g.UUID != groupU {
			t.Errorf("AddSensorGroup = %+v, %v", g, err)
		}
		mc, _ := r.c.ModifySensor(refA, sensorU, Field{"state", "disabled"}, Field{"status", "offline"})
		if _, err := mc.Wait(ctx); err != nil {
			t.Error(err)
		}
		mgc, _ := r.c.ModifySensorGroup(refA, groupU, Field{"audit_interval_group", "60"})
		if _, err := mgc.Wait(ctx); err != nil {
			t.Error(err)
		}
		gsc, _ := r.c.GroupSensors(refA, groupU, []string{sensorU, sensorU})
		if _, err := gsc.Wait(ctx); err != nil {
			t.Error(err)
		}
		dc, _ := r.c.DeleteSensor(refA, sensorU)
		if _, err := dc.Wait(ctx); err != nil {
			t.Error(err)
		}
		dgc, _ := r.c.DeleteSensorGroup(refA, groupU)
		if _, err := dgc.Wait(ctx); err != nil {
			t.Error(err)
		}
		reqs := r.tr.Requests()
		bodies := map[string]string{
			"PATCH /v1/isensors/" + sensorU:     `[{"path":"/state","value":"disabled","op":"replace"},{"path":"/status","value":"offline","op":"replace"}]`,
			"PATCH /v1/isensorgroups/" + groupU: `[{"path":"/sensors","value":"` + sensorU + "," + sensorU + `","op":"replace"}]`,
		}
		for _, q := range reqs {
			if w, ok := bodies[q.Method+" "+q.Path]; ok && string(q.Body) != w && !strings.Contains(string(q.Body), "audit_interval_group") {
				t.Errorf("%s %s body %s", q.Method, q.Path, q.Body)
			}
			if q.Method == http.MethodPost && !strings.Contains(string(q.Body), `"host_uuid":"`+uuidA+`"`) {
				t.Errorf("POST without host_uuid: %s", q.Body)
			}
		}
		for _, ev := range r.obs.Admitted() {
			if ev.Critical {
				t.Error("sensor request admitted as critical")
			}
		}
	})
}

func TestSensorBudgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Hang: true} }, nil)
		start := time.Now()
		ac, _ := r.c.AddSensor(refA, Sensor{Name: "x"})
		if _, err := ac.Wait(t.Context()); !errors.Is(err, workqueue.ErrAttemptTimeout) || ac.Handle().Attempts() != 1 {
			t.Errorf("AddSensor: %v after %d attempts", err, ac.Handle().Attempts())
		}
		if el := time.Since(start); el != 8*time.Second {
			t.Errorf("AddSensor gave up after %v, want 8 s", el)
		}
		start = time.Now()
		sc, _ := r.c.Sensors(refA)
		_, _ = sc.Wait(t.Context())
		if el := time.Since(start); el != 34*time.Second || sc.Handle().Attempts() != 3 {
			t.Errorf("Sensors gave up after %v / %d attempts, want 3×8+2×5 = 34 s", el, sc.Handle().Attempts())
		}
		start = time.Now()
		gc, _ := r.c.GroupSensors(refA, groupU, []string{sensorU})
		_, _ = gc.Wait(t.Context())
		if el := time.Since(start); el != 40*time.Second {
			t.Errorf("GroupSensors gave up after %v, want 3×10+2×5 = 40 s", el)
		}
	})
}

func TestGroupSensorsMismatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		other := strings.Replace(groupRec, groupU, sensorU, 1)
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{Body: other} }, nil)
		c, _ := r.c.GroupSensors(refA, groupU, []string{sensorU})
		_, err := c.Wait(t.Context())
		var de *DecodeError
		if !errors.As(err, &de) || de.Field != "uuid" {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSensorRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(platformtest.Request) platformtest.Reply { return platformtest.Reply{} }, nil)
		errs := []error{}
		_, err := r.c.AddSensor(refA, Sensor{})
		errs = append(errs, err)
		_, err = r.c.AddSensorGroup(refA, SensorGroup{})
		errs = append(errs, err)
		_, err = r.c.ModifySensor(refA, "bad", Field{"a", "b"})
		errs = append(errs, err)
		_, err = r.c.ModifySensor(refA, sensorU)
		errs = append(errs, err)
		_, err = r.c.ModifySensorGroup(refA, groupU)
		errs = append(errs, err)
		_, err = r.c.GroupSensors(refA, groupU, nil)
		errs = append(errs, err)
		_, err = r.c.GroupSensors(refA, groupU, []string{"x"})
		errs = append(errs, err)
		_, err = r.c.DeleteSensor(refA, "")
		errs = append(errs, err)
		_, err = r.c.DeleteSensorGroup(refA, "none")
		errs = append(errs, err)
		_, err = r.c.Sensors(Ref{Name: "h"})
		errs = append(errs, err)
		for i, err := range errs {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("#%d: %v", i, err)
			}
		}
	})
}

func FuzzParseSensorList(f *testing.F) {
	f.Add([]byte(`{"isensors": [` + sensorRec + `]}`))
	f.Add([]byte(`{"isensors": [` + sensorRec + `, {"uuid":"` + sensorU + `"}]}`))
	f.Add([]byte(`{"isensors": []}`))
	f.Add([]byte(`{"isensors": {}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ss, err := ParseSensorList(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) || ss != nil {
				t.Fatalf("error %v (does not wrap ErrBadResponse, or with %d sensors)", err, len(ss))
			}
			return
		}
		for _, s := range ss {
			if len(s.UUID) != 36 || s.Name == "" || s.AuditInterval < 0 {
				t.Fatalf("accepted %+v", s)
			}
		}
	})
}

func FuzzParseSensorGroup(f *testing.F) {
	f.Add([]byte(groupRec))
	f.Add([]byte(`{"uuid":"` + groupU + `","sensorgroupname":"g","t_minor_upper_group":"x"}`))
	f.Add([]byte(`{"uuid":"` + groupU + `"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		g, err := ParseSensorGroup(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if len(g.UUID) != 36 || g.Name == "" {
			t.Fatalf("accepted %+v", g)
		}
	})
}

// TestDeleteRetriedAfterLostAnswer: a DELETE whose answer was lost (the
// attempt timed out after SysInv deleted the record) is retried, and the
// retry's 404 means the record is gone: success, not a failure after the
// whole budget. A 404 on the first attempt is ErrNotFound at once (there
// was nothing to delete; asking again cannot help).
func TestDeleteRetriedAfterLostAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deleted := map[string]bool{}
		r := newRig(t, func(req platformtest.Request) platformtest.Reply {
			if req.Method != http.MethodDelete {
				return platformtest.Reply{Status: 500}
			}
			if deleted[req.Path] {
				return platformtest.Reply{Status: 404}
			}
			deleted[req.Path] = true
			return platformtest.Reply{Hang: true} // deleted, answer lost
		}, nil)
		for name, del := range map[string]func() (*Call[struct{}], error){
			"sensor": func() (*Call[struct{}], error) { return r.c.DeleteSensor(refA, sensorU) },
			"group":  func() (*Call[struct{}], error) { return r.c.DeleteSensorGroup(refA, groupU) },
		} {
			c, err := del()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Wait(t.Context()); err != nil || c.Handle().Attempts() != 2 {
				t.Errorf("%s: %v after %d attempts; want success on the 2nd", name, err, c.Handle().Attempts())
			}
			c, _ = del() // already gone before the first attempt
			if _, err := c.Wait(t.Context()); !errors.Is(err, ErrNotFound) || c.Handle().Attempts() != 1 {
				t.Errorf("%s, nothing to delete: %v after %d attempts; want ErrNotFound after 1", name, err, c.Handle().Attempts())
			}
		}
	})
}
