package ipmitool_test

import (
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
	"opendev.org/starlingx/metal-go/bmc/ipmitool"
)

// Wall-time tests against OpenIPMI's ipmi_sim with the real ipmitool.

func simConfig(sim *bmctest.IPMISim, via ipmitool.PasswordVia) ipmitool.Config {
	cfg := ipmitool.DefaultConfig()
	cfg.Host = sim.Host
	cfg.Port = sim.Port
	cfg.Username = sim.Username
	cfg.Password = sim.Password
	cfg.Timeout = time.Second
	cfg.Retries = 1
	cfg.CommandTimeout = 8 * time.Second
	cfg.PasswordVia = via
	return cfg
}

func TestConformanceIPMISim(t *testing.T) {
	bmctest.RequirePeer(t, "ipmitool")
	sim := bmctest.StartIPMISim(t, bmctest.IPMISimOptions{})
	for _, via := range []ipmitool.PasswordVia{ipmitool.PasswordFile, ipmitool.PasswordEnv} {
		t.Run(string(via), func(t *testing.T) {
			newDriver := func(t *testing.T, cfg ipmitool.Config) bmc.Driver {
				d, err := ipmitool.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			h := bmctest.Harness{
				New:     func(t *testing.T) bmc.Driver { return newDriver(t, simConfig(sim, via)) },
				Backend: sim,
				// ipmi_sim answers "invalid command" to Get System Restart Cause.
				Want:      bmc.CapAll &^ bmc.CapRestartCause,
				OpTimeout: 10 * time.Second,
				Sensors:   bmctest.DefaultSensors(),
				BadCredentials: func(t *testing.T) bmc.Driver {
					cfg := simConfig(sim, via)
					cfg.Password = bmc.NewPassword("wrong")
					return newDriver(t, cfg)
				},
			}
			if via == ipmitool.PasswordFile {
				// One hung-BMC run is enough: it costs ipmitool's -N.
				h.Hang = sim.Hang
				h.HangBudget = 6 * time.Second // typically 2.1 s: -N 1 × (1 + -R 1)
			}
			bmctest.Run(t, h)
		})
	}
	if !sim.Alive() {
		t.Fatal("ipmi_sim died during the suite")
	}
}
