package redfish

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
)

// simDoc fetches a document from the emulator, as a realistic fuzz seed.
func simDoc(tb testing.TB, path string, cfg bmcsim.Config) []byte {
	tb.Helper()
	sim, err := bmcsim.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.SetBasicAuth("admin", "secret")
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET %s: %d", path, rec.Code)
	}
	return rec.Body.Bytes()
}

func addSeeds(f *testing.F, docs ...[]byte) {
	for _, d := range docs {
		f.Add(d)
	}
	for _, s := range []string{"", "null", "[]", "{}", `"x"`, "{", `{"a":`, "\x00\xff",
		`{"Members":[{"@odata.id":"http://evil/redfish/v1/x"}]}`,
		`{"Members":[{"@odata.id":"/redfish/v1/../../etc"}]}`,
		`{"Temperatures":[{"ReadingCelsius":null,"Status":{"State":"Absent"}}],"Fans":[{"FanName":"F","Reading":1e308}]}`,
		`{"Voltages":[{"ReadingVolts":"12"}]}`,
		`{"Actions":{"#ComputerSystem.Reset":{"target":"//evil/x","ResetType@Redfish.AllowableValues":[1,2]}}}`,
		`{"error":{"code":"Base.1.0.GeneralError","message":"` + strings.Repeat("x", 400) + `"}}`,
	} {
		f.Add([]byte(s))
	}
}

func checkPaths(t *testing.T, paths ...string) {
	for _, p := range paths {
		if p != "" && !validPath(p) {
			t.Errorf("decoder returned an unsafe path %q", p)
		}
	}
}

func FuzzDecodeServiceRoot(f *testing.F) {
	addSeeds(f, simDoc(f, "/redfish/v1/", bmcsim.Config{}), simDoc(f, "/redfish/v1/", bmcsim.Config{NoSessions: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeServiceRoot(b)
		if err == nil {
			checkPaths(t, r.Systems.ID)
		}
	})
}

func FuzzDecodeCollection(f *testing.F) {
	addSeeds(f, simDoc(f, "/redfish/v1/Systems", bmcsim.Config{}), simDoc(f, "/redfish/v1/Chassis", bmcsim.Config{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := decodeCollection(b)
		if err == nil {
			checkPaths(t, ms...)
		}
	})
}

func FuzzDecodeSystem(f *testing.F) {
	addSeeds(f, simDoc(f, "/redfish/v1/Systems/1", bmcsim.Config{}),
		simDoc(f, "/redfish/v1/Systems/1", bmcsim.Config{ResetActionInfo: true, BootTargets: []string{}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSystem(b)
		if err == nil && s.Actions.Reset != nil {
			checkPaths(t, s.Actions.Reset.Target, s.Actions.Reset.ActionInfo)
		}
	})
}

func FuzzDecodeActionInfo(f *testing.F) {
	addSeeds(f, simDoc(f, "/redfish/v1/Systems/1/ResetActionInfo", bmcsim.Config{ResetActionInfo: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeActionInfo(b, "ResetType")
	})
}

func FuzzDecodeChassis(f *testing.F) {
	addSeeds(f, simDoc(f, "/redfish/v1/Chassis/1", bmcsim.Config{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeChassis(b)
		if err == nil {
			if c.Thermal != nil {
				checkPaths(t, c.Thermal.ID)
			}
			if c.Power != nil {
				checkPaths(t, c.Power.ID)
			}
		}
	})
}

func FuzzDecodeManager(f *testing.F) {
	addSeeds(f, simDoc(f, "/redfish/v1/Managers/1", bmcsim.Config{}))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = decodeManager(b) })
}

// The sensor decoders and their mapping to bmc.Sensor.
func FuzzDecodeThermalPower(f *testing.F) {
	addSeeds(f, simDoc(f, "/redfish/v1/Chassis/1/Thermal", bmcsim.Config{}),
		simDoc(f, "/redfish/v1/Chassis/1/Power", bmcsim.Config{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sensors []bmc.Sensor
		if th, err := decodeThermal(b); err == nil {
			sensors = append(sensors, thermalSensors(th)...)
		}
		if p, err := decodePower(b); err == nil {
			sensors = append(sensors, powerSensors(p)...)
		}
		for _, s := range sensors {
			if !s.Status.Valid() {
				t.Errorf("invalid status %q", s.Status)
			}
			if s.Reading == nil && s.Status != bmc.StatusUnavailable {
				t.Errorf("sensor without reading has status %q", s.Status)
			}
		}
	})
}

func FuzzDecodeError(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if msg := decodeError(b); len(msg) > 400 {
			t.Errorf("error message not truncated: %d bytes", len(msg))
		}
	})
}

func TestValidPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/redfish/v1/Systems/1": true, "/redfish/v1/": true,
		"http://x/redfish/v1": false, "//evil/redfish/v1": false, "/redfish/v1/../x": false,
		"/redfish/v1/Systems?x=1": false, "/other": false, "": false,
	} {
		if validPath(p) != want {
			t.Errorf("validPath(%q) = %v", p, !want)
		}
	}
}

func TestSensorMapping(t *testing.T) {
	th, err := decodeThermal([]byte(`{"Temperatures":[
		{"Name":"Hot","ReadingCelsius":95,"UpperThresholdCritical":90,"Status":{"State":"Enabled","Health":"Critical"}},
		{"Name":"Warn","ReadingCelsius":50,"Status":{"State":"Enabled","Health":"Warning"}},
		{"Name":"Gone","ReadingCelsius":null,"Status":{"State":"Absent"}}],
		"Fans":[{"FanName":"Old fan","Reading":40,"ReadingUnits":"Percent"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := thermalSensors(th)
	want := []string{"Hot | 95 | degrees C | cr", "Warn | 50 | degrees C | nc", "Gone | na | degrees C | na",
		"Old fan | 40 | Percent | ok"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("sensor %d = %q, want %q", i, got[i], want[i])
		}
	}
}
