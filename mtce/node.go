package mtce

import (
	"strconv"
	"strings"
)

// NodeFunctions is the set of functions a host provides, as the bit mask
// mtce uses (nodeBase.h CONTROLLER_TYPE, WORKER_TYPE, STORAGE_TYPE). The
// bits travel on the wire (for example in the hbsAgent command parm[0]).
// The zero value is the empty set.
type NodeFunctions uint32

// Node function bits.
const (
	FunctionController NodeFunctions = 0x01
	FunctionWorker     NodeFunctions = 0x02
	FunctionStorage    NodeFunctions = 0x04

	functionsAll = FunctionController | FunctionWorker | FunctionStorage
)

// FunctionsOf returns the functions named in a subfunctions text exactly as
// mtce computes them (spec K.5): a bit is set when the text contains
// "controller", "worker" or "storage" as a case-sensitive substring. It
// never fails; "none", "" and unrelated text give the empty set.
func FunctionsOf(subfunctions string) NodeFunctions {
	var f NodeFunctions
	if strings.Contains(subfunctions, "controller") {
		f |= FunctionController
	}
	if strings.Contains(subfunctions, "worker") {
		f |= FunctionWorker
	}
	if strings.Contains(subfunctions, "storage") {
		f |= FunctionStorage
	}
	return f
}

// ParseNodeFunctions is the strict counterpart of [FunctionsOf]. It accepts
// "none" (the empty set) or the comma-separated lists sysinv writes in a
// subfunctions field, in any order: the tokens "controller", "worker",
// "storage", "edgeworker" (the personality sysinv copies into an edge
// worker's subfunctions; a worker to mtce, whose substring rule finds
// "worker" in it) and "lowlatency" (a worker variant that sets no bit),
// each function at most once. Any other text, blank or empty token is an
// error naming the text.
func ParseNodeFunctions(text string) (NodeFunctions, error) {
	if text == "none" {
		return 0, nil
	}
	var f NodeFunctions
	var lowlatency bool
	for tok := range strings.SplitSeq(text, ",") {
		var bit NodeFunctions
		switch tok {
		case "controller":
			bit = FunctionController
		case "worker", "edgeworker":
			bit = FunctionWorker
		case "storage":
			bit = FunctionStorage
		case "lowlatency":
			if lowlatency {
				return 0, &ParseError{Kind: "node functions", Value: text}
			}
			lowlatency = true
			continue
		default:
			return 0, &ParseError{Kind: "node functions", Value: text}
		}
		if f&bit != 0 {
			return 0, &ParseError{Kind: "node functions", Value: text}
		}
		f |= bit
	}
	if f == 0 {
		return 0, &ParseError{Kind: "node functions", Value: text}
	}
	return f, nil
}

// Has reports whether every function of g is in f.
func (f NodeFunctions) Has(g NodeFunctions) bool { return g != 0 && f&g == g }

// Main returns the host's main function as mtce picks it: controller if
// present, else worker, else storage; zero for the empty set.
func (f NodeFunctions) Main() NodeFunctions {
	switch {
	case f&FunctionController != 0:
		return FunctionController
	case f&FunctionWorker != 0:
		return FunctionWorker
	case f&FunctionStorage != 0:
		return FunctionStorage
	}
	return 0
}

// String returns the functions as a subfunctions list in mtce's order
// ("controller,worker"), or "none" for the empty set. Unknown bits are
// shown in hexadecimal.
func (f NodeFunctions) String() string {
	if f == 0 {
		return "none"
	}
	var parts []string
	if f&FunctionController != 0 {
		parts = append(parts, "controller")
	}
	if f&FunctionWorker != 0 {
		parts = append(parts, "worker")
	}
	if f&FunctionStorage != 0 {
		parts = append(parts, "storage")
	}
	if rest := f &^ functionsAll; rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, ",")
}

// Personality is a host's personality as sysinv writes it. The zero value
// is [PersonalityNone] ("none": not given).
type Personality uint8

// Personalities.
const (
	PersonalityNone       Personality = iota // "none"
	PersonalityController                    // "controller"
	PersonalityWorker                        // "worker"
	PersonalityStorage                       // "storage"
	PersonalityEdgeworker                    // "edgeworker": a worker to mtce ("worker" is a substring)
)

var personalities = enum[Personality]{kind: "personality", names: []string{"none", "controller", "worker", "storage", "edgeworker"}}

// String returns the text sysinv writes for p.
func (p Personality) String() string { return personalities.str(p) }

// Function returns the node function bit of p (zero for PersonalityNone).
func (p Personality) Function() NodeFunctions {
	switch p {
	case PersonalityController:
		return FunctionController
	case PersonalityWorker, PersonalityEdgeworker:
		return FunctionWorker
	case PersonalityStorage:
		return FunctionStorage
	}
	return 0
}

// ParsePersonality accepts exactly "controller", "worker", "storage",
// "edgeworker" (sysinv's personalities) and "none".
func ParsePersonality(text string) (Personality, error) { return personalities.parse(text) }

// MarshalText implements encoding.TextMarshaler.
func (p Personality) MarshalText() ([]byte, error) { return personalities.marshal(p) }

