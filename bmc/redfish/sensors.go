package redfish

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"opendev.org/starlingx/metal-go/bmc"
)

func thresholds(r reading) bmc.Thresholds {
	return bmc.Thresholds{
		LowerNonRecoverable: r.LowerThresholdFatal.v,
		LowerCritical:       r.LowerThresholdCritical.v,
		LowerNonCritical:    r.LowerThresholdNonCritical.v,
		UpperNonCritical:    r.UpperThresholdNonCritical.v,
		UpperCritical:       r.UpperThresholdCritical.v,
		UpperNonRecoverable: r.UpperThresholdFatal.v,
	}
}

var severity = map[bmc.SensorStatus]int{
	bmc.StatusOK: 0, bmc.StatusNonCritical: 1, bmc.StatusCritical: 2, bmc.StatusNonRecoverable: 3,
}

// toSensor builds a bmc.Sensor. The status is the worse of the threshold
// classification and the BMC's own Status.Health; a sensor without a
// reading, or whose State is not Enabled, is StatusUnavailable.
func toSensor(r reading, name string, typ bmc.SensorType, value *float64, unit string) bmc.Sensor {
	s := bmc.Sensor{Name: name, Type: typ, Unit: unit, Thresholds: thresholds(r)}
	if s.Name == "" {
		s.Name = r.MemberID
	}
	switch r.Status.State {
	case "", "Enabled", "Quiesced", "Deferring":
	default: // Absent, Disabled, StandbyOffline, UnavailableOffline, ...
		s.Status = bmc.StatusUnavailable
		return s
	}
	if value == nil {
		s.Status = bmc.StatusUnavailable
		return s
	}
	v := *value
	s.Reading = &v
	s.Status = s.Thresholds.Classify(v)
	var h bmc.SensorStatus
	switch r.Status.Health {
	case "Warning":
		h = bmc.StatusNonCritical
	case "Critical":
		h = bmc.StatusCritical
	}
	if h != "" && severity[h] > severity[s.Status] {
		s.Status = h
	}
	return s
}

func thermalSensors(t thermal) []bmc.Sensor {
	var out []bmc.Sensor
	for _, x := range t.Temperatures {
		out = append(out, toSensor(x.reading, x.Name, bmc.SensorTemperature, x.ReadingCelsius.v, "degrees C"))
	}
	for _, x := range t.Fans {
		n := x.Name
		if n == "" {
			n = x.FanName
		}
		unit := x.ReadingUnits
		if unit == "" {
			unit = "RPM"
		}
		out = append(out, toSensor(x.reading, n, bmc.SensorFan, x.Reading.v, unit))
	}
	return out
}

func powerSensors(p power) []bmc.Sensor {
	var out []bmc.Sensor
	for _, x := range p.Voltages {
		out = append(out, toSensor(x.reading, x.Name, bmc.SensorVoltage, x.ReadingVolts.v, "Volts"))
	}
	for _, x := range p.PowerSupplies {
		v := x.LastPowerOutputWatts.v
		if v == nil {
			v = x.PowerOutputWatts.v
		}
		if v == nil {
			v = x.PowerInputWatts.v
		}
		out = append(out, toSensor(x.reading, x.Name, bmc.SensorPower, v, "Watts"))
	}
	for _, x := range p.PowerControl {
		out = append(out, toSensor(x.reading, x.Name, bmc.SensorPower, x.PowerConsumedWatts.v, "Watts"))
	}
	return out
}

// readingKinds maps a Sensor's ReadingType to the bmc type and the unit in
// the vocabulary the older model's mapping uses, so that a sensor reads
// the same whichever model a BMC publishes.
var readingKinds = map[string]struct {
	typ  bmc.SensorType
	unit string
}{
	"Temperature":  {bmc.SensorTemperature, "degrees C"},
	"Voltage":      {bmc.SensorVoltage, "Volts"},
	"Current":      {bmc.SensorCurrent, "Amps"},
	"Power":        {bmc.SensorPower, "Watts"},
	"Rotational":   {bmc.SensorFan, "RPM"},
	"Percent":      {bmc.SensorOther, "Percent"},
	"EnergykWh":    {bmc.SensorOther, "kWh"},
	"EnergyWh":     {bmc.SensorOther, "Wh"},
	"EnergyJoules": {bmc.SensorOther, "Joules"},
	"Humidity":     {bmc.SensorOther, "Percent"},
	"Frequency":    {bmc.SensorOther, "Hz"},
}

