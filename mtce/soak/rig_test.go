package soak

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
	"opendev.org/starlingx/metal-go/mtce/vim"
	"opendev.org/starlingx/metal-go/workqueue"
)

// size is one soak configuration.
type size struct {
	name      string
	hosts     int           // 2 controllers + hosts-2 workers
	duration  time.Duration // virtual time of load
	cycle     time.Duration // storm then calm
	storm     time.Duration // corruption every 20–30 s at the start of each cycle
	interval  time.Duration // mean time between two calls of one host
	lifetimes []time.Duration
	period    time.Duration // keystone RefreshPeriod (token_refresh_rate)
	sample    time.Duration // live-heap sampling interval
	heapMax   uint64        // bound of the live heap
}

const (
	corruptMin = 20 * time.Second // FIT corrupt_token, spec I.2
	corruptMax = 30 * time.Second
	// keystoneLatency is how long every token request takes (a renewal
	// completes in under a second in StarlingX, 87b4a69).
	keystoneLatency = 300 * time.Millisecond
	seed            = 7
	// recordLimit bounds the simulator's record logs, so that they fill up
	// early and the heap's growth shows leaks; it must exceed the number
	// of corruptions of a run (about 700 in the full size).
	recordLimit = 4096
)

func shortSize() size {
	return size{name: "short", hosts: 10, duration: time.Hour, cycle: 30 * time.Minute, storm: 6 * time.Minute,
		interval: 5 * time.Second, lifetimes: []time.Duration{25 * time.Minute, time.Hour},
		period: 1200 * time.Second, sample: 5 * time.Minute, heapMax: 64 << 20}
}

func fullSize() size {
	return size{name: "full", hosts: 50, duration: 8 * time.Hour, cycle: time.Hour, storm: 36 * time.Minute,
		interval: 5 * time.Second, lifetimes: []time.Duration{25 * time.Minute, time.Hour},
		period: 1200 * time.Second, sample: 15 * time.Minute, heapMax: 64 << 20}
}

// chooseSize reads METAL_SOAK (short, the default, or full) and
// METAL_SOAK_INTERVAL.
func chooseSize(t *testing.T) size {
	sz := shortSize()
	switch v := os.Getenv("METAL_SOAK"); v {
	case "", "short":
	case "full":
		sz = fullSize()
	default:
		t.Fatalf("METAL_SOAK=%q: want short or full", v)
	}
	if v := os.Getenv("METAL_SOAK_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("METAL_SOAK_INTERVAL=%q: want a positive Go duration", v)
		}
		sz.interval = d
	}
	return sz
}

// lifetime is the token lifetime the simulator gives in cycle k.
func (sz size) lifetime(k int) time.Duration { return sz.lifetimes[k%len(sz.lifetimes)] }

// rig is the platform and the clients under test.
type rig struct {
	sim    *sim.Sim
	ks     *keystone.Manager
	kcfg   keystone.Config
	q      *workqueue.Queue
	tokens *tokenTap
	svc    *serviceTap
	watch  *queueWatch
	logs   *logCount
	c      clients
	hosts  []sim.Host
	faults []sim.Fault
}

// soakFaults are the FIT-style faults of the whole soak (see doc.go).
func soakFaults() []sim.Fault {
	return []sim.Fault{
		{Name: "keystone-latency", Service: sim.Keystone, Method: "POST", Kind: sim.FaultDelay, Delay: keystoneLatency},
		{Name: "sysinv-drop", Service: sim.SysInv, Method: "PATCH", Kind: sim.FaultDrop, Probability: 0.001},
		{Name: "sysinv-503", Service: sim.SysInv, Kind: sim.FaultStatus, Code: 503, Probability: 0.02},
		{Name: "sm-503", Service: sim.SM, Kind: sim.FaultStatus, Code: 503, Probability: 0.02},
		{Name: "vim-reset", Service: sim.VIM, Kind: sim.FaultReset, Probability: 0.005},
		{Name: "vim-503", Service: sim.VIM, Kind: sim.FaultStatus, Code: 503, Probability: 0.02},
	}
}

// newRig builds the simulator, the token manager, the queue and the
// clients. It must run inside the bubble; close it with rig.close.
//
// It does not use simtest.Start: the soak needs the Manager's
// RefreshPeriod and a recording transport under it, which simtest does
// not let a test set.
func newRig(t *testing.T, sz size) *rig {
	t.Helper()
	sc := sim.DefaultConfig()
	sc.Seed = seed
	sc.Hosts = sim.Inventory(sz.hosts)
	sc.TokenLifetime = sz.lifetime(0)
	sc.RecordLimit = recordLimit
	s, err := sim.New(sc)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	r := &rig{sim: s, hosts: s.Hosts(), faults: soakFaults()}
	for _, f := range r.faults {
		if _, err := s.Inject(f); err != nil {
			_ = s.Close()
			t.Fatalf("inject %s: %v", f.Name, err)
		}
	}
	ep := s.MemoryEndpoints()

	r.tokens = newTokenTap(s.Transport())
	kc := keystone.DefaultConfig()
	kc.AuthURL = ep.AuthURL()
	kc.Username, kc.UserDomainName = sc.Username, sc.UserDomainName
	kc.Password = keystone.Secret(sc.Password.Reveal())
	kc.ProjectName, kc.ProjectDomainName = sc.ProjectName, sc.ProjectDomainName
	kc.Transport = r.tokens
	kc.RefreshPeriod = sz.period
	r.kcfg = kc
	if r.ks, err = keystone.New(kc); err != nil {
		_ = s.Close()
		t.Fatalf("keystone.New: %v", err)
	}

	r.watch, r.logs = newQueueWatch(), newLogCount()
	qc := workqueue.DefaultConfig()
	qc.Workers = sz.hosts // one request in flight per host, as StarlingX
	qc.Gate = r.ks
	qc.Observer = r.watch
	qc.Logger = slog.New(r.logs)
	if r.q, err = workqueue.New(qc); err != nil {
		_ = r.ks.Close()
		_ = s.Close()
		t.Fatalf("workqueue.New: %v", err)
	}

	r.svc = newServiceTap(s.Transport())
	withToken := &http.Client{Transport: &keystone.Transport{Manager: r.ks, Base: r.svc}}
	plain := &http.Client{Transport: s.Transport()} // the VIM takes no token

	fail := func(what string, err error) {
		r.close(t)
		t.Fatalf("%s: %v", what, err)
	}
	ic := sysinv.DefaultConfig()
	ic.BaseURL, ic.HTTPClient, ic.Queue = ep.SysInv, withToken, r.q
	if r.c.sysinv, err = sysinv.New(ic); err != nil {
		fail("sysinv.New", err)
	}
	mc := sm.DefaultConfig()
	mc.BaseURL, mc.HTTPClient, mc.Queue = ep.SM, withToken, r.q
	if r.c.sm, err = sm.New(mc); err != nil {
		fail("sm.New", err)
	}
	vc := vim.DefaultConfig()
	vc.BaseURL, vc.HTTPClient, vc.Queue = ep.VIM, plain, r.q
	if r.c.vim, err = vim.New(vc); err != nil {
		fail("vim.New", err)
	}
	return r
}

// close closes the queue (forcing it after a minute), the Manager and the
// simulator, in that order, and reports the queue's Close error.
func (r *rig) close(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := r.q.Close(ctx)
	_ = r.ks.Close()
	_ = r.sim.Close()
	return err
}
