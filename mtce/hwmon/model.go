package hwmon

import (
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
)

// Outcome is how an audit ended.
type Outcome uint8

// Outcomes.
const (
	// OutcomeOK: every sensor read and SysInv reconciled.
	OutcomeOK Outcome = iota
	// OutcomePartial: the BMC answered for some resources only
	// (bmc.ErrPartial); what was read is written, nothing is deleted.
	OutcomePartial
	// OutcomePassword: Config.Password failed or gave an empty password.
	OutcomePassword
	// OutcomeBMC: the driver could not be built, opened or read.
	OutcomeBMC
	// OutcomeSysInv: a SysInv load or write failed; the host's records are
	// reloaded at the next audit.
	OutcomeSysInv
	// OutcomeTimeout: Config.HostTimeout ran out.
	OutcomeTimeout
	// OutcomeCanceled: Remove, a BMC change in Set, or the monitor's end
	// cut the audit short.
	OutcomeCanceled
)

var outcomeNames = [...]string{"ok", "partial", "password", "bmc", "sysinv", "timeout", "canceled"}

// String returns a metric-label-friendly name ("ok", "partial", ...).
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Audit describes one finished audit (Config.Observer).
type Audit struct {
	Host     string
	Start    time.Time
	Duration time.Duration
	// Read is the number of sensors the BMC returned (before hwmond's
	// canned-group filter); Changed the number of SysInv writes that
	// succeeded (adds, modifies, groupings, deletes).
	Read, Changed int
	Outcome       Outcome
	// Err is nil for OutcomeOK; for OutcomePartial the *bmc.PartialError.
	Err error
}

// Status is a host's state in the monitor (Snapshot).
type Status struct {
	Host string
	// Provisioned: the BMC fields are complete, so the host is audited.
	Provisioned bool
	// Running: an audit is in progress.
	Running bool
	// DriverOpen: an opened driver is kept for the next audit.
	DriverOpen bool
	// LastAudit is the start of the last finished audit (zero if none),
	// LastDuration its length, LastOutcome and LastErr its result.
	LastAudit    time.Time
	LastDuration time.Duration
	LastOutcome  Outcome
	LastErr      error
	// Sensors is the number of sensors read by the last audit that reached
	// the BMC; Records the number of sensor records SysInv holds for the
	// host as the monitor knows them (-1: not loaded).
	Sensors, Records int
	// Audits and Failures count finished audits and those not OK/partial;
	// Skipped counts ticks skipped because the previous audit was still
	// running or waiting.
	Audits, Failures, Skipped uint64
}

// Values hwmond writes (hwmonSensor_init, hwmonGroup_init).
const (
	stateEnabled  = "enabled"
	stateFailed   = "failed"
	statusOffline = "offline"
	algorithm     = "debounce-1.v1"
	actionIgnore  = "ignore"
	actionLog     = "log"
	actionAlarm   = "alarm"
)

// canned is one of hwmond's canned sensor groups (hwmonGroup.cpp).
type canned struct {
	name, sensorType string
}

var (
	groupFans  = canned{"server fans", "fan"}
	groupTemp  = canned{"server temperature", "temperature"}
	groupVolts = canned{"server voltage", "voltage"}
	groupPower = canned{"server power", "power"}
	groupUsage = canned{"server usage", "usage"}
)

// groupOf returns the canned group of s, or false when hwmond would ignore
// the sensor (no canned group: hwmond's HWMON_CANNED_GROUP__NULL). hwmond
// chooses by unit text; the drivers classify already, so the type decides,
// with hwmond's name rules for "other" sensors (percent fans, usage).
func groupOf(s bmc.Sensor) (canned, bool) {
	switch s.Type {
	case bmc.SensorTemperature:
		return groupTemp, true
	case bmc.SensorFan:
		return groupFans, true
	case bmc.SensorVoltage:
		return groupVolts, true
	case bmc.SensorCurrent, bmc.SensorPower:
		return groupPower, true
	}
	name := strings.ToLower(s.Name)
	switch {
	case strings.Contains(name, "fan"):
		return groupFans, true
	case strings.Contains(name, "usage"):
		return groupUsage, true
	}
	return canned{}, false
}

// statusOf maps a reading's status to SysInv's sensor status as hwmond
// does (nc minor, cr major, nr critical; no reading offline).
func statusOf(s bmc.SensorStatus) string {
	switch s {
	case bmc.StatusOK:
		return "ok"
	case bmc.StatusNonCritical:
		return "minor"
	case bmc.StatusCritical:
		return "major"
	case bmc.StatusNonRecoverable:
		return "critical"
	}
	return statusOffline
}

func val(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// sensorRecord is the isensor record hwmond creates for s in group g.
func sensorRecord(s bmc.Sensor, g canned, interval int) sysinv.Sensor {
	r := sysinv.Sensor{
		Name: s.Name, Type: g.sensorType, DataType: "discrete",
		Status: statusOf(s.Status), State: stateEnabled,
		ActionsMinor: actionIgnore, ActionsMajor: actionLog, ActionsCritical: actionAlarm,
		Algorithm: algorithm, AuditInterval: interval,
	}
	if s.Reading != nil {
		t := s.Thresholds
		r.DataType = "analog"
		r.Thresholds = sysinv.Thresholds{
			MinorLower: val(t.LowerNonCritical), MajorLower: val(t.LowerCritical), CriticalLower: val(t.LowerNonRecoverable),
			MinorUpper: val(t.UpperNonCritical), MajorUpper: val(t.UpperCritical), CriticalUpper: val(t.UpperNonRecoverable),
		}
		r.Units = sysinv.Units{Base: s.Unit}
	}
	return r
}

// groupRecord is the isensorgroup record hwmond creates for g.
func groupRecord(g canned, interval int, simplex bool) sysinv.SensorGroup {
	choices := "ignore,log,alarm"
	critical := choices
	if !simplex {
		critical += ",reset,power-cycle"
	}
	return sysinv.SensorGroup{
		Name: g.name, Type: g.sensorType, DataType: "discrete", State: stateEnabled, Path: "na",
		ActionsMinor: actionIgnore, ActionsMajor: actionLog, ActionsCritical: actionAlarm,
		ActionsMinorChoices: choices, ActionsMajorChoices: choices, ActionsCriticalChoices: critical,
		Algorithm: algorithm, AuditInterval: interval,
	}
}
