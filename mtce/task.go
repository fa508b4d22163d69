package mtce

import (
	"fmt"
	"strings"
)

// Task is the text mtce writes into a host's "task" field, which Horizon
// shows next to the host. The texts must not change without a matching
// change in Horizon (nodeBase.h), so they are constants here; the few that
// carry numbers are built by functions (TaskRebootFailRetry, ...).
//
// The zero value [TaskNone] is the empty text mtce sends to clear the task;
// sysinv's record of a host without a task reads "none" (spec J.4), and
// [ParseTask] accepts both.
type Task string

// MaxTaskLen is the longest task text mtce sends (MAX_TASK_STR_LEN).
const MaxTaskLen = 63

// Horizon task strings (nodeBase.h MTC_TASK_*), plus the completion texts
// added by c18eabc, the one inline text of the AIO-SX unlock path, and the
// texts sysinv writes.
const (
	TaskNone Task = ""

	TaskDisableControl      Task = "Disabling Controller"
	TaskDisableServices     Task = "Disabling Services"
	TaskUnlockFailed        Task = "Unlock Operation Failed"
	TaskRebootRequest       Task = "Reboot Request"
	TaskResetRequest        Task = "Reset Request"
	TaskRebooting           Task = "Rebooting"
	TaskResetting           Task = "Resetting"
	TaskRebootFail          Task = "Reboot Failed"
	TaskRebootTimeout       Task = "Reboot/Reset Timeout"
	TaskRebootAbort         Task = "Reboot Failed, try again when host is 'online'"
	TaskResetProgression    Task = "Rebooting/Resetting Host"
	TaskReinstall           Task = "Reinstalling"
	TaskReinstallWaitNA     Task = "Reinstall Wait ; BMC not accessible"
	TaskReinstallRetryPC    Task = "Reinstall Retry ; BMC provisioned change during install"
	TaskReinstallFailCL     Task = "Reinstall Failed ; BMC connectivity lost"
	TaskReinstallFailOL     Task = "Reinstall Failed ; timeout waiting for offline"
	TaskReinstallFailTO     Task = "Reinstall Failed ; timeout waiting for online"
	TaskReinstallFailBA     Task = "Reinstall Failed ; timeout waiting BMC access"
	TaskReinstallFailPO     Task = "Reinstall Failed ; could not power on host"
	TaskReinstallFailNB     Task = "Reinstall Failed ; netboot request"
	TaskReinstallFailPR     Task = "Reinstall Failed ; power reset request"
	TaskReinstallFail       Task = "Reinstall Failed"
	TaskReinstallSuccess    Task = "Reinstall Succeeded"
	TaskBooting             Task = "Booting"
	TaskBootFail            Task = "Boot Failed, rebooting"
	TaskTesting             Task = "Testing"
	TaskInitializing        Task = "Initializing"
	TaskInitFail            Task = "Initialization Failed, recovering"
	TaskStartServiceFail    Task = "Start Services Failed"
	TaskStartServiceTimeout Task = "Start Services Timeout"
	TaskEnableWorkFail      Task = "Enable Action Failed"
	TaskEnableWorkTimeout   Task = "Enable Action Timeout"
	TaskEnableFailHeartbeat Task = "Enable Heartbeat Failure, re-enabling"
	TaskRecoveryFail        Task = "Graceful Recovery Failed, re-enabling"
	TaskRecoveryWait        Task = "Graceful Recovery Wait"
	TaskRecovered           Task = "Gracefully Recovered"

	TaskEnabling           Task = "Enabling"
	TaskMainConfigFail     Task = "Configuration Failed, re-enabling"
	TaskMainConfigTimeout  Task = "Configuration Timeout, re-enabling"
	TaskMainIntestFail     Task = "In-Test Failed, re-enabling"
	TaskMainIntestTimeout  Task = "In-Test Timeout, re-enabling"
	TaskMainServiceFail    Task = "Start Services Failed, re-enabling"
	TaskMainServiceTimeout Task = "Start Services Timeout, re-enabling"

	TaskEnablingSubf       Task = "Enabling Worker Service"
	TaskSubfConfigFail     Task = "Worker Configuration Failed, re-enabling"
	TaskSubfConfigTimeout  Task = "Worker Configuration Timeout, re-enabling"
	TaskSubfIntestFail     Task = "Worker In-Test Failed, re-enabling"
	TaskSubfIntestTimeout  Task = "Worker In-Test Timeout, re-enabling"
	TaskSubfServiceFail    Task = "Worker Start Services Failed, re-enabling"
	TaskSubfServiceTimeout Task = "Worker Start Services Timeout, re-enabling"

	TaskARDisabledConfig    Task = "Configuration failure, threshold reached, Lock/Unlock to retry"
	TaskARDisabledGoEnable  Task = "In-Test Failure, threshold reached, Lock/Unlock to retry"
	TaskARDisabledServices  Task = "Service Failure, threshold reached, Lock/Unlock to retry"
	TaskARDisabledEnable    Task = "Enable Failure, threshold reached, Lock/Unlock to retry"
	TaskARDisabledHeartbeat Task = "Heartbeat Failure, threshold reached, Lock/Unlock to retry"

	TaskResetFail    Task = "Reset Failed"
	TaskPowerOnFail  Task = "Power-On Failed"
	TaskPowerOffFail Task = "Power-Off Failed"

	TaskResetCompleted    Task = "Reset Completed"
	TaskPowerOnCompleted  Task = "Power-On Completed"
	TaskPowerOffCompleted Task = "Power-Off Completed"

	TaskBMCNotProvisioned Task = "Request Failed, Management Controller Not Provisioned"
	// TaskBMCNotConnected keeps mtce's spelling ("Controlle", two blanks):
	// Horizon matches the text as it is.
	TaskBMCNotConnected Task = "Request Failed, Management Controlle  Not Accessible"

	TaskDisableRequest       Task = "Requesting Disable"
	TaskMigrateInstances     Task = "Migrating Instances"
	TaskPowercycleDown       Task = "Critical Event Power-Down ; due to persistent critical sensor"
	TaskResettingHost        Task = "Resetting Host, critical sensor"
	TaskSimplexUnlock        Task = "Unlocking, please stand-by while the system gracefully reboots"
	TaskSelfUnlock           Task = "Unlocking active controller, please stand-by while it reboots"
	TaskFailedSwactRequest   Task = "Critical failure.Requesting SWACT to enabled standby controller"
	TaskFailedNoBackup       Task = "Critical failure.Please provision/enable standby controller"
	TaskManifestApply        Task = "Applying manifest, please stand-by ..."
	TaskManifestApplyTimeout Task = "Manifest apply timeout ; Unlock to retry"

	TaskDisableRejected Task = "Lock Rejected: Incomplete Migration"
	TaskDisableNoHost   Task = "Lock Rejected: Please Enable More Worker Resources"
	TaskMigrateFail     Task = "Lock Failed: Undetermined Reason"
	TaskDisableNoHosts  Task = "Insufficient Enabled Resources for Live Migration"
	TaskDisableForce    Task = "Force Lock Reset in Progress"

	// Texts sysinv itself writes into the task field (sysinv constants).
	TaskLocking      Task = "Locking"
	TaskForceLocking Task = "Force Locking"
	TaskUnlocking    Task = "Unlocking"
	TaskSwacting     Task = "Swacting"

	TaskSwactComplete   Task = "Swact: Complete"
	TaskSwactNoComplete Task = "Swact: Did Not Complete"
	TaskSwactRequest    Task = "Swact: Request"
	TaskSwactInProgress Task = "Swact: In-Progress"
	TaskSwactFailed     Task = "Swact: Failed"
	TaskSwactTimeout    Task = "Swact: Timeout"
	TaskSwactNoService  Task = "Swact: No active services"
	TaskSwactFailQuery  Task = "Swact: Query Services Failed"
)

