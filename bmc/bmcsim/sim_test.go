package bmcsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/bmc/bmcsim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type client struct {
	t   *testing.T
	c   *http.Client
	tok string
}

func newClient(t *testing.T, s *bmcsim.Server) *client {
	return &client{t: t, c: s.Client()}
}

func (c *client) do(method, path, body string, hdr ...string) (*http.Response, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.t.Context(), method, "https://bmc"+path, strings.NewReader(body))
	if c.tok != "" {
		req.Header.Set("X-Auth-Token", c.tok)
	} else {
		req.SetBasicAuth("admin", "secret")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp, m
}

func newSim(t *testing.T, cfg bmcsim.Config) *bmcsim.Server {
	t.Helper()
	s, err := bmcsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestTreeAndAuth(t *testing.T) {
	s := newSim(t, bmcsim.Config{})
	c := newClient(t, s)
	for _, p := range []string{"/redfish", "/redfish/v1/", "/redfish/v1/Systems", "/redfish/v1/Systems/1",
		"/redfish/v1/Chassis", "/redfish/v1/Chassis/1", "/redfish/v1/Chassis/1/Thermal", "/redfish/v1/Chassis/1/Power",
		"/redfish/v1/Managers", "/redfish/v1/Managers/1", "/redfish/v1/SessionService", "/redfish/v1/SessionService/Sessions"} {
		if resp, body := c.do("GET", p, ""); resp.StatusCode != 200 || body == nil {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	anon := &client{t: t, c: s.Client(), tok: "bogus"}
	if resp, _ := anon.do("GET", "/redfish/v1/", ""); resp.StatusCode != 200 {
		t.Errorf("service root needs no auth: %d", resp.StatusCode)
	}
	if resp, body := anon.do("GET", "/redfish/v1/Systems/1", ""); resp.StatusCode != 401 || body["error"] == nil ||
		resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("unauthenticated system: %d %v", resp.StatusCode, body)
	}
	if resp, _ := c.do("GET", "/redfish/v1/Nope", ""); resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	if resp, _ := c.do("DELETE", "/redfish/v1/Systems/1", ""); resp.StatusCode != 405 {
		t.Errorf("DELETE system: %d", resp.StatusCode)
	}
}

func TestResetActions(t *testing.T) {
	s := newSim(t, bmcsim.Config{})
	c := newClient(t, s)
	post := func(rt string) int {
		resp, _ := c.do("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", `{"ResetType":"`+rt+`"}`)
		return resp.StatusCode
	}
	steps := []struct {
		rt    string
		code  int
		power string
	}{
		{"ForceRestart", 409, "Off"}, {"On", 204, "On"}, {"GracefulRestart", 204, "On"}, {"ForceOff", 204, "Off"},
		{"PowerCycle", 204, "On"}, {"GracefulShutdown", 204, "Off"}, {"PushPowerButton", 204, "On"},
		{"Explode", 400, "On"},
	}
	for _, st := range steps {
		if code := post(st.rt); code != st.code || s.PowerState() != st.power {
			t.Errorf("%s: %d, power %s; want %d, %s", st.rt, code, s.PowerState(), st.code, st.power)
		}
	}
	want := []string{"On", "GracefulRestart", "ForceOff", "PowerCycle", "GracefulShutdown", "PushPowerButton"}
	if got := s.ResetLog(); !slices.Equal(got, want) {
		t.Errorf("reset log %v", got)
	}
	if got := s.Boots(); len(got) != 4 {
		t.Errorf("boots %v, want 4 (On, restart, cycle, button)", got)
	}
	limited := newSim(t, bmcsim.Config{ResetTypes: []string{"On"}})
	lc := newClient(t, limited)
	if resp, body := lc.do("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", `{"ResetType":"ForceOff"}`); resp.StatusCode != 400 ||
		!strings.Contains(body["error"].(map[string]any)["code"].(string), "ActionParameterValueNotInList") {
		t.Errorf("unadvertised reset type: %d %v", resp.StatusCode, body)
	}
}

func TestBootPatch(t *testing.T) {
	s := newSim(t, bmcsim.Config{RequireIfMatch: true})
	c := newClient(t, s)
	patch := `{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}`
	if resp, _ := c.do("PATCH", "/redfish/v1/Systems/1", patch); resp.StatusCode != 428 {
		t.Errorf("PATCH without If-Match: %d", resp.StatusCode)
	}
	if resp, _ := c.do("PATCH", "/redfish/v1/Systems/1", patch, "If-Match", `W/"999"`); resp.StatusCode != 412 {
		t.Errorf("PATCH with a stale ETag: %d", resp.StatusCode)
	}
	resp, _ := c.do("GET", "/redfish/v1/Systems/1", "")
	etag := resp.Header.Get("ETag")
	if resp, _ := c.do("PATCH", "/redfish/v1/Systems/1", patch, "If-Match", etag); resp.StatusCode != 200 {
		t.Errorf("PATCH: %d", resp.StatusCode)
	}
	if got := s.BootOverride(); got.Target != "Pxe" || got.Enabled != "Once" {
		t.Errorf("override %+v", got)
	}
	for _, bad := range []string{`{"Boot":{"BootSourceOverrideTarget":"Floppy"}}`, `{"Boot":{"BootSourceOverrideEnabled":"Sometimes"}}`,
		`{"Boot":{"BootSourceOverrideMode":"EFI"}}`, `{}`, `{`} {
		if resp, _ := c.do("PATCH", "/redfish/v1/Systems/1", bad, "If-Match", "*"); resp.StatusCode != 400 {
			t.Errorf("PATCH %s: %d", bad, resp.StatusCode)
		}
	}
}

func TestSessions(t *testing.T) {
	s := newSim(t, bmcsim.Config{})
	c := newClient(t, s)
	anon := &client{t: t, c: s.Client(), tok: "x"}
	if resp, _ := anon.do("POST", "/redfish/v1/SessionService/Sessions", `{"UserName":"admin","Password":"bad"}`); resp.StatusCode != 401 {
		t.Errorf("bad login: %d", resp.StatusCode)
	}
	resp, _ := anon.do("POST", "/redfish/v1/SessionService/Sessions", `{"UserName":"admin","Password":"secret"}`)
	tok, loc := resp.Header.Get("X-Auth-Token"), resp.Header.Get("Location")
	if resp.StatusCode != 201 || tok == "" || loc == "" || s.Sessions() != 1 {
		t.Fatalf("login: %d %q %q", resp.StatusCode, tok, loc)
	}
	c.tok = tok
	if resp, _ := c.do("GET", "/redfish/v1/Systems/1", ""); resp.StatusCode != 200 {
		t.Errorf("GET with token: %d", resp.StatusCode)
	}
	if resp, _ := c.do("DELETE", loc, ""); resp.StatusCode != 204 || s.Sessions() != 0 {
		t.Errorf("logout: %d, %d sessions", resp.StatusCode, s.Sessions())
	}
	if resp, _ := c.do("GET", "/redfish/v1/Systems/1", ""); resp.StatusCode != 401 {
		t.Errorf("GET with a deleted token: %d", resp.StatusCode)
	}
	nos := newSim(t, bmcsim.Config{NoSessions: true})
	if resp, _ := newClient(t, nos).do("POST", "/redfish/v1/SessionService/Sessions", `{}`); resp.StatusCode != 404 {
		t.Errorf("sessions disabled: %d", resp.StatusCode)
	}
}

func TestFaults(t *testing.T) {
	s := newSim(t, bmcsim.Config{})
	c := newClient(t, s)
	s.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultServerError, Path: "/redfish/v1/Chassis", Count: 2})
	s.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultUnauthorized, Method: "PATCH"})
	s.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultMalformedJSON, Path: "/redfish/v1/Managers/1", Count: 1})
	for i, want := range []int{500, 500, 200} {
		if resp, _ := c.do("GET", "/redfish/v1/Chassis/1", ""); resp.StatusCode != want {
			t.Errorf("chassis #%d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	if resp, _ := c.do("PATCH", "/redfish/v1/Systems/1", `{"Boot":{}}`); resp.StatusCode != 401 {
		t.Errorf("faulted PATCH: %d", resp.StatusCode)
	}
	if resp, body := c.do("GET", "/redfish/v1/Managers/1", ""); resp.StatusCode != 200 || body != nil {
		t.Errorf("malformed: %d %v", resp.StatusCode, body)
	}
	s.ClearFaults()
	if resp, _ := c.do("PATCH", "/redfish/v1/Systems/1", `{"Boot":{"BootSourceOverrideEnabled":"Disabled"}}`); resp.StatusCode != 200 {
		t.Errorf("after ClearFaults: %d", resp.StatusCode)
	}
	if s.Requests() != 6 {
		t.Errorf("requests %d", s.Requests())
	}
}

// Slow and hung requests in virtual time, in memory.
func TestSlowAndHangVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := bmcsim.New(bmcsim.Config{})
		s.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultSlow, Delay: 7 * time.Second, Count: 1})
		start := time.Now()
		resp, err := s.Client().Get("http://bmc/redfish/v1/")
		if err != nil || resp.StatusCode != 200 || time.Since(start) != 7*time.Second {
			t.Fatalf("slow: %v after %s", err, time.Since(start))
		}
		resp.Body.Close()

		s.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultHang})
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://bmc/redfish/v1/", nil)
		start = time.Now()
		if _, err := s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 4*time.Second {
			t.Fatalf("hang: %v after %s", err, time.Since(start))
		}
		// Close releases hung requests.
		done := make(chan int)
		go func() {
			resp, err := s.Client().Get("http://bmc/redfish/v1/")
			if err != nil {
				done <- -1
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		synctest.Wait()
		s.Close()
		if code := <-done; code != 503 {
			t.Errorf("hung request after Close: %d", code)
		}
	})
}

