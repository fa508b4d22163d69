package bmc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
)

// A Password never shows its secret, whatever prints or logs it.
func ExamplePassword() {
	pw := bmc.NewPassword("calvin")
	fmt.Printf("%v %s %q %x %#v\n", pw, pw, pw, pw, pw)
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	log.Info("login", "user", "root", "password", pw)
	fmt.Println(len(pw.Reveal()))
	// Output:
	// [REDACTED] [REDACTED] [REDACTED] [REDACTED] bmc.Password([REDACTED])
	// level=INFO msg=login user=root password=[REDACTED]
	// 6
}

// StarlingX's power semantics over any driver (here the in-memory fake).
func ExamplePowerController() {
	ctx := context.Background()
	host := bmctest.NewFake(bmctest.FakeConfig{Power: bmc.PowerOff})
	_ = host.Open(ctx)
	defer host.Close(ctx)

	cfg := bmc.DefaultPowerConfig()
	cfg.OnRetryWait = time.Millisecond // StarlingX waits 5 s before confirming
	pc, _ := bmc.NewPowerController(host, cfg)

	_, err := pc.Reset(ctx)
	fmt.Println("reset of an off host:", errors.Is(err, bmc.ErrPoweredOff))

	out, err := pc.PowerOn(ctx)
	fmt.Println("power on:", err, "sent", out.Sent, "queries", out.Queries, "final", out.Final)

	out, _ = pc.PowerOn(ctx)
	fmt.Println("again: already on =", out.AlreadyInState())
	// Output:
	// reset of an off host: true
	// power on: <nil> sent 1 queries 2 final on
	// again: already on = true
}

// Protocol learning against the Redfish emulator (in memory).
func ExampleDetect() {
	sim, _ := bmcsim.New(bmcsim.Config{})
	defer sim.Close()

	cfg := bmc.DefaultDetectConfig()
	cfg.Address = "10.10.10.3"
	cfg.Transport = sim.Transport()
	d, err := bmc.Detect(context.Background(), cfg)
	fmt.Println(d.Protocol, d.Learned, d.RedfishVersion, err)
	// Output:
	// redfish true 1.6.0 <nil>
}