// Formats of the task texts that carry numbers or a host name.
const (
	fmtRebootFailRetry = "Reboot Failed, retrying (%d of %d)"
	fmtResetQueue      = "Reset Failed, retrying (%d of %d)"
	fmtPowerOnQueue    = "Power-On Failed, retrying (%d of %d)"
	fmtPowerOffQueue   = "Power-Off Failed, retrying (%d of %d)"
	fmtPowercycleHost  = "Critical Event Power-Cycle %d; due to critical sensor"
	fmtPowercycleHold  = "Critical Event Power-Cycle %d; recovery in %d minute(s)"
	fmtPowercycleCool  = "Critical Event Power-Cycle %d; power-on in %d minute(s)"
	fmtPowercycleOn    = "Critical Event Power-Cycle %d; power-on host"
	fmtPowercycleRetry = "Critical Event Power-Cycle %d; power-on host (retry)"
	fmtPowercycleBoot  = "Critical Event Power-Cycle %d; host is booting"
	fmtPowercycleFail  = "Critical Event Power-Cycle %d; failed"
	fmtResetPoweredOff = "Reset Failed - %s is powered off"
)

var taskFormats = [...]string{
	fmtRebootFailRetry, fmtResetQueue, fmtPowerOnQueue, fmtPowerOffQueue,
	fmtPowercycleHost, fmtPowercycleHold, fmtPowercycleCool, fmtPowercycleOn,
	fmtPowercycleRetry, fmtPowercycleBoot, fmtPowercycleFail, fmtResetPoweredOff,
}

