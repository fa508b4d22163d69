package redfish_test

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
)

// wantSensors is what the driver must report for sim sensors published in
// model, named with prefix: the mapping of doc.go, written out once.
func wantSensors(model bmcsim.SensorModel, prefix string, sims []bmcsim.Sensor) []bmc.Sensor {
	var out []bmc.Sensor
	for _, sn := range sims {
		th := bmc.Thresholds{
			LowerNonCritical: sn.LowerThresholdNonCritical, LowerCritical: sn.LowerThresholdCritical,
			LowerNonRecoverable: sn.LowerThresholdFatal, UpperNonCritical: sn.UpperThresholdNonCritical,
			UpperCritical: sn.UpperThresholdCritical, UpperNonRecoverable: sn.UpperThresholdFatal,
		}
		status := th.Classify(sn.Reading)
		// Fans and power supplies of the newer model alone come from the
		// subsystems, which carry no thresholds.
		if model == bmcsim.ModelModern && (sn.Kind == bmcsim.Fan || sn.Kind == bmcsim.PowerSupply) {
			th = bmc.Thresholds{}
		}
		one := func(name string, typ bmc.SensorType, v float64, unit string, th bmc.Thresholds) {
			out = append(out, bmc.Sensor{Name: prefix + name, Type: typ, Reading: bmc.Float(v), Unit: unit,
				Status: status, Thresholds: th})
		}
		switch sn.Kind {
		case bmcsim.Temperature:
			one(sn.Name, bmc.SensorTemperature, sn.Reading, "degrees C", th)
		case bmcsim.Voltage:
			one(sn.Name, bmc.SensorVoltage, sn.Reading, "Volts", th)
		case bmcsim.PowerControl:
			one(sn.Name, bmc.SensorPower, sn.Reading, "Watts", th)
		case bmcsim.Fan:
			unit := sn.Units
			if unit == "" {
				unit = "RPM"
			}
			one(sn.Name, bmc.SensorFan, sn.Reading, unit, th)
		case bmcsim.PowerSupply:
			one(sn.Name, bmc.SensorPower, sn.Reading, "Watts", th)
			if model != bmcsim.ModelLegacy {
				if sn.InputVoltage != nil {
					one(sn.Name+" Input Voltage", bmc.SensorVoltage, *sn.InputVoltage, "Volts", bmc.Thresholds{})
				}
				if sn.InputPower != nil {
					one(sn.Name+" Input Power", bmc.SensorPower, *sn.InputPower, "Watts", bmc.Thresholds{})
				}
			}
		}
	}
	return out
}

type modelCase struct {
	name     string
	cfg      bmcsim.Config
	fallback bool
	caps     bmc.Capability
}

func modelCases() []modelCase {
	all := bmc.CapAll &^ bmc.CapRestartCause
	restricted := bmc.CapPowerState | bmc.CapPowerOn | bmc.CapPowerSoft | bmc.CapBootPXE | bmc.CapInfo | bmc.CapSensors
	return []modelCase{
		{"legacy", bmcsim.Config{SensorModel: bmcsim.ModelLegacy}, false, all},
		{"modern", bmcsim.Config{SensorModel: bmcsim.ModelModern}, false, all},
		{"modern-expand", bmcsim.Config{SensorModel: bmcsim.ModelModern, ExpandQuery: true}, false, all},
		{"both", bmcsim.Config{SensorModel: bmcsim.ModelBoth}, false, all},
		{"both-expand", bmcsim.Config{SensorModel: bmcsim.ModelBoth, ExpandQuery: true}, false, all},
		{"blade-modern", bmcsim.Config{SensorModel: bmcsim.ModelModern, Enclosure: bmcsim.DefaultEnclosureSensors()}, false, all},
		{"blade-legacy", bmcsim.Config{SensorModel: bmcsim.ModelLegacy, Enclosure: bmcsim.DefaultEnclosureSensors()}, false, all},
		{"blade-both", bmcsim.Config{SensorModel: bmcsim.ModelBoth, Enclosure: bmcsim.DefaultEnclosureSensors()}, false, all},
		{"restricted", bmcsim.Config{ResetTypes: bmcsim.GracefulOnlyResetTypes}, false, restricted},
		{"restricted-fallback", bmcsim.Config{ResetTypes: bmcsim.GracefulOnlyResetTypes}, true,
			restricted | bmc.CapPowerOff | bmc.CapPowerReset},
	}
}

