package bmctest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
)

// Backend is the simulated hardware behind a BMC under test: it lets the
// suite check a driver's effects without going through the driver.
type Backend interface {
	// Power is the chassis power state as the hardware has it.
	Power() (bmc.PowerState, error)
	// SetPower changes the power state behind the BMC's back.
	SetPower(bmc.PowerState) error
	// BootDevice is the last boot device requested ("" if none).
	BootDevice() (bmc.BootDevice, error)
	// Resets counts the hard resets performed so far.
	Resets() (int, error)
}

// Harness describes a driver and its BMC for Run.
type Harness struct {
	// New returns a new, unopened driver for the BMC. Required. The suite
	// opens and closes it.
	New func(t *testing.T) bmc.Driver
	// Backend is the hardware behind the BMC. Required.
	Backend Backend
	// Want, if non-zero, is the exact capability set the driver must
	// declare after Open.
	Want bmc.Capability
	// OpTimeout bounds every call made by the suite (default 10 s).
	OpTimeout time.Duration
	// Settle is how long the suite polls the backend for a delayed effect,
	// e.g. ipmi_sim powers a cycled host on again after 1 s (default 3 s).
	Settle time.Duration
	// Sensors, if non-nil, are sensors the BMC must report (matched by
	// name: type, unit, status, reading and thresholds within 2%).
	Sensors []bmc.Sensor
	// ExactSensors makes Sensors the complete list: the BMC must report
	// no other sensor, and each one once (no name twice).
	ExactSensors bool
	// Hang, if set, makes the BMC stop answering (the socket stays open)
	// and returns a function that makes it answer again.
	Hang func(t *testing.T) (undo func())
	// HangBudget is how soon a call to a hung BMC must fail with
	// bmc.ErrTimeout when its context has no deadline (default 10 s). New
	// must configure the driver's own timeouts below it.
	HangBudget time.Duration
	// BadCredentials, if set, returns an unopened driver with a wrong
	// password: its Open must fail with bmc.ErrAuth.
	BadCredentials func(t *testing.T) bmc.Driver
}

// Run checks that a driver meets the bmc.Driver contract against a BMC,
// capability by capability: every declared capability works and has the
// expected effect on the Backend; every other one answers
// bmc.ErrNotSupported without effect. The subtests run sequentially (they
// share one BMC). Run is meant for wall-time tests against real or
// emulated BMCs.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Backend == nil {
		t.Fatal("bmctest: Harness.New and Harness.Backend are required")
	}
	if h.OpTimeout == 0 {
		h.OpTimeout = 10 * time.Second
	}
	if h.Settle == 0 {
		h.Settle = 3 * time.Second
	}
	if h.HangBudget == 0 {
		h.HangBudget = 10 * time.Second
	}
	s := &suite{h: h}
	t.Run("Lifecycle", s.lifecycle)
	d := s.open(t)
	caps := d.Capabilities()
	t.Logf("%s declares %s", d.Name(), caps)
	t.Run("Capabilities", func(t *testing.T) {
		if !caps.Has(bmc.CapPowerState) {
			t.Errorf("capabilities %s lack power-state, which every driver must support", caps)
		}
		if h.Want != 0 && caps != h.Want {
			t.Errorf("capabilities = %s, want %s", caps, h.Want)
		}
	})
	t.Run("NotSupported", func(t *testing.T) { s.notSupported(t, d, caps) })
	for _, c := range bmc.CapabilityList {
		if !caps.Has(c) {
			continue
		}
		t.Run(capName(c), func(t *testing.T) { s.capability(t, d, c) })
	}
	t.Run("Concurrent", func(t *testing.T) { s.concurrent(t, d) })
	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := d.PowerStateGet(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("PowerStateGet(cancelled ctx) = %v, want an error matching context.Canceled", err)
		}
	})
	if h.Hang != nil {
		t.Run("Hung", func(t *testing.T) { s.hung(t, d) })
	}
	if h.BadCredentials != nil {
		t.Run("BadCredentials", s.badCredentials)
	}
}

func capName(c bmc.Capability) string { return c.String() }

type suite struct{ h Harness }

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.h.OpTimeout)
	t.Cleanup(cancel)
	return ctx
}

