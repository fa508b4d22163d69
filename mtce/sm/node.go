package sm

import (
	"fmt"

	"opendev.org/starlingx/metal-go/mtce/internal/platform"
)

// ServiceNode is SM's answer to a query of a controller's service node.
//
// Only Hostname, Origin and Swactable are read strictly, as StarlingX
// does; the other keys SM documents are kept when they are strings and
// ignored otherwise.
type ServiceNode struct {
	Hostname  string // the controller the answer is about
	Origin    string // who produced the answer ("sm")
	Swactable bool   // swactable_services == "yes"

	Admin          string // "locked" or "unlocked", as SM sent it ("" if absent)
	Oper           string // "enabled" or "disabled"
	Avail          string // availability text
	ActiveServices string // "yes" or "no"
}

// ParseServiceNode decodes SM's answer to GET /v1/servicenode/<controller>
// strictly: a single JSON object with string values for "hostname" (equal
// to controller), "origin" and "swactable_services" ("yes" or "no").
// Anything else is a *DecodeError wrapping ErrBadResponse: an empty body,
// malformed JSON, trailing data, a missing key, a value of another type,
// another controller's name, another swactable text.
func ParseServiceNode(body []byte, controller string) (ServiceNode, error) {
	const what = "service node"
	m, err := platform.Object(what, body)
	if err != nil {
		return ServiceNode{}, err
	}
	var n ServiceNode
	for _, f := range []struct {
		key string
		dst *string
	}{{"hostname", &n.Hostname}, {"origin", &n.Origin}} {
		raw, ok := m[f.key]
		if !ok {
			return ServiceNode{}, &DecodeError{What: what, Field: f.key, Reason: "missing"}
		}
		if *f.dst, err = platform.String(what, f.key, raw); err != nil {
			return ServiceNode{}, err
		}
	}
	if n.Hostname != controller {
		return ServiceNode{}, &DecodeError{What: what, Field: "hostname",
			Reason: fmt.Sprintf("is %q, want %q (wrong controller)", n.Hostname, controller)}
	}
	raw, ok := m["swactable_services"]
	if !ok {
		return ServiceNode{}, &DecodeError{What: what, Field: "swactable_services", Reason: "missing"}
	}
	yesno, err := platform.String(what, "swactable_services", raw)
	if err != nil {
		return ServiceNode{}, err
	}
	switch yesno {
	case "yes":
		n.Swactable = true
	case "no":
	default:
		return ServiceNode{}, &DecodeError{What: what, Field: "swactable_services",
			Reason: fmt.Sprintf("is %q, want \"yes\" or \"no\"", yesno)}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"admin", &n.Admin}, {"oper", &n.Oper}, {"avail", &n.Avail}, {"active_services", &n.ActiveServices}} {
		if raw, ok := m[f.key]; ok && platform.Kind(raw) == '"' {
			*f.dst, _ = platform.String(what, f.key, raw)
		}
	}
	return n, nil
}
