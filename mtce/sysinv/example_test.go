package sysinv_test

import (
	"context"
	"fmt"
	"net/http"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Load a host at start-up, then update its task and states through the
// queue, against the simulator.
func Example() {
	s, token, q, stop := platform()
	defer stop()

	cfg := sysinv.DefaultConfig()
	cfg.BaseURL = s.MemoryEndpoints().SysInv // sysinv.Endpoint(bindIP, port) on a real system
	cfg.HTTPClient = token
	cfg.Queue = q
	c, err := sysinv.New(cfg)
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	h, err := c.LoadHostRetry(ctx, "worker-0") // blocking, with B.7's retries
	if err != nil {
		panic(err)
	}
	fmt.Println("loaded:", h.Name, h.Personality, h.Admin, h.Oper, h.Avail)

	ref := sysinv.Ref{Name: h.Name, UUID: h.UUID}
	task, _ := c.UpdateTask(ref, mtce.TaskEnabling, 42) // noncritical, 10 s attempts
	states, _ := c.ForceStates(ref, mtce.AdminUnlocked, mtce.OperDisabled, mtce.AvailInTest)
	if _, err := task.Wait(ctx); err != nil {
		panic(err)
	}
	rec, err := states.Wait(ctx) // the record SysInv answered with
	fmt.Println("updated:", rec.Task, rec.Oper, rec.Avail, err)
	fmt.Printf("Horizon shows: %q\n", s.Task("worker-0"))
	// Output:
	// loaded: worker-0 worker unlocked enabled available
	// updated: Enabling disabled intest <nil>
	// Horizon shows: "Enabling"
}

// platform starts the simulated StarlingX platform (in memory), a Keystone
// token manager and a work queue whose gate is the manager, as an agent
// wires them. stop closes them in reverse order.
func platform() (s *sim.Sim, token *http.Client, q *workqueue.Queue, stop func()) {
	s, err := sim.New(sim.DefaultConfig()) // 2 controllers, 2 workers
	if err != nil {
		panic(err)
	}
	ep := s.MemoryEndpoints()
	kc := keystone.DefaultConfig()
	kc.AuthURL = ep.AuthURL()
	kc.Username, kc.UserDomainName = "admin", "Default"
	kc.Password = keystone.Secret(sim.DefaultConfig().Password)
	kc.ProjectName, kc.ProjectDomainName = "admin", "Default"
	kc.Transport = s.Transport()
	m, err := keystone.New(kc)
	if err != nil {
		panic(err)
	}
	qc := workqueue.DefaultConfig()
	qc.Gate = m // hold queued requests while a 401 renewal runs
	q, err = workqueue.New(qc)
	if err != nil {
		panic(err)
	}
	token = &http.Client{Transport: &keystone.Transport{Manager: m, Base: s.Transport()}}
	return s, token, q, func() {
		_ = q.Close(context.Background())
		_ = m.Close()
		_ = s.Close()
	}
}
