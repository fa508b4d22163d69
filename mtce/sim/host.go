package sim

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Host is a SysInv ihost record: the fields maintenance reads and writes,
// with SysInv's JSON names.
//
// Encoding follows SysInv: an empty optional string is sent as JSON null.
// Decoding follows what StarlingX sends (section J.4 of the spec): null
// and absent mean empty, numbers and booleans are taken as their JSON
// text, "none" is kept as given (it is meaningful for bm_type, and means
// "unset" for the states), uptime may be a number or a decimal string.
type Host struct {
	ID                int64     `json:"id"`
	UUID              string    `json:"uuid"`
	Hostname          string    `json:"hostname"`
	Personality       string    `json:"personality"`  // controller, worker, storage
	Subfunctions      string    `json:"subfunctions"` // e.g. "controller,worker" on AIO
	Administrative    string    `json:"administrative"`
	Operational       string    `json:"operational"`
	Availability      string    `json:"availability"`
	SubfunctionOper   string    `json:"subfunction_oper"`
	SubfunctionAvail  string    `json:"subfunction_avail"`
	Task              string    `json:"task"`
	Action            string    `json:"action"` // kept as loaded; a PATCH of /action goes to the agent or Config.OnAction instead
	Uptime            int64     `json:"uptime"`
	MgmtIP            string    `json:"mgmt_ip"`
	MgmtMAC           string    `json:"mgmt_mac"`
	ClusterHostIP     string    `json:"cluster_host_ip"`
	BMIP              string    `json:"bm_ip"`
	BMType            string    `json:"bm_type"`
	BMUsername        string    `json:"bm_username"`
	MtceInfo          string    `json:"mtce_info"`
	InvProvision      string    `json:"invprovision"`
	VIMProgressStatus string    `json:"vim_progress_status"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// The accepted values of the state fields ("none" is accepted in each).
var (
	adminStates = set("locked", "unlocked")
	operStates  = set("enabled", "disabled")
	availStates = set("available", "degraded", "failed", "intest", "power-off",
		"offline", "online", "offduty", "not-installed")
	personalities = set("controller", "worker", "storage")
	// hostActions are the user actions SysInv hands to maintenance.
	hostActions = set("lock", "force-lock", "unlock", "force-unlock", "swact",
		"force-swact", "reboot", "reset", "reinstall", "power-on", "power-off")
)

func set(v ...string) map[string]bool {
	m := make(map[string]bool, len(v))
	for _, s := range v {
		m[s] = true
	}
	return m
}

const sysinvTime = "2006-01-02T15:04:05.000000+00:00"

// hostFieldKind says how a JSON value is turned into a field.
type hostFieldKind int

const (
	fieldText     hostFieldKind = iota // any string
	fieldState                         // one of an enumeration, or "none"
	fieldInt                           // integer (uptime)
	fieldReadOnly                      // uuid, id, timestamps: not writable
	fieldAction                        // a user action
	fieldPassword                      // bm_password: stored in Barbican
	fieldName                          // hostname: non-empty, no "/"
)

type hostField struct {
	kind   hostFieldKind
	values map[string]bool
	str    func(*Host) *string
}

var hostFields = map[string]hostField{
	"id":                  {kind: fieldReadOnly},
	"uuid":                {kind: fieldReadOnly},
	"created_at":          {kind: fieldReadOnly},
	"updated_at":          {kind: fieldReadOnly},
	"links":               {kind: fieldReadOnly},
	"hostname":            {kind: fieldName, str: func(h *Host) *string { return &h.Hostname }},
	"personality":         {kind: fieldState, values: personalities, str: func(h *Host) *string { return &h.Personality }},
	"subfunctions":        {kind: fieldText, str: func(h *Host) *string { return &h.Subfunctions }},
	"administrative":      {kind: fieldState, values: adminStates, str: func(h *Host) *string { return &h.Administrative }},
	"operational":         {kind: fieldState, values: operStates, str: func(h *Host) *string { return &h.Operational }},
	"availability":        {kind: fieldState, values: availStates, str: func(h *Host) *string { return &h.Availability }},
	"subfunction_oper":    {kind: fieldState, values: operStates, str: func(h *Host) *string { return &h.SubfunctionOper }},
	"subfunction_avail":   {kind: fieldState, values: availStates, str: func(h *Host) *string { return &h.SubfunctionAvail }},
	"task":                {kind: fieldText, str: func(h *Host) *string { return &h.Task }},
	"action":              {kind: fieldAction, str: func(h *Host) *string { return &h.Action }},
	"uptime":              {kind: fieldInt},
	"mgmt_ip":             {kind: fieldText, str: func(h *Host) *string { return &h.MgmtIP }},
	"mgmt_mac":            {kind: fieldText, str: func(h *Host) *string { return &h.MgmtMAC }},
	"cluster_host_ip":     {kind: fieldText, str: func(h *Host) *string { return &h.ClusterHostIP }},
	"bm_ip":               {kind: fieldText, str: func(h *Host) *string { return &h.BMIP }},
	"bm_type":             {kind: fieldText, str: func(h *Host) *string { return &h.BMType }},
	"bm_username":         {kind: fieldText, str: func(h *Host) *string { return &h.BMUsername }},
	"bm_password":         {kind: fieldPassword},
	"mtce_info":           {kind: fieldText, str: func(h *Host) *string { return &h.MtceInfo }},
	"invprovision":        {kind: fieldText, str: func(h *Host) *string { return &h.InvProvision }},
	"vim_progress_status": {kind: fieldText, str: func(h *Host) *string { return &h.VIMProgressStatus }},
}

// fieldError is a rejected field value; it matches ErrInvalidValue.
type fieldError struct {
	field, reason string
}

func (e *fieldError) Error() string {
	return fmt.Sprintf("invalid value for %s: %s", e.field, e.reason)
}
func (e *fieldError) Is(t error) bool { return t == ErrInvalidValue }

// jsonText converts a JSON value to the text StarlingX would see: strings
// unquoted, null → "", numbers and booleans as written, objects and arrays
// as their compact JSON.
func jsonText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", errors.New("missing value")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case 'n':
		if string(raw) == "null" {
			return "", nil
		}
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	return string(raw), nil
}

// parseUptime accepts a JSON integer or a decimal string; null, "" and
// "none" are 0.
func parseUptime(raw json.RawMessage) (int64, error) {
	s, err := jsonText(raw)
	if err != nil {
		return 0, err
	}
	if s == "" || s == "none" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return n, nil
}

// setField applies one field of a request to h. It returns the action
// requested (for "action") and the BMC password (for "bm_password").
func setField(h *Host, name string, raw json.RawMessage, action *string, password *Secret) error {
	f, ok := hostFields[name]
	if !ok {
		return &fieldError{name, "unknown attribute"}
	}
	switch f.kind {
	case fieldReadOnly:
		return &fieldError{name, "read-only"}
	case fieldInt:
		n, err := parseUptime(raw)
		if err != nil {
			return &fieldError{name, err.Error()}
		}
		h.Uptime = n
		return nil
	}
	s, err := jsonText(raw)
	if err != nil {
		return &fieldError{name, err.Error()}
	}
	switch f.kind {
	case fieldState:
		if name == "personality" && (s == "" || s == "none") {
			return &fieldError{name, "must be set"}
		}
		if s != "" && s != "none" && !f.values[s] {
			return &fieldError{name, fmt.Sprintf("%q is not one of %s", s, keys(f.values))}
		}
	case fieldName:
		if s == "" || s == "none" || strings.ContainsAny(s, "/?#% ") || len(s) > 255 {
			return &fieldError{name, fmt.Sprintf("%q is not a valid hostname", s)}
		}
	case fieldAction:
		if s == "" || s == "none" {
			return nil
		}
		if !hostActions[s] {
			return &fieldError{name, fmt.Sprintf("%q is not a host action", s)}
		}
		*action = s
		return nil
	case fieldPassword:
		*password = Secret(s)
		return nil
	}
	*f.str(h) = s
	return nil
}

func keys(m map[string]bool) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, "|")
}

func (h *Host) validate() error {
	if len(h.UUID) != 36 {
		return &fieldError{"uuid", fmt.Sprintf("%q is not 36 characters", h.UUID)}
	}
	if err := setFieldString(h, "hostname", h.Hostname); err != nil {
		return err
	}
	for _, name := range []string{"personality", "administrative", "operational",
		"availability", "subfunction_oper", "subfunction_avail"} {
		if err := setFieldString(h, name, *hostFields[name].str(h)); err != nil {
			return err
		}
	}
	if h.Personality == "" || h.Personality == "none" {
		return &fieldError{"personality", "must be set"}
	}
	return nil
}

func setFieldString(h *Host, name, v string) error {
	raw, _ := json.Marshal(v)
	var a string
	var p Secret
	return setField(h, name, raw, &a, &p)
}

// hostJSON is the wire form: nullable strings are pointers.
type hostJSON struct {
	ID                int64   `json:"id"`
	UUID              string  `json:"uuid"`
	Hostname          string  `json:"hostname"`
	Personality       *string `json:"personality"`
	Subfunctions      *string `json:"subfunctions"`
	Administrative    *string `json:"administrative"`
	Operational       *string `json:"operational"`
	Availability      *string `json:"availability"`
	SubfunctionOper   *string `json:"subfunction_oper"`
	SubfunctionAvail  *string `json:"subfunction_avail"`
	Task              *string `json:"task"`
	Action            *string `json:"action"`
	Uptime            int64   `json:"uptime"`
	MgmtIP            *string `json:"mgmt_ip"`
	MgmtMAC           *string `json:"mgmt_mac"`
	ClusterHostIP     *string `json:"cluster_host_ip"`
	BMIP              *string `json:"bm_ip"`
	BMType            *string `json:"bm_type"`
	BMUsername        *string `json:"bm_username"`
	MtceInfo          *string `json:"mtce_info"`
	InvProvision      *string `json:"invprovision"`
	VIMProgressStatus *string `json:"vim_progress_status"`
	CreatedAt         string  `json:"created_at"`
	UpdatedAt         *string `json:"updated_at"`
	Links             []link  `json:"links,omitempty"`
}

type link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (h Host) wire(self string) hostJSON {
	j := hostJSON{
		ID: h.ID, UUID: h.UUID, Hostname: h.Hostname,
		Personality: opt(h.Personality), Subfunctions: opt(h.Subfunctions),
		Administrative: opt(h.Administrative), Operational: opt(h.Operational),
		Availability: opt(h.Availability), SubfunctionOper: opt(h.SubfunctionOper),
		SubfunctionAvail: opt(h.SubfunctionAvail), Task: opt(h.Task), Action: opt(h.Action),
		Uptime: h.Uptime, MgmtIP: opt(h.MgmtIP), MgmtMAC: opt(h.MgmtMAC),
		ClusterHostIP: opt(h.ClusterHostIP), BMIP: opt(h.BMIP), BMType: opt(h.BMType),
		BMUsername: opt(h.BMUsername), MtceInfo: opt(h.MtceInfo),
		InvProvision: opt(h.InvProvision), VIMProgressStatus: opt(h.VIMProgressStatus),
	}
	if !h.CreatedAt.IsZero() {
		j.CreatedAt = h.CreatedAt.UTC().Format(sysinvTime)
	}
	if !h.UpdatedAt.IsZero() {
		j.UpdatedAt = opt(h.UpdatedAt.UTC().Format(sysinvTime))
	}
	if self != "" {
		j.Links = []link{{Href: self, Rel: "self"}, {Href: self, Rel: "bookmark"}}
	}
	return j
}

// MarshalJSON encodes the record as SysInv does (empty optional strings as
// null, SysInv's timestamp format).
func (h Host) MarshalJSON() ([]byte, error) { return json.Marshal(h.wire("")) }

// UnmarshalJSON decodes a SysInv ihost record leniently, as StarlingX's
// maintenance does: unknown keys (links, SysInv's many other columns) are
// ignored, values follow the rules in the type's comment, and states must
// be valid or "none".
func (h *Host) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		return errors.New("sim: host record is null")
	}
	var out Host
	for k, raw := range m {
		switch k {
		case "id":
			n, err := parseUptime(raw)
			if err != nil {
				return &fieldError{k, err.Error()}
			}
			out.ID = n
		case "uuid", "hostname":
			s, err := jsonText(raw)
			if err != nil {
				return &fieldError{k, err.Error()}
			}
			if k == "uuid" {
				out.UUID = s
			} else {
				out.Hostname = s
			}
		case "created_at", "updated_at":
			s, err := jsonText(raw)
			if err != nil {
				return &fieldError{k, err.Error()}
			}
			t, err := parseSysinvTime(s)
			if err != nil {
				return &fieldError{k, err.Error()}
			}
			if k == "created_at" {
				out.CreatedAt = t
			} else {
				out.UpdatedAt = t
			}
		case "action":
			s, err := jsonText(raw)
			if err != nil {
				return &fieldError{k, err.Error()}
			}
			out.Action = s
		case "links", "bm_password":
		case "personality":
			s, err := jsonText(raw)
			if err != nil {
				return &fieldError{k, err.Error()}
			}
			if s != "" && s != "none" && !personalities[s] {
				return &fieldError{k, fmt.Sprintf("%q is not one of %s", s, keys(personalities))}
			}
			out.Personality = s
		default:
			if _, known := hostFields[k]; !known {
				continue
			}
			var a string
			var p Secret
			if err := setField(&out, k, raw, &a, &p); err != nil {
				return err
			}
		}
	}
	*h = out
	return nil
}

func parseSysinvTime(s string) (time.Time, error) {
	if s == "" || s == "none" {
		return time.Time{}, nil
	}
	for _, layout := range []string{sysinvTime, time.RFC3339Nano, "2006-01-02T15:04:05.999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}

// NameUUID returns the deterministic UUID the simulator gives a hostname in
// [Inventory]: a name-based (version 5 style) UUID.
func NameUUID(name string) string {
	sum := sha1.Sum([]byte("opendev.org/starlingx/metal-go/mtce/sim:" + name))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// Inventory returns a standard-system inventory of n hosts: controller-0
// and controller-1 (unlocked, enabled, available), then worker-0, worker-1,
// ... (n = 1 gives a simplex system with controller-0 only). UUIDs come from
// [NameUUID]; the management addresses are 192.168.204.x as on StarlingX.
// No host has a BMC (bm_type "none").
func Inventory(n int) []Host {
	hosts := make([]Host, 0, n)
	for i := range n {
		name, pers := fmt.Sprintf("worker-%d", i-2), "worker"
		if i < 2 {
			name, pers = fmt.Sprintf("controller-%d", i), "controller"
		}
		hosts = append(hosts, Host{
			ID:               int64(i + 1),
			UUID:             NameUUID(name),
			Hostname:         name,
			Personality:      pers,
			Subfunctions:     pers,
			Administrative:   "unlocked",
			Operational:      "enabled",
			Availability:     "available",
			SubfunctionOper:  "disabled",
			SubfunctionAvail: "not-installed",
			MgmtIP:           fmt.Sprintf("192.168.%d.%d", 204+i/250, i%250+3),
			MgmtMAC:          fmt.Sprintf("08:00:27:%02x:%02x:%02x", (i>>16)&0xff, (i>>8)&0xff, i&0xff),
			BMType:           "none",
			InvProvision:     "provisioned",
		})
	}
	return hosts
}
