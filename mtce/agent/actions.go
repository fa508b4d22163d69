package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/vim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// errBootTimeout: the host did not come back configured and goenabled
// within its boot timeout.
var errBootTimeout = errors.New("boot timeout")

// errFailed: the host came back with a failure flag set.
var errFailed = errors.New("failure flag set")

// startActionLocked starts an accepted admin action on h.
func (a *Agent) startActionLocked(h *host, act mtce.AdminAction) {
	var f func(context.Context) error
	switch act {
	case mtce.ActionLock:
		f = func(ctx context.Context) error { return a.lockHost(ctx, h, false) }
	case mtce.ActionForceLock:
		f = func(ctx context.Context) error { return a.lockHost(ctx, h, true) }
	case mtce.ActionUnlock:
		f = func(ctx context.Context) error { return a.unlockHost(ctx, h) }
	case mtce.ActionReboot:
		f = func(ctx context.Context) error { return a.adminReboot(ctx, h) }
	case mtce.ActionReset, mtce.ActionPowerOn, mtce.ActionPowerOff, mtce.ActionPowercycle:
		f = func(ctx context.Context) error { return a.power(ctx, h, act) }
	default:
		a.log.Warn("admin action not supported by this agent; ignored", "host", h.rec.Name, "action", act)
		a.met.unsupported.Add(1)
		return
	}
	a.startLocked(h, act, f)
}

// startLocked runs f as h's action, after the previous one (cancelled)
// has ended. The host's admin action is set while it runs.
func (a *Agent) startLocked(h *host, act mtce.AdminAction, f func(context.Context) error) {
	if a.stopped || a.runCtx == nil {
		return
	}
	prev := h.run
	if prev != nil {
		prev.cancel()
	}
	ctx, cancel := context.WithCancel(a.runCtx)
	r := &run{action: act, cancel: cancel, done: make(chan struct{})}
	h.run = r
	if act != mtce.ActionRecover && act != mtce.ActionAdd {
		h.rec.Action = act
	}
	a.met.action(act.String(), "started")
	name := h.rec.Name
	a.wg.Go(func() {
		defer close(r.done)
		defer cancel()
		if prev != nil {
			<-prev.done
		}
		err := f(ctx)
		outcome := "done"
		switch {
		case err == nil:
		case ctx.Err() != nil:
			outcome = "cancelled"
		default:
			outcome = "failed"
			a.log.Warn("action failed", "host", name, "action", act, "err", err)
		}
		a.met.action(act.String(), outcome)
		a.lock()
		if h.run == r {
			h.run = nil
			if act != mtce.ActionRecover && act != mtce.ActionAdd {
				h.rec.Action = mtce.ActionNone
			}
			// Whatever the action left, a locked host's availability
			// follows its mtcAlive from now on.
			a.syncAvailLocked(h)
		}
		a.unlock()
	})
}

// ---- record and platform updates ----

func (a *Agent) setStatesLocked(h *host, admin mtce.AdminState, oper mtce.OperState, avail mtce.AvailStatus) {
	h.rec.Admin, h.rec.Oper, h.rec.Avail = admin, oper, avail
	if _, err := a.si.UpdateStates(h.ref(), admin, oper, avail); err != nil {
		a.log.Warn("sysinv states not queued", "host", h.rec.Name, "err", err)
	}
}

func (a *Agent) setStates(h *host, admin mtce.AdminState, oper mtce.OperState, avail mtce.AvailStatus) {
	a.lock()
	defer a.unlock()
	if !h.deleted {
		a.setStatesLocked(h, admin, oper, avail)
	}
}

func (a *Agent) setTask(h *host, t mtce.Task) {
	a.lock()
	defer a.unlock()
	if h.deleted {
		return
	}
	h.rec.Task = t
	if _, err := a.si.UpdateTask(h.ref(), t, h.uptime); err != nil {
		a.log.Warn("sysinv task not queued", "host", h.rec.Name, "err", err)
	}
}

