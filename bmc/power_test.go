package bmc_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
)

// All PowerController tests run in virtual time (testing/synctest) against
// bmctest.Fake: the retry waits are asserted exactly.

func newController(t *testing.T, f *bmctest.Fake, cfg bmc.PowerConfig) *bmc.PowerController {
	t.Helper()
	if err := f.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, err := bmc.NewPowerController(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var errFlaky = bmc.NewError("power-status", "fake", "fake", bmc.ErrTimeout, errors.New("no answer"))

func TestPowerController(t *testing.T) {
	type want struct {
		err      error // matched with errors.Is; nil = success
		action   bmc.PowerAction
		sent     int
		queries  int
		elapsed  time.Duration
		final    bmc.PowerState
		actions  []bmc.PowerAction // what the fake received
		hardware bmc.PowerState
	}
	on, off := bmc.PowerOn, bmc.PowerOff
	tests := []struct {
		name   string
		power  bmc.PowerState
		setup  func(*bmctest.Fake)
		action bmc.PowerAction
		want   want
	}{
		{"on from off", off, nil, bmc.ActionOn,
			want{nil, bmc.ActionOn, 1, 2, 5 * time.Second, on, []bmc.PowerAction{bmc.ActionOn}, on}},
		{"on when already on", on, nil, bmc.ActionOn,
			want{nil, bmc.ActionOn, 0, 1, 0, on, nil, on}},
		{"off when already off", off, nil, bmc.ActionOff,
			want{nil, bmc.ActionOff, 0, 1, 0, off, nil, off}},
		{"soft off when already off", off, nil, bmc.ActionSoftOff,
			want{nil, bmc.ActionSoftOff, 0, 1, 0, off, nil, off}},
		{"off ignored twice then done", on, func(f *bmctest.Fake) { f.IgnoreNext(2) }, bmc.ActionOff,
			want{nil, bmc.ActionOff, 3, 4, 90 * time.Second, off,
				[]bmc.PowerAction{bmc.ActionOff, bmc.ActionOff, bmc.ActionOff}, off}},
		{"off never confirmed", on, func(f *bmctest.Fake) { f.IgnoreNext(100) }, bmc.ActionOff,
			want{bmc.ErrAttemptsExhausted, bmc.ActionOff, 3, 4, 90 * time.Second, on,
				[]bmc.PowerAction{bmc.ActionOff, bmc.ActionOff, bmc.ActionOff}, on}},
		{"soft off waits the off retry wait", on, nil, bmc.ActionSoftOff,
			want{nil, bmc.ActionSoftOff, 1, 2, 30 * time.Second, off, []bmc.PowerAction{bmc.ActionSoftOff}, off}},
		{"reset of powered-off host", off, nil, bmc.ActionReset,
			want{bmc.ErrPoweredOff, bmc.ActionReset, 0, 1, 0, off, nil, off}},
		{"reset accepted at once", on, nil, bmc.ActionReset,
			want{nil, bmc.ActionReset, 1, 1, 0, on, []bmc.PowerAction{bmc.ActionReset}, on}},
		{"reset retried after a failure", on,
			func(f *bmctest.Fake) { f.FailNext("power-reset", errFlaky) }, bmc.ActionReset,
			want{nil, bmc.ActionReset, 2, 2, 10 * time.Second, on, []bmc.PowerAction{bmc.ActionReset}, on}},
		{"reset failing every time", on,
			func(f *bmctest.Fake) { f.FailNext("power-reset", errFlaky, errFlaky, errFlaky) }, bmc.ActionReset,
			want{bmc.ErrTimeout, bmc.ActionReset, 3, 3, 20 * time.Second, on, nil, on}},
		{"status query failure is retried", off,
			func(f *bmctest.Fake) { f.FailNext("power-status", errFlaky) }, bmc.ActionOn,
			want{nil, bmc.ActionOn, 1, 3, 10 * time.Second, on, []bmc.PowerAction{bmc.ActionOn}, on}},
		{"status never readable", off,
			func(f *bmctest.Fake) { f.FailNext("power-status", errFlaky, errFlaky, errFlaky, errFlaky) }, bmc.ActionOn,
			want{bmc.ErrAttemptsExhausted, bmc.ActionOn, 0, 4, 15 * time.Second, bmc.PowerUnknown, nil, off}},
		{"cycle of powered-off host becomes power on", off, nil, bmc.ActionCycle,
			want{nil, bmc.ActionOn, 1, 2, 5 * time.Second, on, []bmc.PowerAction{bmc.ActionOn}, on}},
		{"cycle accepted at once", on, nil, bmc.ActionCycle,
			want{nil, bmc.ActionCycle, 1, 1, 0, on, []bmc.PowerAction{bmc.ActionCycle}, on}},
		{"authentication failure is not retried", off,
			func(f *bmctest.Fake) {
				f.FailNext("power-on", bmc.NewError("power-on", "fake", "fake", bmc.ErrAuth, nil))
			}, bmc.ActionOn,
			want{bmc.ErrAuth, bmc.ActionOn, 1, 1, 0, off, nil, off}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := bmctest.NewFake(bmctest.FakeConfig{Power: tc.power})
				if tc.setup != nil {
					tc.setup(f)
				}
				c := newController(t, f, bmc.DefaultPowerConfig())
				start := time.Now()
				out, err := c.Do(t.Context(), tc.action)
				elapsed := time.Since(start)
				w := tc.want
				if w.err == nil && err != nil || w.err != nil && !errors.Is(err, w.err) {
					t.Fatalf("Do(%s) error = %v, want %v", tc.action, err, w.err)
				}
				if w.err == bmc.ErrTimeout && !errors.Is(err, bmc.ErrAttemptsExhausted) {
					t.Errorf("error %v should also match ErrAttemptsExhausted", err)
				}
				if out.Action != w.action || out.Sent != w.sent || out.Queries != w.queries || out.Final != w.final {
					t.Errorf("outcome = %+v, want action %s sent %d queries %d final %s",
						out, w.action, w.sent, w.queries, w.final)
				}
				if out.AlreadyInState() != (w.sent == 0) {
					t.Errorf("AlreadyInState = %v with %d sent", out.AlreadyInState(), w.sent)
				}
				if elapsed != w.elapsed {
					t.Errorf("took %s of virtual time, want %s", elapsed, w.elapsed)
				}
				got := f.Actions()
				if len(got) != len(w.actions) {
					t.Errorf("fake received %v, want %v", got, w.actions)
				}
				if hw, _ := f.Power(); hw != w.hardware {
					t.Errorf("hardware power = %s, want %s", hw, w.hardware)
				}
			})
		})
	}
}

func TestPowerControllerCustomWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := bmctest.NewFake(bmctest.FakeConfig{Power: bmc.PowerOn})
		f.IgnoreNext(100)
		cfg := bmc.PowerConfig{OffRetryWait: 2 * time.Second, OnRetryWait: time.Second,
			ResetRetryWait: 3 * time.Second, Attempts: 5}
		c := newController(t, f, cfg)
		start := time.Now()
		out, err := c.PowerOff(t.Context())
		if !errors.Is(err, bmc.ErrAttemptsExhausted) {
			t.Fatalf("PowerOff = %v", err)
		}
		if el := time.Since(start); el != 10*time.Second || out.Sent != 5 || out.Queries != 6 {
			t.Errorf("elapsed %s sent %d queries %d, want 10s 5 6", el, out.Sent, out.Queries)
		}
	})
}

func TestPowerControllerCancelDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := bmctest.NewFake(bmctest.FakeConfig{Power: bmc.PowerOn})
		f.IgnoreNext(100)
		c := newController(t, f, bmc.DefaultPowerConfig())
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(45*time.Second, cancel)
		start := time.Now()
		out, err := c.PowerOff(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("PowerOff = %v, want context.Canceled", err)
		}
		if el := time.Since(start); el != 45*time.Second {
			t.Errorf("returned after %s, want 45s (at the cancel)", el)
		}
		if out.Sent != 2 {
			t.Errorf("sent %d, want 2 (t=0 and t=30s)", out.Sent)
		}
	})
}

func TestPowerControllerHungBMC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := bmctest.NewFake(bmctest.FakeConfig{Power: bmc.PowerOff, Timeout: 4 * time.Second})
		c := newController(t, f, bmc.DefaultPowerConfig())
		f.SetHung(true)
		start := time.Now()
		_, err := c.PowerOn(t.Context())
		if !errors.Is(err, bmc.ErrAttemptsExhausted) || !errors.Is(err, bmc.ErrTimeout) {
			t.Fatalf("PowerOn on a hung BMC = %v", err)
		}
		// 4 queries of 4 s each, 3 waits of 5 s.
		if el := time.Since(start); el != 4*4*time.Second+3*5*time.Second {
			t.Errorf("took %s, want 31s", el)
		}
	})
}

func TestPowerControllerNotSupported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := bmctest.NewFake(bmctest.FakeConfig{Power: bmc.PowerOn, Capabilities: bmc.CapPowerState | bmc.CapPowerOff})
		c := newController(t, f, bmc.DefaultPowerConfig())
		start := time.Now()
		for _, a := range []bmc.PowerAction{bmc.ActionSoftOff, bmc.ActionReset, bmc.ActionCycle, "bogus"} {
			if _, err := c.Do(t.Context(), a); !errors.Is(err, bmc.ErrNotSupported) {
				t.Errorf("Do(%s) = %v, want ErrNotSupported", a, err)
			}
		}
		if time.Since(start) != 0 {
			t.Errorf("unsupported actions waited %s", time.Since(start))
		}
	})
}

func TestPowerConfigValidate(t *testing.T) {
	if err := bmc.DefaultPowerConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		mod   func(*bmc.PowerConfig)
	}{
		{"OffRetryWait", func(c *bmc.PowerConfig) { c.OffRetryWait = 0 }},
		{"OnRetryWait", func(c *bmc.PowerConfig) { c.OnRetryWait = -1 }},
		{"ResetRetryWait", func(c *bmc.PowerConfig) { c.ResetRetryWait = 0 }},
		{"Attempts", func(c *bmc.PowerConfig) { c.Attempts = 0 }},
	} {
		cfg := bmc.DefaultPowerConfig()
		tc.mod(&cfg)
		err := cfg.Validate()
		var ce *bmc.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, bmc.ErrInvalidConfig) {
			t.Errorf("Validate with bad %s = %v", tc.field, err)
		}
		if _, err := bmc.NewPowerController(bmctest.NewFake(bmctest.FakeConfig{}), cfg); err == nil {
			t.Errorf("NewPowerController accepted bad %s", tc.field)
		}
	}
	if _, err := bmc.NewPowerController(nil, bmc.DefaultPowerConfig()); !errors.Is(err, bmc.ErrInvalidConfig) {
		t.Errorf("NewPowerController(nil) = %v", err)
	}
}