// UnmarshalText implements encoding.TextUnmarshaler with [ParsePersonality].
func (p *Personality) UnmarshalText(text []byte) (err error) {
	*p, err = ParsePersonality(string(text))
	return err
}

// SystemType is the system's configuration (mtce's system_type_enum). The
// zero value is not a valid system type; mtce's own default, used when
// platform.conf says nothing usable, is [SystemAIOSimplex].
type SystemType uint8

// System types.
const (
	SystemStandard        SystemType = iota + 1 // "standard" (mtce SYSTEM_TYPE__NORMAL)
	SystemAIODuplex                             // "duplex"
	SystemAIODuplexDirect                       // "duplex-direct"
	SystemAIOSimplex                            // "simplex"
)

var systemTypes = enum[SystemType]{kind: "system type", names: []string{"", "standard", "duplex", "duplex-direct", "simplex"}}

// String returns "standard" or the All-in-one system_mode text.
func (t SystemType) String() string { return systemTypes.str(t) }

// IsAIO reports whether t is one of the All-in-one types.
func (t SystemType) IsAIO() bool { return t >= SystemAIODuplex && t <= SystemAIOSimplex }

// ParseSystemType accepts exactly the texts [SystemType.String] returns:
// "standard", "duplex", "duplex-direct" and "simplex". To derive the type
// from platform.conf values use [SystemTypeOf].
func ParseSystemType(text string) (SystemType, error) { return systemTypes.parse(text) }

// SystemTypeOf derives the system type from the values of platform.conf's
// system_type and system_mode keys as mtce does (spec K.5): both are
// compared lower-cased; a system_type of "standard" gives [SystemStandard];
// otherwise system_mode "duplex", "duplex-direct" or "simplex" picks the
// All-in-one variant, and anything else, including "", gives
// [SystemAIOSimplex].
func SystemTypeOf(systemType, systemMode string) SystemType {
	if strings.ToLower(systemType) == "standard" {
		return SystemStandard
	}
	switch strings.ToLower(systemMode) {
	case "duplex":
		return SystemAIODuplex
	case "duplex-direct":
		return SystemAIODuplexDirect
	}
	return SystemAIOSimplex
}

// MarshalText implements encoding.TextMarshaler.
func (t SystemType) MarshalText() ([]byte, error) { return systemTypes.marshal(t) }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseSystemType].
func (t *SystemType) UnmarshalText(text []byte) (err error) {
	*t, err = ParseSystemType(string(text))
	return err
}

// Network is one of the networks maintenance messages travel on. Its text
// is the interface name mtce writes in messages (the mtcAlive identity's
// "interface" key, spec K.2). The zero value is not a valid network.
type Network uint8

// Networks.
const (
	NetworkMgmt        Network = iota + 1 // "Mgmnt": management
	NetworkClusterHost                    // "Clstr": cluster-host
	NetworkPxeboot                        // "Pxeboot": pxeboot
)

var networks = enum[Network]{kind: "network", names: []string{"", "Mgmnt", "Clstr", "Pxeboot"}}

// String returns mtce's interface name for n.
func (n Network) String() string { return networks.str(n) }

// Valid reports whether n is one of the three networks.
func (n Network) Valid() bool { return networks.valid(n) }

// ParseNetwork accepts exactly "Mgmnt", "Clstr" and "Pxeboot".
func ParseNetwork(text string) (Network, error) { return networks.parse(text) }

// MarshalText implements encoding.TextMarshaler.
func (n Network) MarshalText() ([]byte, error) { return networks.marshal(n) }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseNetwork].
func (n *Network) UnmarshalText(text []byte) (err error) {
	*n, err = ParseNetwork(string(text))
	return err
}

// BMCType is a host's bm_type as sysinv writes it. The zero value is
// [BMCNone] ("none": not provisioned).
type BMCType uint8

// BMC types.
const (
	BMCNone    BMCType = iota // "none": deprovisioned
	BMCGeneric                // "bmc": legacy generic type
	BMCDynamic                // "dynamic": learn redfish or ipmi
	BMCIPMI                   // "ipmi"
	BMCRedfish                // "redfish"
)

var bmcTypes = enum[BMCType]{kind: "bm_type", names: []string{"none", "bmc", "dynamic", "ipmi", "redfish"}}

// String returns the text sysinv writes for t.
func (t BMCType) String() string { return bmcTypes.str(t) }

// Provisioned reports whether t names a BMC type (anything but none).
func (t BMCType) Provisioned() bool { return t != BMCNone && bmcTypes.valid(t) }

// ParseBMCType accepts exactly "none", "bmc", "dynamic", "ipmi" and
// "redfish". mtce lower-cases a bm_type it receives from sysinv before using
// it (spec J.5); callers holding raw input should do the same first.
func ParseBMCType(text string) (BMCType, error) { return bmcTypes.parse(text) }

// MarshalText implements encoding.TextMarshaler.
func (t BMCType) MarshalText() ([]byte, error) { return bmcTypes.marshal(t) }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseBMCType].
func (t *BMCType) UnmarshalText(text []byte) (err error) {
	*t, err = ParseBMCType(string(text))
	return err
}
