package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/ipmi"
	"opendev.org/starlingx/metal-go/bmc/redfish"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/hwmon"
)

// pwEntry is a cached BMC password, keyed by host name and bound to the
// host's UUID.
type pwEntry struct {
	uuid     string
	pw       bmc.Password
	fetching bool
}

// bmcChangedLocked re-evaluates h's BMC provisioning after a change from
// old (zero for a new host) and routes it to bmcProvisioned or
// bmcDeprovisioned: the only two places where provisioning changes.
func (a *Agent) bmcChangedLocked(h *host, old BMCHost) {
	now := h.rec.BMCProvisioned()
	cur := h.bmcHost()
	switch {
	case now && (!h.bmcOn || cur != old):
		if h.bmcOn && old.Name != cur.Name {
			a.bmcDeprovisioned(old.Name)
		}
		if old.UUID != cur.UUID {
			delete(a.pw, old.Name)
		}
		h.bmcOn = true
		a.bmcProvisioned(h)
	case !now && h.bmcOn:
		h.bmcOn = false
		delete(a.pw, old.Name)
		a.bmcDeprovisioned(old.Name)
	}
}

// bmcProvisioned: h's BMC is provisioned (or its fields changed). The
// password is fetched in the background (never holding up readiness);
// Config.OnBMCProvisioned is told. Called with the records locked.
func (a *Agent) bmcProvisioned(h *host) {
	bh := h.bmcHost()
	a.log.Info("BMC provisioned", "host", bh.Name, "bm_ip", bh.BMIP, "bm_type", bh.BMType)
	a.met.bmcProvisioning.Add(1)
	if a.mon != nil {
		a.mon.Set(hwmon.Host(bh))
	}
	if f := a.cfg.OnBMCProvisioned; f != nil {
		f(bh)
	}
	if a.bb == nil || a.stopped || a.runCtx == nil {
		return
	}
	e := a.pw[bh.Name]
	if e.uuid == bh.UUID && (!e.pw.IsZero() || e.fetching) {
		return
	}
	a.pw[bh.Name] = pwEntry{uuid: bh.UUID, fetching: true}
	ctx := a.runCtx
	a.wg.Go(func() { a.fetchLoop(ctx, bh) })
}

// bmcDeprovisioned: name's BMC is gone (deprovisioned or host deleted).
// Called with the records locked.
func (a *Agent) bmcDeprovisioned(name string) {
	a.log.Info("BMC deprovisioned", "host", name)
	a.met.bmcProvisioning.Add(1)
	delete(a.pw, name)
	if a.mon != nil {
		a.mon.Remove(name)
	}
	if f := a.cfg.OnBMCDeprovisioned; f != nil {
		f(name)
	}
}

// fetchLoop fetches h's password until it has it, the BMC is
// deprovisioned or changed, or ctx ends. Each fetch is the Barbican
// client's queued lookup (3 attempts 10–100 s apart); between fetches it
// waits a random 10–100 s as K.7 says.
func (a *Agent) fetchLoop(ctx context.Context, bh BMCHost) {
	for {
		pw, err := a.fetch(ctx, bh)
		a.lock()
		e, ok := a.pw[bh.Name]
		current := ok && e.uuid == bh.UUID
		if current {
			if err == nil {
				a.pw[bh.Name] = pwEntry{uuid: bh.UUID, pw: pw}
			}
		}
		a.unlock()
		if err == nil || !current || ctx.Err() != nil {
			return
		}
		a.met.pwFailures.Add(1)
		wait := time.Duration(10+rand.IntN(91)) * time.Second
		a.log.Warn("BMC password fetch failed; retrying", "host", bh.Name, "in", wait, "err", err)
		if sleepCtx(ctx, wait) != nil {
			return
		}
	}
}

func (a *Agent) fetch(ctx context.Context, bh BMCHost) (bmc.Password, error) {
	if a.bb == nil {
		return bmc.Password{}, errors.New("agent: no Barbican endpoint configured")
	}
	call, err := a.bb.Password(bh.Name, bh.UUID)
	if err != nil {
		return bmc.Password{}, err
	}
	sec, err := call.Wait(ctx)
	if err != nil {
		return bmc.Password{}, err
	}
	return bmc.NewPassword(sec.Reveal()), nil
}

// Password returns h's BMC password from the agent's store, fetching it
// from Barbican when it is not there yet. Its shape is the hardware
// monitor's Config.Password (convert hwmon.Host to BMCHost).
func (a *Agent) Password(ctx context.Context, h BMCHost) (bmc.Password, error) {
	if !h.BMType.Provisioned() {
		return bmc.Password{}, ErrNoBMC
	}
	a.lock()
	e, ok := a.pw[h.Name]
	a.unlock()
	if ok && e.uuid == h.UUID && !e.pw.IsZero() {
		return e.pw, nil
	}
	pw, err := a.fetch(ctx, h)
	if err != nil {
		return bmc.Password{}, err
	}
	a.lock()
	if cur := a.hosts[h.Name]; cur != nil && cur.rec.UUID == h.UUID {
		a.pw[h.Name] = pwEntry{uuid: h.UUID, pw: pw}
	}
	a.unlock()
	return pw, nil
}