// ucumUnits renders the UCUM units of ReadingUnits for types not above.
var ucumUnits = map[string]string{
	"Cel": "degrees C", "V": "Volts", "A": "Amps", "W": "Watts", "RPM": "RPM", "{rev}/min": "RPM",
	"%": "Percent", "kW.h": "kWh", "W.h": "Wh", "J": "Joules", "Hz": "Hz",
}

// sensorFromDoc maps a Sensor resource. Percent readings are fans when the
// sensor's PhysicalContext says so (a fan's duty cycle), else "other".
func sensorFromDoc(s sensorDoc) bmc.Sensor {
	typ, unit := bmc.SensorOther, ""
	if k, ok := readingKinds[s.ReadingType]; ok {
		typ, unit = k.typ, k.unit
	} else if u, ok := ucumUnits[s.ReadingUnits]; ok {
		unit = u
	} else {
		unit = s.ReadingUnits
	}
	if unit == "" {
		unit = "unknown"
	}
	if s.ReadingType == "Percent" && s.PhysicalContext == "Fan" {
		typ = bmc.SensorFan
	}
	get := func(t *threshold) number {
		if t == nil {
			return number{}
		}
		return t.Reading
	}
	th := s.Thresholds
	r := reading{Name: s.Name, MemberID: s.ID, Status: s.Status,
		LowerThresholdNonCritical: get(th.LowerCaution), LowerThresholdCritical: get(th.LowerCritical),
		LowerThresholdFatal: get(th.LowerFatal), UpperThresholdNonCritical: get(th.UpperCaution),
		UpperThresholdCritical: get(th.UpperCritical), UpperThresholdFatal: get(th.UpperFatal)}
	return toSensor(r, s.Name, typ, s.Reading.v, unit)
}

// walker reads the sensor resources of one Sensors call. It records the
// resources that fail and carries on with the others, except after a
// failure that concerns the BMC rather than one resource (timeout,
// unreachable, TLS, authentication, the caller's context): then it stops,
// so a hung BMC costs one Timeout, not one per resource.
type walker struct {
	d   *Driver
	ctx context.Context
	op  string

	stop     atomic.Bool
	mu       sync.Mutex
	ok       int // successful reads
	failures []bmc.ResourceFailure
}

// record notes the outcome of reading path.
func (w *walker) record(path string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.ok++
		return
	}
	w.failures = append(w.failures, bmc.ResourceFailure{Resource: path, Err: err})
	if w.fatal(err) {
		w.stop.Store(true)
	}
}

// fatal reports whether err concerns the BMC or the call as a whole rather
// than one resource.
func (w *walker) fatal(err error) bool {
	return err != nil && (w.ctx.Err() != nil || errors.Is(err, bmc.ErrTimeout) ||
		errors.Is(err, bmc.ErrUnreachable) || errors.Is(err, bmc.ErrTLS) || errors.Is(err, bmc.ErrAuth))
}

// fetch reads one resource, recording its outcome.
func fetch[T any](w *walker, path string, dec func([]byte) (T, error)) (T, bool) {
	var zero T
	if w.stop.Load() {
		return zero, false
	}
	v, _, err := getJSON(w.ctx, w.d, w.op, path, dec)
	w.record(path, err)
	return v, err == nil
}

// fetchAll reads resources with up to Config.MaxParallelRequests requests
// in flight, and records their outcomes in the order of paths. Every
// goroutine has returned when it returns.
func fetchAll[T any](w *walker, paths []string, dec func([]byte) (T, error)) ([]T, []bool) {
	vals := make([]T, len(paths))
	errs := make([]error, len(paths))
	tried := make([]bool, len(paths))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(w.d.cfg.MaxParallelRequests, len(paths)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(paths) || w.stop.Load() {
					return
				}
				tried[i] = true
				vals[i], _, errs[i] = getJSON(w.ctx, w.d, w.op, paths[i], dec)
				if w.fatal(errs[i]) {
					w.stop.Store(true)
				}
			}
		})
	}
	wg.Wait()
	oks := make([]bool, len(paths))
	for i, p := range paths {
		if tried[i] {
			w.record(p, errs[i])
			oks[i] = errs[i] == nil
		}
	}
	return vals, oks
}