// holdTask clears t after TaskHold unless the task changed meanwhile.
func (a *Agent) holdTask(ctx context.Context, h *host, t mtce.Task) {
	a.setTask(h, t)
	if sleepCtx(ctx, a.cfg.TaskHold) != nil {
		return
	}
	a.lock()
	same := h.rec.Task == t
	a.unlock()
	if same {
		a.setTask(h, mtce.TaskNone)
	}
}

func (a *Agent) vimEvent(h *host, ev vim.Event) {
	a.lock()
	rec := h.rec
	a.unlock()
	if _, err := a.vimc.StateChange(ev, rec, nil); err != nil {
		a.log.Warn("VIM state change not queued", "host", rec.Name, "event", ev, "err", err)
	}
}

// snapshot returns what an action needs to watch h.
func (a *Agent) snapshot(h *host) (epoch uint64, changed <-chan struct{}, alive bool) {
	a.lock()
	defer a.unlock()
	return h.epoch, h.changed, h.alive
}

// ---- add ----

func (a *Agent) doAdd(ctx context.Context, h *host, initial mtce.AdminAction) error {
	if err := sleepCtx(ctx, a.mtc.Load().Agent.HostAddDelay); err != nil {
		return err
	}
	a.lock()
	defer a.unlock()
	if h.deleted {
		return nil
	}
	if initial != mtce.ActionNone && initial != mtce.ActionAdd {
		// Replace this run by the initial action: the add's run ends as
		// soon as this function returns.
		h.run = nil
		a.startActionLocked(h, initial)
	}
	return nil
}

// ---- lock ----

// lockHost: stop host services per function (E.2/K.4; failures are
// logged and counted, never fail the lock), the locked message (K.8),
// locked-disabled-online, VIM and SM. A force-lock then resets the host.
func (a *Agent) lockHost(ctx context.Context, h *host, force bool) error {
	task := mtce.TaskLocking
	if force {
		task = mtce.TaskForceLocking
	}
	a.setTask(h, task)
	a.lock()
	fns := h.rec.Functions()
	ctrl, aio := h.isController(), h.aio()
	name := h.rec.Name
	a.unlock()
	for _, fn := range []mtce.NodeFunctions{mtce.FunctionController, mtce.FunctionWorker, mtce.FunctionStorage} {
		if !fns.Has(fn) {
			continue
		}
		if _, err := a.hostServices(ctx, h, fn, false); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			a.met.stopFailures.Add(1)
			a.log.Warn("stop host services failed; the lock goes on (K.4)", "host", name, "function", fn, "err", err)
		}
	}
	persist := !a.cfg.Platform.Simplex
	if err := a.command(ctx, h, wire.CmdLocked, wire.AckTimeout, func(t wire.Target) (wire.Message, error) { return wire.NewLocked(t, persist) }); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.log.Warn("locked message not acknowledged", "host", name, "err", err)
	}
	a.lock()
	avail := mtce.AvailOffline
	if h.alive {
		avail = mtce.AvailOnline
	}
	h.rec.Task = mtce.TaskNone
	a.setStatesLocked(h, mtce.AdminLocked, mtce.OperDisabled, avail)
	if aio {
		h.rec.SubfOper, h.rec.SubfAvail = mtce.OperDisabled, avail
		a.si.SubfStates(h.ref(), mtce.OperDisabled, avail)
	}
	clear(h.ar)
	clear(h.arOff)
	a.si.UpdateTask(h.ref(), mtce.TaskNone, h.uptime)
	a.unlock()
	a.vimEvent(h, vim.HostDisabled)
	if ctrl {
		a.smc.Locked(name)
	}
	a.log.Info("host locked", "host", name, "force", force)
	if !force {
		return nil
	}
	// StarlingX's disable handler resets a force-locked host.
	a.setTask(h, mtce.TaskDisableForce)
	err := a.resetHost(ctx, h)
	a.setTask(h, mtce.TaskNone)
	return err
}

