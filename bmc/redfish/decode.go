package redfish

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"opendev.org/starlingx/metal-go/bmc"
)

// The decoders below turn Redfish JSON documents into the few fields the
// driver needs. They accept anything a DMTF-conformant service may send
// (extra properties, null readings, older property names) and reject
// documents without the properties the driver cannot do without. They are
// fuzzed (decode_fuzz_test.go).

type odataLink struct {
	ID string `json:"@odata.id"`
}

type serviceRoot struct {
	RedfishVersion string
	Vendor         string
	Product        string
	Systems        *odataLink
	Chassis        *odataLink
	Managers       *odataLink
	SessionService *odataLink
	Links          struct {
		Sessions *odataLink
	}
	ProtocolFeaturesSupported struct {
		ExpandQuery struct {
			NoLinks bool
		}
	}
}

func decodeServiceRoot(b []byte) (serviceRoot, error) {
	var r serviceRoot
	if err := unmarshal(b, &r); err != nil {
		return r, err
	}
	if r.Systems == nil || !validPath(r.Systems.ID) {
		return r, errors.New("service root has no Systems collection")
	}
	return r, nil
}

type collection struct {
	Members []odataLink
}

func decodeCollection(b []byte) ([]string, error) {
	var c collection
	if err := unmarshal(b, &c); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(c.Members))
	for _, m := range c.Members {
		if !validPath(m.ID) {
			return nil, fmt.Errorf("collection member with invalid @odata.id %q", m.ID)
		}
		out = append(out, m.ID)
	}
	return out, nil
}

type resetAction struct {
	Target     string   `json:"target"`
	Allowable  []string `json:"ResetType@Redfish.AllowableValues"`
	ActionInfo string   `json:"@Redfish.ActionInfo"`
}

type system struct {
	ID         string `json:"@odata.id"`
	ETag       string `json:"@odata.etag"`
	PowerState string
	Boot       *struct {
		BootSourceOverrideTarget  string
		BootSourceOverrideEnabled string
		BootSourceOverrideMode    string
		AllowableTargets          []string `json:"BootSourceOverrideTarget@Redfish.AllowableValues"`
	}
	Actions struct {
		Reset *resetAction `json:"#ComputerSystem.Reset"`
	}
	Links struct {
		Chassis   []odataLink
		ManagedBy []odataLink
	}
}

func decodeSystem(b []byte) (system, error) {
	var s system
	if err := unmarshal(b, &s); err != nil {
		return s, err
	}
	if s.Actions.Reset != nil && s.Actions.Reset.Target != "" && !validPath(s.Actions.Reset.Target) {
		return s, fmt.Errorf("invalid ComputerSystem.Reset target %q", s.Actions.Reset.Target)
	}
	if s.Actions.Reset != nil && s.Actions.Reset.ActionInfo != "" && !validPath(s.Actions.Reset.ActionInfo) {
		return s, fmt.Errorf("invalid @Redfish.ActionInfo %q", s.Actions.Reset.ActionInfo)
	}
	return s, nil
}

// decodeActionInfo returns the AllowableValues of the named parameter
// (nil, nil when the parameter is absent or has no list).
func decodeActionInfo(b []byte, param string) ([]string, error) {
	var ai struct {
		Parameters []struct {
			Name            string
			AllowableValues []string
		}
	}
	if err := unmarshal(b, &ai); err != nil {
		return nil, err
	}
	for _, p := range ai.Parameters {
		if p.Name == param {
			return p.AllowableValues, nil
		}
	}
	return nil, nil
}

// chassis holds the sensor resources of a Chassis: the older model
// (Thermal, Power; deprecated since Redfish 2020.4) and the newer one
// (Sensors, ThermalSubsystem, PowerSubsystem), and the enclosure that
// contains it (Links.ContainedBy). Invalid links are dropped.
type chassis struct {
	ID               string `json:"Id"`
	ODataID          string `json:"@odata.id"`
	Thermal          *odataLink
	Power            *odataLink
	Sensors          *odataLink
	ThermalSubsystem *odataLink
	PowerSubsystem   *odataLink
	Links            struct {
		ContainedBy *odataLink
	}
}

