package barbican_test

import (
	"context"
	"fmt"
	"net/http"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce/barbican"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Read a host's BMC password, stored under its UUID, against the
// simulator. The password prints as [REDACTED].
func Example() {
	s, token, q, stop := platform()
	defer stop()
	uuid := sim.NameUUID("worker-0")
	if _, err := s.PutSecret(uuid, "bmc-Passw0rd"); err != nil { // what SysInv does for bm_password
		panic(err)
	}

	cfg := barbican.DefaultConfig()
	cfg.BaseURL = s.MemoryEndpoints().Barbican // barbican.Endpoint(bindHost, bindPort) on a real system
	cfg.HTTPClient = token
	cfg.Queue = q
	c, err := barbican.New(cfg)
	if err != nil {
		panic(err)
	}

	call, err := c.Password("worker-0", uuid)
	if err != nil {
		panic(err)
	}
	pw, err := call.Wait(context.Background())
	fmt.Printf("password: %v (%d characters), err=%v\n", pw, len(pw.Reveal()), err)
	// Output:
	// password: [REDACTED] (12 characters), err=<nil>
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
