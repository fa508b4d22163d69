package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// None is what StarlingX's JSON reader (jsonUtil_get_key_val) returns for a
// key that is absent or null (spec K.2, J.4); this package's JSON accessors
// do the same.
const None = "none"

// Service names found in event JSON (spec K.3).
const (
	ServiceCollectd  = "collectd_notifier"
	ServiceHwmond    = "hwmond"
	ServicePmond     = "pmond"
	ServiceMtcClient = "mtcClient"
)

// Degrade values of collectd notifications.
const (
	DegradeAssert = "assert"
	DegradeClear  = "clear"
)

// FeaturePxebootMtcAlive is the feature the client's ready event announces.
const FeaturePxebootMtcAlive = "pxeboot_mtcAlive"

// Event is the JSON object of an event: the whole payload of a JSON
// datagram (collectd), or the buffer of a "mtce event msg  :" message
// (hwmond, pmond, the client's ready event). Fields whose key is absent or
// null read "none"; numbers and booleans read as their JSON text.
type Event struct {
	Service  string
	Hostname string
	Degrade  string // collectd: "assert" or "clear"
	Resource string // collectd: up to two comma-separated resources
	Sensor   string // hwmond
	Process  string // pmond
	// ActiveControllerPxebootAddress and Features come in the client's ready
	// event; Features is nil when absent.
	ActiveControllerPxebootAddress string
	Features                       []string
}

// ParseEvent decodes an event JSON object tolerantly: unknown keys are
// ignored, absent and null keys read "none". Text that is not a JSON object
// is an error.
func ParseEvent(text string) (Event, error) {
	o, err := parseObject(text)
	if err != nil {
		return Event{}, err
	}
	ev := Event{
		Service:                        o.get("service"),
		Hostname:                       o.get("hostname"),
		Degrade:                        o.get("degrade"),
		Resource:                       o.get("resource"),
		Sensor:                         o.get("sensor"),
		Process:                        o.get("process"),
		ActiveControllerPxebootAddress: o.get("active_controller_pxeboot_address"),
	}
	if raw, ok := o["features"]; ok {
		var f []string
		if json.Unmarshal(raw, &f) == nil {
			ev.Features = f
		}
	}
	return ev, nil
}

// AppendCollectd appends the JSON datagram collectd's fm_notifier sends to
// mtcAgent (spec K.3): {"service":"collectd_notifier","hostname":H,
// "degrade":D,"resource":R}, with no NUL.
func AppendCollectd(b []byte, hostname, degrade, resource string) []byte {
	b = append(b, `{"service":"collectd_notifier","hostname":`...)
	b = appendJSONString(b, hostname)
	b = append(b, `,"degrade":`...)
	b = appendJSONString(b, degrade)
	b = append(b, `,"resource":`...)
	b = appendJSONString(b, resource)
	return append(b, '}')
}

var errNotObject = errors.New("not a JSON object")

// object is a decoded JSON object with StarlingX's key lookup rules.
type object map[string]json.RawMessage

func parseObject(text string) (object, error) {
	var o object
	if err := json.Unmarshal([]byte(text), &o); err != nil {
		return nil, err
	}
	if o == nil { // "null"
		return nil, errNotObject
	}
	return o, nil
}

// get returns the value of key as jsonUtil_get_key_val does: a string's
// contents, the JSON text of any other value, "none" when absent or null.
func (o object) get(key string) string {
	raw, ok := o[key]
	if !ok {
		return None
	}
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return None
	}
	if len(raw) >= 2 && raw[0] == '"' {
		// The object was validated: a quoted string without escapes is its
		// contents (valid UTF-8 being the common case).
		if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner)
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

// has reports whether key is present with a non-null value.
func (o object) has(key string) bool {
	raw, ok := o[key]
	return ok && string(bytes.TrimSpace(raw)) != "null"
}

// uint32Of returns key's value as an unsigned 32-bit number, if it is one.
func (o object) uint32Of(key string) (uint32, bool) {
	raw, ok := o[key]
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(raw)), 10, 32)
	return uint32(v), err == nil
}

// appendJSONString appends s as a JSON string without HTML escaping (mtce
// writes '<', '>' and '&' as they are). Invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c >= 0x20:
				b = append(b, c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
