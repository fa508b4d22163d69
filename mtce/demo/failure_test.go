package demo

import (
	"context"
	"testing"
	"time"
)

// TestFailScriptsEndToEnd: the services-failure path with real clients and
// real scripts over loopback (spec E.2): controller-1 is locked, its start
// scripts are made to fail, it is unlocked; the agent reboots it, its
// client's auto-start fails (one result per set), the failure flag in its
// mtcAlive makes the agent fail it (unlocked-disabled-failed), and the
// agent's auto-recovery reboots it again after ar_hostservices_interval
// (30 s). Wall time, about 45 s.
func TestFailScriptsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the auto-recovery interval is 30 s of wall time")
	}
	t.Parallel()
	d, _ := newDemo(t, DefaultConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	host := func() HostView {
		for _, h := range d.Snapshot().Hosts {
			if h.Name == "controller-1" {
				return h
			}
		}
		t.Fatal("controller-1 not in the view")
		return HostView{}
	}
	wait := func(what string, bound time.Duration, cond func(HostView) bool) {
		t.Helper()
		end := time.Now().Add(bound)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for !cond(host()) {
			if time.Now().After(end) {
				h := host()
				t.Fatalf("%s: not within %v: %s-%s-%s task %q", what, bound, h.Admin, h.Oper, h.Avail, h.Task)
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				t.Fatalf("%s: %v", what, ctx.Err())
			}
		}
	}
	wait("enabled at start", 20*time.Second, func(h HostView) bool { return h.Admin == "unlocked" && h.Oper == "enabled" })
	if err := d.Action(ctx, "controller-1", "lock"); err != nil {
		t.Fatal(err)
	}
	wait("locked", 20*time.Second, func(h HostView) bool { return h.Admin == "locked" && h.Running == "" })
	if err := d.FailScripts("controller-1", true); err != nil {
		t.Fatal(err)
	}
	boots := d.Boots("controller-1")
	if err := d.Action(ctx, "controller-1", "unlock"); err != nil {
		t.Fatal(err)
	}
	wait("failed after the unlock's reboot", 30*time.Second, func(h HostView) bool {
		return h.Admin == "unlocked" && h.Avail == "failed"
	})
	if d.Boots("controller-1") <= boots {
		t.Fatalf("controller-1 failed without the unlock's reboot")
	}
	failedAt, boots := time.Now(), d.Boots("controller-1")
	// Auto-recovery: another reboot after the 30 s interval.
	end := time.Now().Add(45 * time.Second)
	for d.Boots("controller-1") == boots {
		if time.Now().After(end) {
			t.Fatalf("no auto-recovery reboot within 45 s of the failure")
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	if d := time.Since(failedAt); d < 20*time.Second {
		t.Errorf("auto-recovery reboot %v after the failure; the interval is 30 s", d)
	}
	// The boot after the unlock: exactly one failed result per set,
	// controller then worker (no flood, spec E.5).
	var got []string
	for _, r := range d.Results("controller-1") {
		if r.Boot == boots {
			got = append(got, r.Command+"="+r.Outcome)
		}
	}
	if len(got) != 2 || got[0] != "start controller=failed" || got[1] != "start worker=failed" {
		t.Errorf("results of boot %d: %v, want one failed start per set", boots, got)
	}
}
