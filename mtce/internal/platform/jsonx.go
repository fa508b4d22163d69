package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Object decodes body as exactly one JSON object (surrounding white space
// allowed, nothing else). what names the document in errors.
func Object(what string, body []byte) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &DecodeError{What: what, Reason: "empty body"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return nil, &DecodeError{What: what, Reason: "not a JSON object", Err: err}
	}
	if m == nil {
		return nil, &DecodeError{What: what, Reason: "null instead of an object"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &DecodeError{What: what, Reason: "trailing data after the object"}
	}
	return m, nil
}

// Kind returns the JSON kind of raw: 'n' null, 't' boolean, '"' string,
// '0' number, '{' object, '[' array, 0 for empty.
func Kind(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; c {
	case 'n':
		return 'n'
	case 't', 'f':
		return 't'
	case '"', '{', '[':
		return c
	default:
		return '0'
	}
}

// String decodes a JSON string value; any other kind is an error.
func String(what, field string, raw json.RawMessage) (string, error) {
	if Kind(raw) != '"' {
		return "", &DecodeError{What: what, Field: field, Reason: "is " + KindName(raw) + ", want a string"}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &DecodeError{What: what, Field: field, Reason: "bad string", Err: err}
	}
	return s, nil
}

// Text converts a JSON value to the text StarlingX reads from it (spec
// J.4): a string as is, a number or boolean as written, null as null=true.
// Objects and arrays are errors.
func Text(what, field string, raw json.RawMessage) (s string, null bool, err error) {
	switch Kind(raw) {
	case 'n':
		return "", true, nil
	case '"':
		s, err = String(what, field, raw)
		return s, false, err
	case 't', '0':
		return string(bytes.TrimSpace(raw)), false, nil
	}
	return "", false, &DecodeError{What: what, Field: field, Reason: "is " + KindName(raw) + ", want text"}
}

// KindName names the JSON kind of raw for error messages.
func KindName(raw json.RawMessage) string {
	switch Kind(raw) {
	case 'n':
		return "null"
	case 't':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "empty"
}

// Marshal encodes v as compact JSON without HTML escaping (StarlingX builds
// its bodies by hand and sends '<', '>' and '&' as they are).
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding request body: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Pair is one member of an Ordered object.
type Pair struct {
	Key   string
	Value any
}

// Ordered is a JSON object whose members are encoded in slice order, for
// bodies that must match StarlingX's hand-built key order.
type Ordered []Pair

// MarshalJSON implements json.Marshaler.
func (o Ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := Marshal(p.Key)
		if err != nil {
			return nil, err
		}
		v, err := Marshal(p.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Obj builds an Ordered object from alternating keys and values; it
// panics on an odd count or a non-string key (a programming error).
func Obj(kv ...any) Ordered {
	if len(kv)%2 != 0 {
		panic("platform.Obj: odd number of arguments")
	}
	o := make(Ordered, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		o = append(o, Pair{Key: kv[i].(string), Value: kv[i+1]})
	}
	return o
}
