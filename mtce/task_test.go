package mtce

import "testing"

// TestTaskConstructorsLiteral: every Task constructor against a text
// written out by hand, never built from the format table, so a typo in a
// format fails here even though ParseTask would still accept its own
// output. Texts: spec G.2 for TaskResetPoweredOff; nodeBase.h MTC_TASK_*
// for the others (the spec does not quote them).
func TestTaskConstructorsLiteral(t *testing.T) {
	cases := []struct {
		got  Task
		want string
	}{
		{TaskRebootFailRetry(2, 5), "Reboot Failed, retrying (2 of 5)"},
		{TaskResetQueue(1, 5), "Reset Failed, retrying (1 of 5)"},
		{TaskPowerOnQueue(3, 10), "Power-On Failed, retrying (3 of 10)"},
		{TaskPowerOffQueue(10, 10), "Power-Off Failed, retrying (10 of 10)"},
		{TaskPowercycleHost(1), "Critical Event Power-Cycle 1; due to critical sensor"},
		{TaskPowercycleHold(2, 5), "Critical Event Power-Cycle 2; recovery in 5 minute(s)"},
		{TaskPowercycleCool(3, 4), "Critical Event Power-Cycle 3; power-on in 4 minute(s)"},
		{TaskPowercycleOn(4), "Critical Event Power-Cycle 4; power-on host"},
		{TaskPowercycleRetry(5), "Critical Event Power-Cycle 5; power-on host (retry)"},
		{TaskPowercycleBoot(6), "Critical Event Power-Cycle 6; host is booting"},
		{TaskPowercycleFail(7), "Critical Event Power-Cycle 7; failed"},
		{TaskResetPoweredOff("worker-0"), "Reset Failed - worker-0 is powered off"}, // spec G.2
	}
	if len(cases) != len(taskFormats) {
		t.Fatalf("%d constructors checked, %d formats: add the new constructor here", len(cases), len(taskFormats))
	}
	for _, c := range cases {
		if string(c.got) != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
		if p, err := ParseTask(c.want); err != nil || p != c.got {
			t.Errorf("ParseTask(%q) = %q, %v", c.want, p, err)
		}
	}
}

// TestTaskSpecTexts: the fixed texts the spec quotes, written out by hand.
func TestTaskSpecTexts(t *testing.T) {
	cases := []struct {
		got  Task
		want string
	}{
		// spec C.3 (swact FSM and nodeBase.h's list there)
		{TaskSwactRequest, "Swact: Request"},
		{TaskSwactInProgress, "Swact: In-Progress"},
		{TaskSwactComplete, "Swact: Complete"},
		{TaskSwactFailed, "Swact: Failed"},
		{TaskSwactTimeout, "Swact: Timeout"},
		{TaskSwactNoService, "Swact: No active services"},
		{TaskSwactFailQuery, "Swact: Query Services Failed"},
		{TaskSwactNoComplete, "Swact: Did Not Complete"},
		// spec G.2 (c18eabc completion texts)
		{TaskResetCompleted, "Reset Completed"},
		{TaskPowerOnCompleted, "Power-On Completed"},
		{TaskPowerOffCompleted, "Power-Off Completed"},
		// spec A.5
		{TaskEnableWorkTimeout, "Enable Action Timeout"},
		{TaskEnableWorkFail, "Enable Action Failed"},
		// spec J.11 (sysinv's force-lock audit)
		{TaskForceLocking, "Force Locking"},
	}
	for _, c := range cases {
		if string(c.got) != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
		if p, err := ParseTask(c.want); err != nil || p != c.got {
			t.Errorf("ParseTask(%q) = %q, %v", c.want, p, err)
		}
	}
}