var taskFixed = func() map[Task]bool {
	m := make(map[Task]bool)
	for _, t := range []Task{
		TaskDisableControl, TaskDisableServices, TaskUnlockFailed, TaskRebootRequest,
		TaskResetRequest, TaskRebooting, TaskResetting, TaskRebootFail, TaskRebootTimeout,
		TaskRebootAbort, TaskResetProgression, TaskReinstall, TaskReinstallWaitNA,
		TaskReinstallRetryPC, TaskReinstallFailCL, TaskReinstallFailOL, TaskReinstallFailTO,
		TaskReinstallFailBA, TaskReinstallFailPO, TaskReinstallFailNB, TaskReinstallFailPR,
		TaskReinstallFail, TaskReinstallSuccess, TaskBooting, TaskBootFail, TaskTesting,
		TaskInitializing, TaskInitFail, TaskStartServiceFail, TaskStartServiceTimeout,
		TaskEnableWorkFail, TaskEnableWorkTimeout, TaskEnableFailHeartbeat, TaskRecoveryFail,
		TaskRecoveryWait, TaskRecovered, TaskEnabling, TaskMainConfigFail, TaskMainConfigTimeout,
		TaskMainIntestFail, TaskMainIntestTimeout, TaskMainServiceFail, TaskMainServiceTimeout,
		TaskEnablingSubf, TaskSubfConfigFail, TaskSubfConfigTimeout, TaskSubfIntestFail,
		TaskSubfIntestTimeout, TaskSubfServiceFail, TaskSubfServiceTimeout,
		TaskARDisabledConfig, TaskARDisabledGoEnable, TaskARDisabledServices,
		TaskARDisabledEnable, TaskARDisabledHeartbeat, TaskResetFail, TaskPowerOnFail,
		TaskPowerOffFail, TaskResetCompleted, TaskPowerOnCompleted, TaskPowerOffCompleted,
		TaskBMCNotProvisioned, TaskBMCNotConnected, TaskDisableRequest, TaskMigrateInstances,
		TaskPowercycleDown, TaskResettingHost, TaskSimplexUnlock, TaskSelfUnlock,
		TaskFailedSwactRequest, TaskFailedNoBackup, TaskManifestApply, TaskManifestApplyTimeout,
		TaskDisableRejected, TaskDisableNoHost, TaskMigrateFail, TaskDisableNoHosts,
		TaskDisableForce, TaskSwactComplete, TaskSwactNoComplete, TaskSwactRequest,
		TaskSwactInProgress, TaskSwactFailed, TaskSwactTimeout, TaskSwactNoService,
		TaskSwactFailQuery, TaskLocking, TaskForceLocking, TaskUnlocking, TaskSwacting,
	} {
		m[t] = true
	}
	return m
}()

// TaskRebootFailRetry returns "Reboot Failed, retrying (n of max)"
// (nodeBase.h MTC_TASK_REBOOT_FAIL_RETRY; the spec does not quote it).
func TaskRebootFailRetry(n, max int) Task { return Task(fmt.Sprintf(fmtRebootFailRetry, n, max)) }

// TaskResetQueue returns "Reset Failed, retrying (n of max)" (nodeBase.h
// MTC_TASK_RESET_QUEUE; the spec does not quote it).
func TaskResetQueue(n, max int) Task { return Task(fmt.Sprintf(fmtResetQueue, n, max)) }

// TaskPowerOnQueue returns "Power-On Failed, retrying (n of max)"
// (nodeBase.h MTC_TASK_POWERON_QUEUE; the spec does not quote it).
func TaskPowerOnQueue(n, max int) Task { return Task(fmt.Sprintf(fmtPowerOnQueue, n, max)) }

// TaskPowerOffQueue returns "Power-Off Failed, retrying (n of max)"
// (nodeBase.h MTC_TASK_POWEROFF_QUEUE; the spec does not quote it).
func TaskPowerOffQueue(n, max int) Task { return Task(fmt.Sprintf(fmtPowerOffQueue, n, max)) }

// TaskPowercycleHost returns "Critical Event Power-Cycle n; due to critical
// sensor" (nodeBase.h MTC_TASK_POWERCYCLE_HOST; the spec does not quote it).
func TaskPowercycleHost(n int) Task { return Task(fmt.Sprintf(fmtPowercycleHost, n)) }

