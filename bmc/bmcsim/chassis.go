package bmcsim

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// This file serves the chassis and their sensors in the older model
// (Thermal, Power) and the newer one (Sensors, ThermalSubsystem,
// PowerSubsystem), see SensorModel.

// resourceID derives a resource Id from a sensor name ("CPU Temp" →
// "CPUTemp").
func resourceID(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// chassisSensorsLocked returns the sensors of chassis id, and whether the
// chassis exists.
func (s *Server) chassisSensorsLocked(id string) ([]Sensor, bool) {
	switch {
	case id == chassisID:
		return s.sensors, true
	case id == enclosureID && s.cfg.Enclosure != nil:
		return s.encl, true
	}
	return nil, false
}

func (s *Server) legacyModel() bool { return s.cfg.SensorModel != ModelModern }
func (s *Server) modernModel() bool { return s.cfg.SensorModel != ModelLegacy }

// serveChassis serves Chassis/{rest}; it returns false (having written
// nothing) for a path it does not know.
func (s *Server) serveChassis(w http.ResponseWriter, r *http.Request, rest string) bool {
	parts := strings.Split(rest, "/")
	id := parts[0]
	s.mu.Lock()
	sensors, ok := s.chassisSensorsLocked(id)
	s.mu.Unlock()
	if !ok {
		return false
	}
	base := chassisColl + "/" + id
	has := len(sensors) > 0
	sub := strings.Join(parts[1:], "/")
	switch {
	case sub == "":
		s.get(w, r, func() obj { return s.chassisDoc(id, has) })
	case sub == "Thermal" && has && s.legacyModel():
		s.get(w, r, func() obj { return s.thermal(base, id) })
	case sub == "Power" && has && s.legacyModel():
		s.get(w, r, func() obj { return s.powerRes(base, id) })
	case sub == "Sensors" && has && s.modernModel():
		expand := s.cfg.ExpandQuery && strings.HasPrefix(r.URL.Query().Get("$expand"), ".")
		s.get(w, r, func() obj { return s.sensorCollection(base, id, expand) })
	case strings.HasPrefix(sub, "Sensors/") && has && s.modernModel():
		return s.getMember(w, r, func() (obj, bool) { return s.sensorDoc(base, id, strings.TrimPrefix(sub, "Sensors/")) })
	case sub == "ThermalSubsystem" && has && s.modernModel():
		s.get(w, r, func() obj {
			return obj{"@odata.id": base + "/ThermalSubsystem", "@odata.type": "#ThermalSubsystem.v1_0_0.ThermalSubsystem",
				"Id": "ThermalSubsystem", "Name": "Thermal Subsystem", "Status": obj{"State": "Enabled", "Health": "OK"},
				"Fans": link(base + "/ThermalSubsystem/Fans")}
		})
	case sub == "ThermalSubsystem/Fans" && has && s.modernModel():
		s.get(w, r, func() obj { return s.memberList("Fan Collection", base+"/ThermalSubsystem/Fans", id, Fan) })
	case strings.HasPrefix(sub, "ThermalSubsystem/Fans/") && has && s.modernModel():
		return s.getMember(w, r, func() (obj, bool) { return s.fanDoc(base, id, strings.TrimPrefix(sub, "ThermalSubsystem/Fans/")) })
	case sub == "PowerSubsystem" && has && s.modernModel():
		s.get(w, r, func() obj {
			return obj{"@odata.id": base + "/PowerSubsystem", "@odata.type": "#PowerSubsystem.v1_1_0.PowerSubsystem",
				"Id": "PowerSubsystem", "Name": "Power Subsystem", "Status": obj{"State": "Enabled", "Health": "OK"},
				"PowerSupplies": link(base + "/PowerSubsystem/PowerSupplies")}
		})
	case sub == "PowerSubsystem/PowerSupplies" && has && s.modernModel():
		s.get(w, r, func() obj {
			return s.memberList("Power Supply Collection", base+"/PowerSubsystem/PowerSupplies", id, PowerSupply)
		})
	case strings.HasPrefix(sub, "PowerSubsystem/PowerSupplies/") && has && s.modernModel():
		psu, metrics := strings.CutSuffix(strings.TrimPrefix(sub, "PowerSubsystem/PowerSupplies/"), "/Metrics")
		return s.getMember(w, r, func() (obj, bool) { return s.psuDoc(base, id, psu, metrics) })
	default:
		return false
	}
	return true
}

// getMember serves a member document, or reports false if it does not exist.
func (s *Server) getMember(w http.ResponseWriter, r *http.Request, doc func() (obj, bool)) bool {
	s.mu.Lock()
	o, ok := doc()
	s.mu.Unlock()
	if !ok {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return true
	}
	writeJSON(w, http.StatusOK, o)
	return true
}

func (s *Server) chassisDoc(id string, has bool) obj {
	base := chassisColl + "/" + id
	o := obj{
		"@odata.id":   base,
		"@odata.type": "#Chassis.v1_14_0.Chassis",
		"Id":          id,
		"Name":        "Chassis",
		"ChassisType": "RackMount",
		"PowerState":  s.power,
		"Status":      obj{"State": "Enabled", "Health": "OK"},
	}
	links := obj{"ManagedBy": []obj{link(managerURI)}}
	switch {
	case id == enclosureID:
		o["Name"], o["ChassisType"] = "Enclosure", "Enclosure"
		links["Contains"] = []obj{link(chassisURI)}
	default:
		links["ComputerSystems"] = []obj{link(systemURI)}
		if s.cfg.Enclosure != nil {
			o["Name"], o["ChassisType"] = "Blade", "Blade"
			links["ContainedBy"] = link(chassisColl + "/" + enclosureID)
		}
	}
	o["Links"] = links
	if has && s.legacyModel() {
		o["Thermal"] = link(base + "/Thermal")
		o["Power"] = link(base + "/Power")
	}
	if has && s.modernModel() {
		o["Sensors"] = link(base + "/Sensors")
		o["ThermalSubsystem"] = link(base + "/ThermalSubsystem")
		o["PowerSubsystem"] = link(base + "/PowerSubsystem")
	}
	return o
}

func health(sn Sensor) obj {
	if sn.Absent {
		return obj{"State": "Absent"}
	}
	ge := func(p *float64) bool { return p != nil && sn.Reading >= *p }
	le := func(p *float64) bool { return p != nil && sn.Reading <= *p }
	h := "OK"
	switch {
	case ge(sn.UpperThresholdFatal), le(sn.LowerThresholdFatal), ge(sn.UpperThresholdCritical), le(sn.LowerThresholdCritical):
		h = "Critical"
	case ge(sn.UpperThresholdNonCritical), le(sn.LowerThresholdNonCritical):
		h = "Warning"
	}
	return obj{"State": "Enabled", "Health": h}
}

// sensorObj renders the common fields of an older-model entry, with the
// reading under readingKey.
func sensorObj(uri, list string, idx int, sn Sensor, readingKey string) obj {
	o := obj{
		"@odata.id": uri + "#/" + list + "/" + strconv.Itoa(idx),
		"MemberId":  strconv.Itoa(idx),
		"Name":      sn.Name,
		"Status":    health(sn),
	}
	if sn.Absent {
		o[readingKey] = nil
	} else {
		o[readingKey] = sn.Reading
	}
	for k, v := range map[string]*float64{
		"LowerThresholdNonCritical": sn.LowerThresholdNonCritical,
		"LowerThresholdCritical":    sn.LowerThresholdCritical,
		"LowerThresholdFatal":       sn.LowerThresholdFatal,
		"UpperThresholdNonCritical": sn.UpperThresholdNonCritical,
		"UpperThresholdCritical":    sn.UpperThresholdCritical,
		"UpperThresholdFatal":       sn.UpperThresholdFatal,
	} {
		if v != nil {
			o[k] = *v
		}
	}
	return o
}

func (s *Server) thermal(base, id string) obj {
	uri := base + "/Thermal"
	sensors, _ := s.chassisSensorsLocked(id)
	temps, fans := []obj{}, []obj{}
	for _, sn := range sensors {
		switch sn.Kind {
		case Temperature:
			temps = append(temps, sensorObj(uri, "Temperatures", len(temps), sn, "ReadingCelsius"))
		case Fan:
			o := sensorObj(uri, "Fans", len(fans), sn, "Reading")
			o["ReadingUnits"] = fanUnits(sn)
			fans = append(fans, o)
		}
	}
	return obj{
		"@odata.id":    uri,
		"@odata.type":  "#Thermal.v1_5_0.Thermal",
		"Id":           "Thermal",
		"Name":         "Thermal",
		"Temperatures": temps,
		"Fans":         fans,
	}
}

func fanUnits(sn Sensor) string {
	if sn.Units == "" {
		return "RPM"
	}
	return sn.Units
}

func (s *Server) powerRes(base, id string) obj {
	uri := base + "/Power"
	sensors, _ := s.chassisSensorsLocked(id)
	volts, psus, ctl := []obj{}, []obj{}, []obj{}
	for _, sn := range sensors {
		switch sn.Kind {
		case Voltage:
			volts = append(volts, sensorObj(uri, "Voltages", len(volts), sn, "ReadingVolts"))
		case PowerSupply:
			o := sensorObj(uri, "PowerSupplies", len(psus), sn, "LastPowerOutputWatts")
			if sn.InputVoltage != nil {
				o["LineInputVoltage"] = *sn.InputVoltage
			}
			if sn.InputPower != nil {
				o["PowerInputWatts"] = *sn.InputPower
			}
			psus = append(psus, o)
		case PowerControl:
			ctl = append(ctl, sensorObj(uri, "PowerControl", len(ctl), sn, "PowerConsumedWatts"))
		}
	}
	return obj{
		"@odata.id":     uri,
		"@odata.type":   "#Power.v1_5_0.Power",
		"Id":            "Power",
		"Name":          "Power",
		"Voltages":      volts,
		"PowerSupplies": psus,
		"PowerControl":  ctl,
	}
}

// modernSensor is one Sensor resource of the newer model.
type modernSensor struct {
	id, name, readingType, units, context string
	sn                                    Sensor
	reading                               *float64 // nil: the sensor's own Reading
}

// modernSensorsLocked lists the Sensor resources of a chassis. Fans and
// power supplies are Sensors only in ModelBoth (in ModelModern they exist
// only in the subsystems).
func (s *Server) modernSensorsLocked(id string) []modernSensor {
	sensors, _ := s.chassisSensorsLocked(id)
	var out []modernSensor
	for _, sn := range sensors {
		rid := resourceID(sn.Name)
		switch sn.Kind {
		case Temperature:
			out = append(out, modernSensor{rid, sn.Name, "Temperature", "Cel", "SystemBoard", sn, nil})
		case Voltage:
			out = append(out, modernSensor{rid, sn.Name, "Voltage", "V", "VoltageRegulator", sn, nil})
		case PowerControl:
			out = append(out, modernSensor{rid, sn.Name, "Power", "W", "Chassis", sn, nil})
		case Fan:
			if s.cfg.SensorModel == ModelBoth {
				if fanUnits(sn) == "Percent" {
					out = append(out, modernSensor{rid, sn.Name, "Percent", "%", "Fan", sn, nil})
				} else {
					out = append(out, modernSensor{rid, sn.Name, "Rotational", "RPM", "Fan", sn, nil})
				}
			}
		case PowerSupply:
			if s.cfg.SensorModel == ModelBoth {
				out = append(out, modernSensor{rid + "Output", sn.Name, "Power", "W", "PowerSupply", sn, nil})
				if sn.InputVoltage != nil {
					out = append(out, modernSensor{rid + "InputVoltage", sn.Name + " Input Voltage", "Voltage", "V",
						"PowerSupply", Sensor{Name: sn.Name, Absent: sn.Absent}, sn.InputVoltage})
				}
				if sn.InputPower != nil {
					out = append(out, modernSensor{rid + "InputPower", sn.Name + " Input Power", "Power", "W",
						"PowerSupply", Sensor{Name: sn.Name, Absent: sn.Absent}, sn.InputPower})
				}
			}
		}
	}
	return out
}

func (s *Server) renderSensor(base string, m modernSensor) obj {
	o := obj{
		"@odata.id":       base + "/Sensors/" + m.id,
		"@odata.type":     "#Sensor.v1_7_0.Sensor",
		"Id":              m.id,
		"Name":            m.name,
		"ReadingType":     m.readingType,
		"ReadingUnits":    m.units,
		"PhysicalContext": m.context,
		"Status":          health(m.sn),
	}
	switch {
	case m.sn.Absent:
		o["Reading"] = nil
	case m.reading != nil:
		o["Reading"] = *m.reading
	default:
		o["Reading"] = m.sn.Reading
	}
	th := obj{}
	for k, v := range map[string]*float64{
		"LowerCaution": m.sn.LowerThresholdNonCritical, "LowerCritical": m.sn.LowerThresholdCritical,
		"LowerFatal": m.sn.LowerThresholdFatal, "UpperCaution": m.sn.UpperThresholdNonCritical,
		"UpperCritical": m.sn.UpperThresholdCritical, "UpperFatal": m.sn.UpperThresholdFatal,
	} {
		if v != nil {
			th[k] = obj{"Reading": *v}
		}
	}
	if len(th) > 0 {
		o["Thresholds"] = th
	}
	return o
}

func (s *Server) sensorCollection(base, id string, expand bool) obj {
	ms := s.modernSensorsLocked(id)
	members := make([]obj, len(ms))
	for i, m := range ms {
		if expand {
			members[i] = s.renderSensor(base, m)
		} else {
			members[i] = link(base + "/Sensors/" + m.id)
		}
	}
	return obj{"@odata.id": base + "/Sensors", "@odata.type": "#SensorCollection.SensorCollection",
		"Name": "Sensor Collection", "Members": members, "Members@odata.count": len(members)}
}

func (s *Server) sensorDoc(base, id, sid string) (obj, bool) {
	for _, m := range s.modernSensorsLocked(id) {
		if m.id == sid {
			return s.renderSensor(base, m), true
		}
	}
	return nil, false
}

// memberList is the collection of a chassis' sensors of one kind, by Id.
func (s *Server) memberList(name, uri, id string, kind SensorKind) obj {
	sensors, _ := s.chassisSensorsLocked(id)
	var uris []string
	for _, sn := range sensors {
		if sn.Kind == kind {
			uris = append(uris, uri+"/"+resourceID(sn.Name))
		}
	}
	o := collection(name, uris...)
	o["@odata.id"] = uri
	return o
}

func (s *Server) find(id string, kind SensorKind, rid string) (Sensor, bool) {
	sensors, _ := s.chassisSensorsLocked(id)
	for _, sn := range sensors {
		if sn.Kind == kind && resourceID(sn.Name) == rid {
			return sn, true
		}
	}
	return Sensor{}, false
}

func (s *Server) fanDoc(base, id, fid string) (obj, bool) {
	sn, ok := s.find(id, Fan, fid)
	if !ok {
		return nil, false
	}
	speed := obj{}
	if !sn.Absent {
		if fanUnits(sn) == "Percent" {
			speed["Reading"] = sn.Reading
		} else {
			speed["SpeedRPM"] = sn.Reading
		}
	}
	if s.cfg.SensorModel == ModelBoth {
		speed["DataSourceUri"] = base + "/Sensors/" + fid
	}
	return obj{
		"@odata.id":    base + "/ThermalSubsystem/Fans/" + fid,
		"@odata.type":  "#Fan.v1_3_0.Fan",
		"Id":           fid,
		"Name":         sn.Name,
		"Status":       health(sn),
		"SpeedPercent": speed,
	}, true
}

func (s *Server) psuDoc(base, id, pid string, metrics bool) (obj, bool) {
	sn, ok := s.find(id, PowerSupply, pid)
	if !ok {
		return nil, false
	}
	uri := base + "/PowerSubsystem/PowerSupplies/" + pid
	if !metrics {
		return obj{
			"@odata.id":   uri,
			"@odata.type": "#PowerSupply.v1_5_0.PowerSupply",
			"Id":          pid,
			"Name":        sn.Name,
			"Status":      health(sn),
			"Metrics":     link(uri + "/Metrics"),
		}, true
	}
	o := obj{
		"@odata.id":   uri + "/Metrics",
		"@odata.type": "#PowerSupplyMetrics.v1_0_1.PowerSupplyMetrics",
		"Id":          "Metrics",
		"Name":        sn.Name + " Metrics",
	}
	ex := func(v *float64, sensor string) obj {
		e := obj{"Reading": nil}
		if v != nil && !sn.Absent {
			e["Reading"] = *v
		}
		if s.cfg.SensorModel == ModelBoth {
			e["DataSourceUri"] = base + "/Sensors/" + pid + sensor
		}
		return e
	}
	out := sn.Reading
	o["OutputPowerWatts"] = ex(&out, "Output")
	if sn.InputVoltage != nil {
		o["InputVoltage"] = ex(sn.InputVoltage, "InputVoltage")
	}
	if sn.InputPower != nil {
		o["InputPowerWatts"] = ex(sn.InputPower, "InputPower")
	}
	return o, true
}
