package hwmon_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/hwmon"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
	"opendev.org/starlingx/metal-go/workqueue"
)

// The wiring the agent does: the keystone manager is shared, the monitor
// gets its own work queue and SysInv client (User-Agent hwmon/1.0). Here
// SysInv is the in-memory simulator and the BMC an in-memory fake.
func Example() {
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ep := s.MemoryEndpoints()

	kc := keystone.DefaultConfig() // the agent's token manager, shared
	kc.AuthURL, kc.Transport = ep.AuthURL(), s.Transport()
	kc.Username, kc.UserDomainName = "admin", "Default"
	kc.Password = keystone.Secret("Sim-Passw0rd!")
	kc.ProjectName, kc.ProjectDomainName = "admin", "Default"
	km, err := keystone.New(kc)
	if err != nil {
		log.Fatal(err)
	}
	defer km.Close()

	qc := workqueue.DefaultConfig() // hwmon's own queue
	qc.Gate = km
	q, err := workqueue.New(qc)
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close(context.Background())

	sc := sysinv.DefaultConfig()
	sc.BaseURL, sc.Queue, sc.UserAgent = ep.SysInv, q, "hwmon/1.0"
	sc.HTTPClient = &http.Client{Transport: &keystone.Transport{Manager: km, Base: s.Transport()}}
	si, err := sysinv.New(sc)
	if err != nil {
		log.Fatal(err)
	}

	done := make(chan hwmon.Audit, 1)
	cfg := hwmon.DefaultConfig()
	cfg.SysInv = si
	cfg.Password = func(context.Context, hwmon.Host) (bmc.Password, error) {
		return bmc.NewPassword("from-barbican"), nil // the agent's Barbican store
	}
	cfg.NewDriver = func(context.Context, hwmon.Host, bmc.Password) (bmc.Driver, error) {
		return bmctest.NewFake(bmctest.FakeConfig{}), nil // by bm_type in the agent
	}
	cfg.Observer = func(a hwmon.Audit) {
		select {
		case done <- a:
		default:
		}
	}
	m, err := hwmon.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	w0, _ := s.Host("worker-0")
	m.Set(hwmon.Host{Name: "worker-0", UUID: w0.UUID, BMIP: "10.10.10.3", BMUsername: "root", BMType: mtce.BMCIPMI})
	go m.Run(context.Background())
	defer m.Close()

	a := <-done
	fmt.Println("audit:", a.Host, a.Outcome, "read", a.Read, "changed", a.Changed)
	for _, g := range s.SensorGroups("worker-0") {
		fmt.Println("group:", g["sensorgroupname"], g["state"])
	}
	fmt.Println("sensors:", len(s.Sensors("worker-0")))
	// Output:
	// audit: worker-0 ok read 4 changed 10
	// group: server temperature enabled
	// group: server fans enabled
	// group: server voltage enabled
	// sensors: 4
}