func (mc modelCase) want() []bmc.Sensor {
	model := mc.cfg.SensorModel
	if model == "" {
		model = bmcsim.ModelLegacy
	}
	w := wantSensors(model, "", bmcsim.DefaultSensors())
	if mc.cfg.Enclosure != nil {
		w = append(w, wantSensors(model, "Enclosure/", mc.cfg.Enclosure)...)
	}
	return w
}

// The conformance suite on every sensor model, a blade in an enclosure and
// a restricted AllowableValues list (with and without the opt-in).
func TestConformanceModels(t *testing.T) {
	for _, mc := range modelCases() {
		t.Run(mc.name, func(t *testing.T) {
			sim := newSim(t, mc.cfg)
			bmctest.Run(t, bmctest.Harness{
				New: func(t *testing.T) bmc.Driver {
					cfg := memConfig(sim)
					cfg.GracefulFallback = mc.fallback
					return newDriver(t, cfg)
				},
				Backend:      bmctest.SimBackend(sim),
				Want:         mc.caps,
				Sensors:      mc.want(),
				ExactSensors: true,
			})
		})
	}
}

// Every sensor is reported exactly once, and exactly the expected ones,
// whichever model (or both) the BMC publishes.
func TestSensorsCountedOnce(t *testing.T) {
	for _, mc := range modelCases() {
		t.Run(mc.name, func(t *testing.T) {
			sim := newSim(t, mc.cfg)
			d := open(t, memConfig(sim))
			got, err := d.Sensors(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var names, wantNames []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			for _, s := range mc.want() {
				wantNames = append(wantNames, s.Name)
			}
			slices.Sort(names)
			slices.Sort(wantNames)
			if !slices.Equal(names, wantNames) {
				t.Errorf("sensors\n got %q\nwant %q", names, wantNames)
			}
		})
	}
}

// A chassis with only the newer model declares sensors (it used not to).
func TestModernOnlyDeclaresSensors(t *testing.T) {
	sim := newSim(t, bmcsim.Config{SensorModel: bmcsim.ModelModern})
	d := open(t, memConfig(sim))
	if !d.Capabilities().Has(bmc.CapSensors) {
		t.Fatalf("capabilities %s lack sensors", d.Capabilities())
	}
	// No sensor resource at all: no capability.
	sim2 := newSim(t, bmcsim.Config{SensorModel: bmcsim.ModelModern, Sensors: []bmcsim.Sensor{}})
	d2 := open(t, memConfig(sim2))
	if _, err := d2.Sensors(t.Context()); d2.Capabilities().Has(bmc.CapSensors) || !errors.Is(err, bmc.ErrNotSupported) {
		t.Errorf("no sensors: caps %s, Sensors %v", d2.Capabilities(), err)
	}
}

func names(ss []bmc.Sensor) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func partial(t *testing.T, err error) []bmc.ResourceFailure {
	t.Helper()
	var pe *bmc.PartialError
	if !errors.Is(err, bmc.ErrPartial) || !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a partial error", err)
	}
	var be *bmc.Error
	if !errors.As(err, &be) || be.Op != "sensors" || be.Driver != "redfish" {
		t.Errorf("partial error %v is not a redfish *bmc.Error", err)
	}
	if errors.Is(err, bmc.ErrProtocol) || errors.Is(err, bmc.ErrTimeout) {
		t.Errorf("partial error %v matches a failure kind", err)
	}
	return pe.Failures
}