// resetHost asks the client for a reset (cmd 4) on every network and,
// without an ACK, resets through the BMC.
func (a *Agent) resetHost(ctx context.Context, h *host) error {
	err := a.command(ctx, h, wire.CmdReset, wire.AckTimeout, func(t wire.Target) (wire.Message, error) { return wire.NewReset(t) })
	if err == nil || ctx.Err() != nil {
		return err
	}
	if _, perr := a.powerDo(ctx, h, bmc.ActionReset); perr != nil {
		return fmt.Errorf("no reset ACK (%v) and BMC reset failed: %w", err, perr)
	}
	return nil
}

// ---- reboot ----

// rebootHost is K.8: reboot sent on every network, the first ACK
// suffices, up to RebootSends sends RebootResend apart, then a BMC reset
// (when the BMC is provisioned) once bmc_reset_delay has passed since the
// first send (see bmcResetWait). If the host goes away or comes back
// rebooted during that wait (the reboot ran but its ACKs were lost), the
// BMC reset is not done.
func (a *Agent) rebootHost(ctx context.Context, h *host) error {
	epoch, _, _ := a.snapshot(h)
	var last error
	for i := 1; i <= a.cfg.RebootSends; i++ {
		last = a.command(ctx, h, wire.CmdReboot, a.cfg.RebootResend, func(t wire.Target) (wire.Message, error) { return wire.NewReboot(t) })
		if last == nil || ctx.Err() != nil {
			return last
		}
		a.log.Info("reboot not acknowledged", "host", a.nameOf(h), "send", i, "of", a.cfg.RebootSends)
	}
	a.lock()
	prov := h.rec.BMCProvisioned()
	a.unlock()
	if !prov {
		return fmt.Errorf("reboot not acknowledged after %d sends and no BMC: %w", a.cfg.RebootSends, last)
	}
	if d := a.bmcResetWait(); d > 0 {
		a.log.Warn("reboot not acknowledged; BMC reset after bmc_reset_delay", "host", a.nameOf(h), "in", d)
		err := a.waitFor(ctx, h, d, func(h *host) bool { return h.epoch > epoch })
		switch {
		case err == nil:
			a.log.Info("host went down after an unacknowledged reboot: no BMC reset", "host", a.nameOf(h))
			return nil
		case !errors.Is(err, errBootTimeout):
			return err
		}
	}
	a.log.Warn("reboot not acknowledged; resetting through the BMC", "host", a.nameOf(h))
	if _, err := a.powerDo(ctx, h, bmc.ActionReset); err != nil {
		return fmt.Errorf("reboot not acknowledged and BMC reset failed: %w", err)
	}
	return nil
}

// bmcResetWait is how long an unacknowledged reboot waits after its last
// send before the BMC reset: K.8's "bmc_reset_delay − 50 s", the 50 s
// being the five sends 10 s apart, so that the reset comes
// bmc_reset_delay (mtc.conf [agent], stock 300 s) after the first send.
// With other RebootSends/RebootResend the sends' own time is subtracted
// instead; never negative.
func (a *Agent) bmcResetWait() time.Duration {
	sends := time.Duration(a.cfg.RebootSends) * a.cfg.RebootResend
	return max(a.mtc.Load().Agent.BMCResetDelay-sends, 0)
}

// adminReboot is the reboot action of a locked host: reboot, wait for it
// to go away and come back online.
func (a *Agent) adminReboot(ctx context.Context, h *host) error {
	a.setTask(h, mtce.TaskRebootRequest)
	epoch, _, _ := a.snapshot(h)
	if err := a.rebootHost(ctx, h); err != nil {
		a.holdTask(ctx, h, mtce.TaskRebootFail)
		return err
	}
	a.setTask(h, mtce.TaskRebooting)
	if err := a.waitFor(ctx, h, a.bootTimeout(h), func(h *host) bool { return h.epoch > epoch && h.alive }); err != nil {
		a.holdTask(ctx, h, mtce.TaskRebootTimeout)
		return err
	}
	a.setTask(h, mtce.TaskNone)
	return nil
}

