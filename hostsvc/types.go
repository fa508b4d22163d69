package hostsvc

import (
	"fmt"
	"strings"
)

// Function is a node function (personality) whose host services are run
// from their own script directory. The values are the StarlingX node-type
// bits (nodeBase.h), so a [FunctionSet] is their bitwise OR.
type Function uint8

// Node functions.
const (
	Controller Function = 0x01 // scripts in <root>/controller
	Worker     Function = 0x02 // scripts in <root>/worker
	Storage    Function = 0x04 // scripts in <root>/storage
)

// functionOrder is the scheduling priority of pending starts (E.3):
// controller, then worker, then storage.
var functionOrder = [...]Function{Controller, Worker, Storage}

// String returns the function's directory name: "controller", "worker" or
// "storage"; an invalid value prints as "function(N)".
func (f Function) String() string {
	switch f {
	case Controller:
		return "controller"
	case Worker:
		return "worker"
	case Storage:
		return "storage"
	}
	return fmt.Sprintf("function(%d)", uint8(f))
}

// Valid reports whether f is exactly one of Controller, Worker, Storage.
func (f Function) Valid() bool { return f == Controller || f == Worker || f == Storage }

// priority is the function's rank among pending starts (lower runs first).
func (f Function) priority() int {
	for i, g := range functionOrder {
		if f == g {
			return i
		}
	}
	return len(functionOrder)
}

// FunctionSet is the set of functions of a node, e.g. Controller|Worker on an
// all-in-one controller (platform.conf "subfunction=controller,worker").
type FunctionSet uint8

// Functions returns the set holding fs.
func Functions(fs ...Function) FunctionSet {
	var s FunctionSet
	for _, f := range fs {
		s |= FunctionSet(f)
	}
	return s
}

// Has reports whether f is in the set.
func (s FunctionSet) Has(f Function) bool { return f.Valid() && s&FunctionSet(f) != 0 }

// Primary returns the node's main function as StarlingX picks it: controller
// if present, else worker, else storage. It returns 0 for an empty set.
func (s FunctionSet) Primary() Function {
	for _, f := range functionOrder {
		if s.Has(f) {
			return f
		}
	}
	return 0
}

// String returns the set as platform.conf writes it, e.g. "controller,worker".
func (s FunctionSet) String() string {
	var parts []string
	for _, f := range functionOrder {
		if s.Has(f) {
			parts = append(parts, f.String())
		}
	}
	if rest := s &^ Functions(functionOrder[:]...); rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%02x", uint8(rest)))
	}
	return strings.Join(parts, ",")
}

// Action is what a script set is asked to do; it is the first argument given
// to every script.
type Action uint8

// Actions.
const (
	Start Action = 1 + iota // "start"
	Stop                    // "stop"
)

// String returns "start" or "stop"; an invalid value prints as "action(N)".
func (a Action) String() string {
	switch a {
	case Start:
		return "start"
	case Stop:
		return "stop"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Valid reports whether a is Start or Stop.
func (a Action) Valid() bool { return a == Start || a == Stop }

// SystemType is the StarlingX system type (platform.conf system_type and
// system_mode). The zero value is invalid, so a forgotten field is caught by
// Validate; the mtce package converts from its own representation.
type SystemType uint8

// System types.
const (
	Standard        SystemType = 1 + iota // "standard" (SYSTEM_TYPE__NORMAL)
	AIODuplex                             // all-in-one duplex
	AIODuplexDirect                       // all-in-one duplex-direct
	AIOSimplex                            // all-in-one simplex
)

// String returns a short name ("standard", "aio-duplex", ...).
func (t SystemType) String() string {
	switch t {
	case Standard:
		return "standard"
	case AIODuplex:
		return "aio-duplex"
	case AIODuplexDirect:
		return "aio-duplex-direct"
	case AIOSimplex:
		return "aio-simplex"
	}
	return fmt.Sprintf("system(%d)", uint8(t))
}

// Valid reports whether t is one of the defined system types.
func (t SystemType) Valid() bool { return t >= Standard && t <= AIOSimplex }

// AIO reports whether t is an all-in-one system ("not standard" in the C++
// code, which is what enables the stop-list merge of section E.1).
func (t SystemType) AIO() bool { return t.Valid() && t != Standard }

// Node describes the node the services run on. It is an input: the
// configuration package reads it from /etc/platform/platform.conf.
type Node struct {
	Functions FunctionSet
	System    SystemType
}

// Validate reports a *ConfigError for an empty or unknown function set or an
// invalid system type.
func (n Node) Validate() error {
	if n.Functions == 0 {
		return &ConfigError{Field: "Node.Functions", Reason: "empty (need controller, worker and/or storage)"}
	}
	if n.Functions&^Functions(functionOrder[:]...) != 0 {
		return &ConfigError{Field: "Node.Functions", Reason: fmt.Sprintf("unknown function bits in %s", n.Functions)}
	}
	if !n.System.Valid() {
		return &ConfigError{Field: "Node.System", Reason: fmt.Sprintf("invalid system type %d", uint8(n.System))}
	}
	return nil
}

// AIOController reports whether the node is an all-in-one controller: an AIO
// system and both the controller and the worker function. Such a node
// auto-starts controller, then worker services, gated by the subfunction
// goenabled flag, and its worker result drives the subfunction failure flag.
func (n Node) AIOController() bool {
	return n.System.AIO() && n.Functions.Has(Controller) && n.Functions.Has(Worker)
}

// Command names one script set: a function and an action. It is the key the
// Scheduler coalesces requests on; a stop never merges into a start.
type Command struct {
	Function Function
	Action   Action
}

// StartCommand returns the command starting f's services.
func StartCommand(f Function) Command { return Command{Function: f, Action: Start} }

// StopCommand returns the command stopping f's services.
func StopCommand(f Function) Command { return Command{Function: f, Action: Stop} }

// Valid reports whether both the function and the action are valid.
func (c Command) Valid() bool { return c.Function.Valid() && c.Action.Valid() }

// Validate returns an error wrapping ErrInvalidCommand when c is not valid.
func (c Command) Validate() error {
	if !c.Valid() {
		return fmt.Errorf("%w: %s %s", ErrInvalidCommand, c.Action, c.Function)
	}
	return nil
}

// String returns the StarlingX command name, e.g. "start controller host
// services"; it is the text of a passing result (section E.2).
func (c Command) String() string {
	return c.Action.String() + " " + c.Function.String() + " host services"
}