func decodeChassis(b []byte) (chassis, error) {
	var c chassis
	if err := unmarshal(b, &c); err != nil {
		return c, err
	}
	for _, l := range []**odataLink{&c.Thermal, &c.Power, &c.Sensors, &c.ThermalSubsystem,
		&c.PowerSubsystem, &c.Links.ContainedBy} {
		if *l != nil && !validPath((*l).ID) {
			*l = nil
		}
	}
	return c, nil
}

// hasSensors reports whether the chassis publishes any sensor resource.
func (c chassis) hasSensors() bool {
	return c.Thermal != nil || c.Power != nil || c.Sensors != nil || c.ThermalSubsystem != nil ||
		c.PowerSubsystem != nil
}

type manager struct {
	Manufacturer    string
	Model           string
	FirmwareVersion string
}

func decodeManager(b []byte) (manager, error) {
	var m manager
	err := unmarshal(b, &m)
	return m, err
}

type status struct {
	State  string
	Health string
}

// reading holds the properties shared by Thermal and Power entries.
type reading struct {
	ODataID                   string `json:"@odata.id"`
	Name                      string
	MemberID                  string `json:"MemberId"`
	Status                    status
	LowerThresholdNonCritical number
	LowerThresholdCritical    number
	LowerThresholdFatal       number
	UpperThresholdNonCritical number
	UpperThresholdCritical    number
	UpperThresholdFatal       number
}

type thermal struct {
	Temperatures []struct {
		reading
		ReadingCelsius number
	}
	Fans []struct {
		reading
		FanName      string // Thermal.v1_0_0 .. v1_1_0
		Reading      number
		ReadingUnits string
	}
}

func decodeThermal(b []byte) (thermal, error) {
	var t thermal
	err := unmarshal(b, &t)
	return t, err
}

type power struct {
	Voltages []struct {
		reading
		ReadingVolts number
	}
	PowerSupplies []struct {
		reading
		LastPowerOutputWatts number
		PowerOutputWatts     number
		PowerInputWatts      number
	}
	PowerControl []struct {
		reading
		PowerConsumedWatts number
	}
}

func decodePower(b []byte) (power, error) {
	var p power
	err := unmarshal(b, &p)
	return p, err
}

// number is a lenient JSON number: a number, a numeric string (some BMCs
// quote readings) or null. Anything else is "no value" rather than an
// error, so one odd reading does not hide the rest of a document.
type number struct{ v *float64 }

func (n *number) UnmarshalJSON(b []byte) error {
	n.v = nil
	if t := strings.TrimSpace(string(b)); t == "null" || t == "" {
		return nil
	}
	var f float64
	if json.Unmarshal(b, &f) == nil {
		n.v = &f
		return nil
	}
	var str string
	if json.Unmarshal(b, &str) == nil {
		if f, err := strconv.ParseFloat(strings.TrimSpace(str), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			n.v = &f
		}
	}
	return nil
}

// threshold is a Sensor threshold object (Thresholds.UpperCritical, ...).
type threshold struct {
	Reading number
}

// sensorDoc is a Sensor resource (Chassis/{id}/Sensors/{id}).
type sensorDoc struct {
	ODataID         string `json:"@odata.id"`
	ID              string `json:"Id"`
	Name            string
	ReadingType     string
	Reading         number
	ReadingUnits    string
	PhysicalContext string
	Status          status
	Thresholds      struct {
		LowerCaution, LowerCritical, LowerFatal *threshold
		UpperCaution, UpperCritical, UpperFatal *threshold
	}
}

func decodeSensor(b []byte) (sensorDoc, error) {
	var s sensorDoc
	err := unmarshal(b, &s)
	return s, err
}