// ---- unlock and enable ----

func (a *Agent) bootTimeout(h *host) time.Duration {
	t := a.mtc.Load().Timeouts
	a.lock()
	ctrl := h.isController()
	a.unlock()
	if ctrl {
		return t.ControllerBoot
	}
	return t.WorkerBoot
}

// waitFor waits until cond(h) holds (checked with the records locked at
// every change of h), d passes (errBootTimeout) or ctx ends.
func (a *Agent) waitFor(ctx context.Context, h *host, d time.Duration, cond func(*host) bool) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		a.lock()
		if h.deleted {
			a.unlock()
			return ErrUnknownHost
		}
		ok := cond(h)
		ch := h.changed
		a.unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return errBootTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// bootedLocked: back with a reset uptime (epoch moved), configured and
// goenabled (and, on AIO, subfunction goenabled).
func bootedLocked(h *host, epoch uint64) bool {
	if !h.alive || h.epoch <= epoch {
		return false
	}
	if _, bad := failureCause(h.flags); bad {
		return true
	}
	need := wire.FlagConfigured | wire.FlagMainGoEnabled
	if h.aio() {
		need |= wire.FlagSubfGoEnabled
	}
	return h.flags&need == need
}

// unlockHost: unlocked message first (cmd 24), then the K.8 reboot, then
// wait for the host's return and enable it. A boot timeout writes "Boot
// Failed, rebooting" and reboots again.
func (a *Agent) unlockHost(ctx context.Context, h *host) error {
	a.lock()
	clear(h.ar)
	clear(h.arOff)
	h.rec.Task = mtce.TaskUnlocking
	a.si.UpdateTask(h.ref(), mtce.TaskUnlocking, h.uptime)
	a.setStatesLocked(h, mtce.AdminUnlocked, mtce.OperDisabled, h.rec.Avail)
	a.unlock()
	if err := a.command(ctx, h, wire.CmdUnlocked, wire.AckTimeout, func(t wire.Target) (wire.Message, error) { return wire.NewUnlocked(t) }); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.log.Warn("unlocked message not acknowledged", "host", a.nameOf(h), "err", err)
	}
	return a.rebootAndEnable(ctx, h, causeNone)
}

// rebootAndEnable reboots h and enables it when it returns; boot timeouts
// reboot it again. A failure flag on return goes to recovery accounting.
func (a *Agent) rebootAndEnable(ctx context.Context, h *host, c cause) error {
	for {
		epoch, _, _ := a.snapshot(h)
		if err := a.rebootHost(ctx, h); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			a.log.Warn("reboot failed; waiting for the host anyway", "host", a.nameOf(h), "err", err)
		}
		a.setTask(h, mtce.TaskRebooting)
		err := a.waitBoot(ctx, h, epoch)
		switch {
		case err == nil:
			return a.enable(ctx, h)
		case errors.Is(err, errBootTimeout):
			a.log.Warn("boot timeout; rebooting again", "host", a.nameOf(h))
			a.met.bootTimeouts.Add(1)
			a.setTask(h, mtce.TaskBootFail)
			continue
		case errors.Is(err, errFailed):
			return a.recover(ctx, h, failureOf(h, a))
		default:
			return err
		}
	}
}

func failureOf(h *host, a *Agent) cause {
	a.lock()
	defer a.unlock()
	c, _ := failureCause(h.flags)
	return c
}

