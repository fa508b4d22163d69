package vim_test

import (
	"context"
	"fmt"
	"net/http"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/vim"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Tell the VIM that a worker is enabled, against the simulator. The VIM
// takes no token: the client gets a plain HTTP client.
func Example() {
	s, _, q, stop := platform()
	defer stop()

	cfg := vim.DefaultConfig()
	cfg.BaseURL = s.MemoryEndpoints().VIM // vim.Endpoint(port) on a real system
	cfg.HTTPClient = s.Client()           // plain: no keystone.Transport
	cfg.Queue = q
	c, err := vim.New(cfg)
	if err != nil {
		panic(err)
	}

	w, _ := s.Host("worker-0")
	host := mtce.Host{Name: w.Hostname, UUID: w.UUID, Personality: mtce.PersonalityWorker, Subfunctions: "worker",
		Admin: mtce.AdminUnlocked, Oper: mtce.OperEnabled, Avail: mtce.AvailAvailable}
	call, err := c.StateChange(vim.HostEnabled, host, nil)
	if err != nil {
		panic(err)
	}
	_, err = call.Wait(context.Background())
	fmt.Println("sent:", err)
	got := s.VIMStateChanges()[0]
	fmt.Println("VIM recorded:", got.Hostname, got.State.Administrative, got.State.Operational, got.State.Availability)
	// Output:
	// sent: <nil>
	// VIM recorded: worker-0 unlocked enabled available
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
