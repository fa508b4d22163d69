package demo_test

import (
	"context"
	"fmt"
	"time"

	"opendev.org/starlingx/metal-go/mtce/demo"
)

// A whole AIO duplex system over loopback: start it, lock and unlock the
// standby controller through SysInv, print each event, stop it. (Not run:
// it takes real seconds and needs Linux's 127/8 loopback.)
func Example() {
	cfg := demo.DefaultConfig()
	cfg.OnEvent = func(e demo.Event) { fmt.Println(e) }
	d, err := demo.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := d.Action(ctx, "controller-1", "lock"); err != nil {
		fmt.Println(err)
	}
	for _, l := range d.Snapshot().Lines() {
		fmt.Println(l)
	}
}
