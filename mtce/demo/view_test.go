package demo

import (
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/mtce/agent"
)

func TestViewLines(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := View{
		Time: now, Active: "controller-0", AgentOn: "controller-0", AgentPhase: "ready",
		Hosts: []HostView{
			{Name: "controller-0", Admin: "unlocked", Oper: "enabled", Avail: "available", Machine: "up",
				Uptime: 75 * time.Second, LastAlive: now.Add(-2 * time.Second), Services: "start worker pass"},
			{Name: "controller-1", Admin: "unlocked", Oper: "disabled", Avail: "offline", Task: "Booting", Machine: "booting", Running: "unlock"},
		},
		Token: agent.TokenStatus{Valid: true, Age: 90 * time.Second, ExpiresIn: time.Hour, Renewals: 3, RenewalsUnauth: 1},
		Swact: agent.SwactStatus{Stage: "action-wait", Held: true, Host: "controller-0", Elapsed: 1500 * time.Millisecond},
	}
	text := strings.Join(v.Lines(), "\n")
	for _, want := range []string{
		"controller-0  unlocked  enabled   available    -",
		"1m15s 2.0s ago  start worker pass",
		"controller-1  unlocked  disabled  offline      Booting",
		"booting",
		"unlock",
		"agent: on controller-0 (ready); SM active controller: controller-0",
		"renewals 3 (after a 401: 1, scheduled or first: 2)",
		"swact: stage action-wait, controller-0, try 0, elapsed 1.5s",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	if got := (View{Time: now}).Lines(); !strings.Contains(strings.Join(got, "\n"), "agent: none") {
		t.Errorf("empty view: %q", got)
	}
	if fmtDur(2*time.Hour+3*time.Minute) != "2h03m" {
		t.Error(fmtDur(2*time.Hour + 3*time.Minute))
	}
}