func (s *suite) open(t *testing.T) bmc.Driver {
	t.Helper()
	d := s.h.New(t)
	if err := d.Open(s.ctx(t)); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func (s *suite) lifecycle(t *testing.T) {
	d := s.h.New(t)
	ctx := s.ctx(t)
	if _, err := d.PowerStateGet(ctx); !errors.Is(err, bmc.ErrNotOpen) {
		t.Errorf("PowerStateGet before Open = %v, want ErrNotOpen", err)
	}
	if err := d.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := d.Open(ctx); err != nil {
		t.Errorf("second Open = %v, want nil", err)
	}
	if d.Capabilities() == 0 {
		t.Errorf("Capabilities after Open = 0")
	}
	if _, err := d.PowerStateGet(ctx); err != nil {
		t.Errorf("PowerStateGet: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = d.Close(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Close #%d = %v", i, err)
		}
	}
	if err := d.Close(ctx); err != nil {
		t.Errorf("Close after Close = %v, want nil", err)
	}
	if _, err := d.PowerStateGet(ctx); !errors.Is(err, bmc.ErrClosed) {
		t.Errorf("PowerStateGet after Close = %v, want ErrClosed", err)
	}
	if err := d.PowerSet(ctx, bmc.ActionOn); !errors.Is(err, bmc.ErrClosed) {
		t.Errorf("PowerSet after Close = %v, want ErrClosed", err)
	}
	if err := d.Open(ctx); !errors.Is(err, bmc.ErrClosed) {
		t.Errorf("Open after Close = %v, want ErrClosed", err)
	}
}

// snapshot is the backend state that an unsupported call must not change.
type snapshot struct {
	power  bmc.PowerState
	boot   bmc.BootDevice
	resets int
}

func (s *suite) snap(t *testing.T) snapshot {
	t.Helper()
	var sn snapshot
	var err error
	if sn.power, err = s.h.Backend.Power(); err != nil {
		t.Fatalf("Backend.Power: %v", err)
	}
	if sn.boot, err = s.h.Backend.BootDevice(); err != nil {
		t.Fatalf("Backend.BootDevice: %v", err)
	}
	if sn.resets, err = s.h.Backend.Resets(); err != nil {
		t.Fatalf("Backend.Resets: %v", err)
	}
	return sn
}

func (s *suite) setPower(t *testing.T, st bmc.PowerState) {
	t.Helper()
	if err := s.h.Backend.SetPower(st); err != nil {
		t.Fatalf("Backend.SetPower(%s): %v", st, err)
	}
}

// call performs the operation behind capability c.
func call(ctx context.Context, d bmc.Driver, c bmc.Capability) error {
	switch c {
	case bmc.CapPowerState:
		_, err := d.PowerStateGet(ctx)
		return err
	case bmc.CapPowerOn:
		return d.PowerSet(ctx, bmc.ActionOn)
	case bmc.CapPowerOff:
		return d.PowerSet(ctx, bmc.ActionOff)
	case bmc.CapPowerSoft:
		return d.PowerSet(ctx, bmc.ActionSoftOff)
	case bmc.CapPowerReset:
		return d.PowerSet(ctx, bmc.ActionReset)
	case bmc.CapPowerCycle:
		return d.PowerSet(ctx, bmc.ActionCycle)
	case bmc.CapBootPXE:
		return d.BootDeviceSet(ctx, bmc.BootPXE, bmc.BootOptions{})
	case bmc.CapInfo:
		_, err := d.BMCInfo(ctx)
		return err
	case bmc.CapRestartCause:
		_, err := d.RestartCause(ctx)
		return err
	case bmc.CapSensors:
		_, err := d.Sensors(ctx)
		return err
	}
	return fmt.Errorf("bmctest: unknown capability %d", c)
}

func (s *suite) notSupported(t *testing.T, d bmc.Driver, caps bmc.Capability) {
	// The host is on, so that an unexpected off/reset/cycle would show.
	s.setPower(t, bmc.PowerOn)
	for _, c := range bmc.CapabilityList {
		if caps.Has(c) {
			continue
		}
		before := s.snap(t)
		err := call(s.ctx(t), d, c)
		if !errors.Is(err, bmc.ErrNotSupported) {
			t.Errorf("%s is not declared but answered %v, want ErrNotSupported", capName(c), err)
		}
		if after := s.snap(t); after != before {
			t.Errorf("undeclared %s changed the BMC: %+v -> %+v", capName(c), before, after)
		}
	}
	if err := d.PowerSet(s.ctx(t), bmc.PowerAction("explode")); !errors.Is(err, bmc.ErrNotSupported) {
		t.Errorf("PowerSet(unknown action) = %v, want ErrNotSupported", err)
	}
}

