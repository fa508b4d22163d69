package ipmi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/bmc/bmctest"
	"opendev.org/starlingx/metal-go/bmc/ipmi"
)

// ipmi_sim's session table has about 63 slots and idle sessions expire
// only after 30-60 s: a driver that leaks one session per call makes the
// simulator refuse new sessions ("insufficient resources for session")
// long before 100 calls. These tests make more calls than the table holds,
// in wall time, and then need one more session.

const beyondSessionTable = 100

func TestSessionsClosedPerCall(t *testing.T) {
	sim := bmctest.StartIPMISim(t, bmctest.IPMISimOptions{})
	d := newDriver(t, simConfig(sim, ipmi.SessionPerCall))
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	for i := range beyondSessionTable {
		if _, err := d.PowerStateGet(t.Context()); err != nil {
			t.Fatalf("call %d: %v (sessions leaked?)", i, err)
		}
	}
}

// TestSessionsClosedAfterCallerDeadline: calls whose caller deadline ends
// in the middle of the session setup or of the exchange, against a BMC that
// answers, must still close the session they opened.
func TestSessionsClosedAfterCallerDeadline(t *testing.T) {
	sim := bmctest.StartIPMISim(t, bmctest.IPMISimOptions{})
	for _, mode := range []ipmi.SessionMode{ipmi.SessionPerCall, ipmi.SessionReuse} {
		t.Run(string(mode), func(t *testing.T) {
			d := newDriver(t, simConfig(sim, mode))
			if err := d.Open(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer d.Close(context.Background())
			cut := 0
			for i := range beyondSessionTable {
				// Spread the deadlines over the session setup and the
				// sensor reads (several exchanges each).
				ctx, cancel := context.WithTimeout(t.Context(), time.Duration(i%20)*250*time.Microsecond)
				_, err := d.Sensors(ctx)
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("call %d: %v, want a deadline error", i, err)
					}
					cut++
				}
			}
			if cut == 0 {
				t.Fatal("no call was cut short by its deadline: the test proves nothing")
			}
			if _, err := d.PowerStateGet(t.Context()); err != nil {
				t.Fatalf("after %d calls cut short: %v (sessions leaked?)", cut, err)
			}
			// A fresh driver (a fresh session) must get in too.
			d2 := newDriver(t, simConfig(sim, ipmi.SessionPerCall))
			if err := d2.Open(t.Context()); err != nil {
				t.Fatalf("new session after %d calls cut short: %v", cut, err)
			}
			d2.Close(context.Background())
		})
	}
}
