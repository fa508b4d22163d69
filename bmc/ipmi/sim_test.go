package ipmi_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
	"opendev.org/starlingx/metal-go/bmc/ipmi"
)

// Wall-time tests against OpenIPMI's ipmi_sim, started by
// scripts/ipmisim/ipmisim.sh on a free port in a temp dir.

func simConfig(sim *bmctest.IPMISim, mode ipmi.SessionMode) ipmi.Config {
	cfg := ipmi.DefaultConfig()
	cfg.Host = sim.Host
	cfg.Port = sim.Port
	cfg.Username = sim.Username
	cfg.Password = sim.Password
	cfg.Timeout = 500 * time.Millisecond
	cfg.Retries = 1
	cfg.CallTimeout = 5 * time.Second
	cfg.Session = mode
	return cfg
}

func newDriver(t *testing.T, cfg ipmi.Config) *ipmi.Driver {
	t.Helper()
	d, err := ipmi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformanceIPMISim(t *testing.T) {
	for _, mode := range []ipmi.SessionMode{ipmi.SessionPerCall, ipmi.SessionReuse} {
		t.Run(string(mode), func(t *testing.T) {
			sim := bmctest.StartIPMISim(t, bmctest.IPMISimOptions{})
			bmctest.Run(t, bmctest.Harness{
				New:     func(t *testing.T) bmc.Driver { return newDriver(t, simConfig(sim, mode)) },
				Backend: sim,
				// ipmi_sim answers "invalid command" to Get System Restart Cause.
				Want:       bmc.CapAll &^ bmc.CapRestartCause,
				OpTimeout:  5 * time.Second,
				Settle:     3 * time.Second,
				Sensors:    bmctest.DefaultSensors(),
				Hang:       sim.Hang,
				HangBudget: 3 * time.Second,
				BadCredentials: func(t *testing.T) bmc.Driver {
					cfg := simConfig(sim, mode)
					cfg.Password = bmc.NewPassword("wrong")
					return newDriver(t, cfg)
				},
			})
			if !sim.Alive() {
				t.Fatal("ipmi_sim died during the suite")
			}
		})
	}
}

func TestSimulatorStopped(t *testing.T) {
	sim := bmctest.StartIPMISim(t, bmctest.IPMISimOptions{})
	d := newDriver(t, simConfig(sim, ipmi.SessionPerCall))
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	sim.Stop(t)
	start := time.Now()
	_, err := d.PowerStateGet(context.Background())
	// Loopback answers a stopped port with ICMP "port unreachable".
	if !errors.Is(err, bmc.ErrUnreachable) && !errors.Is(err, bmc.ErrTimeout) {
		t.Fatalf("PowerStateGet on a stopped BMC = %v, want ErrUnreachable or ErrTimeout", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
	t.Logf("stopped BMC: %v after %s", err, time.Since(start).Round(time.Millisecond))
}

// The PXE request is verified through the simulator's own record (its
// chassis-control script), since ipmi_sim reads boot flags back as invalid.
func TestPXEAndSensorsOnSimulator(t *testing.T) {
	sim := bmctest.StartIPMISim(t, bmctest.IPMISimOptions{Power: bmc.PowerOn})
	d := newDriver(t, simConfig(sim, ipmi.SessionReuse))
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if err := d.BootDeviceSet(t.Context(), bmc.BootPXE, bmc.BootOptions{}); err != nil {
		t.Fatal(err)
	}
	log, err := sim.ChassisLog()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(log, "set boot pxe") {
		t.Errorf("chassis log %q has no \"set boot pxe\"", log)
	}

	// Raise the CPU temperature past its upper non-critical threshold.
	if err := sim.SetSensor("cpu_temp", 85); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		sensors, err := d.Sensors(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(sensors, func(s bmc.Sensor) bool { return s.Name == "CPU Temp" })
		if i >= 0 && sensors[i].Reading != nil && *sensors[i].Reading == 85 {
			if sensors[i].Status != bmc.StatusNonCritical {
				t.Errorf("CPU Temp at 85 has status %s, want nc", sensors[i].Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ipmi_sim did not report the new reading: %v", sensors)
		}
		<-tick.C
	}
}

// PowerController over the real driver: StarlingX semantics end to end.
func TestPowerControllerOnSimulator(t *testing.T) {
	sim := bmctest.StartIPMISim(t, bmctest.IPMISimOptions{})
	d := newDriver(t, simConfig(sim, ipmi.SessionReuse))
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	cfg := bmc.DefaultPowerConfig()
	cfg.OnRetryWait, cfg.OffRetryWait, cfg.ResetRetryWait = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	pc, err := bmc.NewPowerController(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Reset(t.Context()); !errors.Is(err, bmc.ErrPoweredOff) {
		t.Errorf("Reset of an off host = %v, want ErrPoweredOff", err)
	}
	if n, _ := sim.Resets(); n != 0 {
		t.Errorf("a reset reached the simulator")
	}
	out, err := pc.PowerOn(t.Context())
	if err != nil || out.Sent != 1 {
		t.Fatalf("PowerOn = %+v, %v", out, err)
	}
	out, err = pc.PowerOn(t.Context())
	if err != nil || !out.AlreadyInState() {
		t.Errorf("second PowerOn = %+v, %v; want no action", out, err)
	}
	if _, err := pc.Reset(t.Context()); err != nil {
		t.Errorf("Reset = %v", err)
	}
	if n, _ := sim.Resets(); n != 1 {
		t.Errorf("simulator saw %d resets, want 1", n)
	}
	if _, err := pc.PowerOff(t.Context()); err != nil {
		t.Errorf("PowerOff = %v", err)
	}
	if st, _ := sim.Power(); st != bmc.PowerOff {
		t.Errorf("simulator power %s", st)
	}
}
