package sysinv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"opendev.org/starlingx/metal-go/mtce/internal/platform"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Thresholds are an analog sensor's (or group's) alarm thresholds
// (t_<level>_<side>); 0 when SysInv holds none.
type Thresholds struct {
	CriticalLower, MajorLower, MinorLower float64
	MinorUpper, MajorUpper, CriticalUpper float64
}

// Units are an analog sensor's (or group's) unit texts.
type Units struct {
	Base, Rate, Modifier string
}

// Sensor is a SysInv isensor record as hwmond reads and writes it (spec
// G.3). Text fields are "" when SysInv holds null.
type Sensor struct {
	UUID      string // "uuid"
	HostUUID  string // "host_uuid"
	GroupUUID string // "sensorgroup_uuid"
	Name      string // "sensorname"
	Type      string // "sensortype": temperature, voltage, fan, power, ...
	DataType  string // "datatype": analog or discrete
	Status    string // "status": ok, minor, major, critical, offline, ...
	State     string // "state": enabled, disabled
	Path      string // "path"

	// Actions per severity ("ignore", "log", "alarm", ...), lower-cased as
	// hwmond does.
	ActionsMinor, ActionsMajor, ActionsCritical string
	Algorithm                                   string
	Suppress                                    bool // "suppress": "True"/"true"/true
	AuditInterval                               int  // "audit_interval", seconds

	Thresholds Thresholds // analog only
	Units      Units      // analog only
}

// SensorGroup is a SysInv isensorgroup record (spec G.3).
type SensorGroup struct {
	UUID     string // "uuid"
	HostUUID string // "host_uuid"
	Name     string // "sensorgroupname"
	Type     string // "sensortype"
	DataType string // "datatype"
	Status   string // "status"
	State    string // "state"
	Path     string // "path"

	// Group actions ("actions_<level>_group"), lower-cased, and the choices
	// offered to the user ("actions_<level>_choices").
	ActionsMinor, ActionsMajor, ActionsCritical                      string
	ActionsMinorChoices, ActionsMajorChoices, ActionsCriticalChoices string
	Algorithm                                                        string
	Suppress                                                         bool
	AuditInterval                                                    int // "audit_interval_group", seconds

	Thresholds Thresholds // "t_<level>_<side>_group", analog only
	Units      Units      // "unit_<x>_group", analog only
}

// fieldReader reads J.4-style text fields of one record.
type fieldReader struct {
	what string
	m    map[string]json.RawMessage
	err  error
}

func (r *fieldReader) str(key string) string {
	if r.err != nil {
		return ""
	}
	raw, ok := r.m[key]
	if !ok {
		return ""
	}
	s, _, err := platform.Text(r.what, key, raw)
	if err != nil {
		r.err = err
	}
	return s
}

func (r *fieldReader) lower(key string) string { return strings.ToLower(r.str(key)) }

func (r *fieldReader) float(key string) float64 {
	s := r.str(key)
	if r.err != nil || s == "" || s == "none" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		r.err = &DecodeError{What: r.what, Field: key, Reason: fmt.Sprintf("%q is not a number", s)}
	}
	return f
}

func (r *fieldReader) int(key string) int {
	if r.err != nil {
		return 0
	}
	raw, ok := r.m[key]
	if !ok {
		return 0
	}
	n, err := uintOf(r.what, key, raw)
	if err == nil && n > 1<<31-1 {
		err = &DecodeError{What: r.what, Field: key, Reason: "too large"}
	}
	if err != nil {
		r.err = err
		return 0
	}
	return int(n)
}

func (r *fieldReader) bool(key string) bool {
	s := r.str(key)
	return s == "True" || s == "true"
}

// identity checks the uuid and the name key every record must have.
func (r *fieldReader) identity(nameKey string) (uuid, name string) {
	uuid, name = r.str("uuid"), r.str(nameKey)
	if r.err != nil {
		return
	}
	if !platform.ValidUUID(uuid) {
		r.err = &DecodeError{What: r.what, Field: "uuid", Reason: fmt.Sprintf("%q is not a UUID", uuid)}
	} else if name == "" || name == "none" {
		r.err = &DecodeError{What: r.what, Field: nameKey, Reason: "missing or empty"}
	}
	return
}

