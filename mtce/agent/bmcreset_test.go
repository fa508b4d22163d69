package agent

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
	"opendev.org/starlingx/metal-go/bmc/redfish"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// bmcRebootRig is a locked worker-0 with a Redfish BMC whose client is
// alive (mtcAlive) but never answers a command.
func bmcRebootRig(t *testing.T, edit func(*Config)) (*rig, *bmcsim.Server) {
	sc := simConfig()
	lockedWorker(&sc)
	w := &sc.Hosts[2]
	w.BMType, w.BMIP, w.BMUsername = "redfish", "10.10.10.5", "admin"
	sc.Secrets = map[string]sim.Secret{w.UUID: "secret"}
	bs, err := bmcsim.New(bmcsim.Config{PowerState: "On"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	r := newRig(t, sc, func(c *Config) {
		c.NewBMC = func(ctx context.Context, h BMCHost, pw bmc.Password) (bmc.Driver, error) {
			rc := redfish.DefaultConfig()
			rc.Endpoint, rc.Username, rc.Password, rc.Transport = "https://"+h.BMIP, h.BMUsername, pw, bs.Transport()
			return redfish.New(rc)
		}
		if edit != nil {
			edit(c)
		}
	})
	r.fakes["worker-0"].set(func(f *fakeHost) { f.mute = true })
	return r, bs
}

func countCmd(cmds []wire.Command, c wire.Command) int {
	n := 0
	for _, x := range cmds {
		if x == c {
			n++
		}
	}
	return n
}

// TestRebootBMCResetAfterDelay: a reboot that is never acknowledged is
// sent 5 times 10 s apart and then, K.8, the BMC reset comes
// bmc_reset_delay − 50 s later — bmc_reset_delay (mtc.conf, stock 300 s)
// after the first send — not at once; with another bmc_reset_delay in the
// loaded configuration, that one. In virtual time.
func TestRebootBMCResetAfterDelay(t *testing.T) {
	for _, c := range []struct {
		name  string
		delay time.Duration // 0: as loaded from testdata/root/etc/mtc.conf
		want  time.Duration
	}{
		{"mtc.conf", 0, 300 * time.Second},
		{"configured 120 s", 120 * time.Second, 120 * time.Second},
		{"configured below the sends", 20 * time.Second, 50 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, bs := bmcRebootRig(t, func(cfg *Config) {
					if c.delay == 0 {
						if got := cfg.Mtc.Agent.BMCResetDelay; got != 300*time.Second {
							t.Errorf("bmc_reset_delay loaded as %v, want 300s", got)
						}
						return
					}
					cfg.Mtc.Agent.BMCResetDelay = c.delay
				})
				synctest.Wait()
				start := time.Now()
				if err := r.a.Request(r.ctx, "worker-0", mtce.ActionReboot); err != nil {
					t.Fatal(err)
				}
				time.Sleep(c.want - time.Second)
				synctest.Wait()
				if n := countCmd(r.fakes["worker-0"].commands(), wire.CmdReboot); n != 5 {
					t.Errorf("reboot sent %d times, want 5", n)
				}
				if got := bs.ResetLog(); len(got) != 0 {
					t.Fatalf("BMC reset %v before %v", got, c.want)
				}
				if err := waitUntil(10*time.Second, func() bool { return len(bs.ResetLog()) == 1 }); err != nil {
					t.Fatalf("no BMC reset by %v after the first send", time.Since(start))
				}
				if d := time.Since(start); d < c.want || d > c.want+2*time.Second {
					t.Errorf("BMC reset %v after the first send, want %v", d, c.want)
				}
			})
		})
	}
}

// TestRebootWentDownNoBMCReset: when the host goes away during the wait
// (the reboot ran though its ACKs were lost), no BMC reset is done.
func TestRebootWentDownNoBMCReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, bs := bmcRebootRig(t, nil)
		synctest.Wait()
		if err := r.a.Request(r.ctx, "worker-0", mtce.ActionReboot); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Second) // the five sends, unacknowledged
		r.fakes["worker-0"].set(func(f *fakeHost) { f.stopped = true })
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := bs.ResetLog(); len(got) != 0 {
			t.Errorf("BMC reset of a host that went down: %v", got)
		}
		if r := hostRec(r.a, "worker-0"); r.Online {
			t.Errorf("still online: %+v", r)
		}
	})
}