// waitPower polls the backend until it reports want or Settle passes.
func (s *suite) waitPower(t *testing.T, want bmc.PowerState) {
	t.Helper()
	deadline := time.Now().Add(s.h.Settle)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := s.h.Backend.Power()
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend power = %s (err %v) after %s, want %s", got, err, s.h.Settle, want)
		}
		<-tick.C
	}
}

func (s *suite) action(t *testing.T, d bmc.Driver, a bmc.PowerAction, from, want bmc.PowerState) {
	t.Helper()
	s.setPower(t, from)
	if err := d.PowerSet(s.ctx(t), a); err != nil {
		t.Fatalf("PowerSet(%s) with the host %s: %v", a, from, err)
	}
	s.waitPower(t, want)
	got, err := d.PowerStateGet(s.ctx(t))
	if err != nil || got != want {
		t.Errorf("PowerStateGet after %s = %s, %v; want %s", a, got, err, want)
	}
}

func (s *suite) capability(t *testing.T, d bmc.Driver, c bmc.Capability) {
	ctx := s.ctx(t)
	switch c {
	case bmc.CapPowerState:
		for _, st := range []bmc.PowerState{bmc.PowerOff, bmc.PowerOn, bmc.PowerOff} {
			s.setPower(t, st)
			got, err := d.PowerStateGet(ctx)
			if err != nil || got != st {
				t.Errorf("PowerStateGet = %s, %v; backend has %s", got, err, st)
			}
		}
	case bmc.CapPowerOn:
		s.action(t, d, bmc.ActionOn, bmc.PowerOff, bmc.PowerOn)
	case bmc.CapPowerOff:
		s.action(t, d, bmc.ActionOff, bmc.PowerOn, bmc.PowerOff)
	case bmc.CapPowerSoft:
		s.action(t, d, bmc.ActionSoftOff, bmc.PowerOn, bmc.PowerOff)
	case bmc.CapPowerReset:
		before := s.snap(t)
		s.action(t, d, bmc.ActionReset, bmc.PowerOn, bmc.PowerOn)
		if after := s.snap(t); after.resets != before.resets+1 {
			t.Errorf("backend resets %d -> %d after one reset", before.resets, after.resets)
		}
	case bmc.CapPowerCycle:
		s.action(t, d, bmc.ActionCycle, bmc.PowerOn, bmc.PowerOn)
	case bmc.CapBootPXE:
		if err := d.BootDeviceSet(ctx, bmc.BootPXE, bmc.BootOptions{}); err != nil {
			t.Fatalf("BootDeviceSet(pxe): %v", err)
		}
		if got, err := s.h.Backend.BootDevice(); err != nil || got != bmc.BootPXE {
			t.Errorf("backend boot device = %q, %v; want pxe", got, err)
		}
	case bmc.CapInfo:
		info, err := d.BMCInfo(ctx)
		if err != nil {
			t.Fatalf("BMCInfo: %v", err)
		}
		if info.Protocol != d.Protocol() {
			t.Errorf("BMCInfo.Protocol = %q, want %q", info.Protocol, d.Protocol())
		}
		if info.FirmwareVersion == "" && info.Manufacturer == "" && info.Product == "" {
			t.Errorf("BMCInfo is empty: %+v", info)
		}
	case bmc.CapRestartCause:
		rc, err := d.RestartCause(ctx)
		if err != nil || !rc.Known() {
			t.Errorf("RestartCause = %q, %v; want a known cause", rc, err)
		}
	case bmc.CapSensors:
		s.sensors(t, d)
	}
}

