package ipmitool

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"opendev.org/starlingx/metal-go/bmc"
)

// The parsers below decode ipmitool 1.8.x output (LANG=C). They are fuzzed
// (parse_fuzz_test.go) and never panic.

// parsePowerStatus decodes "chassis power status": "Chassis Power is on".
func parsePowerStatus(out string) (bmc.PowerState, error) {
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "Chassis Power is ")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(rest)) {
		case "on":
			return bmc.PowerOn, nil
		case "off":
			return bmc.PowerOff, nil
		}
		return bmc.PowerUnknown, fmt.Errorf("unknown power state %q", rest)
	}
	return bmc.PowerUnknown, errors.New("no \"Chassis Power is\" line in ipmitool output")
}

// mcInfo is the part of "mc info" the driver uses.
type mcInfo struct {
	info    bmc.Info
	support map[string]bool // "Additional Device Support" entries
}

// parseMCInfo decodes "mc info" ("Key : value" lines, with indented
// continuation lines under "Additional Device Support").
func parseMCInfo(out string) (mcInfo, error) {
	m := mcInfo{info: bmc.Info{Protocol: bmc.ProtocolIPMI}, support: map[string]bool{}}
	inSupport := false
	seen := false
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			if inSupport {
				m.support[strings.TrimSpace(line)] = true
			}
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		inSupport = k == "Additional Device Support"
		switch k {
		case "Firmware Revision":
			m.info.FirmwareVersion = v
			seen = true
		case "IPMI Version":
			m.info.ProtocolVersion = v
		case "Manufacturer ID":
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				m.info.ManufacturerID = uint32(n)
			}
		case "Manufacturer Name":
			if !strings.HasPrefix(v, "Unknown") {
				m.info.Manufacturer = v
			}
		case "Product ID":
			m.info.Product = v
		case "Product Name":
			if v != "" && !strings.HasPrefix(v, "Unknown") {
				m.info.Product = v
			}
		}
	}
	if !seen {
		return m, errors.New("no \"Firmware Revision\" in ipmitool mc info output")
	}
	return m, nil
}

// parseRestartCause decodes "chassis restart_cause":
// "System restart cause: power-up via pushbutton".
func parseRestartCause(out string) (bmc.RestartCause, error) {
	for line := range strings.Lines(out) {
		_, v, ok := strings.Cut(line, "restart cause:")
		if !ok {
			continue
		}
		rc := bmc.RestartCause(strings.TrimSpace(v))
		if rc.Known() {
			return rc, nil
		}
		// ipmitool prints "invalid" (or "error!") for codes above 9.
		return bmc.RestartInvalid, nil
	}
	return "", errors.New("no \"restart cause:\" line in ipmitool output")
}

var sensorUnitTypes = map[string]bmc.SensorType{
	"degrees C": bmc.SensorTemperature,
	"degrees F": bmc.SensorTemperature,
	"RPM":       bmc.SensorFan,
	"Volts":     bmc.SensorVoltage,
	"Amps":      bmc.SensorCurrent,
	"Watts":     bmc.SensorPower,
}

// parseSensorList decodes "sensor list": ten "|"-separated columns,
// name | reading | unit | status | lnr | lcr | lnc | unc | ucr | unr,
// where absent values are "na" and discrete sensors read e.g. "0x0".
func parseSensorList(out string) ([]bmc.Sensor, error) {
	var list []bmc.Sensor
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) < 4 {
			return nil, fmt.Errorf("sensor line with %d columns: %q", len(f), truncate(line))
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		s := bmc.Sensor{Name: f[0], Unit: f[2], Type: bmc.SensorOther}
		if s.Name == "" {
			return nil, fmt.Errorf("sensor line without a name: %q", truncate(line))
		}
		if t, ok := sensorUnitTypes[s.Unit]; ok {
			s.Type = t
		}
		st := strings.ToLower(f[3])
		if s.Unit == "discrete" || s.Unit == "unspecified" {
			// Discrete sensors have no analog reading; a hex state or "ok"
			// means the sensor answers.
			s.Unit = "discrete"
			s.Status = bmc.StatusUnavailable
			if st == "ok" || strings.HasPrefix(st, "0x") {
				s.Status = bmc.StatusOK
			}
		} else if s.Reading = number(f[1]); s.Reading == nil {
			s.Status = bmc.StatusUnavailable
		} else {
			switch st {
			case "ok":
				s.Status = bmc.StatusOK
			case "nc", "lnc", "unc":
				s.Status = bmc.StatusNonCritical
			case "cr", "lcr", "ucr":
				s.Status = bmc.StatusCritical
			case "nr", "lnr", "unr":
				s.Status = bmc.StatusNonRecoverable
			default: // "na", "ns" (not scanning), anything else
				s.Status = bmc.StatusUnavailable
				s.Reading = nil
			}
		}
		if len(f) >= 10 {
			s.Thresholds = bmc.Thresholds{
				LowerNonRecoverable: number(f[4]),
				LowerCritical:       number(f[5]),
				LowerNonCritical:    number(f[6]),
				UpperNonCritical:    number(f[7]),
				UpperCritical:       number(f[8]),
				UpperNonRecoverable: number(f[9]),
			}
		}
		list = append(list, s)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return list, nil
}

func number(s string) *float64 {
	if s == "" || s == "na" || strings.HasPrefix(s, "0x") {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v { // NaN
		return nil
	}
	return &v
}

func truncate(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