// One resource failing does not fail the call: what answered is returned
// with a typed partial-failure error naming what did not.
func TestSensorsPartial(t *testing.T) {
	t.Run("thermal 404", func(t *testing.T) {
		sim := newSim(t, bmcsim.Config{})
		d := open(t, memConfig(sim))
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultNotFound, Path: "/redfish/v1/Chassis/1/Thermal"})
		got, err := d.Sensors(t.Context())
		f := partial(t, err)
		if len(f) != 1 || f[0].Resource != "/redfish/v1/Chassis/1/Thermal" || !strings.Contains(f[0].Err.Error(), "404") {
			t.Errorf("failures %+v", f)
		}
		if want := []string{"12V", "PSU1", "System Power"}; !slices.Equal(names(got), want) {
			t.Errorf("sensors %q, want the Power ones %q", names(got), want)
		}
	})
	t.Run("one sensor member 500", func(t *testing.T) {
		sim := newSim(t, bmcsim.Config{SensorModel: bmcsim.ModelModern})
		d := open(t, memConfig(sim))
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultServerError, Path: "/redfish/v1/Chassis/1/Sensors/InletTemp"})
		got, err := d.Sensors(t.Context())
		f := partial(t, err)
		if len(f) != 1 || f[0].Resource != "/redfish/v1/Chassis/1/Sensors/InletTemp" || !errors.Is(f[0].Err, bmc.ErrProtocol) {
			t.Errorf("failures %+v", f)
		}
		if len(got) != 7 || slices.Contains(names(got), "Inlet Temp") {
			t.Errorf("sensors %q", names(got))
		}
	})
	t.Run("sensors collection fails: older model read instead", func(t *testing.T) {
		sim := newSim(t, bmcsim.Config{SensorModel: bmcsim.ModelBoth})
		d := open(t, memConfig(sim))
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultNotFound, Path: "/redfish/v1/Chassis/1/Sensors"})
		got, err := d.Sensors(t.Context())
		if f := partial(t, err); len(f) != 1 {
			t.Errorf("failures %+v", f)
		}
		// The Thermal/Power readings stand in; the subsystem entries that
		// point into the unreadable Sensors collection are not added twice.
		want := names(wantSensors(bmcsim.ModelLegacy, "", bmcsim.DefaultSensors()))
		if g := names(got); !slices.Equal(g, want) {
			t.Errorf("sensors %q, want %q", g, want)
		}
	})
	t.Run("enclosure unreadable", func(t *testing.T) {
		sim := newSim(t, bmcsim.Config{SensorModel: bmcsim.ModelModern, Enclosure: bmcsim.DefaultEnclosureSensors()})
		d := open(t, memConfig(sim))
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultServerError, Path: "/redfish/v1/Chassis/Enclosure/"})
		got, err := d.Sensors(t.Context())
		if f := partial(t, err); len(f) != 3 { // Sensors, ThermalSubsystem, PowerSubsystem
			t.Errorf("failures %+v", f)
		}
		for _, n := range names(got) {
			if strings.HasPrefix(n, "Enclosure/") {
				t.Errorf("enclosure sensor %q read through a failing enclosure", n)
			}
		}
	})
	t.Run("everything fails: plain error", func(t *testing.T) {
		sim := newSim(t, bmcsim.Config{})
		d := open(t, memConfig(sim))
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultServerError, Path: "/redfish/v1/Chassis/"})
		got, err := d.Sensors(t.Context())
		if got != nil || !errors.Is(err, bmc.ErrProtocol) || errors.Is(err, bmc.ErrPartial) {
			t.Errorf("Sensors = %d sensors, %v; want none and ErrProtocol", len(got), err)
		}
	})
}

// A BMC that stops answering costs one request timeout, not one per
// resource, and is not a partial result.
func TestSensorsHungVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, _ := bmcsim.New(bmcsim.Config{SensorModel: bmcsim.ModelModern, Enclosure: bmcsim.DefaultEnclosureSensors()})
		defer sim.Close()
		cfg := memConfig(sim)
		cfg.Timeout = 30 * time.Second
		d := open(t, cfg)
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultHang, Path: "/redfish/v1/Chassis/"})
		start := time.Now()
		got, err := d.Sensors(t.Context())
		if !errors.Is(err, bmc.ErrTimeout) || errors.Is(err, bmc.ErrPartial) || got != nil {
			t.Errorf("Sensors on a hung BMC = %d sensors, %v; want ErrTimeout alone", len(got), err)
		}
		if el := time.Since(start); el != 30*time.Second {
			t.Errorf("took %s, want one Timeout (30s)", el)
		}
		// Hung after the first members: what was read, and the timeout.
		sim.ClearFaults()
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultHang, Path: "/redfish/v1/Chassis/1/ThermalSubsystem"})
		start = time.Now()
		got, err = d.Sensors(t.Context())
		f := partial(t, err)
		if len(f) != 1 || !errors.Is(f[0].Err, bmc.ErrTimeout) || len(got) != 4 {
			t.Errorf("sensors %q, failures %+v", names(got), f)
		}
		if el := time.Since(start); el != 30*time.Second {
			t.Errorf("took %s, want one Timeout (30s)", el)
		}
	})
}