// sameResource normalises a link for comparisons: the path of an absolute
// URL, without a trailing slash.
func sameResource(uri string) string {
	if i := strings.Index(uri, "://"); i >= 0 {
		rest := uri[i+3:]
		if j := strings.Index(rest, "/"); j >= 0 {
			uri = rest[j:]
		}
	}
	return strings.TrimSuffix(uri, "/")
}

// legacyIndex holds the identities of the older model's fans and power
// supplies, to drop their newer-model twins when no Sensors collection
// tells the two apart.
type legacyIndex struct{ ids, uris map[string]bool }

func (l *legacyIndex) add(r reading) {
	if l.ids == nil {
		l.ids, l.uris = map[string]bool{}, map[string]bool{}
	}
	if r.MemberID != "" {
		l.ids[r.MemberID] = true
	}
	if r.ODataID != "" {
		l.uris[sameResource(r.ODataID)] = true
	}
}

// has reports whether a newer-model entry (Id, @odata.id, DataSourceUri)
// is one the older model already listed.
func (l *legacyIndex) has(id, uri, source string) bool {
	return (id != "" && l.ids[id]) || (uri != "" && l.uris[sameResource(uri)]) ||
		(source != "" && l.uris[sameResource(source)])
}

// chassis reads every sensor of one chassis, each once:
//
//   - a Sensors collection, when the chassis has one and it can be read,
//     is the reference: Thermal and Power (deprecated views of the same
//     sensors) are then not read, and ThermalSubsystem/PowerSubsystem
//     entries whose DataSourceUri points into the collection are skipped;
//   - otherwise Thermal and Power are read, and a newer-model fan or power
//     supply whose Id, @odata.id or DataSourceUri matches an older-model
//     entry's MemberId or @odata.id is skipped.
func (w *walker) chassis(c chassis) []bmc.Sensor {
	var out []bmc.Sensor
	prefix := ""
	haveSensors := false
	if c.Sensors != nil {
		prefix = sameResource(c.Sensors.ID) + "/"
		var ss []bmc.Sensor
		ss, haveSensors = w.sensorCollection(c.Sensors.ID)
		out = append(out, ss...)
	}
	// Where a Sensors collection exists, entries pointing into it are its
	// sensors, read or not.
	inSensors := func(src string) bool {
		return prefix != "" && src != "" && strings.HasPrefix(sameResource(src)+"/", prefix)
	}
	var fans, psus legacyIndex
	if !haveSensors {
		if c.Thermal != nil {
			if t, ok := fetch(w, c.Thermal.ID, decodeThermal); ok {
				out = append(out, thermalSensors(t)...)
				for _, f := range t.Fans {
					fans.add(f.reading)
				}
			}
		}
		if c.Power != nil {
			if p, ok := fetch(w, c.Power.ID, decodePower); ok {
				out = append(out, powerSensors(p)...)
				for _, s := range p.PowerSupplies {
					psus.add(s.reading)
				}
			}
		}
	}
	if c.ThermalSubsystem != nil {
		out = append(out, w.fans(c.ThermalSubsystem.ID, inSensors, &fans)...)
	}
	if c.PowerSubsystem != nil {
		out = append(out, w.powerSupplies(c.PowerSubsystem.ID, inSensors, &psus)...)
	}
	return out
}

// sensorCollection reads a Sensors collection and its members (inline
// when the service expanded them, with $expand when it advertises it).
func (w *walker) sensorCollection(path string) ([]bmc.Sensor, bool) {
	if w.stop.Load() {
		return nil, false
	}
	var uris []string
	var docs []*sensorDoc
	dec := func(b []byte) (struct{}, error) {
		var err error
		uris, docs, err = decodeSensorCollection(b)
		return struct{}{}, err
	}
	w.d.mu.Lock()
	expand := w.d.expand
	w.d.mu.Unlock()
	read := false
	if expand {
		// $expand=. expands the members (not Links); a service that then
		// fails is asked again plainly, without counting a failure.
		_, _, err := getJSON(w.ctx, w.d, w.op, path+"?$expand=.($levels=1)", dec)
		read = err == nil
		if w.fatal(err) {
			w.record(path, err)
			return nil, false
		}
	}
	if !read {
		if _, ok := fetch(w, path, dec); !ok {
			return nil, false
		}
	} else {
		w.record(path, nil)
	}
	var missing []string
	var at []int
	for i, doc := range docs {
		if doc == nil {
			missing = append(missing, uris[i])
			at = append(at, i)
		}
	}
	got, oks := fetchAll(w, missing, decodeSensor)
	for k, i := range at {
		if oks[k] {
			docs[i] = &got[k]
		}
	}
	out := make([]bmc.Sensor, 0, len(docs))
	for _, doc := range docs {
		if doc != nil {
			out = append(out, sensorFromDoc(*doc))
		}
	}
	return out, true
}

