package sm

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform/simtest"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

func simClient(t *testing.T, env *simtest.Env) *Client {
	cfg := DefaultConfig()
	cfg.BaseURL, cfg.HTTPClient, cfg.Queue = env.EP.SM, env.Token, env.Queue
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSimSwact drives a swact against the simulator: query, swact, and
// the query that sees it done, with a token corrupted on the way.
func TestSimSwact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		swacted := make(chan string, 1)
		env := simtest.Start(t, func(c *sim.Config) {
			c.OnSwact = func(from, to string) { swacted <- from + "->" + to }
		}, nil)
		c := simClient(t, env)
		ctx := t.Context()

		q, err := c.Query("controller-0")
		if err != nil {
			t.Fatal(err)
		}
		n, err := q.Wait(ctx)
		if err != nil || !n.Swactable || n.Origin != "sm" || n.ActiveServices != "yes" {
			t.Fatalf("query: %+v %v", n, err)
		}
		env.Sim.CorruptToken() // the next request gets a 401; the transport renews once
		sw, _ := c.Swact("controller-0", mtce.AvailAvailable)
		if _, err := sw.Wait(ctx); err != nil {
			t.Fatalf("swact: %v", err)
		}
		start := time.Now()
		if got := <-swacted; got != "controller-0->controller-1" || time.Since(start) != 6*time.Second {
			t.Fatalf("swact %q after %v", got, time.Since(start))
		}
		if a := env.Sim.ActiveController(); a != "controller-1" {
			t.Fatalf("active controller %q", a)
		}
		q, _ = c.Query("controller-0")
		if n, err = q.Wait(ctx); err != nil || n.Swactable {
			t.Errorf("after swact: %+v %v", n, err)
		}
		if st := env.Sim.Stats(); st.TokenRequests != 2 || st.AuthFailures != 1 {
			t.Errorf("token requests %d, auth failures %d; want 2 and 1", st.TokenRequests, st.AuthFailures)
		}
	})
}

func TestSimFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := simtest.Start(t, nil, nil)
		c := simClient(t, env)
		ctx := t.Context()
		if _, err := env.Sim.Inject(sim.Fault{Service: sim.SM, Method: "PATCH", Host: "controller-1",
			Kind: sim.FaultStatus, Code: 503, Hits: 2}); err != nil {
			t.Fatal(err)
		}
		call, _ := c.Enabled("controller-1", mtce.ActionUnlock, mtce.AdminUnlocked, mtce.AvailAvailable)
		if _, err := call.Wait(ctx); err != nil || call.Handle().Attempts() != 3 {
			t.Errorf("enabled through 2×503: %v after %d attempts", err, call.Handle().Attempts())
		}
		if _, err := env.Sim.Inject(sim.Fault{Service: sim.SM, Method: "GET", Kind: sim.FaultDrop, Hits: 1}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		q, _ := c.Query("controller-0")
		if _, err := q.Wait(ctx); !errors.Is(err, ErrTransport) || time.Since(start) != DefaultTimeout {
			t.Errorf("dropped query: %v after %v", err, time.Since(start))
		}
		if _, err := env.Sim.Inject(sim.Fault{Service: sim.SM, Method: "GET", Kind: sim.FaultMalformed, Hits: 1}); err != nil {
			t.Fatal(err)
		}
		q, _ = c.Query("controller-0")
		if _, err := q.Wait(ctx); !errors.Is(err, ErrBadResponse) {
			t.Errorf("malformed query answer: %v", err)
		}
	})
}
