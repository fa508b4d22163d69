package agenttest_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// TestAliveSendersOverLoopback runs in wall time: 20 senders every 100 ms
// against a plain UDP listener, each from its own 127.x address.
func TestAliveSendersOverLoopback(t *testing.T) {
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 20
	s, err := agenttest.AliveSenders(t.Context(), agenttest.SendersConfig{
		N:      n,
		Agent:  l.LocalAddr().(*net.UDPAddr).AddrPort(),
		Base:   netip.MustParseAddr("127.3.0.250"), // crosses .255 and .0
		Period: 100 * time.Millisecond,
		Seed:   1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hosts := s.Hosts()
	byAddr := map[netip.Addr]agenttest.SenderHost{}
	for _, h := range hosts {
		if b := h.Addr.As4(); b[3] == 0 || b[3] == 255 {
			t.Fatalf("sender on %v", h.Addr)
		}
		byAddr[h.Addr] = h
	}
	if len(byAddr) != n || hosts[0].Addr != netip.MustParseAddr("127.3.0.250") || hosts[5].Addr != netip.MustParseAddr("127.3.1.1") {
		t.Fatalf("addresses %v", hosts)
	}
	seen := map[netip.Addr]uint32{} // last sequence per source
	buf := make([]byte, 2048)
	if err := l.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for done := 0; done < n; {
		k, from, err := l.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d complete senders: %v", done, err)
		}
		d, err := wire.Decode(buf[:k])
		if err != nil {
			t.Fatal(err)
		}
		a, err := d.Message.MtcAlive()
		if err != nil {
			t.Fatal(err)
		}
		h, ok := byAddr[from.Addr()]
		if !ok || a.Identity.Hostname != h.Name || a.Identity.MgmtIP != h.Addr.String() || a.Identity.MgmtMAC != h.MAC {
			t.Fatalf("from %v: identity %+v", from, a.Identity)
		}
		if a.Sequence != seen[from.Addr()]+1 {
			t.Fatalf("from %v: sequence %d after %d", from, a.Sequence, seen[from.Addr()])
		}
		seen[from.Addr()] = a.Sequence
		if a.Sequence == 3 {
			done++
		}
	}
	s.Close()
	st := s.Stats()
	if st.Sent < 3*n || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
	s.Close() // idempotent
	if st2 := s.Stats(); st2 != st {
		t.Fatalf("still sending after Close: %+v then %+v", st, st2)
	}
}

func TestAliveSendersConfig(t *testing.T) {
	ctx := context.Background()
	for _, c := range []agenttest.SendersConfig{
		{N: 0, Agent: netip.MustParseAddrPort("127.0.0.1:1")},
		{N: 1},
		{N: 1, Agent: netip.MustParseAddrPort("127.0.0.1:1"), Base: netip.MustParseAddr("10.0.0.1")},
		{N: 10, Agent: netip.MustParseAddrPort("127.0.0.1:1"), Base: netip.MustParseAddr("127.255.255.250")},
	} {
		if s, err := agenttest.AliveSenders(ctx, c); !errors.Is(err, agenttest.ErrInvalidConfig) {
			if s != nil {
				s.Close()
			}
			t.Errorf("%+v: err %v", c, err)
		}
	}
}

// TestAliveSendersLoad measures the generator itself (wall time, 10 s):
// AGENTTEST_LOAD=5000 go test -run TestAliveSendersLoad -v ./mtce/agent/agenttest/
func TestAliveSendersLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("AGENTTEST_LOAD"))
	if n <= 0 {
		t.Skip("set AGENTTEST_LOAD=<hosts> to run")
	}
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_ = l.SetReadBuffer(8 << 20)
	var got atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 2048)
		for {
			if _, _, err := l.ReadFromUDP(b); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	t0 := time.Now()
	s, err := agenttest.AliveSenders(t.Context(), agenttest.SendersConfig{N: n, Agent: l.LocalAddr().(*net.UDPAddr).AddrPort()})
	if err != nil {
		t.Fatal(err)
	}
	bind := time.Since(t0)
	time.Sleep(10 * time.Second) // the measurement window (wall time by design)
	s.Close()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	l.Close()
	<-done
	cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	t.Logf("%d senders: bind %v; %+v, received %d in 10 s; CPU %v (generator + reader); max RSS %d MiB",
		n, bind.Round(time.Millisecond), s.Stats(), got.Load(), cpu.Round(time.Millisecond), r1.Maxrss/1024)
}
