package metal_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/keystone/keystonetest"
	"opendev.org/starlingx/metal-go/workqueue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The keystone Manager satisfies the workqueue Gate without either package
// importing the other.
var _ workqueue.Gate = (*keystone.Manager)(nil)

func managerConfig(fake *keystonetest.Server) keystone.Config {
	cfg := keystone.DefaultConfig()
	cfg.AuthURL = keystonetest.AuthURL
	cfg.Username, cfg.UserDomainName = keystonetest.User, keystonetest.Domain
	cfg.Password = keystonetest.Password
	cfg.ProjectName, cfg.ProjectDomainName = keystonetest.Project, keystonetest.Domain
	cfg.Region = keystonetest.Region
	cfg.Transport = fake
	return cfg
}

// TestQueuedWorkHoldsWhileTokenRenews is the proof, across the two leaves,
// of the fix that defines this SDK: a 401 seen by one host's request starts
// a single renewal, and while it runs the queue dispatches nothing on any
// lane — no attempt is spent on a token known to be bad — and once the
// renewal ends every lane runs with the new token, each item in one attempt.
func TestQueuedWorkHoldsWhileTokenRenews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := keystonetest.New()
		m, err := keystone.New(managerConfig(fake))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if _, err := m.Token(t.Context()); err != nil {
			t.Fatal(err)
		}

		cfg := workqueue.DefaultConfig()
		cfg.Gate = m
		q, err := workqueue.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(context.Background())

		client := &http.Client{Transport: &keystone.Transport{Manager: m, Base: fake}}
		var mu sync.Mutex
		dispatched := map[string][]time.Time{}
		var statuses atomic.Int64
		item := func(host string) workqueue.Item {
			return workqueue.Item{
				Name:     host + " update",
				Critical: true,
				Run: func(ctx context.Context, attempt int) error {
					mu.Lock()
					dispatched[host] = append(dispatched[host], time.Now())
					mu.Unlock()
					req, err := http.NewRequestWithContext(ctx, http.MethodPatch, keystonetest.ServiceURL+host, nil)
					if err != nil {
						return workqueue.Permanent(err)
					}
					resp, err := client.Do(req)
					if err != nil {
						return err
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						return fmt.Errorf("HTTP %d", resp.StatusCode)
					}
					statuses.Add(1)
					return nil
				},
			}
		}

		// The token goes bad (FIT corrupt_token) and Keystone is slow to
		// answer the renewal.
		fake.RevokeAll()
		fake.Hold(false)
		start := time.Now()

		first, err := q.Submit("controller-0", item("controller-0"))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // controller-0's attempt got its 401 and is renewing
		if m.Held() == nil {
			t.Fatal("gate open while a 401-renewal is in progress")
		}
		var held []*workqueue.Handle
		for _, h := range []string{"compute-0", "compute-1", "controller-1"} {
			hd, err := q.Submit(h, item(h))
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, hd)
		}

		time.Sleep(10 * time.Second) // virtual: Keystone takes 10 s
		synctest.Wait()
		mu.Lock()
		for _, h := range []string{"compute-0", "compute-1", "controller-1"} {
			if n := len(dispatched[h]); n != 0 {
				t.Errorf("%s: %d attempts dispatched while the gate was held", h, n)
			}
		}
		mu.Unlock()
		if st := q.Stats(); !st.Holding || st.Attempts != 1 {
			t.Errorf("queue stats during the hold: holding=%v attempts=%d, want true and 1", st.Holding, st.Attempts)
		}

		fake.Release()
		synctest.Wait()
		if m.Held() != nil {
			t.Fatal("gate still closed after the renewal ended")
		}
		for _, hd := range append([]*workqueue.Handle{first}, held...) {
			if err := hd.Wait(t.Context()); err != nil {
				t.Errorf("%s: %v", hd.Key(), err)
			}
			if n := hd.Attempts(); n != 1 {
				t.Errorf("%s: %d attempts, want 1 (no budget spent on the bad token)", hd.Key(), n)
			}
		}
		mu.Lock()
		for h, ts := range dispatched {
			if h != "controller-0" && !ts[0].Equal(start.Add(10*time.Second)) {
				t.Errorf("%s dispatched at +%v, want +10s (when the gate opened)", h, ts[0].Sub(start))
			}
		}
		mu.Unlock()
		if got := statuses.Load(); got != 4 {
			t.Errorf("%d successful requests, want 4", got)
		}
		ks := m.Stats()
		if ks.Renewals.Unauthorized != 1 {
			t.Errorf("renewals after 401: %d, want exactly 1", ks.Renewals.Unauthorized)
		}
		if st := q.Stats(); st.Holds != 1 || st.HoldTime != 10*time.Second {
			t.Errorf("queue holds=%d hold time=%v, want 1 and 10s", st.Holds, st.HoldTime)
		}
	})
}
