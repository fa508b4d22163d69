package bmc

import (
	"context"
	"strings"
)

// Driver talks to one BMC over one protocol. Its method set follows
// bmclib/v2's provider vocabulary (Open, Close, PowerStateGet, PowerSet,
// BootDeviceSet) so that a bmclib-backed driver can be added where that
// module resolves.
//
// Contract for implementations (checked by package bmctest):
//   - Open must succeed before any other method; before it they return an
//     error matching ErrNotOpen, after Close one matching ErrClosed.
//     Close is idempotent, bounded in time and logs out any session.
//   - Every method honours its context: when it is cancelled or its
//     deadline passes, the method returns promptly with an error matching
//     ctx.Err(), and it leaves no goroutine behind.
//   - Every method also has its own time limit (from the driver's config),
//     so a BMC that stops answering gives an error matching ErrTimeout even
//     with a context that never ends.
//   - Capabilities, valid after a successful Open, says what this BMC can
//     do through this driver. Every method whose capability is missing
//     returns an error matching ErrNotSupported and has no effect.
//   - Errors are *Error values (or wrap one) carrying a kind sentinel
//     (ErrTimeout, ErrAuth, ...) where the failure was classified.
//   - Methods are safe for concurrent use; a driver may serialise them.
//   - PowerSet does not check the current power state: that is the job of
//     PowerController, which implements StarlingX's power semantics.
type Driver interface {
	// Name is the driver's short name ("ipmi", "ipmitool", "redfish").
	Name() string
	// Protocol is the management protocol the driver speaks.
	Protocol() Protocol
	// Capabilities is what the driver can do with this BMC (0 before Open).
	Capabilities() Capability

	// Open connects, authenticates and learns what the BMC supports.
	Open(ctx context.Context) error
	// Close releases sessions and connections. It is idempotent.
	Close(ctx context.Context) error

	// PowerStateGet returns the chassis power state.
	PowerStateGet(ctx context.Context) (PowerState, error)
	// PowerSet requests a power action without checking the current state.
	PowerSet(ctx context.Context, action PowerAction) error
	// BootDeviceSet selects the boot device for the next boot (or every
	// boot if opts.Persistent).
	BootDeviceSet(ctx context.Context, dev BootDevice, opts BootOptions) error
	// BMCInfo describes the BMC.
	BMCInfo(ctx context.Context) (Info, error)
	// RestartCause returns why the host last (re)started.
	RestartCause(ctx context.Context) (RestartCause, error)
	// Sensors reads every sensor the BMC exposes.
	Sensors(ctx context.Context) ([]Sensor, error)
}

// Capability is a set of operations a driver supports for a BMC.
type Capability uint32

// Capabilities. CapPowerState is needed by PowerController for every action.
const (
	CapPowerState Capability = 1 << iota
	CapPowerOn
	CapPowerOff
	CapPowerSoft
	CapPowerReset
	CapPowerCycle
	CapBootPXE
	CapInfo
	CapRestartCause
	CapSensors

	// CapAll is every capability.
	CapAll = CapPowerState | CapPowerOn | CapPowerOff | CapPowerSoft | CapPowerReset |
		CapPowerCycle | CapBootPXE | CapInfo | CapRestartCause | CapSensors
)

// CapabilityList lists every single capability, in a stable order.
var CapabilityList = []Capability{
	CapPowerState, CapPowerOn, CapPowerOff, CapPowerSoft, CapPowerReset,
	CapPowerCycle, CapBootPXE, CapInfo, CapRestartCause, CapSensors,
}

var capNames = map[Capability]string{
	CapPowerState:   "power-state",
	CapPowerOn:      "power-on",
	CapPowerOff:     "power-off",
	CapPowerSoft:    "power-soft",
	CapPowerReset:   "power-reset",
	CapPowerCycle:   "power-cycle",
	CapBootPXE:      "boot-pxe",
	CapInfo:         "bmc-info",
	CapRestartCause: "restart-cause",
	CapSensors:      "sensors",
}

// Has reports whether every capability in want is in c.
func (c Capability) Has(want Capability) bool { return want != 0 && c&want == want }

// String lists the capabilities, e.g. "power-state|power-on".
func (c Capability) String() string {
	if c == 0 {
		return "none"
	}
	var parts []string
	for _, one := range CapabilityList {
		if c&one != 0 {
			parts = append(parts, capNames[one])
		}
	}
	if rest := c &^ CapAll; rest != 0 {
		parts = append(parts, "unknown")
	}
	return strings.Join(parts, "|")
}
