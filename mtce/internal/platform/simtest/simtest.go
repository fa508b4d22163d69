// Package simtest starts the platform simulator with a Keystone token
// manager and a work queue, for the platform clients' integration tests.
// It works inside testing/synctest bubbles (everything is in memory).
package simtest

import (
	"context"
	"net/http"
	"testing"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Env is a running simulator with its clients' plumbing.
type Env struct {
	Sim      *sim.Sim
	EP       sim.Endpoints
	Keystone *keystone.Manager
	Token    *http.Client // adds and renews the Keystone token (SM, SysInv, Barbican)
	Plain    *http.Client // no token (VIM)
	Queue    *workqueue.Queue
}

// Start starts an Env; mod may change the simulator's configuration and
// qmod the queue's. Everything is closed at the test's cleanup, queue
// first.
func Start(t testing.TB, mod func(*sim.Config), qmod func(*workqueue.Config)) *Env {
	t.Helper()
	sc := sim.DefaultConfig()
	if mod != nil {
		mod(&sc)
	}
	s, err := sim.New(sc)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	ep := s.MemoryEndpoints()
	kc := keystone.DefaultConfig()
	kc.AuthURL = ep.AuthURL()
	kc.Username, kc.UserDomainName = sc.Username, sc.UserDomainName
	kc.Password = keystone.Secret(string(sc.Password))
	kc.ProjectName, kc.ProjectDomainName = sc.ProjectName, sc.ProjectDomainName
	kc.Transport = s.Transport()
	m, err := keystone.New(kc)
	if err != nil {
		_ = s.Close()
		t.Fatalf("keystone.New: %v", err)
	}
	qc := workqueue.DefaultConfig()
	qc.Gate = m
	if qmod != nil {
		qmod(&qc)
	}
	q, err := workqueue.New(qc)
	if err != nil {
		_ = m.Close()
		_ = s.Close()
		t.Fatalf("workqueue.New: %v", err)
	}
	t.Cleanup(func() {
		_ = q.Close(context.Background())
		_ = m.Close()
		_ = s.Close()
	})
	return &Env{
		Sim: s, EP: ep, Keystone: m, Queue: q,
		Token: &http.Client{Transport: &keystone.Transport{Manager: m, Base: s.Transport()}},
		Plain: s.Client(),
	}
}