// A 404 on the Reset @Redfish.ActionInfo is no list: every ResetType.
func TestActionInfo404(t *testing.T) {
	sim := newSim(t, bmcsim.Config{ResetActionInfo: true, ResetTypes: []string{"On"}})
	sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultNotFound, Path: "/redfish/v1/Systems/1/ResetActionInfo"})
	d := open(t, memConfig(sim))
	if got := d.Capabilities(); got != bmc.CapAll&^bmc.CapRestartCause {
		t.Errorf("capabilities %s", got)
	}
	// Other failures still fail Open.
	sim.ClearFaults()
	sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultServerError, Path: "/redfish/v1/Systems/1/ResetActionInfo"})
	d2 := newDriver(t, memConfig(sim))
	defer d2.Close(t.Context())
	if err := d2.Open(t.Context()); !errors.Is(err, bmc.ErrProtocol) {
		t.Errorf("Open with ActionInfo 500 = %v", err)
	}
}

// The enclosure is read at Open when it answers, else at the first
// Sensors; its sensors carry its Id.
func TestEnclosureLate(t *testing.T) {
	sim := newSim(t, bmcsim.Config{SensorModel: bmcsim.ModelLegacy, Enclosure: bmcsim.DefaultEnclosureSensors()})
	sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultServerError, Path: "/redfish/v1/Chassis/Enclosure", Count: 1})
	d := open(t, memConfig(sim))
	got, err := d.Sensors(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := names(got); !slices.Contains(n, "Enclosure/Chassis Fan 1") || !slices.Contains(n, "FAN1") {
		t.Errorf("sensors %q", n)
	}
}

// A non-Redfish error body keeps its text in the error.
func TestNonRedfishErrorBody(t *testing.T) {
	sim := newSim(t, bmcsim.Config{})
	cfg := memConfig(sim)
	rw := &rewrite{rt: sim.Transport(), path: "/redfish/v1/Systems/1", code: 400,
		body: `{"status":"failed","detail":"system busy: firmware update in progress"}`}
	cfg.Transport = rw
	d := open(t, cfg)
	rw.armed.Store(true)
	_, err := d.PowerStateGet(t.Context())
	if !errors.Is(err, bmc.ErrProtocol) || !strings.Contains(err.Error(), "firmware update in progress") ||
		!strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("error %v lost the body text", err)
	}
}

// rewrite answers requests for one path with a fixed status and body once
// armed.
type rewrite struct {
	rt    http.RoundTripper
	path  string
	code  int
	body  string
	armed atomic.Bool
}

func (r *rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path != r.path || !r.armed.Load() {
		return r.rt.RoundTrip(req)
	}
	return &http.Response{StatusCode: r.code, Status: http.StatusText(r.code), Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(r.body)), Request: req}, nil
}

// inflight records the most requests in flight at once.
type inflight struct {
	rt       http.RoundTripper
	now, max atomic.Int32
}

func (f *inflight) RoundTrip(r *http.Request) (*http.Response, error) {
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for {
		m := f.max.Load()
		if n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	return f.rt.RoundTrip(r)
}

// Sensors keeps at most MaxParallelRequests requests in flight (and uses
// them: in virtual time every slow member request overlaps).
func TestSensorsParallelBoundVirtualTime(t *testing.T) {
	for _, limit := range []int{1, 3} {
		synctest.Test(t, func(t *testing.T) {
			sim := newSim(t, bmcsim.Config{SensorModel: bmcsim.ModelBoth})
			sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultSlow, Path: "/redfish/v1/Chassis/1/Sensors/", Delay: time.Second})
			fl := &inflight{rt: sim.Transport()}
			cfg := memConfig(sim)
			cfg.Transport = fl
			cfg.MaxParallelRequests = limit
			d := open(t, cfg)
			start := time.Now()
			got, err := d.Sensors(t.Context())
			if err != nil || len(got) != 8 {
				t.Fatalf("limit %d: %d sensors, %v", limit, len(got), err)
			}
			if m := fl.max.Load(); m != int32(limit) {
				t.Errorf("limit %d: %d requests in flight at most", limit, m)
			}
			// 8 slow members, limit at a time.
			if el, want := time.Since(start), time.Duration((8+limit-1)/limit)*time.Second; el != want {
				t.Errorf("limit %d: took %s, want %s", limit, el, want)
			}
		})
	}
}
