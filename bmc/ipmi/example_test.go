package ipmi_test

import (
	"context"
	"fmt"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/ipmi"
)

// Typical use with a real BMC (not run: it needs one).
func Example() {
	ctx := context.Background()
	cfg := ipmi.DefaultConfig()
	cfg.Host = "10.10.10.3"
	cfg.Username = "root"
	cfg.Password = bmc.NewPassword("calvin")
	cfg.Timeout = 2 * time.Second
	d, err := ipmi.New(cfg)
	if err != nil {
		panic(err)
	}
	if err := d.Open(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close(ctx)
	pc, _ := bmc.NewPowerController(d, bmc.DefaultPowerConfig())
	if err := d.BootDeviceSet(ctx, bmc.BootPXE, bmc.BootOptions{}); err != nil {
		fmt.Println(err)
	}
	out, err := pc.Cycle(ctx)
	fmt.Println(out, err)
}
