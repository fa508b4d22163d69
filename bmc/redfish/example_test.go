package redfish_test

import (
	"context"
	"errors"
	"fmt"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
	"opendev.org/starlingx/metal-go/bmc/redfish"
)

// The driver against the Redfish emulator, in memory.
func Example() {
	ctx := context.Background()
	sim, _ := bmcsim.New(bmcsim.Config{ResetTypes: []string{"On", "ForceOff", "GracefulRestart"}})
	defer sim.Close()

	cfg := redfish.DefaultConfig()
	cfg.Endpoint = "https://10.10.10.3"
	cfg.Username = "admin"
	cfg.Password = bmc.NewPassword("secret")
	cfg.Transport = sim.Transport() // a real BMC needs none of this
	d, err := redfish.New(cfg)
	if err != nil {
		panic(err)
	}
	if err := d.Open(ctx); err != nil {
		panic(err)
	}
	defer d.Close(ctx)

	fmt.Println(d.Capabilities())
	_ = d.BootDeviceSet(ctx, bmc.BootPXE, bmc.BootOptions{})
	_ = d.PowerSet(ctx, bmc.ActionOn)
	st, _ := d.PowerStateGet(ctx)
	fmt.Println("power:", st, "booted from:", sim.Boots())
	// GracefulRestart is offered, ForceRestart is not: a hard reset is not
	// replaced by a graceful one unless Config.GracefulFallback opts in.
	err = d.PowerSet(ctx, bmc.ActionReset)
	fmt.Println("reset:", err)
	sensors, _ := d.Sensors(ctx)
	for _, s := range sensors[:4] {
		fmt.Println(s)
	}
	// Output:
	// power-state|power-on|power-off|power-cycle|boot-pxe|bmc-info|sensors
	// power: on booted from: [Pxe]
	// reset: bmc redfish https://10.10.10.3 power-reset: operation not supported: BMC does not advertise power-reset
	// CPU Temp | 45 | degrees C | ok
	// Inlet Temp | 24 | degrees C | ok
	// FAN1 | 5400 | RPM | ok
	// 12V | 12 | Volts | ok
}

// A chassis that publishes only the newer sensor model (Sensors,
// ThermalSubsystem, PowerSubsystem), one of whose resources fails: Sensors
// returns what it read and a *bmc.PartialError naming what it could not.
func ExampleDriver_Sensors_partial() {
	ctx := context.Background()
	sim, _ := bmcsim.New(bmcsim.Config{SensorModel: bmcsim.ModelModern})
	defer sim.Close()
	cfg := redfish.DefaultConfig()
	cfg.Endpoint = "https://10.10.10.3"
	cfg.Username = "admin"
	cfg.Password = bmc.NewPassword("secret")
	cfg.Transport = sim.Transport()
	d, _ := redfish.New(cfg)
	if err := d.Open(ctx); err != nil {
		panic(err)
	}
	defer d.Close(ctx)

	sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultNotFound, Path: "/redfish/v1/Chassis/1/ThermalSubsystem"})
	sensors, err := d.Sensors(ctx)
	for _, s := range sensors {
		fmt.Println(s)
	}
	var pe *bmc.PartialError
	if errors.As(err, &pe) {
		for _, f := range pe.Failures {
			fmt.Println("failed:", f.Resource)
		}
	}
	// Output:
	// CPU Temp | 45 | degrees C | ok
	// Inlet Temp | 24 | degrees C | ok
	// 12V | 12 | Volts | ok
	// System Power | 180 | Watts | ok
	// PSU1 | 180 | Watts | ok
	// PSU1 Input Voltage | 230 | Volts | ok
	// PSU1 Input Power | 200 | Watts | ok
	// failed: /redfish/v1/Chassis/1/ThermalSubsystem
}