// Over a real loopback TLS server.
func TestLoopbackTLS(t *testing.T) {
	s := newSim(t, bmcsim.Config{PowerState: "On"})
	srv := httptest.NewTLSServer(s)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/redfish/v1/Systems/1", nil)
	req.SetBasicAuth("admin", "secret")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sys struct{ PowerState string }
	if err := json.NewDecoder(resp.Body).Decode(&sys); err != nil || sys.PowerState != "On" {
		t.Errorf("system: %+v, %v", sys, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []bmcsim.Config{
		{PowerState: "Maybe"},
		{ResetTypes: []string{"Explode"}},
		{Sensors: []bmcsim.Sensor{{Kind: "Humidity", Name: "H"}}},
		{Sensors: []bmcsim.Sensor{{Kind: bmcsim.Fan, Name: "F"}, {Kind: bmcsim.Fan, Name: "F"}}},
		{SensorModel: "newest"},
		{Sensors: []bmcsim.Sensor{{Kind: bmcsim.Fan, Name: "F 1"}, {Kind: bmcsim.Fan, Name: "F1"}}}, // same Id
		{Sensors: []bmcsim.Sensor{{Kind: bmcsim.Fan, Name: "--"}}},                                  // no Id
		{Enclosure: []bmcsim.Sensor{{Kind: bmcsim.Fan, Name: "FAN1"}}},                              // duplicate across
	} {
		if _, err := bmcsim.New(cfg); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
	if d := bmcsim.DefaultConfig(); d.Username != "admin" || d.PowerState != "Off" || len(d.Sensors) == 0 {
		t.Errorf("DefaultConfig %+v", d)
	}
}

// Which resources each sensor model serves, and what they link to.
func TestSensorModels(t *testing.T) {
	const ch = "/redfish/v1/Chassis/1"
	legacy := []string{ch + "/Thermal", ch + "/Power"}
	modern := []string{ch + "/Sensors", ch + "/Sensors/CPUTemp", ch + "/Sensors/12V", ch + "/Sensors/SystemPower",
		ch + "/ThermalSubsystem", ch + "/ThermalSubsystem/Fans", ch + "/ThermalSubsystem/Fans/FAN1",
		ch + "/PowerSubsystem", ch + "/PowerSubsystem/PowerSupplies", ch + "/PowerSubsystem/PowerSupplies/PSU1",
		ch + "/PowerSubsystem/PowerSupplies/PSU1/Metrics"}
	both := []string{ch + "/Sensors/FAN1", ch + "/Sensors/PSU1Output", ch + "/Sensors/PSU1InputVoltage",
		ch + "/Sensors/PSU1InputPower"}
	for _, tc := range []struct {
		model     bmcsim.SensorModel
		ok, notOK []string
	}{
		{bmcsim.ModelLegacy, legacy, append(slices.Clone(modern), both...)},
		{bmcsim.ModelModern, modern, append(slices.Clone(legacy), both...)},
		{bmcsim.ModelBoth, append(append(slices.Clone(legacy), modern...), both...), nil},
	} {
		t.Run(string(tc.model), func(t *testing.T) {
			c := newClient(t, newSim(t, bmcsim.Config{SensorModel: tc.model}))
			for _, p := range tc.ok {
				if resp, _ := c.do("GET", p, ""); resp.StatusCode != 200 {
					t.Errorf("GET %s: %d", p, resp.StatusCode)
				}
			}
			for _, p := range tc.notOK {
				if resp, _ := c.do("GET", p, ""); resp.StatusCode != 404 {
					t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
				}
			}
			_, chassis := c.do("GET", ch, "")
			_, hasThermal := chassis["Thermal"]
			_, hasSensors := chassis["Sensors"]
			if hasThermal != (tc.model != bmcsim.ModelModern) || hasSensors != (tc.model != bmcsim.ModelLegacy) {
				t.Errorf("chassis links: %v", chassis)
			}
			if tc.model == bmcsim.ModelLegacy {
				return
			}
			_, fan := c.do("GET", ch+"/ThermalSubsystem/Fans/FAN1", "")
			speed, _ := fan["SpeedPercent"].(map[string]any)
			src, linked := speed["DataSourceUri"]
			if speed["SpeedRPM"] != 5400.0 || linked != (tc.model == bmcsim.ModelBoth) ||
				(linked && src != ch+"/Sensors/FAN1") {
				t.Errorf("fan %v", fan)
			}
			_, m := c.do("GET", ch+"/PowerSubsystem/PowerSupplies/PSU1/Metrics", "")
			iv, _ := m["InputVoltage"].(map[string]any)
			if iv["Reading"] != 230.0 {
				t.Errorf("metrics %v", m)
			}
			_, sensor := c.do("GET", ch+"/Sensors/CPUTemp", "")
			th, _ := sensor["Thresholds"].(map[string]any)
			uc, _ := th["UpperCritical"].(map[string]any)
			if sensor["ReadingType"] != "Temperature" || sensor["ReadingUnits"] != "Cel" || sensor["Reading"] != 45.0 ||
				uc["Reading"] != 90.0 {
				t.Errorf("sensor %v", sensor)
			}
		})
	}
}

func TestEnclosureAndExpand(t *testing.T) {
	s := newSim(t, bmcsim.Config{SensorModel: bmcsim.ModelModern, ExpandQuery: true,
		Enclosure: bmcsim.DefaultEnclosureSensors()})
	c := newClient(t, s)
	_, blade := c.do("GET", "/redfish/v1/Chassis/1", "")
	links, _ := blade["Links"].(map[string]any)
	by, _ := links["ContainedBy"].(map[string]any)
	if blade["ChassisType"] != "Blade" || by["@odata.id"] != "/redfish/v1/Chassis/Enclosure" {
		t.Errorf("blade %v", blade)
	}
	_, coll := c.do("GET", "/redfish/v1/Chassis", "")
	if n, _ := coll["Members@odata.count"].(float64); n != 2 {
		t.Errorf("chassis collection %v", coll)
	}
	if err := s.SetReading("Chassis Fan 1", 77); err != nil {
		t.Fatal(err)
	}
	_, fan := c.do("GET", "/redfish/v1/Chassis/Enclosure/ThermalSubsystem/Fans/ChassisFan1", "")
	if sp, _ := fan["SpeedPercent"].(map[string]any); sp["Reading"] != 77.0 {
		t.Errorf("enclosure fan %v", fan)
	}
	_, root := c.do("GET", "/redfish/v1/", "")
	if _, ok := root["ProtocolFeaturesSupported"]; !ok {
		t.Errorf("service root does not advertise ExpandQuery: %v", root)
	}
	_, plain := c.do("GET", "/redfish/v1/Chassis/1/Sensors", "")
	_, expanded := c.do("GET", "/redfish/v1/Chassis/1/Sensors?$expand=.($levels=1)", "")
	pm, _ := plain["Members"].([]any)
	em, _ := expanded["Members"].([]any)
	if len(pm) != 4 || len(em) != 4 {
		t.Fatalf("members %d / %d", len(pm), len(em))
	}
	if first, _ := em[0].(map[string]any); first["Reading"] != 45.0 {
		t.Errorf("expanded member %v", first)
	}
	if first, _ := pm[0].(map[string]any); len(first) != 1 {
		t.Errorf("plain member %v", first)
	}
	s.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultNotFound, Path: "/redfish/v1/Chassis/Enclosure", Count: 1})
	if resp, body := c.do("GET", "/redfish/v1/Chassis/Enclosure", ""); resp.StatusCode != 404 || body["error"] == nil {
		t.Errorf("FaultNotFound: %d %v", resp.StatusCode, body)
	}
}
