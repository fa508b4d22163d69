package mtce

// AdminState is a host's administrative state as sysinv and mtce write it.
// The zero value is [AdminNone], the text "none" that mtce's inventory
// record holds when sysinv did not send the field (spec J.4).
type AdminState uint8

// Administrative states.
const (
	AdminNone     AdminState = iota // "none": not given
	AdminLocked                     // "locked"
	AdminUnlocked                   // "unlocked"
)

var adminStates = enum[AdminState]{kind: "admin state", names: []string{"none", "locked", "unlocked"}}

// String returns the text StarlingX writes for s.
func (s AdminState) String() string { return adminStates.str(s) }

// ParseAdminState accepts exactly "locked", "unlocked" and "none".
func ParseAdminState(text string) (AdminState, error) { return adminStates.parse(text) }

// MarshalText implements encoding.TextMarshaler.
func (s AdminState) MarshalText() ([]byte, error) { return adminStates.marshal(s) }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseAdminState].
func (s *AdminState) UnmarshalText(text []byte) (err error) {
	*s, err = ParseAdminState(string(text))
	return err
}

// OperState is a host's (or its subfunction's) operational state. The zero
// value is [OperNone] ("none").
type OperState uint8

// Operational states.
const (
	OperNone     OperState = iota // "none": not given
	OperDisabled                  // "disabled"
	OperEnabled                   // "enabled"
)

var operStates = enum[OperState]{kind: "operational state", names: []string{"none", "disabled", "enabled"}}

// String returns the text StarlingX writes for s.
func (s OperState) String() string { return operStates.str(s) }

// ParseOperState accepts exactly "disabled", "enabled" and "none".
func ParseOperState(text string) (OperState, error) { return operStates.parse(text) }

// MarshalText implements encoding.TextMarshaler.
func (s OperState) MarshalText() ([]byte, error) { return operStates.marshal(s) }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseOperState].
func (s *OperState) UnmarshalText(text []byte) (err error) {
	*s, err = ParseOperState(string(text))
	return err
}

// AvailStatus is a host's (or its subfunction's) availability status. The
// zero value is [AvailNone] ("none").
type AvailStatus uint8

// Availability statuses, in the order of mtce's mtc_nodeAvailStatus_enum.
const (
	AvailNone         AvailStatus = iota // "none": not given
	AvailNotInstalled                    // "not-installed"
	AvailAvailable                       // "available"
	AvailDegraded                        // "degraded"
	AvailFailed                          // "failed"
	AvailInTest                          // "intest"
	AvailPowerOff                        // "power-off"
	AvailOffline                         // "offline"
	AvailOnline                          // "online"
	AvailOffDuty                         // "offduty"
)

var availStatuses = enum[AvailStatus]{kind: "availability status", names: []string{
	"none", "not-installed", "available", "degraded", "failed", "intest",
	"power-off", "offline", "online", "offduty",
}}

// String returns the text StarlingX writes for s.
func (s AvailStatus) String() string { return availStatuses.str(s) }

// ParseAvailStatus accepts exactly the nine texts of mtce's availability
// table ("not-installed", "available", "degraded", "failed", "intest",
// "power-off", "offline", "online", "offduty") and "none".
func ParseAvailStatus(text string) (AvailStatus, error) { return availStatuses.parse(text) }

// MarshalText implements encoding.TextMarshaler.
func (s AvailStatus) MarshalText() ([]byte, error) { return availStatuses.marshal(s) }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseAvailStatus].
func (s *AvailStatus) UnmarshalText(text []byte) (err error) {
	*s, err = ParseAvailStatus(string(text))
	return err
}

// AdminAction is a maintenance administrative action (mtce's
// mtc_nodeAdminAction_enum). Its numeric value is mtce's: ActionNone is 0,
// ActionEnableSubf is 16. The zero value is [ActionNone].
type AdminAction uint8

// Administrative actions. The first fifteen come from sysinv (or from mtce
// itself for recovery, delete, powercycle and add); ActionEnable and
// ActionEnableSubf are internal FSM actions.
const (
	ActionNone       AdminAction = iota // "none"
	ActionLock                          // "lock"
	ActionUnlock                        // "unlock"
	ActionReset                         // "reset"
	ActionReboot                        // "reboot"
	ActionReinstall                     // "reinstall"
	ActionPowerOff                      // "power-off"
	ActionPowerOn                       // "power-on"
	ActionRecover                       // "recovery" (mtce's text, not "recover")
	ActionDelete                        // "delete"
	ActionPowercycle                    // "powercycle"
	ActionAdd                           // "add"
	ActionSwact                         // "swact"
	ActionForceLock                     // "force-lock"
	ActionForceSwact                    // "force-swact"
	ActionEnable                        // "enable"
	ActionEnableSubf                    // "enable-subf"
)

var adminActions = enum[AdminAction]{kind: "admin action", names: []string{
	"none", "lock", "unlock", "reset", "reboot", "reinstall", "power-off",
	"power-on", "recovery", "delete", "powercycle", "add", "swact",
	"force-lock", "force-swact", "enable", "enable-subf",
}}

// String returns mtce's text for a.
func (a AdminAction) String() string { return adminActions.str(a) }

// ParseAdminAction accepts exactly the seventeen texts of mtce's action
// table (see the constants). Texts sysinv uses that never reach mtce as such
// ("force-unlock" is sent as "unlock") or that mtce rejects
// ("force-unsafe-lock") are errors.
func ParseAdminAction(text string) (AdminAction, error) { return adminActions.parse(text) }

// MarshalText implements encoding.TextMarshaler.
func (a AdminAction) MarshalText() ([]byte, error) { return adminActions.marshal(a) }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseAdminAction].
func (a *AdminAction) UnmarshalText(text []byte) (err error) {
	*a, err = ParseAdminAction(string(text))
	return err
}