// waitBoot waits for the host to be back after epoch: offline (task
// Booting) then configured and goenabled, within the boot timeout.
func (a *Agent) waitBoot(ctx context.Context, h *host, epoch uint64) error {
	d := a.bootTimeout(h)
	deadline := time.Now().Add(d)
	if err := a.waitFor(ctx, h, d, func(h *host) bool { return h.epoch > epoch }); err != nil {
		return err
	}
	a.setTask(h, mtce.TaskBooting)
	a.setStates(h, mtce.AdminNone, mtce.OperDisabled, mtce.AvailOffline)
	if err := a.waitFor(ctx, h, time.Until(deadline), func(h *host) bool { return bootedLocked(h, epoch) }); err != nil {
		return err
	}
	a.lock()
	_, bad := failureCause(h.flags)
	a.unlock()
	if bad {
		return errFailed
	}
	return nil
}

// enable marks h unlocked-enabled-available (and its worker subfunction
// on AIO) and tells SysInv, VIM and SM; the critical calls are waited for
// up to work_queue_timeout (A.5).
func (a *Agent) enable(ctx context.Context, h *host) error {
	a.lock()
	if h.deleted {
		a.unlock()
		return ErrUnknownHost
	}
	h.rec.Admin, h.rec.Oper, h.rec.Avail = mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable
	h.rec.Task = mtce.TaskNone
	ref, name, ctrl, aio, action := h.ref(), h.rec.Name, h.isController(), h.aio(), h.rec.Action
	if aio {
		h.rec.SubfOper, h.rec.SubfAvail = mtce.OperEnabled, mtce.AvailAvailable
	}
	uptime := h.uptime
	a.unlock()
	var waits []interface{ Wait(context.Context) error }
	if c, err := a.si.ForceStates(ref, mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable); err == nil {
		waits = append(waits, waiter(c.Done(), c.Handle().Err))
	}
	if aio {
		if c, err := a.si.SubfStates(ref, mtce.OperEnabled, mtce.AvailAvailable); err == nil {
			waits = append(waits, waiter(c.Done(), c.Handle().Err))
		}
	}
	a.si.UpdateTask(ref, mtce.TaskNone, uptime)
	if ctrl {
		if c, err := a.smc.Enabled(name, action, mtce.AdminUnlocked, mtce.AvailAvailable); err == nil {
			waits = append(waits, waiter(c.Done(), c.Handle().Err))
		}
		a.smc.Unlocked(name)
	}
	a.vimEvent(h, vim.HostEnabled)
	wq := a.mtc.Load().Timeouts.WorkQueue
	if wq <= 0 {
		wq = 60 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, wq)
	defer cancel()
	for _, w := range waits {
		if err := w.Wait(wctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			a.log.Warn("enable: a critical platform update failed", "host", name, "err", err)
			a.setTask(h, mtce.TaskEnableWorkFail)
			return err
		}
	}
	a.log.Info("host enabled", "host", name)
	return nil
}

type doneWaiter struct {
	done <-chan struct{}
	err  func() error
}

func waiter(done <-chan struct{}, err func() error) doneWaiter { return doneWaiter{done, err} }

