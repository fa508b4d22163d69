package bmctest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
)

// FakeConfig configures a Fake. Zero fields take defaults.
type FakeConfig struct {
	// Capabilities declared by the fake (default bmc.CapAll).
	Capabilities bmc.Capability
	// Power is the initial power state (default bmc.PowerOff).
	Power bmc.PowerState
	// Info returned by BMCInfo (default: a "fake" BMC).
	Info bmc.Info
	// RestartCause returned by RestartCause (default bmc.RestartChassisControl).
	RestartCause bmc.RestartCause
	// Sensors returned by Sensors (default DefaultSensors()).
	Sensors []bmc.Sensor
	// Timeout is the fake's own per-call time limit, which a hung fake
	// hits with bmc.ErrTimeout (default 5 s).
	Timeout time.Duration
	// CycleDelay is how long a power cycle keeps the host off before it is
	// on again (default 0: at once). It runs on a timer, so it follows the
	// virtual clock inside a synctest bubble.
	CycleDelay time.Duration
}

// DefaultSensors are the sensors of the project's simulators: what
// ipmi_sim's configuration in scripts/ipmisim reports.
func DefaultSensors() []bmc.Sensor {
	return []bmc.Sensor{
		{Name: "CPU Temp", Type: bmc.SensorTemperature, Reading: bmc.Float(45), Unit: "degrees C", Status: bmc.StatusOK,
			Thresholds: bmc.Thresholds{UpperNonCritical: bmc.Float(80), UpperCritical: bmc.Float(90), UpperNonRecoverable: bmc.Float(100)}},
		{Name: "Inlet Temp", Type: bmc.SensorTemperature, Reading: bmc.Float(24), Unit: "degrees C", Status: bmc.StatusOK},
		{Name: "FAN1", Type: bmc.SensorFan, Reading: bmc.Float(5400), Unit: "RPM", Status: bmc.StatusOK},
		{Name: "12V", Type: bmc.SensorVoltage, Reading: bmc.Float(12), Unit: "Volts", Status: bmc.StatusOK},
	}
}

// Fake is an in-memory bmc.Driver and Backend, for tests of code that uses
// a Driver (PowerController, maintenance FSMs) and as a reference for the
// conformance suite. Scripted failures (FailNext), ignored actions
// (IgnoreNext) and a hung BMC (SetHung) cover the fault paths. All its
// waits use timers, so it is usable inside a testing/synctest bubble.
type Fake struct {
	cfg FakeConfig

	mu       sync.Mutex
	opened   bool
	closed   bool
	power    bmc.PowerState
	boot     bmc.BootDevice
	bootOpts bmc.BootOptions
	resets   int
	actions  []bmc.PowerAction
	fail     map[string][]error
	ignore   int
	hung     chan struct{} // non-nil while hung; closed on SetHung(false)
	calls    map[string]int
	cycleT   *time.Timer
	sensors  []bmc.Sensor
}

var (
	_ bmc.Driver = (*Fake)(nil)
	_ Backend    = (*Fake)(nil)
)

// NewFake returns an unopened Fake.
func NewFake(cfg FakeConfig) *Fake {
	if cfg.Capabilities == 0 {
		cfg.Capabilities = bmc.CapAll
	}
	if cfg.Power == "" {
		cfg.Power = bmc.PowerOff
	}
	if cfg.Info == (bmc.Info{}) {
		cfg.Info = bmc.Info{Manufacturer: "metal-go", Product: "fake", FirmwareVersion: "1.0", ProtocolVersion: "2.0"}
	}
	cfg.Info.Protocol = bmc.ProtocolIPMI
	if cfg.RestartCause == "" {
		cfg.RestartCause = bmc.RestartChassisControl
	}
	if cfg.Sensors == nil {
		cfg.Sensors = DefaultSensors()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Fake{
		cfg:     cfg,
		power:   cfg.Power,
		fail:    map[string][]error{},
		calls:   map[string]int{},
		sensors: slices.Clone(cfg.Sensors),
	}
}

// Name implements bmc.Driver.
func (f *Fake) Name() string { return "fake" }

// Protocol implements bmc.Driver.
func (f *Fake) Protocol() bmc.Protocol { return bmc.ProtocolIPMI }

// Capabilities implements bmc.Driver.
func (f *Fake) Capabilities() bmc.Capability {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.opened || f.closed {
		return 0
	}
	return f.cfg.Capabilities
}

// FailNext makes the next len(errs) calls of op return errs in turn
// (op: "open", "power-status", "power-on", "power-off", "power-soft",
// "power-reset", "power-cycle", "bootdev", "bmc-info", "restart-cause",
// "sensors"). A nil entry lets that call proceed normally.
func (f *Fake) FailNext(op string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = append(f.fail[op], errs...)
}

// IgnoreNext makes the next n PowerSet calls succeed without any effect,
// like a BMC that accepts a command the host does not act on.
func (f *Fake) IgnoreNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ignore = n
}

// SetHung makes every call block until its context ends or the fake's
// Timeout passes (then bmc.ErrTimeout), like a BMC that stopped answering.
func (f *Fake) SetHung(hung bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case hung && f.hung == nil:
		f.hung = make(chan struct{})
	case !hung && f.hung != nil:
		close(f.hung)
		f.hung = nil
	}
}

