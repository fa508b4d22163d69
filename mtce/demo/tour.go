package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/mtce/sim"
)

// Step is one step of the tour: what is expected, within which wall-time
// bound, and how long it took.
type Step struct {
	Name  string
	Bound time.Duration
	Took  time.Duration
	Err   error
}

// TourError names the step that did not reach its expected state.
type TourError struct {
	Step string
	Err  error
}

func (e *TourError) Error() string { return "tour: step " + e.Step + ": " + e.Err.Error() }
func (e *TourError) Unwrap() error { return e.Err }

// ErrTourTimeout: a step's expected state was not reached within its
// bound.
var ErrTourTimeout = errors.New("expected state not reached within the bound")

// The tour's steps and their wall-time bounds (with 1 s scripts and a 1 s
// boot; mtcAlive every 5 s sets most of them).
const (
	boundUp      = 20 * time.Second
	boundLock    = 20 * time.Second
	boundReboot  = 15 * time.Second
	boundStart   = 15 * time.Second
	boundEnable  = 30 * time.Second
	boundSwact   = 20 * time.Second
	boundSettled = 15 * time.Second
)

// Tour runs the scripted tour on controller-1 and reports one line per
// step to report (which may be nil):
//
//  1. the system is up: every host unlocked-enabled-available, its
//     auto-start done (AIO: controller then worker), the agent ready;
//  2. lock controller-1: its services stopped (one result per
//     function), locked-disabled-online;
//  3. unlock: the agent reboots it (its client restarts with /var/run
//     emptied);
//  4. auto-start after that boot: controller then worker services on
//     AIO, one result each;
//  5. enabled: unlocked-enabled-available (and the worker subfunction on
//     AIO), still exactly one result per set;
//  6. swact to controller-1 with the agent's token corrupted as the swact
//     starts: "Swact: In-Progress", SM moves activity, the old agent
//     stops, a new one starts on controller-1 and loads the inventory,
//     and the corrupted token was renewed after its 401;
//  7. activity on controller-1: the new agent hears every host's
//     mtcAlive.
//
// It returns the steps run and, on the first step that failed, a
// *TourError naming it.
func (d *Demo) Tour(ctx context.Context, report func(string)) ([]Step, error) {
	if report == nil {
		report = func(string) {}
	}
	if err := d.ready(); err != nil {
		return nil, err
	}
	const target = "controller-1"
	h := d.byName[target]
	var steps []Step
	run := func(name string, bound time.Duration, fn func(ctx context.Context) error) error {
		report(fmt.Sprintf("tour: %d. %s (bound %v) ...", len(steps)+1, name, bound))
		sctx, cancel := context.WithTimeout(ctx, bound)
		defer cancel()
		start := time.Now()
		err := fn(sctx)
		st := Step{Name: name, Bound: bound, Took: time.Since(start), Err: err}
		steps = append(steps, st)
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			} else if sctx.Err() != nil && !errors.Is(err, ErrTourTimeout) {
				err = fmt.Errorf("%w: %w", ErrTourTimeout, err)
			}
			report(fmt.Sprintf("tour: %d. %s: FAILED after %v: %v", len(steps), name, st.Took.Round(time.Millisecond), err))
			return &TourError{Step: fmt.Sprintf("%d (%s)", len(steps), name), Err: err}
		}
		report(fmt.Sprintf("tour: %d. %s: ok in %v", len(steps), name, st.Took.Round(time.Millisecond)))
		return nil
	}
	startSets := func(hh *host) []string {
		var out []string
		for _, fn := range hh.functions() {
			out = append(out, "start "+fn)
		}
		return out
	}

	// 1.
	if err := run("the system is up: every host enabled, auto-start done, agent ready", boundUp, func(ctx context.Context) error {
		return d.until(ctx, func() string {
			if r := d.currentAgent(); r == nil || !closed(r.ready) {
				return "agent not ready"
			}
			for _, hh := range d.hosts {
				if s := d.states(hh.name); s != "unlocked-enabled-available" {
					return hh.name + " is " + s
				}
				if got := d.commands(hh.name, 1); !slices.Equal(got, startSets(hh)) {
					return fmt.Sprintf("%s auto-start results %v", hh.name, got)
				}
			}
			return ""
		})
	}); err != nil {
		return steps, err
	}

	// 2.
	var boot int
	if err := run("lock "+target+": its services stopped, then locked-disabled-online", boundLock, func(ctx context.Context) error {
		boot = d.Boots(target)
		before := len(d.Results(target))
		if err := d.Action(ctx, target, "lock"); err != nil {
			return err
		}
		var want []string
		for _, fn := range h.functions() {
			want = append(want, "stop "+fn)
		}
		return d.until(ctx, func() string {
			var got []string
			for _, r := range d.Results(target)[before:] {
				if r.Outcome != "pass" {
					return fmt.Sprintf("%s %s", r.Command, r.Outcome)
				}
				got = append(got, r.Command)
			}
			if !slices.Equal(got, want) {
				return fmt.Sprintf("stop results %v, want %v", got, want)
			}
			if s := d.states(target); s != "locked-disabled-online" {
				return target + " is " + s
			}
			return ""
		})
	}); err != nil {
		return steps, err
	}

	// 3.
	var unlockAt time.Time
	if err := run("unlock "+target+": the agent reboots it", boundReboot, func(ctx context.Context) error {
		unlockAt = time.Now()
		if err := d.Action(ctx, target, "unlock"); err != nil {
			return err
		}
		return d.until(ctx, func() string {
			if d.Boots(target) <= boot {
				return target + " has not rebooted"
			}
			return ""
		})
	}); err != nil {
		return steps, err
	}
	boot = d.Boots(target)

	// 4.
	want := startSets(h)
	if err := run("after the boot: "+strings.Join(want, " then ")+" host services, one result each", boundStart, func(ctx context.Context) error {
		return d.until(ctx, func() string {
			got := d.commands(target, boot)
			if len(got) < len(want) {
				return fmt.Sprintf("results %v, want %v", got, want)
			}
			if !slices.Equal(got, want) {
				return fmt.Sprintf("FATAL results %v, want %v", got, want)
			}
			return ""
		})
	}); err != nil {
		return steps, err
	}

	// 5.
	if err := run(target+" enabled", boundEnable, func(ctx context.Context) error {
		return d.until(ctx, func() string {
			if s := d.states(target); s != "unlocked-enabled-available" {
				return target + " is " + s
			}
			if h.aio {
				if hs, _ := d.sim.Host(target); hs.SubfunctionOper+"-"+hs.SubfunctionAvail != "enabled-available" {
					return "worker subfunction " + hs.SubfunctionOper + "-" + hs.SubfunctionAvail
				}
			}
			if n := d.Boots(target); n != boot {
				return fmt.Sprintf("FATAL %s booted again (boot %d, expected %d)", target, n, boot)
			}
			if got := d.commands(target, boot); !slices.Equal(got, want) {
				return fmt.Sprintf("FATAL results %v, want %v (one each)", got, want)
			}
			return ""
		})
	}); err != nil {
		return steps, err
	}
	report(fmt.Sprintf("tour: unlock → %s enabled: %v (boot %v, mtcAlive every 5 s, goenabled, %d script sets of %v)",
		target, time.Since(unlockAt).Round(time.Millisecond), d.cfg.BootDelay, len(want), d.cfg.ScriptTime))

	// 6.
	from := d.ActiveController()
	var old *agentRun
	if err := run("swact "+from+" → "+target+" with the token corrupted as it starts", boundSwact, func(ctx context.Context) error {
		if from == target {
			return fmt.Errorf("%s is already active", target)
		}
		old = d.currentAgent()
		if err := d.until(ctx, func() string {
			if old == nil || old.a.Status().Swact.Held {
				return "a swact is still held"
			}
			return ""
		}); err != nil {
			return err
		}
		if !d.CorruptToken() {
			return errors.New("no token to corrupt")
		}
		if err := d.Action(ctx, from, "swact"); err != nil {
			return err
		}
		return d.until(ctx, func() string {
			if !slices.ContainsFunc(d.sim.TaskHistory(from), func(c sim.TaskChange) bool { return c.Task == "Swact: In-Progress" }) {
				return "no \"Swact: In-Progress\" task on " + from
			}
			if a := d.ActiveController(); a != target {
				return "SM's active controller is " + a
			}
			r := d.currentAgent()
			if r == nil || r == old || r.host != h || !closed(r.ready) {
				return "no ready agent on " + target
			}
			d.mu.Lock()
			unauth := old.last.Token.RenewalsUnauth
			d.mu.Unlock()
			if unauth == 0 {
				return "the old agent never renewed its corrupted token"
			}
			return ""
		})
	}); err != nil {
		return steps, err
	}
	if sw := d.Swacts(); len(sw) > 0 {
		s := sw[len(sw)-1]
		report(fmt.Sprintf("tour: swact request → \"Swact: In-Progress\" %v → SM moved activity %v → old agent drained %v → agent on %s ready %v",
			s.InProgress.Sub(s.Requested).Round(time.Millisecond), s.Moved.Sub(s.Requested).Round(time.Millisecond),
			s.OldStopped.Sub(s.Requested).Round(time.Millisecond), s.To, s.NewReady.Sub(s.Requested).Round(time.Millisecond)))
	}

	// 7.
	if err := run("activity on "+target+": its agent hears every host", boundSettled, func(ctx context.Context) error {
		r := d.currentAgent()
		return d.until(ctx, func() string {
			if r == nil || r != d.currentAgent() {
				return "the agent changed"
			}
			for _, hs := range r.a.Hosts() {
				if hs.LastAlive.Before(r.readyAt) {
					return "no mtcAlive from " + hs.Name + " since the agent started"
				}
			}
			for _, hh := range d.hosts {
				if s := d.states(hh.name); s != "unlocked-enabled-available" {
					return hh.name + " is " + s
				}
			}
			return ""
		})
	}); err != nil {
		return steps, err
	}
	return steps, nil
}

// until polls cond (a description of what is still missing, "" when
// done; "FATAL ..." stops at once) every 50 ms until ctx ends.
func (d *Demo) until(ctx context.Context, cond func() string) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		why := cond()
		if why == "" {
			return nil
		}
		if rest, ok := strings.CutPrefix(why, "FATAL "); ok {
			return errors.New(rest)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ErrTourTimeout, why)
		case <-d.ctx.Done():
			return ErrClosed
		case <-t.C:
		}
	}
}

// states is SysInv's admin-oper-avail of a host.
func (d *Demo) states(name string) string {
	h, ok := d.sim.Host(name)
	if !ok {
		return "unknown"
	}
	return h.Administrative + "-" + h.Operational + "-" + h.Availability
}

// commands lists the results of the host's boot n, as "start worker"
// etc., failures included as "start worker failed".
func (d *Demo) commands(name string, boot int) []string {
	var out []string
	for _, r := range d.Results(name) {
		if r.Boot != boot {
			continue
		}
		c := r.Command
		if r.Outcome != "pass" {
			c += " " + r.Outcome
		}
		out = append(out, c)
	}
	return out
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
