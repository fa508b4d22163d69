package sysinv

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform"
)

// Host is a SysInv ihost record as maintenance reads it: the mtce.Host
// fields plus the few others maintenance uses.
type Host struct {
	mtce.Host

	Uptime       uint64 // "uptime", seconds (0 when absent)
	MtceInfo     string // "mtce_info" as SysInv holds it ("none" when absent)
	InvProvision string // "invprovision" ("none" when absent)
	// ActionText is "action" as SysInv wrote it. Host.Action holds its
	// maintenance value when it is one of mtce's actions, ActionNone
	// otherwise (SysInv also writes texts such as "force-unlock" that
	// reach maintenance as other actions).
	ActionText string
}

const hostWhat = "host record"

// ParseHost decodes one ihost record (the answer to GET or PATCH
// /v1/ihosts/<id>) the way StarlingX reads it (spec J.4), with strict
// checks where maintenance relies on a value:
//
//   - the body is one JSON object; unknown keys are ignored;
//   - text fields accept a string, a number or a boolean (taken as its
//     JSON text); null or absent means "none"; an object or array is an
//     error;
//   - "uuid" must be a UUID and "hostname" a non-empty name;
//   - "administrative", "operational", "availability", "subfunction_oper",
//     "subfunction_avail", "personality" and "bm_type" (lower-cased first,
//     as mtce does) must be texts mtce knows, or "none";
//   - "task" is kept as written ("none" and "" are TaskNone): SysInv writes
//     its own texts there too;
//   - "uptime" is a non-negative integer, as a number or a decimal string.
//
// Every failure is a *DecodeError wrapping ErrBadResponse.
func ParseHost(body []byte) (Host, error) {
	m, err := platform.Object(hostWhat, body)
	if err != nil {
		return Host{}, err
	}
	return hostFrom(m)
}

// text returns the J.4 text of key: "none" when absent or null.
func text(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok {
		return "none", nil
	}
	s, null, err := platform.Text(hostWhat, key, raw)
	if err != nil {
		return "", err
	}
	if null {
		return "none", nil
	}
	return s, nil
}

func hostFrom(m map[string]json.RawMessage) (Host, error) {
	var h Host
	var err error
	str := func(key string, dst *string) {
		if err == nil {
			*dst, err = text(m, key)
		}
	}
	str("uuid", &h.UUID)
	str("hostname", &h.Name)
	str("subfunctions", &h.Subfunctions)
	str("mgmt_ip", &h.MgmtIP)
	str("mgmt_mac", &h.MgmtMAC)
	str("cluster_host_ip", &h.ClusterHostIP)
	str("bm_ip", &h.BMIP)
	str("bm_username", &h.BMUsername)
	str("mtce_info", &h.MtceInfo)
	str("invprovision", &h.InvProvision)
	str("action", &h.ActionText)
	var task string
	str("task", &task)
	if err != nil {
		return Host{}, err
	}
	if !platform.ValidUUID(h.UUID) {
		return Host{}, &DecodeError{What: hostWhat, Field: "uuid", Reason: fmt.Sprintf("%q is not a UUID", h.UUID)}
	}
	if err := platform.CheckName("sysinv", "hostname", h.Name); err != nil {
		return Host{}, &DecodeError{What: hostWhat, Field: "hostname", Reason: fmt.Sprintf("%q is not a host name", h.Name)}
	}
	if task != "none" {
		h.Task = mtce.Task(task)
	}
	if a, perr := mtce.ParseAdminAction(h.ActionText); perr == nil {
		h.Action = a
	}
	enums := []struct {
		key   string
		lower bool
		dst   interface{ UnmarshalText([]byte) error }
	}{
		{"administrative", false, &h.Admin},
		{"operational", false, &h.Oper},
		{"availability", false, &h.Avail},
		{"subfunction_oper", false, &h.SubfOper},
		{"subfunction_avail", false, &h.SubfAvail},
		{"personality", false, &h.Personality},
		{"bm_type", true, &h.BMType},
	}
	for _, e := range enums {
		s, err := text(m, e.key)
		if err != nil {
			return Host{}, err
		}
		if s == "" {
			s = "none"
		}
		if e.lower {
			s = strings.ToLower(s)
		}
		if err := e.dst.UnmarshalText([]byte(s)); err != nil {
			return Host{}, &DecodeError{What: hostWhat, Field: e.key, Reason: "unknown value", Err: err}
		}
	}
	if raw, ok := m["uptime"]; ok {
		n, err := uintOf(hostWhat, "uptime", raw)
		if err != nil {
			return Host{}, err
		}
		h.Uptime = n
	}
	return h, nil
}

// uintOf reads a non-negative integer given as a number or a decimal
// string; null is 0.
func uintOf(what, key string, raw json.RawMessage) (uint64, error) {
	s, null, err := platform.Text(what, key, raw)
	if err != nil {
		return 0, err
	}
	if null || s == "" || s == "none" {
		return 0, nil
	}
	n, perr := strconv.ParseUint(s, 10, 64)
	if perr != nil {
		return 0, &DecodeError{What: what, Field: key, Reason: fmt.Sprintf("%q is not a non-negative integer", s)}
	}
	return n, nil
}

// HostPage is one page of an ihost list.
type HostPage struct {
	Hosts []Host
	// Next is the query of the next page ("limit=5&marker=<uuid>"), or ""
	// on the last page. Only the query of SysInv's "next" URL is kept: its
	// host is SysInv's own view of itself and may not be reachable.
	Next string
}

// ParseHostList decodes the answer to GET /v1/ihosts: {"ihosts": [record,
// ...], "next": "<url>"}, each record checked as ParseHost does.
func ParseHostList(body []byte) (HostPage, error) {
	const what = "host list"
	m, err := platform.Object(what, body)
	if err != nil {
		return HostPage{}, err
	}
	raw, ok := m["ihosts"]
	if !ok {
		return HostPage{}, &DecodeError{What: what, Field: "ihosts", Reason: "missing"}
	}
	if platform.Kind(raw) != '[' {
		return HostPage{}, &DecodeError{What: what, Field: "ihosts", Reason: "is " + platform.KindName(raw) + ", want an array"}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return HostPage{}, &DecodeError{What: what, Field: "ihosts", Reason: "bad array", Err: err}
	}
	var page HostPage
	for i, it := range items {
		hm, err := platform.Object(hostWhat, it)
		if err != nil {
			return HostPage{}, &DecodeError{What: what, Field: fmt.Sprintf("ihosts[%d]", i), Err: err}
		}
		h, err := hostFrom(hm)
		if err != nil {
			return HostPage{}, &DecodeError{What: what, Field: fmt.Sprintf("ihosts[%d]", i), Err: err}
		}
		page.Hosts = append(page.Hosts, h)
	}
	if raw, ok := m["next"]; ok && platform.Kind(raw) != 'n' {
		next, err := platform.String(what, "next", raw)
		if err != nil {
			return HostPage{}, err
		}
		if next != "" {
			u, err := url.Parse(next)
			if err != nil || u.RawQuery == "" {
				return HostPage{}, &DecodeError{What: what, Field: "next", Reason: fmt.Sprintf("%q is not a page URL", next)}
			}
			page.Next = u.RawQuery
		}
	}
	return page, nil
}