// fans reads ThermalSubsystem → Fans → each Fan's SpeedPercent.
func (w *walker) fans(path string, inSensors func(string) bool, legacy *legacyIndex) []bmc.Sensor {
	ts, ok := fetch(w, path, decodeThermalSubsystem)
	if !ok || ts.Fans == nil {
		return nil
	}
	members, ok := fetch(w, ts.Fans.ID, decodeCollection)
	if !ok {
		return nil
	}
	docs, oks := fetchAll(w, members, decodeFan)
	var out []bmc.Sensor
	for i, f := range docs {
		if !oks[i] {
			continue
		}
		var src string
		if f.SpeedPercent != nil {
			src = f.SpeedPercent.DataSourceURI
		}
		if inSensors(src) || legacy.has(f.ID, f.ODataID, src) {
			continue
		}
		var v *float64
		unit := "Percent"
		if sp := f.SpeedPercent; sp != nil {
			v = sp.Reading.v
			if v == nil && sp.SpeedRPM.v != nil {
				v, unit = sp.SpeedRPM.v, "RPM"
			}
		}
		out = append(out, toSensor(reading{MemberID: f.ID, Status: f.Status}, f.Name, bmc.SensorFan, v, unit))
	}
	return out
}

// powerSupplies reads PowerSubsystem → PowerSupplies → each supply's
// Metrics (PowerSupplyMetrics): output power as "<name>", input voltage
// as "<name> Input Voltage", input power as "<name> Input Power". An
// absent supply is one unavailable sensor; its metrics are not read.
func (w *walker) powerSupplies(path string, inSensors func(string) bool, legacy *legacyIndex) []bmc.Sensor {
	ps, ok := fetch(w, path, decodePowerSubsystem)
	if !ok || ps.PowerSupplies == nil {
		return nil
	}
	members, ok := fetch(w, ps.PowerSupplies.ID, decodeCollection)
	if !ok {
		return nil
	}
	docs, oks := fetchAll(w, members, decodePowerSupply)
	var keep []powerSupplyDoc
	var metricURIs []string
	for i, p := range docs {
		if !oks[i] || legacy.has(p.ID, p.ODataID, "") {
			continue
		}
		if p.Name == "" {
			p.Name = p.ID
		}
		if p.Status.State == "Absent" || p.Metrics == nil {
			p.Metrics = nil // nothing to read
		} else {
			metricURIs = append(metricURIs, p.Metrics.ID)
		}
		keep = append(keep, p)
	}
	metrics, mok := fetchAll(w, metricURIs, decodePSUMetrics)
	var out []bmc.Sensor
	k := 0
	for _, p := range keep {
		if p.Metrics == nil {
			if p.Status.State == "Absent" {
				out = append(out, toSensor(reading{Status: p.Status}, p.Name, bmc.SensorPower, nil, "Watts"))
			}
			continue
		}
		m, ok := metrics[k], mok[k]
		k++
		if !ok {
			continue
		}
		for _, e := range []struct {
			x    *excerpt
			name string
			typ  bmc.SensorType
			unit string
		}{
			{m.OutputPowerWatts, p.Name, bmc.SensorPower, "Watts"},
			{m.InputVoltage, p.Name + " Input Voltage", bmc.SensorVoltage, "Volts"},
			{m.InputPowerWatts, p.Name + " Input Power", bmc.SensorPower, "Watts"},
		} {
			if e.x == nil || inSensors(e.x.DataSourceURI) {
				continue
			}
			out = append(out, toSensor(reading{Status: p.Status}, e.name, e.typ, e.x.Reading.v, e.unit))
		}
	}
	return out
}
