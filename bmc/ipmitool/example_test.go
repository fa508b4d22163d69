package ipmitool_test

import (
	"context"
	"fmt"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/ipmitool"
)

// Reading sensors like StarlingX's hwmond (not run: it needs a BMC).
func Example() {
	ctx := context.Background()
	cfg := ipmitool.DefaultConfig()
	cfg.Host = "10.10.10.3"
	cfg.Username = "root"
	cfg.Password = bmc.NewPassword("calvin")
	d, err := ipmitool.New(cfg)
	if err != nil {
		panic(err)
	}
	if err := d.Open(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close(ctx)
	sensors, err := d.Sensors(ctx)
	for _, s := range sensors {
		fmt.Println(s)
	}
	fmt.Println(err)
}