// Calls returns how many times op was called (including failed calls).
func (f *Fake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Actions returns every PowerSet action that took effect or was ignored,
// in order (not the ones failed by FailNext).
func (f *Fake) Actions() []bmc.PowerAction {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.actions)
}

// Power implements Backend.
func (f *Fake) Power() (bmc.PowerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.power, nil
}

// SetPower implements Backend.
func (f *Fake) SetPower(st bmc.PowerState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.power = st
	return nil
}

// BootDevice implements Backend.
func (f *Fake) BootDevice() (bmc.BootDevice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.boot, nil
}

// Resets implements Backend.
func (f *Fake) Resets() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resets, nil
}

// Close implements bmc.Driver; it also stops a pending cycle timer.
func (f *Fake) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.cycleT != nil {
		f.cycleT.Stop()
	}
	return nil
}

func ferr(op string, kind, err error) error { return bmc.NewError(op, "fake", "fake", kind, err) }

// enter does the bookkeeping common to every call: counting, open/closed
// state, capability, hang and scripted failures.
func (f *Fake) enter(ctx context.Context, op string, c bmc.Capability) error {
	f.mu.Lock()
	f.calls[op]++
	switch {
	case f.closed:
		f.mu.Unlock()
		return ferr(op, bmc.ErrClosed, nil)
	case !f.opened && op != "open":
		f.mu.Unlock()
		return ferr(op, bmc.ErrNotOpen, nil)
	case c != 0 && !f.cfg.Capabilities.Has(c):
		f.mu.Unlock()
		return ferr(op, bmc.ErrNotSupported, nil)
	}
	hung := f.hung
	var scripted error
	if q := f.fail[op]; len(q) > 0 {
		scripted, f.fail[op] = q[0], q[1:]
	}
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return ferr(op, nil, err)
	}
	if hung != nil {
		t := time.NewTimer(f.cfg.Timeout)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ferr(op, nil, ctx.Err())
		case <-t.C:
			return ferr(op, bmc.ErrTimeout, errors.New("no answer"))
		case <-hung:
		}
	}
	return scripted
}

// Open implements bmc.Driver.
func (f *Fake) Open(ctx context.Context) error {
	if err := f.enter(ctx, "open", 0); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = true
	return nil
}

// PowerStateGet implements bmc.Driver.
func (f *Fake) PowerStateGet(ctx context.Context) (bmc.PowerState, error) {
	if err := f.enter(ctx, "power-status", bmc.CapPowerState); err != nil {
		return bmc.PowerUnknown, err
	}
	return f.Power()
}

// PowerSet implements bmc.Driver. Reset of a powered-off host is accepted
// and changes nothing; a cycle of a powered-off host powers it on (as
// OpenIPMI's simulator does).
func (f *Fake) PowerSet(ctx context.Context, a bmc.PowerAction) error {
	op := "power-" + string(a)
	if !a.Valid() {
		return ferr(op, bmc.ErrNotSupported, fmt.Errorf("unknown action %q", a))
	}
	if err := f.enter(ctx, op, a.Capability()); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, a)
	if f.ignore > 0 {
		f.ignore--
		return nil
	}
	switch a {
	case bmc.ActionOn:
		f.power = bmc.PowerOn
	case bmc.ActionOff, bmc.ActionSoftOff:
		f.power = bmc.PowerOff
	case bmc.ActionReset:
		f.resets++
	case bmc.ActionCycle:
		if f.cfg.CycleDelay <= 0 {
			f.power = bmc.PowerOn
			break
		}
		f.power = bmc.PowerOff
		if f.cycleT != nil {
			f.cycleT.Stop()
		}
		f.cycleT = time.AfterFunc(f.cfg.CycleDelay, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.power = bmc.PowerOn
		})
	}
	return nil
}

// BootDeviceSet implements bmc.Driver.
func (f *Fake) BootDeviceSet(ctx context.Context, dev bmc.BootDevice, opts bmc.BootOptions) error {
	c := bmc.CapBootPXE
	if dev != bmc.BootPXE {
		c = 0
	}
	if err := f.enter(ctx, "bootdev", c); err != nil {
		return err
	}
	if !f.Capabilities().Has(bmc.CapBootPXE) {
		return ferr("bootdev", bmc.ErrNotSupported, nil)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.boot, f.bootOpts = dev, opts
	return nil
}

// BMCInfo implements bmc.Driver.
func (f *Fake) BMCInfo(ctx context.Context) (bmc.Info, error) {
	if err := f.enter(ctx, "bmc-info", bmc.CapInfo); err != nil {
		return bmc.Info{}, err
	}
	return f.cfg.Info, nil
}

// RestartCause implements bmc.Driver.
func (f *Fake) RestartCause(ctx context.Context) (bmc.RestartCause, error) {
	if err := f.enter(ctx, "restart-cause", bmc.CapRestartCause); err != nil {
		return "", err
	}
	return f.cfg.RestartCause, nil
}

// Sensors implements bmc.Driver.
func (f *Fake) Sensors(ctx context.Context) ([]bmc.Sensor, error) {
	if err := f.enter(ctx, "sensors", bmc.CapSensors); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sensors), nil
}
