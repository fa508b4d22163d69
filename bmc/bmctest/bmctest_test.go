package bmctest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The fake is the reference implementation of the driver contract.
func TestConformanceFake(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps bmc.Capability
	}{
		{"all", bmc.CapAll},
		{"power only", bmc.CapPowerState | bmc.CapPowerOn | bmc.CapPowerOff},
		{"state only", bmc.CapPowerState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := bmctest.NewFake(bmctest.FakeConfig{Capabilities: tc.caps, Timeout: 200 * time.Millisecond,
				CycleDelay: 50 * time.Millisecond})
			first := true
			bmctest.Run(t, bmctest.Harness{
				New: func(t *testing.T) bmc.Driver {
					// Run opens two drivers (lifecycle check, then the
					// suite's); the fake can be opened once, so the first
					// gets a fresh one sharing nothing.
					if first {
						first = false
						return bmctest.NewFake(bmctest.FakeConfig{Capabilities: tc.caps})
					}
					return f
				},
				Backend:      f,
				Want:         tc.caps,
				Sensors:      bmctest.DefaultSensors(),
				ExactSensors: true,
				Settle:       time.Second,
				HangBudget:   time.Second,
				Hang: func(*testing.T) func() {
					f.SetHung(true)
					return func() { f.SetHung(false) }
				},
				BadCredentials: func(*testing.T) bmc.Driver {
					bad := bmctest.NewFake(bmctest.FakeConfig{})
					bad.FailNext("open", bmc.NewError("open", "fake", "fake", bmc.ErrAuth, nil))
					return bad
				},
			})
		})
	}
}

func TestFakeScripting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := bmctest.NewFake(bmctest.FakeConfig{CycleDelay: time.Second, Power: bmc.PowerOn})
		ctx := context.Background()
		if _, err := f.PowerStateGet(ctx); !errors.Is(err, bmc.ErrNotOpen) {
			t.Errorf("before Open: %v", err)
		}
		if err := f.Open(ctx); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		f.FailNext("power-status", nil, boom)
		if _, err := f.PowerStateGet(ctx); err != nil {
			t.Errorf("first call: %v", err)
		}
		if _, err := f.PowerStateGet(ctx); !errors.Is(err, boom) {
			t.Errorf("second call: %v", err)
		}
		if f.Calls("power-status") != 3 {
			t.Errorf("calls = %d", f.Calls("power-status"))
		}
		if err := f.PowerSet(ctx, bmc.ActionCycle); err != nil {
			t.Fatal(err)
		}
		if st, _ := f.Power(); st != bmc.PowerOff {
			t.Errorf("during the cycle: %s", st)
		}
		time.Sleep(time.Second) // virtual: the cycle's own delay
		synctest.Wait()
		if st, _ := f.Power(); st != bmc.PowerOn {
			t.Errorf("after the cycle: %s", st)
		}
		f.SetHung(true)
		start := time.Now()
		if _, err := f.Sensors(ctx); !errors.Is(err, bmc.ErrTimeout) || time.Since(start) != 5*time.Second {
			t.Errorf("hung: %v after %s", err, time.Since(start))
		}
		f.SetHung(false)
		f.Close(ctx)
		if err := f.PowerSet(ctx, bmc.ActionOn); !errors.Is(err, bmc.ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
	})
}

func TestFindIPMISimScript(t *testing.T) {
	p, err := bmctest.FindIPMISimScript()
	if err != nil {
		t.Fatalf("the project's script must be found from a package directory: %v", err)
	}
	t.Setenv(bmctest.ScriptEnv, "/nonexistent/ipmisim.sh")
	if _, err := bmctest.FindIPMISimScript(); err == nil {
		t.Error("a bad override was accepted")
	}
	t.Setenv(bmctest.ScriptEnv, p)
	if q, err := bmctest.FindIPMISimScript(); err != nil || q != p {
		t.Errorf("override: %q, %v", q, err)
	}
}

// The simulator harness: start, hardware files, pause/resume, stop.
func TestIPMISimHarness(t *testing.T) {
	sim := bmctest.StartIPMISim(t, bmctest.IPMISimOptions{Power: bmc.PowerOn, Username: "root", Password: "calvin"})
	if st, err := sim.Power(); err != nil || st != bmc.PowerOn {
		t.Fatalf("initial power %s, %v", st, err)
	}
	if err := sim.SetPower(bmc.PowerOff); err != nil {
		t.Fatal(err)
	}
	if st, _ := sim.Power(); st != bmc.PowerOff {
		t.Errorf("SetPower did not stick")
	}
	if dev, err := sim.BootDevice(); err != nil || dev != "" {
		t.Errorf("initial boot device %q, %v", dev, err)
	}
	if n, err := sim.Resets(); err != nil || n != 0 {
		t.Errorf("resets %d, %v", n, err)
	}
	if !sim.Alive() {
		t.Fatal("not alive")
	}
	sim.Pause(t)
	sim.Resume(t)
	if !sim.Alive() {
		t.Fatal("not alive after resume")
	}
	if err := sim.SetSensor("bogus", 1); err == nil {
		t.Error("bogus sensor accepted")
	}
	sim.Stop(t)
	if sim.Alive() {
		t.Error("alive after Stop")
	}
}

// recTB records what RequirePeer does instead of stopping the test.
type recTB struct {
	testing.TB
	fatal, skip string
}

func (r *recTB) Helper()                        {}
func (r *recTB) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recTB) Skip(a ...any)                  { r.skip = fmt.Sprint(a...) }
func (r *recTB) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

func TestRequirePeer(t *testing.T) {
	t.Setenv("CI", "true")
	r := &recTB{}
	bmctest.RequirePeer(r, "no-such-program-metalgo")
	if !strings.Contains(r.fatal, "no-such-program-metalgo") || !strings.Contains(r.fatal, "CI=true") {
		t.Errorf("under CI=true a missing peer must fail: fatal=%q", r.fatal)
	}
	t.Setenv("CI", "")
	r = &recTB{}
	bmctest.RequirePeer(r, "no-such-program-metalgo")
	if r.fatal != "" || !strings.Contains(r.skip, "skipping") {
		t.Errorf("outside CI a missing peer must skip: fatal=%q skip=%q", r.fatal, r.skip)
	}
	r = &recTB{}
	bmctest.RequirePeer(r, "sh")
	if r.fatal != "" || r.skip != "" {
		t.Errorf("an installed program: fatal=%q skip=%q", r.fatal, r.skip)
	}
}