func (r *fieldReader) thresholds(suffix string) Thresholds {
	return Thresholds{
		CriticalLower: r.float("t_critical_lower" + suffix), MajorLower: r.float("t_major_lower" + suffix),
		MinorLower: r.float("t_minor_lower" + suffix), MinorUpper: r.float("t_minor_upper" + suffix),
		MajorUpper: r.float("t_major_upper" + suffix), CriticalUpper: r.float("t_critical_upper" + suffix),
	}
}

func (r *fieldReader) units(suffix string) Units {
	return Units{Base: r.str("unit_base" + suffix), Rate: r.str("unit_rate" + suffix), Modifier: r.str("unit_modifier" + suffix)}
}

const (
	sensorWhat = "sensor record"
	groupWhat  = "sensor group record"
)

func sensorFrom(m map[string]json.RawMessage) (Sensor, error) {
	r := &fieldReader{what: sensorWhat, m: m}
	var s Sensor
	s.UUID, s.Name = r.identity("sensorname")
	s.HostUUID, s.GroupUUID = r.str("host_uuid"), r.str("sensorgroup_uuid")
	s.Type, s.DataType, s.Status, s.State, s.Path = r.str("sensortype"), r.str("datatype"), r.str("status"), r.str("state"), r.str("path")
	s.ActionsMinor, s.ActionsMajor, s.ActionsCritical = r.lower("actions_minor"), r.lower("actions_major"), r.lower("actions_critical")
	s.Algorithm, s.Suppress, s.AuditInterval = r.str("algorithm"), r.bool("suppress"), r.int("audit_interval")
	s.Thresholds, s.Units = r.thresholds(""), r.units("")
	if r.err != nil {
		return Sensor{}, r.err
	}
	return s, nil
}

func groupFrom(m map[string]json.RawMessage) (SensorGroup, error) {
	r := &fieldReader{what: groupWhat, m: m}
	var g SensorGroup
	g.UUID, g.Name = r.identity("sensorgroupname")
	g.HostUUID = r.str("host_uuid")
	g.Type, g.DataType, g.Status, g.State, g.Path = r.str("sensortype"), r.str("datatype"), r.str("status"), r.str("state"), r.str("path")
	g.ActionsMinor, g.ActionsMajor, g.ActionsCritical = r.lower("actions_minor_group"), r.lower("actions_major_group"), r.lower("actions_critical_group")
	g.ActionsMinorChoices, g.ActionsMajorChoices, g.ActionsCriticalChoices = r.str("actions_minor_choices"), r.str("actions_major_choices"), r.str("actions_critical_choices")
	g.Algorithm, g.Suppress, g.AuditInterval = r.str("algorithm"), r.bool("suppress"), r.int("audit_interval_group")
	g.Thresholds, g.Units = r.thresholds("_group"), r.units("_group")
	if r.err != nil {
		return SensorGroup{}, r.err
	}
	return g, nil
}

// ParseSensor decodes one isensor record. Text fields accept strings,
// numbers and booleans (null is ""); "uuid" must be a UUID and
// "sensorname" non-empty; thresholds must be numbers (or numeric texts);
// "audit_interval" a non-negative integer. Hwmond's rules apply otherwise
// (actions lower-cased, suppress "True"/"true"). Failures are *DecodeError.
func ParseSensor(body []byte) (Sensor, error) {
	m, err := platform.Object(sensorWhat, body)
	if err != nil {
		return Sensor{}, err
	}
	return sensorFrom(m)
}

// ParseSensorGroup decodes one isensorgroup record, as ParseSensor does.
// Unlike hwmond, which never reads a group's datatype and so never its
// thresholds, thresholds and units are read whenever present.
func ParseSensorGroup(body []byte) (SensorGroup, error) {
	m, err := platform.Object(groupWhat, body)
	if err != nil {
		return SensorGroup{}, err
	}
	return groupFrom(m)
}

func parseList[T any](body []byte, key, itemWhat string, from func(map[string]json.RawMessage) (T, error)) ([]T, error) {
	what := key + " list"
	m, err := platform.Object(what, body)
	if err != nil {
		return nil, err
	}
	raw, ok := m[key]
	if !ok {
		return nil, &DecodeError{What: what, Field: key, Reason: "missing"}
	}
	if platform.Kind(raw) != '[' {
		return nil, &DecodeError{What: what, Field: key, Reason: "is " + platform.KindName(raw) + ", want an array"}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &DecodeError{What: what, Field: key, Reason: "bad array", Err: err}
	}
	out := make([]T, 0, len(items))
	for i, it := range items {
		im, err := platform.Object(itemWhat, it)
		if err == nil {
			var v T
			if v, err = from(im); err == nil {
				out = append(out, v)
				continue
			}
		}
		return nil, &DecodeError{What: what, Field: fmt.Sprintf("%s[%d]", key, i), Err: err}
	}
	return out, nil
}

