package bmc

import (
	"fmt"
	"strconv"
	"strings"
)

// PowerState is the chassis power state reported by a BMC. The values are
// bmclib's vocabulary ("on", "off").
type PowerState string

// Power states.
const (
	PowerOn      PowerState = "on"
	PowerOff     PowerState = "off"
	PowerUnknown PowerState = "unknown"
)

// PowerAction is a power request, in bmclib's PowerSet vocabulary.
type PowerAction string

// Power actions.
const (
	// ActionOn powers the host on (IPMI "chassis power on", Redfish On/ForceOn).
	ActionOn PowerAction = "on"
	// ActionOff cuts power immediately (IPMI "chassis power off", Redfish ForceOff).
	ActionOff PowerAction = "off"
	// ActionSoftOff asks the OS to shut down (IPMI "chassis power soft" /
	// ACPI, Redfish GracefulShutdown).
	ActionSoftOff PowerAction = "soft"
	// ActionReset is a hard reset without a power transition (IPMI "chassis
	// power reset", Redfish ForceRestart; GracefulRestart only when the
	// Redfish driver's Config.GracefulFallback opts in).
	ActionReset PowerAction = "reset"
	// ActionCycle turns power off and on again (IPMI "chassis power cycle",
	// Redfish PowerCycle).
	ActionCycle PowerAction = "cycle"
)

// PowerActions lists every PowerAction, in a stable order.
var PowerActions = []PowerAction{ActionOn, ActionOff, ActionSoftOff, ActionReset, ActionCycle}

// Target is the power state the host is in once the action has taken effect.
func (a PowerAction) Target() PowerState {
	switch a {
	case ActionOff, ActionSoftOff:
		return PowerOff
	case ActionOn, ActionReset, ActionCycle:
		return PowerOn
	}
	return PowerUnknown
}

// Capability is the capability needed to perform the action (0 for an
// unknown action).
func (a PowerAction) Capability() Capability {
	switch a {
	case ActionOn:
		return CapPowerOn
	case ActionOff:
		return CapPowerOff
	case ActionSoftOff:
		return CapPowerSoft
	case ActionReset:
		return CapPowerReset
	case ActionCycle:
		return CapPowerCycle
	}
	return 0
}

// Valid reports whether a is one of the defined actions.
func (a PowerAction) Valid() bool { return a.Capability() != 0 }

// BootDevice is a boot source for the next boot, in bmclib's vocabulary.
type BootDevice string

// Boot devices. Only BootPXE is required of drivers (CapBootPXE); the others
// are mapped where the protocol has an equivalent.
const (
	BootPXE   BootDevice = "pxe"
	BootDisk  BootDevice = "disk"
	BootCDROM BootDevice = "cdrom"
	BootBIOS  BootDevice = "bios"
	BootNone  BootDevice = "none"
)

// BootOptions qualifies a boot device request.
type BootOptions struct {
	// Persistent applies the device to every boot instead of the next one.
	// StarlingX only ever asks for a one-time override.
	Persistent bool
	// EFI requests a UEFI boot rather than a legacy BIOS boot.
	EFI bool
}

// Protocol is the management protocol used to talk to a BMC, with the
// values of StarlingX's bm_type.
type Protocol string

// Protocols.
const (
	ProtocolIPMI    Protocol = "ipmi"
	ProtocolRedfish Protocol = "redfish"
	// ProtocolDynamic means "not known yet: detect it" (see Detect).
	ProtocolDynamic Protocol = "dynamic"
)

// ParseProtocol parses a bm_type value (case-insensitive). An empty string
// is ProtocolDynamic.
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ipmi":
		return ProtocolIPMI, nil
	case "redfish":
		return ProtocolRedfish, nil
	case "dynamic", "":
		return ProtocolDynamic, nil
	}
	return "", fmt.Errorf("bmc: unknown protocol %q (want ipmi, redfish or dynamic)", s)
}

// Info describes the BMC itself (IPMI "mc info", Redfish Manager).
type Info struct {
	Protocol Protocol
	// Manufacturer is the vendor name when the BMC or a registry provides it.
	Manufacturer string
	// ManufacturerID is the IANA enterprise number (IPMI only, else 0).
	ManufacturerID uint32
	// Product is the model or product name/ID as reported.
	Product string
	// FirmwareVersion is the BMC firmware revision, e.g. "9.08".
	FirmwareVersion string
	// ProtocolVersion is the IPMI version ("2.0") or RedfishVersion ("1.6.0").
	ProtocolVersion string
}

// RestartCause is why the host last started, per IPMI "Get System Restart
// Cause" (IPMI 2.0 table 28-11). The values are ipmitool's wording.
type RestartCause string