// driver makes the BMC driver for h (Config.NewBMC or by bm_type).
func (a *Agent) driver(ctx context.Context, h BMCHost, pw bmc.Password) (bmc.Driver, error) {
	if a.cfg.NewBMC != nil {
		return a.cfg.NewBMC(ctx, h, pw)
	}
	t := h.BMType
	if t == mtce.BMCDynamic || t == mtce.BMCGeneric {
		dc := bmc.DefaultDetectConfig()
		dc.Address = h.BMIP
		det, err := bmc.Detect(ctx, dc)
		if err != nil {
			return nil, err
		}
		if det.Protocol == bmc.ProtocolRedfish {
			t = mtce.BMCRedfish
		} else {
			t = mtce.BMCIPMI
		}
	}
	if t == mtce.BMCRedfish {
		rc := redfish.DefaultConfig()
		rc.Endpoint, rc.Username, rc.Password = h.BMIP, h.BMUsername, pw
		rc.GracefulFallback = a.cfg.GracefulFallback
		rc.Logger = a.log.With("component", "bmc", "host", h.Name)
		return redfish.New(rc)
	}
	ic := ipmi.DefaultConfig()
	ic.Host, ic.Username, ic.Password = h.BMIP, h.BMUsername, pw
	ic.Logger = a.log.With("component", "bmc", "host", h.Name)
	return ipmi.New(ic)
}

// powerDo runs one power action on h's BMC through bmc.PowerController.
func (a *Agent) powerDo(ctx context.Context, h *host, act bmc.PowerAction) (bmc.Outcome, error) {
	a.lock()
	bh, prov := h.bmcHost(), h.rec.BMCProvisioned()
	a.unlock()
	if !prov {
		return bmc.Outcome{}, ErrNoBMC
	}
	pw, err := a.Password(ctx, bh)
	if err != nil {
		return bmc.Outcome{}, fmt.Errorf("BMC password: %w", err)
	}
	d, err := a.driver(ctx, bh, pw)
	if err != nil {
		return bmc.Outcome{}, err
	}
	if err := d.Open(ctx); err != nil {
		return bmc.Outcome{}, err
	}
	defer func() {
		cctx, c := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer c()
		d.Close(cctx)
	}()
	pc := a.cfg.Power
	pc.Logger = a.log.With("component", "bmc", "host", bh.Name)
	ctl, err := bmc.NewPowerController(d, pc)
	if err != nil {
		return bmc.Outcome{}, err
	}
	if act == bmc.ActionOff && a.cfg.GracefulFallback {
		a.log.Warn("power-off: GracefulShutdown is sent if the BMC lacks ForceOff (Config.GracefulFallback, StarlingX behaviour)", "host", bh.Name)
	}
	out, err := ctl.Do(ctx, act)
	a.met.power(string(act), err)
	return out, err
}

// power runs an admin reset, power-on, power-off or powercycle (G.2).
func (a *Agent) power(ctx context.Context, h *host, act mtce.AdminAction) error {
	var (
		pa               bmc.PowerAction
		doing, ok, notok mtce.Task
	)
	switch act {
	case mtce.ActionReset:
		pa, doing, ok, notok = bmc.ActionReset, mtce.TaskResetting, mtce.TaskResetCompleted, mtce.TaskResetFail
	case mtce.ActionPowerOn:
		pa, doing, ok, notok = bmc.ActionOn, mtce.Task("Powering On"), mtce.TaskPowerOnCompleted, mtce.TaskPowerOnFail
	case mtce.ActionPowerOff:
		pa, doing, ok, notok = bmc.ActionOff, mtce.Task("Powering Off"), mtce.TaskPowerOffCompleted, mtce.TaskPowerOffFail
	default:
		pa, doing, ok, notok = bmc.ActionCycle, mtce.TaskResetProgression, mtce.TaskResetCompleted, mtce.TaskResetFail
	}
	a.setTask(h, doing)
	_, err := a.powerDo(ctx, h, pa)
	switch {
	case err == nil:
		a.lock()
		switch act {
		case mtce.ActionPowerOff:
			a.setStatesLocked(h, mtce.AdminNone, mtce.OperDisabled, mtce.AvailPowerOff)
		case mtce.ActionPowerOn:
			a.setStatesLocked(h, mtce.AdminNone, mtce.OperDisabled, mtce.AvailOffline)
		}
		a.unlock()
		a.holdTask(ctx, h, ok)
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrNoBMC):
		a.holdTask(ctx, h, mtce.TaskBMCNotProvisioned)
	case errors.Is(err, bmc.ErrPoweredOff):
		a.lock()
		name := h.rec.Name
		a.setStatesLocked(h, mtce.AdminNone, mtce.OperDisabled, mtce.AvailPowerOff)
		a.unlock()
		a.holdTask(ctx, h, mtce.TaskResetPoweredOff(name))
	case errors.Is(err, bmc.ErrUnreachable), errors.Is(err, bmc.ErrTimeout), errors.Is(err, bmc.ErrAuth):
		a.holdTask(ctx, h, mtce.TaskBMCNotConnected)
	default:
		a.holdTask(ctx, h, notok)
	}
	return err
}
