package client

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/mtce/wire"
)

// Actions are what the client does to the machine when the agent asks for
// a reboot, a reset, a wipedisk or a lazy reboot (spec K.8). Each function
// is called after the command was ACKed, on a goroutine the client owns,
// with a context that ends when the client stops. A nil function refuses
// the action: it is logged and counted, and nothing happens. The zero
// Actions refuses everything.
type Actions struct {
	// Reboot is "systemctl reboot" (cmd 2, and cmd 20 after its delay).
	Reboot func(ctx context.Context) error
	// ForceReboot is "systemctl reboot --force" (cmd 4, and the failsafe
	// after a reboot, reset or wipedisk that did not take the host down).
	ForceReboot func(ctx context.Context) error
	// Wipedisk is "/usr/local/bin/wipedisk --force" (cmd 3).
	Wipedisk func(ctx context.Context) error
	// Failsafe is how long after Reboot (half of it after ForceReboot and
	// Wipedisk) ForceReboot is called if the process still runs. Zero
	// takes mtc.conf's failsafe_shutdown_delay; negative disables it.
	Failsafe time.Duration
}

// SystemCommands names the programs SystemActions executes.
type SystemCommands struct {
	// Systemctl is the systemctl program, looked up in PATH when it has
	// no slash. Default "systemctl".
	Systemctl string
	// Wipedisk is the wipedisk program. Default "/usr/local/bin/wipedisk".
	Wipedisk string
}

// SystemActions returns the real actions of a StarlingX host: "systemctl
// reboot", "systemctl reboot --force" and "wipedisk --force", each executed
// directly, without a shell. Only a daemon that is meant to reboot its
// machine should use it.
func SystemActions(cmds SystemCommands) Actions {
	if cmds.Systemctl == "" {
		cmds.Systemctl = "systemctl"
	}
	if cmds.Wipedisk == "" {
		cmds.Wipedisk = "/usr/local/bin/wipedisk"
	}
	return Actions{
		Reboot:      execAction(cmds.Systemctl, "reboot"),
		ForceReboot: execAction(cmds.Systemctl, "reboot", "--force"),
		Wipedisk:    execAction(cmds.Wipedisk, "--force"),
	}
}

// execAction returns an action running prog with args, no shell, and
// reporting a non-zero exit with the tail of its output.
func execAction(prog string, args ...string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, prog, args...)
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			text := strings.TrimSpace(string(out))
			if len(text) > 256 {
				text = text[len(text)-256:]
			}
			return fmt.Errorf("%s %s: %w: %s", prog, strings.Join(args, " "), err, text)
		}
		return nil
	}
}

// actionKind names a machine action in logs and metrics.
type actionKind string

const (
	actReboot      actionKind = "reboot"
	actForceReboot actionKind = "reset"
	actWipedisk    actionKind = "wipedisk"
	actLazyReboot  actionKind = "lazy_reboot"
	actFailsafe    actionKind = "failsafe"
)

// act carries out a reboot-class command after its ACK (spec K.8): lazy
// reboot waits parm[0] seconds first; the action is called; then, if the
// process is still running after the failsafe delay, a forced reboot.
// StarlingX also stops collectd and pmon first; this client leaves that to
// the configured action.
func (c *Client) act(ctx context.Context, cmd wire.Command, delay time.Duration) {
	var kind actionKind
	var fn func(context.Context) error
	failsafe := c.failsafe()
	switch cmd {
	case wire.CmdReboot:
		kind, fn = actReboot, c.cfg.Actions.Reboot
	case wire.CmdLazyReboot:
		kind, fn = actLazyReboot, c.cfg.Actions.Reboot
	case wire.CmdReset:
		kind, fn = actForceReboot, c.cfg.Actions.ForceReboot
		failsafe = c.failsafeHalf()
	case wire.CmdWipedisk:
		kind, fn = actWipedisk, c.cfg.Actions.Wipedisk
		failsafe = c.failsafeHalf()
	default:
		return
	}
	if fn == nil {
		c.log.Warn("action refused: not configured", "action", kind, "command", cmd.String())
		c.m.actions.WithLabelValues(string(kind), "refused").Inc()
		c.emit(Event{Kind: EventAction, Action: string(kind), Refused: true})
		return
	}
	if delay > 0 {
		c.log.Info("lazy reboot: waiting", "delay", delay)
		if !sleep(ctx, delay) {
			return
		}
	}
	if err := c.writeFlag(NodeResetFile, ""); err != nil {
		c.log.Warn("cannot write node reset flag", "err", err)
	}
	c.log.Warn("performing action", "action", kind, "command", cmd.String())
	err := fn(ctx)
	if err != nil {
		c.log.Error("action failed", "action", kind, "err", err)
		c.m.actions.WithLabelValues(string(kind), "failed").Inc()
	} else {
		c.m.actions.WithLabelValues(string(kind), "done").Inc()
	}
	c.emit(Event{Kind: EventAction, Action: string(kind), Err: err})
	if failsafe <= 0 {
		return
	}
	if !sleep(ctx, failsafe) {
		return
	}
	if c.cfg.Actions.ForceReboot == nil {
		c.log.Warn("failsafe reboot refused: not configured", "after", failsafe)
		c.m.actions.WithLabelValues(string(actFailsafe), "refused").Inc()
		c.emit(Event{Kind: EventAction, Action: string(actFailsafe), Refused: true})
		return
	}
	c.log.Error("still running after action; failsafe forced reboot", "action", kind, "after", failsafe)
	if err := c.cfg.Actions.ForceReboot(ctx); err != nil && !errors.Is(err, context.Canceled) {
		c.log.Error("failsafe reboot failed", "err", err)
		c.m.actions.WithLabelValues(string(actFailsafe), "failed").Inc()
		c.emit(Event{Kind: EventAction, Action: string(actFailsafe), Err: err})
		return
	}
	c.m.actions.WithLabelValues(string(actFailsafe), "done").Inc()
	c.emit(Event{Kind: EventAction, Action: string(actFailsafe)})
}

func (c *Client) failsafe() time.Duration {
	switch {
	case c.cfg.Actions.Failsafe < 0:
		return 0
	case c.cfg.Actions.Failsafe > 0:
		return c.cfg.Actions.Failsafe
	}
	return c.cfg.Mtc.Timeouts.FailsafeRebootDelay()
}

// failsafeHalf is the failsafe delay of reset and wipedisk: half of it.
func (c *Client) failsafeHalf() time.Duration {
	if c.cfg.Actions.Failsafe != 0 {
		return c.failsafe() / 2
	}
	return c.cfg.Mtc.Timeouts.FailsafeResetDelay()
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
