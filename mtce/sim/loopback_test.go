package sim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoopback runs the services over real loopback HTTP, in wall time.
func TestLoopback(t *testing.T) {
	s := newSim(t, func(c *Config) { c.CloseTimeout = 2 * time.Second })
	ep, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Listen(); again != ep {
		t.Errorf("second Listen: %+v", again)
	}
	if got, ok := s.LoopbackEndpoints(); !ok || got != ep {
		t.Errorf("LoopbackEndpoints %+v %v", got, ok)
	}
	for _, svc := range Services() {
		if !strings.HasPrefix(ep.URL(svc), "http://127.0.0.1:") {
			t.Fatalf("%s at %q", svc, ep.URL(svc))
		}
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	r := call(t.Context(), c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", passwordAuth("admin", "Sim-Passw0rd!"))
	mustStatus(t, r, http.StatusCreated)
	tok := r.header.Get("X-Subject-Token")
	var b tokenBody
	r.json(t, &b)
	if got := b.url("platform", "admin"); got != ep.SysInv+"/v1" {
		t.Errorf("loopback catalog platform = %q", got)
	}

	uuid := NameUUID("controller-1")
	mustStatus(t, call(t.Context(), c, http.MethodPatch, ep.SysInv+"/v1/ihosts/"+uuid, tok, taskPatch("Swact: Request")), http.StatusOK)
	if s.Task("controller-1") != "Swact: Request" {
		t.Error("task not patched over loopback")
	}
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts/controller-1", tok, nil), http.StatusOK)
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SM+"/v1/servicenode/controller-0", tok, nil), http.StatusOK)
	mustStatus(t, call(t.Context(), c, http.MethodPatch, ep.VIM+"/nfvi-plugins/v1/hosts/"+uuid, "",
		vimChange(uuid, "controller-1", "unlocked", "enabled", "available")), http.StatusOK)
	ref, _ := s.PutSecret(uuid, "pw")
	r = call(t.Context(), c, http.MethodGet, ep.Barbican+"/v1/secrets/"+ref+"/payload", tok, nil, "Accept", "application/octet-stream")
	if r.err != nil || string(r.body) != "pw" {
		t.Errorf("payload %q %v", r.body, r.err)
	}

	// Reset: the client sees a broken connection (PATCH is not retried by
	// net/http) and the update is not applied.
	mustInject(t, s, Fault{Service: SysInv, Kind: FaultReset, Hits: 1})
	r = call(t.Context(), c, http.MethodPatch, ep.SysInv+"/v1/ihosts/"+uuid, tok, taskPatch("Reset"))
	if r.err == nil {
		t.Errorf("reset: status %d", r.status)
	}
	if s.Task("controller-1") == "Reset" {
		t.Error("reset request processed")
	}

	// Drop: only the client's deadline ends it.
	mustInject(t, s, Fault{Service: SM, Kind: FaultDrop, Hits: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	start := time.Now()
	r = call(ctx, c, http.MethodGet, ep.SM+"/v1/servicenode/controller-0", tok, nil)
	cancel()
	if !errors.Is(r.err, context.DeadlineExceeded) || time.Since(start) < 200*time.Millisecond {
		t.Errorf("drop: %v after %v", r.err, time.Since(start))
	}

	// Hang: headers, then a body that stalls until the deadline.
	mustInject(t, s, Fault{Service: SM, Kind: FaultHang, Hits: 1})
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep.SM+"/v1/servicenode/controller-0", nil)
	req.Header.Set("X-Auth-Token", tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("hang: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("hung body read completed")
	}
	resp.Body.Close()
	cancel()

	// A dropped request in flight when Close starts is cut, and Close is
	// bounded, idempotent and concurrent.
	mustInject(t, s, Fault{Service: SysInv, Kind: FaultDrop})
	inflight := make(chan reply, 1)
	go func() { inflight <- call(t.Context(), c, http.MethodGet, ep.SysInv+"/v1/ihosts", tok, nil) }()
	// Bounded poll (wall time) until the request has reached the fault.
	for deadline := time.Now().Add(5 * time.Second); s.Stats().FaultsByKind[FaultDrop] < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the dropped request never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start = time.Now()
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { _ = s.Close() })
	}
	wg.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if r := <-inflight; r.err == nil {
		t.Errorf("in-flight dropped request answered %d", r.status)
	}
	if r := call(t.Context(), c, http.MethodGet, ep.Keystone+"/v3", "", nil); r.err == nil {
		t.Error("loopback still answers after Close")
	}
	if _, err := s.Listen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Listen after Close: %v", err)
	}
}