// TaskPowercycleHold returns "Critical Event Power-Cycle n; recovery in mins
// minute(s)" (nodeBase.h MTC_TASK_POWERCYCLE_HOLD; the spec does not quote
// it).
func TaskPowercycleHold(n, mins int) Task { return Task(fmt.Sprintf(fmtPowercycleHold, n, mins)) }

// TaskPowercycleCool returns "Critical Event Power-Cycle n; power-on in mins
// minute(s)" (nodeBase.h MTC_TASK_POWERCYCLE_COOL; the spec does not quote
// it).
func TaskPowercycleCool(n, mins int) Task { return Task(fmt.Sprintf(fmtPowercycleCool, n, mins)) }

// TaskPowercycleOn returns "Critical Event Power-Cycle n; power-on host"
// (nodeBase.h MTC_TASK_POWERCYCLE_ON; the spec does not quote it).
func TaskPowercycleOn(n int) Task { return Task(fmt.Sprintf(fmtPowercycleOn, n)) }

// TaskPowercycleRetry returns "Critical Event Power-Cycle n; power-on host
// (retry)" (nodeBase.h MTC_TASK_POWERCYCLE_RETRY; the spec does not quote
// it).
func TaskPowercycleRetry(n int) Task { return Task(fmt.Sprintf(fmtPowercycleRetry, n)) }

// TaskPowercycleBoot returns "Critical Event Power-Cycle n; host is booting"
// (nodeBase.h MTC_TASK_POWERCYCLE_BOOT; the spec does not quote it).
func TaskPowercycleBoot(n int) Task { return Task(fmt.Sprintf(fmtPowercycleBoot, n)) }

// TaskPowercycleFail returns "Critical Event Power-Cycle n; failed"
// (nodeBase.h MTC_TASK_POWERCYCLE_FAIL; the spec does not quote it).
func TaskPowercycleFail(n int) Task { return Task(fmt.Sprintf(fmtPowercycleFail, n)) }

// TaskResetPoweredOff returns "Reset Failed - <hostname> is powered off"
// (c18eabc: a reset requested while the host is off; spec G.2 quotes it).
func TaskResetPoweredOff(hostname string) Task {
	return Task(fmt.Sprintf(fmtResetPoweredOff, hostname))
}

// String returns the task text, or "none" for [TaskNone].
func (t Task) String() string {
	if t == TaskNone {
		return "none"
	}
	return string(t)
}

// ParseTask accepts "" and "none" (both [TaskNone]), every fixed task text
// of this package, and the texts the Task... functions build (numbers as
// decimal digits, a non-empty host name). Anything else is an error naming
// the text.
func ParseTask(text string) (Task, error) {
	if text == "" || text == "none" {
		return TaskNone, nil
	}
	t := Task(text)
	if taskFixed[t] {
		return t, nil
	}
	for _, f := range taskFormats {
		if matchFormat(f, text) {
			return t, nil
		}
	}
	return TaskNone, &ParseError{Kind: "task", Value: text}
}

// MarshalText implements encoding.TextMarshaler: the text itself, so that
// TaskNone marshals as "" (what mtce sends to clear a task).
func (t Task) MarshalText() ([]byte, error) { return []byte(t), nil }

// UnmarshalText implements encoding.TextUnmarshaler. Unlike [ParseTask] it
// keeps any text ("none" reads as TaskNone): a host record's task field is
// also written by sysinv and the VIM, so a host record must not fail to
// decode over a task text this package does not list.
func (t *Task) UnmarshalText(text []byte) error {
	if s := string(text); s != "none" {
		*t = Task(s)
	} else {
		*t = TaskNone
	}
	return nil
}

// matchFormat reports whether s is an output of the printf format f, whose
// only verbs are %d (an optional '-' and one or more digits) and %s (one or
// more bytes).
func matchFormat(f, s string) bool {
	for {
		i := strings.IndexByte(f, '%')
		if i < 0 {
			return f == s
		}
		if !strings.HasPrefix(s, f[:i]) || i+1 >= len(f) {
			return false
		}
		s = s[i:]
		verb := f[i+1]
		f = f[i+2:]
		switch verb {
		case 'd':
			n := 0
			if n < len(s) && s[n] == '-' {
				n++
			}
			start := n
			for n < len(s) && s[n] >= '0' && s[n] <= '9' {
				n++
			}
			if n == start {
				return false
			}
			s = s[n:]
		case 's':
			// Try every split; formats here have at most one %s.
			for n := len(s); n >= 1; n-- {
				if matchFormat(f, s[n:]) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
}
