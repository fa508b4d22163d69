package ipmi_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/ipmi"
)

// Tests of the session logic in virtual time, against go-ipmi's reference
// BMC over an in-memory transport.

func openMem(t *testing.T, m *memBMC, mutate func(*ipmi.Config)) *ipmi.Driver {
	t.Helper()
	cfg := m.config()
	if mutate != nil {
		mutate(&cfg)
	}
	d, err := ipmi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Open(t.Context()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return d
}

func TestMemBMCBasics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMemBMC(t)
		d := openMem(t, m, nil)
		defer d.Close(context.Background())
		if err := d.PowerSet(t.Context(), bmc.ActionOn); err != nil {
			t.Fatal(err)
		}
		if st, err := d.PowerStateGet(t.Context()); err != nil || st != bmc.PowerOn {
			t.Fatalf("PowerStateGet = %s, %v", st, err)
		}
		if on, _ := m.hal.Chassis().PowerState(t.Context()); !on {
			t.Error("the BMC's chassis is not on")
		}
		info, err := d.BMCInfo(t.Context())
		if err != nil || info.FirmwareVersion != "1.02" || info.ManufacturerID != 7154 {
			t.Errorf("BMCInfo = %+v, %v", info, err)
		}
	})
}

// Per-call sessions are always closed: after 100 calls the BMC holds none.
func TestPerCallSessionsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMemBMC(t)
		d := openMem(t, m, nil)
		defer d.Close(context.Background())
		for i := range 100 {
			if _, err := d.PowerStateGet(t.Context()); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if n := m.sessions(); n != 0 {
				t.Fatalf("after call %d the BMC holds %d sessions", i, n)
			}
		}
	})
}

// A reused session is one session for many calls, closed by Close.
func TestReusedSessionClosedByClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMemBMC(t)
		d := openMem(t, m, func(c *ipmi.Config) { c.Session = ipmi.SessionReuse })
		for range 20 {
			if _, err := d.PowerStateGet(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if n := m.sessions(); n != 1 {
			t.Errorf("reuse mode holds %d sessions, want 1", n)
		}
		if err := d.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := m.sessions(); n != 0 {
			t.Errorf("%d sessions after Close", n)
		}
	})
}

// Cancelling a call on an established session that the BMC stopped
// answering returns at once, cuts go-ipmi's pending read short, and keeps
// the session for the next call.
func TestCancelOnEstablishedSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMemBMC(t)
		d := openMem(t, m, func(c *ipmi.Config) {
			c.Session = ipmi.SessionReuse
			c.Timeout = 10 * time.Second
		})
		defer d.Close(context.Background())
		m.stall(true)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		_, err := d.PowerStateGet(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("PowerStateGet = %v, want context.Canceled", err)
		}
		if el := time.Since(start); el != 300*time.Millisecond {
			t.Errorf("returned after %s, want 300ms", el)
		}
		if n := m.hub.activeReads(); n != 0 {
			t.Errorf("%d reads still in progress after the call returned", n)
		}
		m.stall(false)
		start = time.Now()
		if _, err := d.PowerStateGet(t.Context()); err != nil {
			t.Fatalf("next call: %v", err)
		}
		if el := time.Since(start); el != 0 {
			t.Errorf("next call took %s: it should reuse the session at once", el)
		}
		if n := m.sessions(); n != 1 {
			t.Errorf("BMC holds %d sessions, want the one reused", n)
		}
	})
}

// A BMC that stops answering mid-session gives ErrTimeout after exactly
// (Retries+1) × Timeout; the session is dropped and the next call, once the
// BMC answers again, opens a new one.
func TestHungEstablishedSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMemBMC(t)
		d := openMem(t, m, func(c *ipmi.Config) {
			c.Session = ipmi.SessionReuse
			c.Timeout = 500 * time.Millisecond
			c.Retries = 2
		})
		defer d.Close(context.Background())
		m.stall(true)
		start := time.Now()
		_, err := d.PowerStateGet(context.Background())
		if !errors.Is(err, bmc.ErrTimeout) {
			t.Fatalf("PowerStateGet = %v, want ErrTimeout", err)
		}
		if el := time.Since(start); el != 1500*time.Millisecond {
			t.Errorf("failed after %s, want 3 × 500ms", el)
		}
		if n := m.hub.activeReads(); n != 0 {
			t.Errorf("%d reads still in progress", n)
		}
		m.stall(false)
		if _, err := d.PowerStateGet(t.Context()); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
		// The hung session could not be closed (the BMC did not answer);
		// the BMC expires it itself. The new one is the only live one.
		if n := m.sessions(); n != 2 {
			t.Errorf("BMC holds %d sessions, want 2 (orphan + new)", n)
		}
	})
}

func TestWrongPasswordVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMemBMC(t)
		cfg := m.config()
		cfg.Password = bmc.NewPassword("nope")
		d, err := ipmi.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close(context.Background())
		start := time.Now()
		if err := d.Open(t.Context()); !errors.Is(err, bmc.ErrAuth) {
			t.Fatalf("Open = %v, want ErrAuth", err)
		}
		if time.Since(start) != 0 {
			t.Errorf("a rejection took %s of virtual time", time.Since(start))
		}
	})
}
