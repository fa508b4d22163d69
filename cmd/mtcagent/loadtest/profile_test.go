//go:build linux

package loadtest

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent"
	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestProfile writes CPU profiles of the agent under the load of TestLoad.
// The daemon has no pprof endpoint, so the agent runs here in the test
// process (mtce/agent as cmd/mtcagent composes it, minus logging, metrics
// and the admin API) beside the sim, the senders and the client; read the
// profiles for the agent's own packages (mtce/agent, mtce/wire,
// mtce/eventapi, net, runtime) — the rest is the load generator.
//
//	METAL_LOAD_PROFILE=/tmp/prof METAL_LOAD_HOSTS=5000 go test -run TestProfile -v ./cmd/mtcagent/loadtest/
//	go tool pprof -top /tmp/prof/alive.pprof    # mtcAlive only
//	go tool pprof -top /tmp/prof/events.pprof   # mtcAlive + event API
//	go tool pprof -top /tmp/prof/block.pprof    # waits (≥ 10 µs sampled) during the event-API window
func TestProfile(t *testing.T) {
	dir := os.Getenv("METAL_LOAD_PROFILE")
	if dir == "" {
		t.Skip("CPU profiles of the agent: set METAL_LOAD_PROFILE to a directory (see doc.go)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	workers := envInts(t, "METAL_LOAD_HOSTS", []int{5000})[0]
	window := envDuration(t, "METAL_LOAD_WINDOW", 30*time.Second)
	ctx := t.Context()

	hosts, err := inventory(workers)
	if err != nil {
		t.Fatal(err)
	}
	sc := sim.DefaultConfig()
	sc.Hosts = hosts
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	root := configTree(t, ep, string(sc.Password))
	cfg, err := agent.Load(agent.Paths{Root: root, Hostname: "controller-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SMURL = ep.SM
	port := freeUDPPort(t)
	cfg.UDPEndpoints = []wire.Endpoint{{Network: mtce.NetworkMgmt, Addr: "127.0.0.1:" + strconv.Itoa(port)}}
	if cfg.EventListener, err = eventapi.Listen(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg)
	if err != nil {
		cfg.EventListener.Close()
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
		a.Close()
	}()
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("agent: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("agent not ready in 2 minutes")
	}

	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	ctlS, err := agenttest.AliveSenders(ctx, agenttest.SendersConfig{N: 2, Agent: to, Base: controllersBase,
		NamePrefix: "controller-", Personality: "controller", Workers: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ctlS.Close()
	wkS, err := agenttest.AliveSenders(ctx, agenttest.SendersConfig{N: workers, Agent: to, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer wkS.Close()
	online := func() int {
		n := 0
		for _, h := range a.Hosts() {
			if h.Online {
				n++
			}
		}
		return n
	}
	if err := pause(ctx, 20*time.Second); err != nil { // every host's first mtcAlive, and a warm-up
		t.Fatal(err)
	}
	if n := online(); n != workers+2 {
		t.Fatalf("%d of %d hosts online", n, workers+2)
	}

	profile := func(name string, during func()) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		during()
		pprof.StopCPUProfile()
	}
	profile("alive.pprof", func() {
		if err := pause(ctx, window); err != nil {
			t.Error(err)
		}
	})
	bodies := make([][]byte, 0, workers)
	for _, h := range hosts[2:] {
		bodies = append(bodies, modifyBody(h))
	}
	client := newEventClient(cfg.EventListener.Addr().String(), workers+2)
	defer client.close()
	var si, vi []sample
	// The block profile shows where goroutines waited, the agent's lock (a
	// channel semaphore) included, during the event-API window.
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	profile("events.pprof", func() {
		si, vi = loadEvents(ctx, client, hosts[2:], bodies, 10, 2, window)
	})
	runtime.SetBlockProfileRate(0)
	if f, err := os.Create(filepath.Join(dir, "block.pprof")); err != nil {
		t.Error(err)
	} else {
		if err := pprof.Lookup("block").WriteTo(f, 0); err != nil {
			t.Error(err)
		}
		f.Close()
	}
	t.Logf("in process, %d workers: sysinv modify %v; vim systems %v; %d online", workers, summarise(si), summarise(vi), online())
}
