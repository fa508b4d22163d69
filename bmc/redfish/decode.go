package redfish

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

type chassis struct {
	Thermal *odataLink
	Power   *odataLink
}

func decodeChassis(b []byte) (chassis, error) {
	var c chassis
	if err := unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.Thermal != nil && !validPath(c.Thermal.ID) {
		c.Thermal = nil
	}
	if c.Power != nil && !validPath(c.Power.ID) {
		c.Power = nil
	}
	return c, nil
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
	Name                      string
	MemberID                  string `json:"MemberId"`
	Status                    status
	LowerThresholdNonCritical *float64
	LowerThresholdCritical    *float64
	LowerThresholdFatal       *float64
	UpperThresholdNonCritical *float64
	UpperThresholdCritical    *float64
	UpperThresholdFatal       *float64
}

type thermal struct {
	Temperatures []struct {
		reading
		ReadingCelsius *float64
	}
	Fans []struct {
		reading
		FanName      string // Thermal.v1_0_0 .. v1_1_0
		Reading      *float64
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
		ReadingVolts *float64
	}
	PowerSupplies []struct {
		reading
		LastPowerOutputWatts *float64
		PowerOutputWatts     *float64
		PowerInputWatts      *float64
	}
	PowerControl []struct {
		reading
		PowerConsumedWatts *float64
	}
}

func decodePower(b []byte) (power, error) {
	var p power
	err := unmarshal(b, &p)
	return p, err
}

// decodeError extracts the message of a Redfish error body (or "").
func decodeError(b []byte) string {
	var e struct {
		Error struct {
			Code     string `json:"code"`
			Message  string `json:"message"`
			Extended []struct {
				MessageID string `json:"MessageId"`
				Message   string
			} `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	msg := e.Error.Message
	if msg == "" && len(e.Error.Extended) > 0 {
		msg = e.Error.Extended[0].Message
	}
	if e.Error.Code != "" {
		msg = strings.TrimSpace(e.Error.Code + " " + msg)
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
}

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
