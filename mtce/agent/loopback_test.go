package agent

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestLoopback runs the agent with a real wire.Transport and a real event
// API listener on 127.0.0.1 port 0 (wall time, short): VIM's host list
// over HTTP, a real mtcAlive identified by its JSON, garbage datagrams
// counted by reason, and a prompt stop.
func TestLoopback(t *testing.T) {
	sc := simConfig()
	for i := range sc.Hosts { // never address a real network
		sc.Hosts[i].MgmtIP = "127.0.0." + string(rune('3'+i))
	}
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c := testConfig(t, s, nil)
	c.Packets = nil
	c.UDPEndpoints = []wire.Endpoint{{Network: mtce.NetworkMgmt, Addr: "127.0.0.1:0"}}
	ln, err := eventapi.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.EventListener = ln
	a, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	}

	// VIM's host list, as the VIM sends it.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.EventAddr().String()+"/v1/systems", nil)
	req.Header.Set("User-Agent", "vim/1.0")
	req.Header.Set("X-Auth-Token", "ignored")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var list struct {
		Hosts []struct {
			Hostname string `json:"hostname"`
			Uptime   any    `json:"uptime"`
		} `json:"hosts"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Hosts) != 3 {
		t.Errorf("VIM host list: %d %s", resp.StatusCode, body)
	}

	// Real UDP: garbage, then an mtcAlive naming worker-0 from an
	// address no host has.
	to := a.conn.(*wire.Transport).Addr(mtce.NetworkMgmt)
	u, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write([]byte("garbage"))
	al, _ := wire.NewMtcAlive(wire.Alive{Uptime: 1234, Flags: wire.FlagConfigured, Sequence: 1,
		Identity: wire.Identity{Hostname: "worker-0", Interface: mtce.NetworkMgmt}})
	b, _ := al.MarshalBinary()
	u.Write(b)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := a.Status()
		if st.UDP.Dropped["transport-short"] == 1 && hostRec(a, "worker-0").Uptime == 1234 {
			if r := hostRec(a, "worker-0"); r.PxebootIP != "127.0.0.1" {
				t.Errorf("identity: %+v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("UDP not seen: %+v / %+v", st.UDP, hostRec(a, "worker-0"))
		}
		time.Sleep(10 * time.Millisecond)
	}

	start := time.Now()
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Run: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v", d)
	}
	if _, err := net.Dial("tcp", a.EventAddr().String()); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("event API still listening: %v", err)
	}
}