// ParseSensorList decodes {"isensors": [record, ...]}.
func ParseSensorList(body []byte) ([]Sensor, error) {
	return parseList(body, "isensors", sensorWhat, sensorFrom)
}

// ParseSensorGroupList decodes {"isensorgroups": [record, ...]}.
func ParseSensorGroupList(body []byte) ([]SensorGroup, error) {
	return parseList(body, "isensorgroups", groupWhat, groupFrom)
}

// ftos formats a threshold as hwmond does (three decimals).
func ftos(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

func suppressText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// sensorBody is hwmond's POST /v1/isensors body, in its key order.
func sensorBody(hostUUID string, s Sensor) ([]byte, error) {
	o := platform.Obj(
		"sensortype", s.Type, "datatype", s.DataType, "sensorname", s.Name,
		"host_uuid", hostUUID, "path", s.Path, "state", s.State, "status", s.Status)
	if s.DataType == "analog" {
		t, u := s.Thresholds, s.Units
		o = append(o, platform.Obj(
			"t_critical_lower", ftos(t.CriticalLower), "t_major_lower", ftos(t.MajorLower),
			"t_minor_lower", ftos(t.MinorLower), "t_minor_upper", ftos(t.MinorUpper),
			"t_major_upper", ftos(t.MajorUpper), "t_critical_upper", ftos(t.CriticalUpper),
			"unit_base", u.Base, "unit_rate", u.Rate, "unit_modifier", u.Modifier)...)
	}
	o = append(o, platform.Obj(
		"actions_minor", s.ActionsMinor, "actions_major", s.ActionsMajor,
		"actions_critical", s.ActionsCritical, "algorithm", s.Algorithm,
		"audit_interval", s.AuditInterval, "suppress", suppressText(s.Suppress))...)
	return platform.Marshal(o)
}

// groupBody is hwmond's POST /v1/isensorgroups body, in its key order.
func groupBody(hostUUID string, g SensorGroup) ([]byte, error) {
	o := platform.Obj(
		"sensortype", g.Type, "datatype", g.DataType, "sensorgroupname", g.Name,
		"host_uuid", hostUUID, "state", g.State, "path", g.Path,
		"actions_critical_choices", g.ActionsCriticalChoices,
		"actions_major_choices", g.ActionsMajorChoices,
		"actions_minor_choices", g.ActionsMinorChoices)
	if g.DataType == "analog" {
		t, u := g.Thresholds, g.Units
		o = append(o, platform.Obj(
			"t_critical_lower_group", ftos(t.CriticalLower), "t_major_lower_group", ftos(t.MajorLower),
			"t_minor_lower_group", ftos(t.MinorLower), "t_minor_upper_group", ftos(t.MinorUpper),
			"t_major_upper_group", ftos(t.MajorUpper), "t_critical_upper_group", ftos(t.CriticalUpper),
			"unit_base_group", u.Base, "unit_rate_group", u.Rate, "unit_modifier_group", u.Modifier)...)
	}
	o = append(o, platform.Obj(
		"actions_minor_group", g.ActionsMinor, "actions_major_group", g.ActionsMajor,
		"actions_critical_group", g.ActionsCritical, "algorithm", g.Algorithm,
		"audit_interval_group", g.AuditInterval, "suppress", suppressText(g.Suppress))...)
	return platform.Marshal(o)
}

// sensorCall is the common shape of the sensor requests.
type sensorCall[T any] struct {
	op       string
	method   string
	path     func(hostUUID string) string
	body     func(hostUUID string) ([]byte, error)
	parse    func(resp []byte) (T, error)
	attempts int
	timeout  int // 0: SensorTimeout, 1: NoncriticalTimeout
	// del: a DELETE. A 404 on the first attempt ends the call with
	// ErrNotFound (nothing to delete); on a retry it is a success (an
	// earlier attempt deleted the record and its answer was lost).
	del bool
}

func submitSensor[T any](c *Client, ref Ref, sc sensorCall[T]) (*Call[T], error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	if sc.body != nil {
		if _, err := sc.body(ref.UUID); err != nil {
			return nil, platform.Invalid("sysinv", "%s: %v", sc.op, err)
		}
	}
	timeout := c.cfg.SensorTimeout
	if sc.timeout == 1 {
		timeout = c.cfg.NoncriticalTimeout
	}
	attempts := sc.attempts
	if attempts == 0 {
		attempts = c.cfg.Attempts
	}
	return platform.Submit(c.cfg.Queue, platform.Spec[T]{
		Key: ref.Name, Name: "sysinv " + sc.op, Attempts: attempts, Timeout: timeout, BackOff: c.cfg.BackOff,
		Run: func(ctx context.Context, attempt int) (T, error) {
			var zero T
			hostUUID := c.CurrentUUID(ref.UUID)
			req := platform.Request{Op: sc.op, Host: ref.Name, Method: sc.method, Path: sc.path(hostUUID)}
			if sc.body != nil {
				b, err := sc.body(hostUUID)
				if err != nil {
					return zero, platform.Invalid("sysinv", "%s: %v", sc.op, err)
				}
				req.Body = b
			}
			resp, err := c.ep.Do(ctx, req)
			if sc.del && errors.Is(err, ErrNotFound) {
				if attempt > 1 {
					c.ep.Logger().Info("record already gone on retry; delete done", "host", ref.Name, "op", sc.op)
					return zero, nil
				}
				return zero, workqueue.Permanent(err)
			}
			if err != nil {
				return zero, err
			}
			if sc.parse == nil {
				return zero, nil
			}
			v, err := sc.parse(resp.Body)
			if err != nil {
				return zero, c.ep.BadBody(req, resp, err)
			}
			return v, nil
		},
	})
}

func itemPath(collection, uuid string) string {
	return "/v1/" + collection + "/" + platform.PathEscape(uuid)
}

func checkItem(what, uuid string) error { return platform.CheckUUID("sysinv", what, uuid) }

// Sensors queues GET /v1/ihosts/<uuid>/isensors on ref.Name's lane
// (hwmonHttp_load_sensors): noncritical, Config.SensorTimeout.
func (c *Client) Sensors(ref Ref) (*Call[[]Sensor], error) {
	return submitSensor(c, ref, sensorCall[[]Sensor]{op: "load sensors", method: http.MethodGet,
		path:  func(h string) string { return hostPath(h) + "/isensors" },
		parse: ParseSensorList})
}

// SensorGroups queues GET /v1/ihosts/<uuid>/isensorgroups
// (hwmonHttp_load_groups).
func (c *Client) SensorGroups(ref Ref) (*Call[[]SensorGroup], error) {
	return submitSensor(c, ref, sensorCall[[]SensorGroup]{op: "load groups", method: http.MethodGet,
		path:  func(h string) string { return hostPath(h) + "/isensorgroups" },
		parse: ParseSensorGroupList})
}

// AddSensor queues POST /v1/isensors with hwmond's body for s on ref's
// host; the value is the record SysInv created (with its UUID). It is sent
// once: a POST repeated after a lost answer would create a duplicate.
func (c *Client) AddSensor(ref Ref, s Sensor) (*Call[Sensor], error) {
	if s.Name == "" {
		return nil, platform.Invalid("sysinv", "add sensor: empty sensor name")
	}
	return submitSensor(c, ref, sensorCall[Sensor]{op: "add sensor", method: http.MethodPost, attempts: 1,
		path:  func(string) string { return "/v1/isensors" },
		body:  func(h string) ([]byte, error) { return sensorBody(h, s) },
		parse: ParseSensor})
}

// AddSensorGroup queues POST /v1/isensorgroups with hwmond's body for g;
// sent once, like AddSensor.
func (c *Client) AddSensorGroup(ref Ref, g SensorGroup) (*Call[SensorGroup], error) {
	if g.Name == "" {
		return nil, platform.Invalid("sysinv", "add sensor group: empty group name")
	}
	return submitSensor(c, ref, sensorCall[SensorGroup]{op: "add group", method: http.MethodPost, attempts: 1,
		path:  func(string) string { return "/v1/isensorgroups" },
		body:  func(h string) ([]byte, error) { return groupBody(h, g) },
		parse: ParseSensorGroup})
}

// ModifySensor queues a JSON-patch of sensor sensorUUID
// (hwmonHttp_mod_sensor, hwmonHttp_disable_sensor).
func (c *Client) ModifySensor(ref Ref, sensorUUID string, fields ...Field) (*Call[Sensor], error) {
	body, err := Update{Op: "modify sensor", Fields: fields}.Patch()
	if err == nil {
		err = checkItem("sensor uuid", sensorUUID)
	}
	if err != nil {
		return nil, err
	}
	return submitSensor(c, ref, sensorCall[Sensor]{op: "modify sensor", method: http.MethodPatch,
		path:  func(string) string { return itemPath("isensors", sensorUUID) },
		body:  func(string) ([]byte, error) { return body, nil },
		parse: ParseSensor})
}

// ModifySensorGroup queues a JSON-patch of group groupUUID
// (hwmonHttp_mod_group).
func (c *Client) ModifySensorGroup(ref Ref, groupUUID string, fields ...Field) (*Call[SensorGroup], error) {
	body, err := Update{Op: "modify group", Fields: fields}.Patch()
	if err == nil {
		err = checkItem("group uuid", groupUUID)
	}
	if err != nil {
		return nil, err
	}
	return submitSensor(c, ref, sensorCall[SensorGroup]{op: "modify group", method: http.MethodPatch,
		path:  func(string) string { return itemPath("isensorgroups", groupUUID) },
		body:  func(string) ([]byte, error) { return body, nil },
		parse: ParseSensorGroup})
}

// GroupSensors queues the patch that puts sensors in group groupUUID
// (hwmonHttp_group_sensors: /sensors := "uuid,uuid,..."), with
// Config.NoncriticalTimeout. SysInv answers with the group, whose UUID must
// be groupUUID.
func (c *Client) GroupSensors(ref Ref, groupUUID string, sensorUUIDs []string) (*Call[SensorGroup], error) {
	if err := checkItem("group uuid", groupUUID); err != nil {
		return nil, err
	}
	if len(sensorUUIDs) == 0 {
		return nil, platform.Invalid("sysinv", "group sensors: no sensor")
	}
	for _, u := range sensorUUIDs {
		if err := checkItem("sensor uuid", u); err != nil {
			return nil, err
		}
	}
	body, err := Update{Op: "group sensors", Fields: []Field{{"sensors", strings.Join(sensorUUIDs, ",")}}}.Patch()
	if err != nil {
		return nil, err
	}
	return submitSensor(c, ref, sensorCall[SensorGroup]{op: "group sensors", method: http.MethodPatch, timeout: 1,
		path: func(string) string { return itemPath("isensorgroups", groupUUID) },
		body: func(string) ([]byte, error) { return body, nil },
		parse: func(b []byte) (SensorGroup, error) {
			g, err := ParseSensorGroup(b)
			if err == nil && g.UUID != groupUUID {
				err = &DecodeError{What: groupWhat, Field: "uuid", Reason: fmt.Sprintf("is %q, want %q (grouping mismatch)", g.UUID, groupUUID)}
			}
			return g, err
		}})
}

// DeleteSensor queues DELETE /v1/isensors/<uuid> (hwmonHttp_del_sensor).
// A 404 ends it with ErrNotFound when it answers the first attempt, and
// is a success when it answers a retry (the record is gone: an earlier
// attempt deleted it and its answer was lost).
func (c *Client) DeleteSensor(ref Ref, sensorUUID string) (*Call[struct{}], error) {
	if err := checkItem("sensor uuid", sensorUUID); err != nil {
		return nil, err
	}
	return submitSensor(c, ref, sensorCall[struct{}]{op: "delete sensor", method: http.MethodDelete, del: true,
		path: func(string) string { return itemPath("isensors", sensorUUID) }})
}

// DeleteSensorGroup queues DELETE /v1/isensorgroups/<uuid>
// (hwmonHttp_del_group), with DeleteSensor's handling of a 404.
func (c *Client) DeleteSensorGroup(ref Ref, groupUUID string) (*Call[struct{}], error) {
	if err := checkItem("group uuid", groupUUID); err != nil {
		return nil, err
	}
	return submitSensor(c, ref, sensorCall[struct{}]{op: "delete group", method: http.MethodDelete, del: true,
		path: func(string) string { return itemPath("isensorgroups", groupUUID) }})
}
