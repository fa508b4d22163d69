package sm_test

import (
	"context"
	"fmt"
	"net/http"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Query a controller's service node, then ask SM to swact it, against the
// simulator.
func Example() {
	s, token, q, stop := platform()
	defer stop()

	cfg := sm.DefaultConfig()
	cfg.BaseURL = s.MemoryEndpoints().SM // sm.Endpoint(hostname, haPort) on a real system
	cfg.HTTPClient = token
	cfg.Queue = q
	c, err := sm.New(cfg)
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	query, err := c.Query("controller-0") // queued on controller-0's lane; never blocks
	if err != nil {
		panic(err)
	}
	node, err := query.Wait(ctx)
	fmt.Printf("query: %s swactable=%v err=%v\n", node.Hostname, node.Swactable, err)

	swact, _ := c.Swact("controller-0", mtce.AvailAvailable)
	_, err = swact.Wait(ctx)
	fmt.Println("swact accepted:", err == nil, "attempts:", swact.Handle().Attempts())
	// Output:
	// query: controller-0 swactable=true err=<nil>
	// swact accepted: true attempts: 1
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
