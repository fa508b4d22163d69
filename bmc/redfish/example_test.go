package redfish_test

import (
	"context"
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
	err = d.PowerSet(ctx, bmc.ActionSoftOff)
	fmt.Println("soft off:", err)
	sensors, _ := d.Sensors(ctx)
	for _, s := range sensors[:4] {
		fmt.Println(s)
	}
	// Output:
	// power-state|power-on|power-off|power-reset|power-cycle|boot-pxe|bmc-info|sensors
	// power: on booted from: [Pxe]
	// soft off: bmc redfish https://10.10.10.3 power-soft: operation not supported: BMC does not advertise power-soft
	// CPU Temp | 45 | degrees C | ok
	// Inlet Temp | 24 | degrees C | ok
	// FAN1 | 5400 | RPM | ok
	// 12V | 12 | Volts | ok
}
