package demo

import (
	"fmt"
	"strings"
	"time"
)

// Lines renders the view as the status table: one line per host (states,
// task, uptime, age of the last mtcAlive the agent got, host-services
// state, the agent's running action), then the agent, its token (age,
// renewals by cause), its work queue and the swact.
func (v View) Lines() []string {
	var out []string
	out = append(out, fmt.Sprintf("%-13s %-9s %-9s %-12s %-26s %8s %7s  %-26s %s",
		"HOST", "ADMIN", "OPER", "AVAIL", "TASK", "UPTIME", "ALIVE", "HOST SERVICES", "AGENT ACTION"))
	for _, h := range v.Hosts {
		up := "-"
		if h.Machine == "up" {
			up = fmtDur(h.Uptime)
		} else if h.Machine != "" {
			up = h.Machine
		}
		alive := "-"
		if !h.LastAlive.IsZero() {
			alive = fmtDur(v.Time.Sub(h.LastAlive)) + " ago"
		}
		task := h.Task
		if len(task) > 26 {
			task = task[:25] + "…"
		}
		svc := h.Services
		if svc == "" {
			svc = "-"
		}
		act := h.Running
		if act == "" {
			act = "-"
		}
		out = append(out, fmt.Sprintf("%-13s %-9s %-9s %-12s %-26s %8s %7s  %-26s %s",
			h.Name, h.Admin, h.Oper, h.Avail, orDash(task), up, alive, svc, act))
	}
	out = append(out, "")
	agentLine := "agent: none (between two controllers)"
	if v.AgentOn != "" {
		agentLine = fmt.Sprintf("agent: on %s (%s); SM active controller: %s", v.AgentOn, v.AgentPhase, v.Active)
	}
	out = append(out, agentLine)
	tok := "token: none yet"
	if v.Token.Valid || v.Token.Renewals > 0 {
		tok = fmt.Sprintf("token: age %s, expires in %s; renewals %d (after a 401: %d, scheduled or first: %d), failures %d; corruptions injected %d",
			fmtDur(v.Token.Age), fmtDur(v.Token.ExpiresIn), v.Token.Renewals, v.Token.RenewalsUnauth,
			v.Token.Renewals-min(v.Token.Renewals, v.Token.RenewalsUnauth), v.Token.Failures, v.Corruptions)
	}
	out = append(out, tok)
	out = append(out, fmt.Sprintf("work queue: %d pending, %d in flight; %d done, %d failed, %d retries",
		v.Queue.Pending, v.Queue.InFlight, v.Queue.Succeeded, v.Queue.Failed, v.Queue.Retries))
	sw := "swact: idle"
	switch {
	case v.Swact.Held || (v.Swact.Stage != "" && v.Swact.Stage != "idle"):
		sw = fmt.Sprintf("swact: stage %s, %s, try %d, elapsed %s", v.Swact.Stage, orDash(v.Swact.Host), v.Swact.Try, fmtDur(v.Swact.Elapsed))
	case v.SwactPending:
		sw = "swact: SM is moving activity"
	case v.Swact.Last != "":
		sw = "swact: idle (last: " + v.Swact.Last + ")"
	}
	if v.SwactPending && !strings.Contains(sw, "SM is moving") {
		sw += "; SM is moving activity"
	}
	if v.AgentMoving {
		sw += "; the agent moves to the new active controller"
	}
	out = append(out, sw)
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtDur shows a duration as 1h02m, 3m05s, 12.3s.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
