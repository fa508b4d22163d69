package swact_test

import (
	"context"
	"errors"
	"fmt"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/mtce/swact"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
)

// stub satisfies the controller's dependencies; the rejected requests of
// the example never reach them.
type stub struct{}

func (stub) Query(string) (*sm.Call[sm.ServiceNode], error) { return nil, errors.New("unused") }
func (stub) Swact(string, mtce.AvailStatus) (*sm.Call[struct{}], error) {
	return nil, errors.New("unused")
}
func (stub) UpdateTask(sysinv.Ref, mtce.Task, uint32) (*sysinv.Call[sysinv.Host], error) {
	return nil, errors.New("unused")
}
func (stub) ForceTask(sysinv.Ref, mtce.Task, uint32) (*sysinv.Call[sysinv.Host], error) {
	return nil, errors.New("unused")
}
func (stub) Purge(string) int { return 0 }

// A rejected request is a *RejectError: the return code and texts for the
// agent's event-API reply, and a sentinel for errors.Is. While the mutex is
// held every other admin action on the host gets RejectInProgress.
func Example_rejections() {
	ctx := context.Background()
	cfg := swact.DefaultConfig()
	cfg.SM, cfg.SysInv, cfg.Queue = stub{}, stub{}, stub{}
	cfg.Simplex = func() bool { return false }
	c, err := swact.New(cfg)
	if err != nil {
		panic(err)
	}
	defer c.Close(ctx)

	req := swact.Request{Host: "controller-0", UUID: "5b4b9f5c-0000-4000-8000-000000000000",
		Personality: mtce.PersonalityController, MateEnabled: false}
	err = c.Request(ctx, req)
	var rej *swact.RejectError
	if errors.As(err, &rej) {
		fmt.Println(rej.Code, errors.Is(err, swact.ErrNoInServiceMate), rej.Paraphrased)
	}
	fmt.Println(c.Held(), c.SwactTimeout())
	fmt.Println(swact.RejectInProgress("controller-0").Reason)
	// Output:
	// FAIL_SWACT_NOINSVMATE true true
	// false 2m0s
	// Operation Rejected: Swact operation on this host already in-progress. Wait for current operation to complete and then retry.
}
