package swact

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Part 4 figures, wall time over loopback HTTP (sim.Listen), the simulator
// answering at once. Run both in one go test run:
//
//	go test -run='^$' -bench='Swact|Inline' -benchtime=200x ./mtce/swact/
//
// (BenchmarkInlineBaselineCorrupted caps itself at 10 swacts: each failed
// one sleeps 2 s, as StarlingX's loop did.)

// loop is the platform over loopback HTTP.
type loop struct {
	sim *sim.Sim
	ep  sim.Endpoints
	tr  *http.Transport
	ks  *keystone.Manager
	q   *workqueue.Queue
	sm  *sm.Client
	inv *sysinv.Client
}

func newLoop(b *testing.B) *loop {
	b.Helper()
	sc := sim.DefaultConfig()
	sc.SwactDelay = time.Hour // controller-0 stays active: every swact is the same
	s, err := sim.New(sc)
	if err != nil {
		b.Fatal(err)
	}
	l := &loop{sim: s, tr: &http.Transport{}}
	if l.ep, err = s.Listen(); err != nil {
		b.Fatal(err)
	}
	kc := keystone.DefaultConfig()
	kc.AuthURL = l.ep.AuthURL()
	kc.Username, kc.UserDomainName = sc.Username, sc.UserDomainName
	kc.Password = keystone.Secret(sc.Password.Reveal())
	kc.ProjectName, kc.ProjectDomainName = sc.ProjectName, sc.ProjectDomainName
	kc.Transport = l.tr
	if l.ks, err = keystone.New(kc); err != nil {
		b.Fatal(err)
	}
	qc := workqueue.DefaultConfig()
	qc.Gate = l.ks
	if l.q, err = workqueue.New(qc); err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &keystone.Transport{Manager: l.ks, Base: l.tr}}
	ic := sysinv.DefaultConfig()
	ic.BaseURL, ic.HTTPClient, ic.Queue = l.ep.SysInv, hc, l.q
	if l.inv, err = sysinv.New(ic); err != nil {
		b.Fatal(err)
	}
	mc := sm.DefaultConfig()
	mc.BaseURL, mc.HTTPClient, mc.Queue = l.ep.SM, hc, l.q
	if l.sm, err = sm.New(mc); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.ks.Token(ctx); err != nil {
		b.Fatal(err)
	}
	return l
}

func (l *loop) close() {
	_ = l.q.Close(context.Background())
	_ = l.ks.Close()
	_ = l.sim.Close()
	l.tr.CloseIdleConnections()
}

// tap hands out the "Swact: In-Progress" task update and the swact request
// as they are queued.
type tap struct {
	SysInv
	SM
	inProg chan *sysinv.Call[sysinv.Host]
	swact  chan *sm.Call[struct{}]
}

func (t *tap) ForceTask(ref sysinv.Ref, task mtce.Task, up uint32) (*sysinv.Call[sysinv.Host], error) {
	c, err := t.SysInv.ForceTask(ref, task, up)
	if err == nil && task == mtce.TaskSwactInProgress {
		t.inProg <- c
	}
	return c, err
}

func (t *tap) Swact(h string, a mtce.AvailStatus) (*sm.Call[struct{}], error) {
	c, err := t.SM.Swact(h, a)
	if err == nil {
		t.swact <- c
	}
	return c, err
}

// swactToInProgress runs b.N swacts, each on a fresh controller, and reports
// the wall time from Request to SysInv's answer to "Swact: In-Progress".
func swactToInProgress(b *testing.B, corrupt bool) {
	l := newLoop(b)
	defer l.close()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	ks0 := l.sim.Stats().TokenRequests
	failed := 0
	b.ResetTimer()
	for range b.N {
		tp := &tap{SysInv: l.inv, SM: l.sm, inProg: make(chan *sysinv.Call[sysinv.Host], 1), swact: make(chan *sm.Call[struct{}], 1)}
		cfg := DefaultConfig()
		cfg.SM, cfg.SysInv, cfg.Queue = tp, tp, l.q
		cfg.Simplex = func() bool { return false }
		c, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if corrupt {
			l.sim.CorruptToken()
		}
		start := time.Now()
		if err := c.Request(ctx, request(c0)); err != nil {
			b.Fatal(err)
		}
		call := <-tp.inProg
		if _, err := call.Wait(ctx); err != nil {
			failed++
		}
		lat = append(lat, time.Since(start))
		if _, err := (<-tp.swact).Wait(ctx); err != nil {
			failed++
		}
		_ = c.Close(ctx) // ended in ACTION_WAIT, as SM would stop the agent
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(l.sim.Stats().TokenRequests-ks0)/float64(b.N), "keystone/swact")
}

func BenchmarkSwactToInProgress(b *testing.B)          { swactToInProgress(b, false) }
func BenchmarkSwactToInProgressCorrupted(b *testing.B) { swactToInProgress(b, true) }

// inlineCall is StarlingX's SM call before 87b4a69: built with the token
// read once, sent inline and blocking up to SMGR_MAX_RETRIES (3) times 1 s
// apart, no renewal inside the loop.
func inlineCall(ctx context.Context, hc *http.Client, method, url, token string, body []byte) (int, error) {
	status := 0
	var last error
	for try := range 3 {
		if try > 0 {
			time.Sleep(time.Second)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("X-Auth-Token", token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		status = resp.StatusCode
		if status >= 200 && status <= 204 {
			return status, nil
		}
		last = fmt.Errorf("status %d", status)
	}
	return status, last
}

// BenchmarkInlineBaselineCorrupted: the token is corrupted before each
// swact; the inline loop fails all 3 tries and only then renews.
func BenchmarkInlineBaselineCorrupted(b *testing.B) {
	n := min(b.N, 10)
	l := newLoop(b)
	defer l.close()
	ctx := context.Background()
	hc := &http.Client{Transport: l.tr, Timeout: 20 * time.Second}
	url := l.ep.SM + "/v1/servicenode/" + c0
	failed := 0
	var total time.Duration
	b.ResetTimer()
	for range n {
		l.sim.CorruptToken()
		start := time.Now()
		tok, err := l.ks.Token(ctx) // read once, when the call is built
		if err != nil {
			b.Fatal(err)
		}
		status, err := inlineCall(ctx, hc, http.MethodGet, url, tok.Secret(), nil)
		if err == nil {
			_, err = inlineCall(ctx, hc, http.MethodPatch, url, tok.Secret(),
				[]byte(`{"origin":"mtce","action":"swact","admin":"unlocked","oper":"enabled","avail":"available"}`))
		}
		if err != nil {
			failed++
			if status == http.StatusUnauthorized {
				_, _ = l.ks.Renew(ctx, tok) // after the loop returns
			}
		}
		total += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(failed)/float64(n), "failed/swact")
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/swact")
}