// Restart causes.
const (
	RestartUnknown             RestartCause = "unknown"
	RestartChassisControl      RestartCause = "chassis power control command"
	RestartResetButton         RestartCause = "reset via pushbutton"
	RestartPowerButton         RestartCause = "power-up via pushbutton"
	RestartWatchdog            RestartCause = "watchdog expired"
	RestartOEM                 RestartCause = "OEM"
	RestartPowerPolicyAlwaysOn RestartCause = "power-up due to always-restore power policy"
	RestartPowerPolicyPrevious RestartCause = "power-up due to restore-previous power policy"
	RestartPEFReset            RestartCause = "reset via PEF"
	RestartPEFPowerCycle       RestartCause = "power-cycle via PEF"
	RestartSoftReset           RestartCause = "soft reset"
	RestartRTCWakeup           RestartCause = "power-up via RTC wakeup"
	RestartInvalid             RestartCause = "invalid"
)

var restartCauses = []RestartCause{
	RestartUnknown, RestartChassisControl, RestartResetButton, RestartPowerButton,
	RestartWatchdog, RestartOEM, RestartPowerPolicyAlwaysOn, RestartPowerPolicyPrevious,
	RestartPEFReset, RestartPEFPowerCycle, RestartSoftReset, RestartRTCWakeup,
}

// RestartCauseFromCode maps the low nibble of the IPMI restart cause byte.
func RestartCauseFromCode(code uint8) RestartCause {
	code &= 0x0f
	if int(code) < len(restartCauses) {
		return restartCauses[code]
	}
	return RestartInvalid
}

// Known reports whether c is one of the defined causes other than RestartInvalid.
func (c RestartCause) Known() bool {
	for _, k := range restartCauses {
		if c == k {
			return true
		}
	}
	return false
}

// SensorType is the physical quantity a sensor measures.
type SensorType string

// Sensor types.
const (
	SensorTemperature SensorType = "temperature"
	SensorFan         SensorType = "fan"
	SensorVoltage     SensorType = "voltage"
	SensorCurrent     SensorType = "current"
	SensorPower       SensorType = "power"
	SensorOther       SensorType = "other"
)

// SensorStatus is a sensor's severity in ipmitool's vocabulary, which
// StarlingX's hwmond maps onto its alarms (nc → minor, cr → major,
// nr → critical).
type SensorStatus string

// Sensor statuses.
const (
	StatusOK             SensorStatus = "ok"
	StatusNonCritical    SensorStatus = "nc"
	StatusCritical       SensorStatus = "cr"
	StatusNonRecoverable SensorStatus = "nr"
	// StatusUnavailable: no reading (absent, disabled or not scanning).
	StatusUnavailable SensorStatus = "na"
)

// Valid reports whether s is one of the defined statuses.
func (s SensorStatus) Valid() bool {
	switch s {
	case StatusOK, StatusNonCritical, StatusCritical, StatusNonRecoverable, StatusUnavailable:
		return true
	}
	return false
}

// Thresholds are a sensor's alarm thresholds; nil means "not set / not
// readable".
type Thresholds struct {
	LowerNonRecoverable *float64 `json:",omitempty"`
	LowerCritical       *float64 `json:",omitempty"`
	LowerNonCritical    *float64 `json:",omitempty"`
	UpperNonCritical    *float64 `json:",omitempty"`
	UpperCritical       *float64 `json:",omitempty"`
	UpperNonRecoverable *float64 `json:",omitempty"`
}

// Classify returns the status of reading against the thresholds: the most
// severe threshold crossed, or StatusOK. A reading at a threshold crosses it
// (IPMI semantics: "at or above the upper threshold").
func (t Thresholds) Classify(reading float64) SensorStatus {
	ge := func(p *float64) bool { return p != nil && reading >= *p }
	le := func(p *float64) bool { return p != nil && reading <= *p }
	switch {
	case ge(t.UpperNonRecoverable), le(t.LowerNonRecoverable):
		return StatusNonRecoverable
	case ge(t.UpperCritical), le(t.LowerCritical):
		return StatusCritical
	case ge(t.UpperNonCritical), le(t.LowerNonCritical):
		return StatusNonCritical
	}
	return StatusOK
}

// Sensor is one reading from the BMC (IPMI "sensor list" row, Redfish
// Thermal/Power entry).
type Sensor struct {
	Name string
	Type SensorType
	// Reading is nil when the sensor has no (analog) reading.
	Reading *float64 `json:",omitempty"`
	// Unit is the reading's unit as the BMC names it ("degrees C", "RPM",
	// "Volts", "Watts", "Percent").
	Unit       string
	Status     SensorStatus
	Thresholds Thresholds
}

// String renders the sensor like a row of "ipmitool sensor list":
// "CPU Temp | 45 | degrees C | ok".
func (s Sensor) String() string {
	r := "na"
	if s.Reading != nil {
		r = strconv.FormatFloat(*s.Reading, 'f', -1, 64)
	}
	return s.Name + " | " + r + " | " + s.Unit + " | " + string(s.Status)
}

// Float returns a pointer to v, for building Sensor and Thresholds values.
func Float(v float64) *float64 { return &v }