func (w doneWaiter) Wait(ctx context.Context) error {
	select {
	case <-w.done:
		return w.err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ---- failure and auto-recovery ----

// arLimit returns the threshold and interval of c.
func (a *Agent) arLimit(c cause) (int, time.Duration) {
	ag := a.mtc.Load().Agent
	switch c {
	case causeServices:
		return ag.ARHostServices.Threshold, ag.ARHostServices.Interval
	case causeGoEnable:
		return ag.ARGoEnable.Threshold, ag.ARGoEnable.Interval
	case causeSM:
		return ag.AutorecoveryThreshold, ag.ARHostServices.Interval
	}
	return 0, 0
}

// recover handles a failed unlocked host. For causeNone (it rebooted on
// its own or went offline) the host is failed and re-enabled when it
// returns configured and goenabled, with its services started by its own
// client (E.3). For a counted cause the host is failed, and recovered by
// reboot after the cause's interval, up to its threshold; past it, the
// host is left failed with that cause's auto-recovery disabled until the
// next lock/unlock.
func (a *Agent) recover(ctx context.Context, h *host, c cause) error {
	for {
		a.lock()
		if h.deleted {
			a.unlock()
			return nil
		}
		ctrl, name, epoch := h.isController(), h.rec.Name, h.epoch
		var task mtce.Task
		left := false
		if c != causeNone {
			h.ar[c]++
			th, _ := a.arLimit(c)
			if h.ar[c] > th {
				h.arOff[c] = true
				left = true
				task = arDisabledTask(c)
			} else {
				task = failTask(c)
			}
		}
		h.rec.Task = task
		a.si.UpdateTask(h.ref(), task, h.uptime)
		a.setStatesLocked(h, mtce.AdminUnlocked, mtce.OperDisabled, mtce.AvailFailed)
		if h.aio() {
			h.rec.SubfOper, h.rec.SubfAvail = mtce.OperDisabled, mtce.AvailFailed
			a.si.SubfStates(h.ref(), mtce.OperDisabled, mtce.AvailFailed)
		}
		n := h.ar[c]
		a.unlock()
		a.met.failures.Add(1)
		a.vimEvent(h, vim.HostFailed)
		if ctrl {
			a.smc.Disabled(name, mtce.ActionNone, mtce.AdminUnlocked, mtce.AvailFailed)
		}
		if left {
			a.log.Error("auto-recovery threshold reached; host left failed", "host", name, "cause", c, "failures", n)
			return nil
		}
		if c == causeNone {
			// It is away or rebooting already: wait for its return.
			err := a.waitFor(ctx, h, 365*24*time.Hour, func(h *host) bool {
				return bootedLocked(h, epoch) || h.epoch == epoch && h.alive && readyFlags(h)
			})
			if err != nil {
				return err
			}
			a.lock()
			fc, bad := failureCause(h.flags)
			a.unlock()
			if bad {
				c = fc
				continue
			}
			return a.enable(ctx, h)
		}
		_, interval := a.arLimit(c)
		a.log.Warn("host failed; auto-recovery by reboot", "host", name, "cause", c, "failure", n, "in", interval)
		if err := sleepCtx(ctx, interval); err != nil {
			return err
		}
		err := a.rebootAndEnableOnce(ctx, h)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errFailed) {
			return err
		}
		c = failureOf(h, a)
	}
}

// readyFlags: configured and goenabled, with no failure flag.
func readyFlags(h *host) bool {
	if _, bad := failureCause(h.flags); bad {
		return false
	}
	need := wire.FlagConfigured | wire.FlagMainGoEnabled
	if h.aio() {
		need |= wire.FlagSubfGoEnabled
	}
	return h.flags&need == need
}

// rebootAndEnableOnce reboots h and enables it on return; a boot timeout
// reboots again; a failure flag on return is errFailed.
func (a *Agent) rebootAndEnableOnce(ctx context.Context, h *host) error {
	for {
		epoch, _, _ := a.snapshot(h)
		if err := a.rebootHost(ctx, h); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		err := a.waitBoot(ctx, h, epoch)
		switch {
		case err == nil:
			return a.enable(ctx, h)
		case errors.Is(err, errBootTimeout):
			a.met.bootTimeouts.Add(1)
			a.setTask(h, mtce.TaskBootFail)
		default:
			return err
		}
	}
}

func failTask(c cause) mtce.Task {
	switch c {
	case causeGoEnable:
		return mtce.TaskMainIntestFail
	case causeSM:
		return mtce.TaskEnableWorkFail
	}
	return mtce.TaskMainServiceFail
}

func arDisabledTask(c cause) mtce.Task {
	switch c {
	case causeGoEnable:
		return mtce.TaskARDisabledGoEnable
	case causeSM:
		return mtce.TaskARDisabledEnable
	}
	return mtce.TaskARDisabledServices
}

// nameOf reads h's name with the records locked.
func (a *Agent) nameOf(h *host) string {
	a.lock()
	defer a.unlock()
	return h.rec.Name
}
