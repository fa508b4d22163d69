package vim

import (
	"errors"
	"testing"
	"testing/synctest"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform/simtest"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

func TestSimStateChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := simtest.Start(t, nil, nil)
		cfg := DefaultConfig()
		cfg.BaseURL, cfg.HTTPClient, cfg.Queue = env.EP.VIM, env.Plain, env.Queue
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w0, _ := env.Sim.Host("worker-0")
		h := mtce.Host{Name: w0.Hostname, UUID: w0.UUID, Personality: mtce.PersonalityWorker, Subfunctions: "worker",
			Admin: mtce.AdminUnlocked, Oper: mtce.OperDisabled, Avail: mtce.AvailFailed}
		call, err := c.StateChange(HostFailed, h, &DataPorts{Oper: mtce.OperDisabled, Avail: mtce.AvailOffline})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := call.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		ch := env.Sim.VIMStateChanges()
		if len(ch) != 1 {
			t.Fatalf("%d state changes", len(ch))
		}
		got := ch[0]
		want := sim.VIMState{Administrative: "unlocked", Operational: "disabled", Availability: "failed",
			SubfunctionOper: "none", SubfunctionAvail: "none", DataPortsOper: "disabled", DataPortsAvail: "offline"}
		if got.UUID != w0.UUID || got.Hostname != "worker-0" || got.Personality != "worker" || got.State != want {
			t.Errorf("recorded %+v", got)
		}
		for _, r := range env.Sim.Requests() {
			if r.Service == sim.VIM && r.Status != 200 && r.Status != 202 && r.Status != 204 {
				t.Errorf("VIM answered %d", r.Status)
			}
		}
		// The VIM answers 404 for an unknown host: an error, not a success.
		h.UUID = "00000000-0000-4000-8000-000000000000"
		call, _ = c.StateChange(HostEnabled, h, nil)
		_, err = call.Wait(t.Context())
		if !errors.Is(err, ErrNotFound) || call.Handle().Attempts() != 3 {
			t.Errorf("unknown host: %v after %d attempts", err, call.Handle().Attempts())
		}
	})
}
