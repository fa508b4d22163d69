package bmctest_test

import (
	"context"
	"errors"
	"fmt"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
)

// The fake driver with a scripted failure and a BMC that ignores a command.
func ExampleFake() {
	ctx := context.Background()
	f := bmctest.NewFake(bmctest.FakeConfig{Capabilities: bmc.CapPowerState | bmc.CapPowerOn})
	_ = f.Open(ctx)

	f.FailNext("power-on", bmc.NewError("power-on", "fake", "fake", bmc.ErrTimeout, nil))
	err := f.PowerSet(ctx, bmc.ActionOn)
	fmt.Println("first:", errors.Is(err, bmc.ErrTimeout))

	f.IgnoreNext(1)
	_ = f.PowerSet(ctx, bmc.ActionOn)
	st, _ := f.Power()
	fmt.Println("ignored:", st)

	_ = f.PowerSet(ctx, bmc.ActionOn)
	st, _ = f.Power()
	fmt.Println("then:", st, f.Actions())

	err = f.PowerSet(ctx, bmc.ActionReset)
	fmt.Println("reset:", errors.Is(err, bmc.ErrNotSupported))
	// Output:
	// first: true
	// ignored: off
	// then: on [on on]
	// reset: true
}
