// Command platform drives the SDK's platform clients against the embeddable
// StarlingX simulator over real loopback HTTP, the way the maintenance agent
// does: a Keystone token manager, a per-host work queue whose gate is the
// manager, and SM, SysInv and VIM calls on the hosts' lanes. Midway the
// token is corrupted (FIT corrupt_token) and SysInv answers 503 twice to
// one host's updates: one renewal repairs the first, the queue's retries
// absorb the second, and no other lane waits for that host.
//
//	go run ./examples/platform
//
// It binds only to 127.0.0.1 and exits by itself within a few seconds.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
	"opendev.org/starlingx/metal-go/mtce/vim"
	"opendev.org/starlingx/metal-go/workqueue"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "platform example:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The platform: 2 controllers and 2 workers, over loopback.
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		return err
	}
	defer s.Close()
	ep, err := s.Listen()
	if err != nil {
		return err
	}
	fmt.Println("simulated platform: keystone", ep.AuthURL(), "sysinv", ep.SysInv, "sm", ep.SM, "vim", ep.VIM)

	// The token manager (on a StarlingX host: /etc/mtc.ini keystone_auth_*).
	kc := keystone.DefaultConfig()
	kc.AuthURL = ep.AuthURL()
	kc.Username, kc.UserDomainName = "admin", "Default"
	kc.Password = keystone.Secret(sim.DefaultConfig().Password)
	kc.ProjectName, kc.ProjectDomainName = "admin", "Default"
	m, err := keystone.New(kc)
	if err != nil {
		return err
	}
	defer m.Close()

	// The queue: its gate is the manager, so queued work holds while a
	// 401-renewal runs. Retries 200 ms apart keep the demo short.
	qc := workqueue.DefaultConfig()
	qc.Gate = m
	qc.BackOff = workqueue.ConstantBackOff(200 * time.Millisecond)
	q, err := workqueue.New(qc)
	if err != nil {
		return err
	}
	defer q.Close(context.Background())

	withToken := &http.Client{Transport: &keystone.Transport{Manager: m}}

	ic := sysinv.DefaultConfig()
	ic.BaseURL, ic.HTTPClient, ic.Queue = ep.SysInv, withToken, q
	inv, err := sysinv.New(ic)
	if err != nil {
		return err
	}
	sc := sm.DefaultConfig()
	sc.BaseURL, sc.HTTPClient, sc.Queue = ep.SM, withToken, q
	smc, err := sm.New(sc)
	if err != nil {
		return err
	}
	vcfg := vim.DefaultConfig()
	vcfg.BaseURL, vcfg.HTTPClient, vcfg.Queue = ep.VIM, http.DefaultClient, q // the VIM takes no token
	vc, err := vim.New(vcfg)
	if err != nil {
		return err
	}

	// Start-up: load the inventory (blocking form).
	var hosts []mtce.Host
	for _, name := range []string{"controller-0", "controller-1", "worker-0", "worker-1"} {
		h, err := inv.LoadHostRetry(ctx, name)
		if err != nil {
			return err
		}
		hosts = append(hosts, h.Host)
		fmt.Printf("loaded %-12s %-10s %s/%s/%s\n", h.Name, h.Personality, h.Admin, h.Oper, h.Avail)
	}

	// FIT: the token goes bad, and SM fails its next two queries with 503.
	s.CorruptToken()
	if _, err := s.Inject(sim.Fault{Name: "sysinv-update-fail", Service: sim.SysInv, Method: "PATCH", Host: "worker-0", Kind: sim.FaultStatus, Code: 503, Hits: 2}); err != nil {
		return err
	}
	fmt.Println("FIT: token corrupted; SysInv will answer 503 to worker-0's next 2 updates")

	// Work on every host's lane at once, none of it blocking.
	var waits []func() error
	for _, h := range hosts {
		ref := sysinv.Ref{Name: h.Name, UUID: h.UUID}
		task, err := inv.ForceTask(ref, mtce.TaskEnabling, 60) // with uptime 60 s
		if err != nil {
			return err
		}
		waits = append(waits, func() error { _, err := task.Wait(ctx); return err })
		st, err := vc.StateChange(vim.HostEnabled, h, nil)
		if err != nil {
			return err
		}
		waits = append(waits, func() error { _, err := st.Wait(ctx); return err })
	}
	query, err := smc.Query("controller-1")
	if err != nil {
		return err
	}
	for _, w := range waits {
		if err := w(); err != nil {
			return err
		}
	}
	node, err := query.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("SM: %s swactable=%v after %d attempts\n", node.Hostname, node.Swactable, query.Handle().Attempts())

	for _, h := range hosts {
		fmt.Printf("task of %-12s %q\n", h.Name, s.Task(h.Name))
	}
	fmt.Println("VIM state changes recorded:", len(s.VIMStateChanges()))

	ks, qs := m.Stats(), q.Stats()
	fmt.Printf("keystone: tokens %d, renewals after 401: %d (joined waiters %d)\n",
		ks.Tokens, ks.Renewals.Unauthorized, ks.WaitersJoined)
	fmt.Printf("queue: admitted %d, attempts %d, retries %d, succeeded %d, failed %d, holds %d\n",
		qs.Admitted, qs.Attempts, qs.Retries, qs.Succeeded, qs.Failed, qs.Holds)
	if qs.Failed != 0 {
		return errors.New("some requests failed")
	}
	return q.Close(ctx)
}
