package redfish

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

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
		`{"status":"failed","detail":"busy"}`, "<html>\n<body>Bad\tRequest</body></html>",
		strings.Repeat("\u00e9", 400), "\xff\xfe" + strings.Repeat("y", 500),
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
	blade := bmcsim.Config{SensorModel: bmcsim.ModelBoth, Enclosure: bmcsim.DefaultEnclosureSensors()}
	addSeeds(f, simDoc(f, "/redfish/v1/Chassis/1", bmcsim.Config{}), simDoc(f, "/redfish/v1/Chassis/1", blade),
		simDoc(f, "/redfish/v1/Chassis/Enclosure", blade),
		[]byte(`{"Sensors":{"@odata.id":"https://evil/redfish/v1/x"},"Links":{"ContainedBy":{"@odata.id":"/redfish/v1/../x"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeChassis(b)
		if err != nil {
			return
		}
		for _, l := range []*odataLink{c.Thermal, c.Power, c.Sensors, c.ThermalSubsystem, c.PowerSubsystem, c.Links.ContainedBy} {
			if l != nil {
				checkPaths(t, l.ID)
			}
		}
	})
}

// checkSensor checks the invariants of every mapped sensor.
func checkSensor(t *testing.T, s bmc.Sensor) {
	t.Helper()
	if !s.Status.Valid() {
		t.Errorf("invalid status %q", s.Status)
	}
	if s.Reading == nil && s.Status != bmc.StatusUnavailable {
		t.Errorf("sensor without reading has status %q", s.Status)
	}
	if s.Unit == "" || s.Type == "" {
		t.Errorf("sensor %+v without unit or type", s)
	}
}

// The newer model's Sensor resource and its mapping to bmc.Sensor.
func FuzzDecodeSensor(f *testing.F) {
	modern := bmcsim.Config{SensorModel: bmcsim.ModelModern}
	both := bmcsim.Config{SensorModel: bmcsim.ModelBoth, Sensors: append(bmcsim.DefaultSensors(),
		bmcsim.Sensor{Kind: bmcsim.Fan, Name: "FAN2", Reading: 55, Units: "Percent"},
		bmcsim.Sensor{Kind: bmcsim.Temperature, Name: "Gone", Absent: true})}
	addSeeds(f, simDoc(f, "/redfish/v1/Chassis/1/Sensors/CPUTemp", modern),
		simDoc(f, "/redfish/v1/Chassis/1/Sensors/12V", modern),
		simDoc(f, "/redfish/v1/Chassis/1/Sensors/FAN2", both),
		simDoc(f, "/redfish/v1/Chassis/1/Sensors/Gone", both),
		simDoc(f, "/redfish/v1/Chassis/1/Sensors/PSU1InputVoltage", both),
		[]byte(`{"Id":"x","ReadingType":"EnergykWh","Reading":"12.5","ReadingUnits":"kW.h"}`),
		[]byte(`{"ReadingType":"Humidity","Reading":"NaN","Thresholds":{"UpperCritical":{"Reading":"1e999"}}}`),
		[]byte(`{"ReadingType":"Altitude","Reading":3,"ReadingUnits":"m","Thresholds":{"LowerFatal":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := decodeSensor(b); err == nil {
			checkSensor(t, sensorFromDoc(s))
		}
	})
}

func FuzzDecodeSensorCollection(f *testing.F) {
	cfg := bmcsim.Config{SensorModel: bmcsim.ModelBoth, ExpandQuery: true}
	addSeeds(f, simDoc(f, "/redfish/v1/Chassis/1/Sensors", cfg),
		simDoc(f, "/redfish/v1/Chassis/1/Sensors?$expand=.($levels=1)", cfg),
		[]byte(`{"Members":[{"@odata.id":"/redfish/v1/x","Reading":"x"},3]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		uris, docs, err := decodeSensorCollection(b)
		if err != nil {
			return
		}
		checkPaths(t, uris...)
		if len(uris) != len(docs) {
			t.Fatalf("%d members, %d documents", len(uris), len(docs))
		}
		for _, d := range docs {
			if d != nil {
				checkSensor(t, sensorFromDoc(*d))
			}
		}
	})
}

// The ThermalSubsystem, Fan, PowerSubsystem, PowerSupply and
// PowerSupplyMetrics decoders.
func FuzzDecodeSubsystems(f *testing.F) {
	var docs [][]byte
	for _, model := range []bmcsim.SensorModel{bmcsim.ModelModern, bmcsim.ModelBoth} {
		cfg := bmcsim.Config{SensorModel: model}
		for _, p := range []string{"ThermalSubsystem", "ThermalSubsystem/Fans", "ThermalSubsystem/Fans/FAN1",
			"PowerSubsystem", "PowerSubsystem/PowerSupplies", "PowerSubsystem/PowerSupplies/PSU1",
			"PowerSubsystem/PowerSupplies/PSU1/Metrics"} {
			docs = append(docs, simDoc(f, "/redfish/v1/Chassis/1/"+p, cfg))
		}
	}
	docs = append(docs, []byte(`{"SpeedPercent":{"Reading":null,"SpeedRPM":"900","DataSourceUri":7}}`),
		[]byte(`{"Metrics":{"@odata.id":"//evil/x"},"Status":{"State":"Absent"}}`))
	addSeeds(f, docs...)
	f.Fuzz(func(t *testing.T, b []byte) {
		if ts, err := decodeThermalSubsystem(b); err == nil && ts.Fans != nil {
			checkPaths(t, ts.Fans.ID)
		}
		if ps, err := decodePowerSubsystem(b); err == nil && ps.PowerSupplies != nil {
			checkPaths(t, ps.PowerSupplies.ID)
		}
		if p, err := decodePowerSupply(b); err == nil && p.Metrics != nil {
			checkPaths(t, p.Metrics.ID)
		}
		if fan, err := decodeFan(b); err == nil && fan.SpeedPercent != nil {
			checkSensor(t, toSensor(reading{Status: fan.Status}, "f", bmc.SensorFan, fan.SpeedPercent.Reading.v, "Percent"))
		}
		if m, err := decodePSUMetrics(b); err == nil && m.InputVoltage != nil {
			checkSensor(t, toSensor(reading{}, "v", bmc.SensorVoltage, m.InputVoltage.Reading.v, "Volts"))
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
		msg := decodeError(b)
		if len(msg) > 400 {
			t.Errorf("error message not truncated: %d bytes", len(msg))
		}
		if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\n\r\t\x00") {
			t.Errorf("error message %q is not one clean line", msg)
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

func TestNumber(t *testing.T) {
	for in, want := range map[string]any{
		`12.5`: 12.5, `"12.5"`: 12.5, `" 3 "`: 3.0, `null`: nil, `"NaN"`: nil, `"1e999"`: nil, `1e999`: nil,
		`{}`: nil, `[1]`: nil, `true`: nil, `"x"`: nil, `0`: 0.0,
	} {
		var v struct{ N number }
		if err := json.Unmarshal([]byte(`{"N":`+in+`}`), &v); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		switch {
		case want == nil && v.N.v != nil:
			t.Errorf("%s = %v, want none", in, *v.N.v)
		case want != nil && (v.N.v == nil || *v.N.v != want.(float64)):
			t.Errorf("%s = %v, want %v", in, v.N.v, want)
		}
	}
}
