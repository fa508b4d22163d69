package eventapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// None is the text mtce reads for a key that is absent or null (spec J.4).
const None = "none"

// Fields are the keys of a request body that mtce reads (spec J.4), each
// as the text mtce sees: a string verbatim, an absent key or a JSON null
// as [None], a number, boolean, object or array as its compact JSON text
// (sysinv's "uptime": 0 reads "0", "reserved": false reads "false").
// Hostname is also the key VIM and SM name their host with; Severity is
// VIM's event key.
type Fields struct {
	UUID             string
	Hostname         string
	Personality      string
	Subfunctions     string
	MgmtIP           string
	MgmtMAC          string
	ClusterHostIP    string
	BMIP             string
	BMType           string
	BMUsername       string
	Administrative   string
	Operational      string
	Availability     string
	SubfunctionOper  string
	SubfunctionAvail string
	Task             string
	Action           string
	Uptime           string
	ID               string
	MtceInfo         string
	Operation        string
	InvProvision     string
	Severity         string
}

// keys maps each body key to its field.
var keys = []struct {
	key string
	f   func(*Fields) *string
}{
	{"uuid", func(f *Fields) *string { return &f.UUID }},
	{"hostname", func(f *Fields) *string { return &f.Hostname }},
	{"personality", func(f *Fields) *string { return &f.Personality }},
	{"subfunctions", func(f *Fields) *string { return &f.Subfunctions }},
	{"mgmt_ip", func(f *Fields) *string { return &f.MgmtIP }},
	{"mgmt_mac", func(f *Fields) *string { return &f.MgmtMAC }},
	{"cluster_host_ip", func(f *Fields) *string { return &f.ClusterHostIP }},
	{"bm_ip", func(f *Fields) *string { return &f.BMIP }},
	{"bm_type", func(f *Fields) *string { return &f.BMType }},
	{"bm_username", func(f *Fields) *string { return &f.BMUsername }},
	{"administrative", func(f *Fields) *string { return &f.Administrative }},
	{"operational", func(f *Fields) *string { return &f.Operational }},
	{"availability", func(f *Fields) *string { return &f.Availability }},
	{"subfunction_oper", func(f *Fields) *string { return &f.SubfunctionOper }},
	{"subfunction_avail", func(f *Fields) *string { return &f.SubfunctionAvail }},
	{"task", func(f *Fields) *string { return &f.Task }},
	{"action", func(f *Fields) *string { return &f.Action }},
	{"uptime", func(f *Fields) *string { return &f.Uptime }},
	{"id", func(f *Fields) *string { return &f.ID }},
	{"mtce_info", func(f *Fields) *string { return &f.MtceInfo }},
	{"operation", func(f *Fields) *string { return &f.Operation }},
	{"invprovision", func(f *Fields) *string { return &f.InvProvision }},
	{"severity", func(f *Fields) *string { return &f.Severity }},
}

// noneFields returns Fields with every key [None].
func noneFields() Fields {
	var f Fields
	for _, k := range keys {
		*k.f(&f) = None
	}
	return f
}

// ParseBody reads a request body as mtce's jsonUtil_load_host does (spec
// J.4). The body must be one JSON object (surrounding white space
// allowed); anything else — invalid JSON, a bare null, an array, trailing
// data — is an error wrapping [ErrBadBody]. Keys this package does not
// read are ignored whatever their value. A body with an "error_message"
// key loads no fields: every field is [None], as in mtce. Duplicate keys:
// the last one wins (Go's and Python's rule).
func ParseBody(body []byte) (Fields, error) {
	f := noneFields()
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return f, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	if m == nil {
		return f, fmt.Errorf("%w: not a JSON object", ErrBadBody)
	}
	if _, err := dec.Token(); err == nil {
		return f, fmt.Errorf("%w: data after the JSON object", ErrBadBody)
	} else if !errors.Is(err, io.EOF) {
		return f, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	if _, ok := m["error_message"]; ok {
		return f, nil
	}
	for _, k := range keys {
		raw, ok := m[k.key]
		if !ok {
			continue
		}
		*k.f(&f) = jsonText(raw)
	}
	return f, nil
}

// jsonText is the text mtce sees for one JSON value: a string unquoted,
// null as "none", anything else as its compact JSON text. raw is valid
// JSON (it came out of a successful decode).
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return None
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return None // unreachable for decoded input
		}
		return s
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return strings.TrimSpace(string(raw))
	}
	return b.String()
}

// given reports whether a field text carries a value: neither empty nor
// "none" (mtce also treats "None", Python's null spelling, as absent where
// it checks names, spec J.5).
func given(s string) bool { return s != "" && s != None }