func (s *suite) sensors(t *testing.T, d bmc.Driver) {
	got, err := d.Sensors(s.ctx(t))
	if err != nil {
		t.Fatalf("Sensors: %v", err)
	}
	if len(got) == 0 {
		t.Fatalf("Sensors returned none")
	}
	byName := map[string]bmc.Sensor{}
	for _, sn := range got {
		if sn.Name == "" || !sn.Status.Valid() || sn.Type == "" {
			t.Errorf("malformed sensor %+v", sn)
		}
		if sn.Reading != nil && sn.Unit == "" {
			t.Errorf("sensor %q has a reading but no unit", sn.Name)
		}
		if sn.Reading == nil && sn.Unit != "discrete" && sn.Status != bmc.StatusUnavailable {
			t.Errorf("sensor %q has no reading but status %q", sn.Name, sn.Status)
		}
		if _, dup := byName[sn.Name]; dup && s.h.ExactSensors {
			t.Errorf("sensor %q reported twice", sn.Name)
		}
		byName[sn.Name] = sn
	}
	if s.h.ExactSensors {
		want := map[string]bool{}
		for _, w := range s.h.Sensors {
			want[w.Name] = true
		}
		for _, sn := range got {
			if !want[sn.Name] {
				t.Errorf("unexpected sensor %q", sn.Name)
			}
		}
	}
	for _, want := range s.h.Sensors {
		g, ok := byName[want.Name]
		if !ok {
			t.Errorf("sensor %q missing (got %v)", want.Name, got)
			continue
		}
		if g.Type != want.Type || g.Unit != want.Unit || g.Status != want.Status {
			t.Errorf("sensor %q = %s/%s/%s, want %s/%s/%s", want.Name, g.Type, g.Unit, g.Status,
				want.Type, want.Unit, want.Status)
		}
		if !close2(g.Reading, want.Reading) {
			t.Errorf("sensor %q reading = %v, want %v", want.Name, deref(g.Reading), deref(want.Reading))
		}
		gt, wt := g.Thresholds, want.Thresholds
		for _, p := range [][3]any{
			{"LowerNonRecoverable", gt.LowerNonRecoverable, wt.LowerNonRecoverable},
			{"LowerCritical", gt.LowerCritical, wt.LowerCritical},
			{"LowerNonCritical", gt.LowerNonCritical, wt.LowerNonCritical},
			{"UpperNonCritical", gt.UpperNonCritical, wt.UpperNonCritical},
			{"UpperCritical", gt.UpperCritical, wt.UpperCritical},
			{"UpperNonRecoverable", gt.UpperNonRecoverable, wt.UpperNonRecoverable},
		} {
			if a, b := p[1].(*float64), p[2].(*float64); !close2(a, b) {
				t.Errorf("sensor %q %s = %v, want %v", want.Name, p[0], deref(a), deref(b))
			}
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// close2 compares optional values within 2% (IPMI readings are quantised).
func close2(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) <= 0.02*math.Max(math.Abs(*b), 1e-9)
}

func (s *suite) concurrent(t *testing.T, d bmc.Driver) {
	s.setPower(t, bmc.PowerOn)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			st, err := d.PowerStateGet(s.ctx(t))
			if err == nil && st != bmc.PowerOn {
				err = fmt.Errorf("state %s, want on", st)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent PowerStateGet #%d: %v", i, err)
		}
	}
}

func (s *suite) hung(t *testing.T, d bmc.Driver) {
	undo := s.h.Hang(t)
	restored := false
	restore := func() {
		if !restored {
			restored = true
			undo()
		}
	}
	defer restore()

	// A call without a deadline ends with the driver's own timeout.
	start := time.Now()
	_, err := d.PowerStateGet(context.Background())
	el := time.Since(start)
	if !errors.Is(err, bmc.ErrTimeout) {
		t.Errorf("PowerStateGet on a hung BMC = %v, want ErrTimeout", err)
	}
	var be *bmc.Error
	if !errors.As(err, &be) {
		t.Errorf("error %v is not a *bmc.Error", err)
	}
	if el > s.h.HangBudget {
		t.Errorf("PowerStateGet on a hung BMC took %s, budget %s", el, s.h.HangBudget)
	}
	t.Logf("hung BMC: %s after %s", err, el.Round(time.Millisecond))

	// A cancelled call returns promptly with the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(50*time.Millisecond, cancel)
	defer timer.Stop()
	start = time.Now()
	_, err = d.PowerStateGet(ctx)
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled PowerStateGet on a hung BMC = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("cancelled PowerStateGet took %s", el)
	}

	// Once the BMC answers again, the same driver recovers.
	restore()
	if _, err := d.PowerStateGet(s.ctx(t)); err != nil {
		t.Errorf("PowerStateGet after the BMC recovered: %v", err)
	}
}

func (s *suite) badCredentials(t *testing.T) {
	d := s.h.BadCredentials(t)
	defer d.Close(context.Background())
	err := d.Open(s.ctx(t))
	if !errors.Is(err, bmc.ErrAuth) {
		t.Errorf("Open with a wrong password = %v, want ErrAuth", err)
	}
}