// decodeSensorCollection returns a Sensors collection's member links and,
// for members the service expanded inline ($expand, or a service that
// always expands), the Sensor documents themselves (nil where a member is
// a bare link).
func decodeSensorCollection(b []byte) ([]string, []*sensorDoc, error) {
	var c struct {
		Members []json.RawMessage
	}
	if err := unmarshal(b, &c); err != nil {
		return nil, nil, err
	}
	uris := make([]string, len(c.Members))
	docs := make([]*sensorDoc, len(c.Members))
	for i, raw := range c.Members {
		var keys map[string]json.RawMessage
		if err := unmarshal(raw, &keys); err != nil {
			return nil, nil, fmt.Errorf("collection member %d: %w", i, err)
		}
		var l odataLink
		_ = json.Unmarshal(raw, &l)
		if !validPath(l.ID) {
			return nil, nil, fmt.Errorf("collection member with invalid @odata.id %q", l.ID)
		}
		uris[i] = l.ID
		if len(keys) > 1 {
			doc, err := decodeSensor(raw)
			if err != nil {
				return nil, nil, fmt.Errorf("collection member %s: %w", l.ID, err)
			}
			docs[i] = &doc
		}
	}
	return uris, docs, nil
}

// thermalSubsystem is Chassis/{id}/ThermalSubsystem.
type thermalSubsystem struct {
	Fans *odataLink
}

func decodeThermalSubsystem(b []byte) (thermalSubsystem, error) {
	var t thermalSubsystem
	if err := unmarshal(b, &t); err != nil {
		return t, err
	}
	if t.Fans != nil && !validPath(t.Fans.ID) {
		t.Fans = nil
	}
	return t, nil
}

// excerpt is a Sensor excerpt embedded in another resource (a fan's
// SpeedPercent, a power supply metric), with the Sensor it copies.
type excerpt struct {
	Reading       number
	SpeedRPM      number // SensorFanExcerpt only
	DataSourceURI string `json:"DataSourceUri"`
}

// fanDoc is a Fan resource (ThermalSubsystem/Fans/{id}).
type fanDoc struct {
	ODataID      string `json:"@odata.id"`
	ID           string `json:"Id"`
	Name         string
	Status       status
	SpeedPercent *excerpt
}

func decodeFan(b []byte) (fanDoc, error) {
	var f fanDoc
	err := unmarshal(b, &f)
	return f, err
}

// powerSubsystem is Chassis/{id}/PowerSubsystem.
type powerSubsystem struct {
	PowerSupplies *odataLink
}

func decodePowerSubsystem(b []byte) (powerSubsystem, error) {
	var p powerSubsystem
	if err := unmarshal(b, &p); err != nil {
		return p, err
	}
	if p.PowerSupplies != nil && !validPath(p.PowerSupplies.ID) {
		p.PowerSupplies = nil
	}
	return p, nil
}

// powerSupplyDoc is a PowerSupply resource (PowerSubsystem/PowerSupplies/{id}).
type powerSupplyDoc struct {
	ODataID string `json:"@odata.id"`
	ID      string `json:"Id"`
	Name    string
	Status  status
	Metrics *odataLink
}

func decodePowerSupply(b []byte) (powerSupplyDoc, error) {
	var p powerSupplyDoc
	if err := unmarshal(b, &p); err != nil {
		return p, err
	}
	if p.Metrics != nil && !validPath(p.Metrics.ID) {
		p.Metrics = nil
	}
	return p, nil
}

// psuMetrics is a PowerSupplyMetrics resource.
type psuMetrics struct {
	InputVoltage     *excerpt
	InputPowerWatts  *excerpt
	OutputPowerWatts *excerpt
}

func decodePSUMetrics(b []byte) (psuMetrics, error) {
	var m psuMetrics
	err := unmarshal(b, &m)
	return m, err
}

// decodeError renders an error body for an error message: a Redfish
// error's code and message, else the body's own text (a non-Redfish JSON
// or plain-text error is kept, not reduced to the status), cut at 300
// bytes (bmc.BodyText).
func decodeError(b []byte) string { return bmc.BodyText(b) }

// unmarshal decodes a JSON object (not an array, string or null).
func unmarshal(b []byte, v any) error {
	trimmed := strings.TrimLeft(string(b), " \t\r\n")
	if !strings.HasPrefix(trimmed, "{") {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(b, v)
}

// validPath accepts an absolute Redfish path ("/redfish/v1/...") without a
// scheme, host, query or dot segments, so a BMC cannot redirect the driver
// (and its credentials) to another host.
func validPath(p string) bool {
	if !strings.HasPrefix(p, "/redfish/") || strings.ContainsAny(p, "?\\ \t\r\n") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return false
		}
	}
	return !strings.Contains(p, "//")
}
