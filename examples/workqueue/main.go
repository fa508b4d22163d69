// Command workqueue shows the per-host work queue at work against a local
// HTTP server: per-host lanes, overload refused before enqueue, retries with
// a wait between attempts, and a hold while a (simulated) token renewal runs.
//
//	go run ./examples/workqueue
//
// It runs for a few seconds, binds only to 127.0.0.1 and exits by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"opendev.org/starlingx/metal-go/workqueue"
)

func main() {
	verbose := flag.Bool("v", false, "show the queue's own log lines")
	flag.Parse()
	if err := run(*verbose); err != nil {
		fmt.Fprintln(os.Stderr, "workqueue example:", err)
		os.Exit(1)
	}
}

// gate is a minimal workqueue.Gate: the keystone Manager is the real one.
type gate struct {
	mu   sync.Mutex
	held chan struct{}
}

func (g *gate) Held() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = make(chan struct{})
	}
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		close(g.held)
		g.held = nil
	}
}

// platform is a tiny stand-in for SysInv: PATCH /v1/ihosts/<host> answers
// 200, except that the first two requests for "compute-1" answer 503 and a
// request carrying a stale token answers 401.
type platform struct {
	token    atomic.Value // string
	failures sync.Map     // host -> *atomic.Int32
	slow     chan struct{}
}

func (p *platform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Path[len("/v1/ihosts/"):]
	if r.Header.Get("X-Auth-Token") != p.token.Load().(string) {
		http.Error(w, "token expired", http.StatusUnauthorized)
		return
	}
	if host == "compute-2" {
		select { // compute-2 is slow: its lane fills up behind one request
		case <-p.slow:
		case <-r.Context().Done():
			return
		}
	}
	n, _ := p.failures.LoadOrStore(host, new(atomic.Int32))
	if host == "compute-1" && n.(*atomic.Int32).Add(1) <= 2 {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func run(verbose bool) error {
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("%6.2fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	p := &platform{slow: make(chan struct{})}
	p.token.Store("token-1")
	srv := httptest.NewServer(p) // 127.0.0.1, random port
	defer srv.Close()

	var token atomic.Value
	token.Store("token-1")
	g := &gate{}

	cfg := workqueue.DefaultConfig()
	cfg.Workers = 4
	cfg.MaxPerKey = 5 // small, so that the demo overloads a lane quickly
	cfg.BackOff = workqueue.ConstantBackOff(500 * time.Millisecond)
	cfg.Timeout = 2 * time.Second
	cfg.Gate = g
	if verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	q, err := workqueue.New(cfg)
	if err != nil {
		return err
	}
	defer q.Close(context.Background())

	errUnauthorized := errors.New("401 unauthorized")
	patch := func(host, what string) workqueue.Item {
		return workqueue.Item{
			Name:     host + " " + what,
			Critical: true,
			Run: func(ctx context.Context, attempt int) error {
				req, err := http.NewRequestWithContext(ctx, http.MethodPatch, srv.URL+"/v1/ihosts/"+host, nil)
				if err != nil {
					return workqueue.Permanent(err)
				}
				req.Header.Set("X-Auth-Token", token.Load().(string)) // read at send time
				resp, err := srv.Client().Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					return nil
				case http.StatusUnauthorized:
					return errUnauthorized
				default:
					return fmt.Errorf("HTTP %d", resp.StatusCode)
				}
			},
			OnAttempt: func(a workqueue.Attempt) {
				if a.Err != nil {
					say("%-26s attempt %d failed: %v (final=%v)", a.Name, a.Number, a.Err, a.Final)
				} else {
					say("%-26s attempt %d ok", a.Name, a.Number)
				}
			},
		}
	}

	fmt.Println("== lanes: each host's requests run in order; hosts run side by side")
	var hs []*workqueue.Handle
	for _, host := range []string{"controller-0", "compute-0", "compute-1"} {
		for _, what := range []string{"task", "states", "uptime"} {
			h, err := q.Submit(host, patch(host, what))
			if err != nil {
				return err
			}
			hs = append(hs, h)
		}
	}
	for _, h := range hs {
		if err := h.Wait(context.Background()); err != nil {
			return err
		}
	}

	fmt.Println("== overload: compute-2 is stuck on one request; its lane holds at most 5")
	var slow []*workqueue.Handle
	for i := 1; i <= 7; i++ {
		h, err := q.Submit("compute-2", patch("compute-2", fmt.Sprintf("update %d", i)))
		switch {
		case errors.Is(err, workqueue.ErrOverloaded):
			say("compute-2 update %d refused before enqueue: %v", i, err)
		case err != nil:
			return err
		default:
			slow = append(slow, h)
		}
	}
	h, err := q.Submit("compute-0", patch("compute-0", "task"))
	if err != nil {
		return err
	}
	if err := h.Wait(context.Background()); err != nil {
		return err
	}
	say("compute-0 is not affected by compute-2's full lane")
	close(p.slow)
	for _, h := range slow {
		if err := h.Wait(context.Background()); err != nil {
			return err
		}
	}

	fmt.Println("== hold: the token is renewed; the gate holds queued work until it is done")
	p.token.Store("token-2") // the platform now refuses token-1
	g.close()
	say("gate closed: renewal in progress")
	hs = hs[:0]
	for _, host := range []string{"controller-0", "compute-0"} {
		h, err := q.Submit(host, patch(host, "states"))
		if err != nil {
			return err
		}
		hs = append(hs, h)
	}
	time.AfterFunc(time.Second, func() {
		token.Store("token-2")
		say("renewal done after 1s: gate opens")
		g.open()
	})
	for _, h := range hs {
		if err := h.Wait(context.Background()); err != nil {
			return err
		}
	}

	st := q.Stats()
	fmt.Printf("== stats: admitted %d, rejected %d, attempts %d, retries %d, succeeded %d, failed %d, holds %d (%.1fs)\n",
		st.Admitted, st.Rejected, st.Attempts, st.Retries, st.Succeeded, st.Failed, st.Holds, st.HoldTime.Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return q.Close(ctx)
}
