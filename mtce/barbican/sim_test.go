package barbican

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce/internal/platform/simtest"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/workqueue"
)

func TestSimPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w0 := sim.NameUUID("worker-0")
		env := simtest.Start(t, func(c *sim.Config) {
			c.Secrets = map[string]sim.Secret{w0: "bmc-Passw0rd"}
		}, nil)
		cfg := DefaultConfig()
		cfg.BaseURL, cfg.HTTPClient, cfg.Queue = env.EP.Barbican, env.Token, env.Queue
		cfg.BackOff = workqueue.ConstantBackOff(10 * time.Second)
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		call, _ := c.Password("worker-0", w0)
		pw, err := call.Wait(ctx)
		if err != nil || pw.Reveal() != "bmc-Passw0rd" {
			t.Fatalf("password: %v", err)
		}
		// worker-1's first attempt is cut by a connection reset; its secret
		// is provisioned before the retry.
		w1 := sim.NameUUID("worker-1")
		if _, err := env.Sim.Inject(sim.Fault{Service: sim.Barbican, Kind: sim.FaultReset, Hits: 1}); err != nil {
			t.Fatal(err)
		}
		call, _ = c.Password("worker-1", w1)
		synctest.Wait() // attempt 1 was reset; the call waits to retry
		if _, err := env.Sim.PutSecret(w1, "late"); err != nil {
			t.Fatal(err)
		}
		pw, err = call.Wait(ctx)
		if err != nil || pw.Reveal() != "late" || call.Handle().Attempts() != 2 {
			t.Errorf("late secret: %v after %d attempts", err, call.Handle().Attempts())
		}
		call, _ = c.Password("worker-1", sim.NameUUID("storage-0"))
		if _, err := call.Wait(ctx); !errors.Is(err, ErrNoSecret) {
			t.Errorf("no secret: %v", err)
		}
	})
}
