package redfish

import (
	"opendev.org/starlingx/metal-go/bmc"
)

func thresholds(r reading) bmc.Thresholds {
	return bmc.Thresholds{
		LowerNonRecoverable: r.LowerThresholdFatal,
		LowerCritical:       r.LowerThresholdCritical,
		LowerNonCritical:    r.LowerThresholdNonCritical,
		UpperNonCritical:    r.UpperThresholdNonCritical,
		UpperCritical:       r.UpperThresholdCritical,
		UpperNonRecoverable: r.UpperThresholdFatal,
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
		out = append(out, toSensor(x.reading, x.Name, bmc.SensorTemperature, x.ReadingCelsius, "degrees C"))
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
		out = append(out, toSensor(x.reading, n, bmc.SensorFan, x.Reading, unit))
	}
	return out
}

func powerSensors(p power) []bmc.Sensor {
	var out []bmc.Sensor
	for _, x := range p.Voltages {
		out = append(out, toSensor(x.reading, x.Name, bmc.SensorVoltage, x.ReadingVolts, "Volts"))
	}
	for _, x := range p.PowerSupplies {
		v := x.LastPowerOutputWatts
		if v == nil {
			v = x.PowerOutputWatts
		}
		if v == nil {
			v = x.PowerInputWatts
		}
		out = append(out, toSensor(x.reading, x.Name, bmc.SensorPower, v, "Watts"))
	}
	for _, x := range p.PowerControl {
		out = append(out, toSensor(x.reading, x.Name, bmc.SensorPower, x.PowerConsumedWatts, "Watts"))
	}
	return out
}
