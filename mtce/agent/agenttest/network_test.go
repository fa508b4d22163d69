package agenttest_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

var (
	agentMgmt    = netip.MustParseAddrPort("192.168.204.2:2101")
	agentCluster = netip.MustParseAddrPort("192.168.206.2:2101")
	otherAgent   = netip.MustParseAddrPort("192.168.204.3:2101")
)

func reboot(t *testing.T, mac string) wire.Message {
	t.Helper()
	m, err := wire.NewReboot(wire.Target{MAC: mac, Address: agentMgmt.Addr().String(), Network: mtce.NetworkMgmt})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConnDeliversWithSourceAndNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := agenttest.NewNetwork()
		a := n.Agent(agentMgmt, agentCluster)
		b := n.Agent(otherAgent, netip.AddrPort{})
		defer a.Close()
		defer b.Close()
		m := reboot(t, "aa:bb:cc:dd:ee:ff")
		if err := b.Send(t.Context(), mtce.NetworkMgmt, agentCluster, &m); err != nil {
			t.Fatal(err)
		}
		p, err := a.Recv(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if p.From != otherAgent || p.Network != mtce.NetworkClusterHost || p.Message.Command != wire.CmdReboot || p.Message.MAC != "aa:bb:cc:dd:ee:ff" {
			t.Fatalf("got %+v", p)
		}
		if err := b.Send(t.Context(), mtce.NetworkClusterHost, agentMgmt, &m); !errors.Is(err, agenttest.ErrNoAddress) {
			t.Fatalf("send on a network without address: %v", err)
		}
		if s := a.Stats(); s.Received != 1 || s.Delivered != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestNetworkDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := agenttest.NewNetwork(agenttest.WithQueueLen(2))
		a := n.Agent(agentMgmt, netip.AddrPort{})
		b := n.Agent(otherAgent, netip.AddrPort{})
		defer b.Close()
		m := reboot(t, "")
		ctx := t.Context()
		send := func(to netip.AddrPort) {
			t.Helper()
			if err := b.Send(ctx, mtce.NetworkMgmt, to, &m); err != nil {
				t.Fatal(err)
			}
		}
		send(netip.MustParseAddrPort("10.0.0.1:1")) // unknown
		for range 3 {                               // the third finds the queue full
			send(agentMgmt)
		}
		if s := a.Stats(); s.Delivered != 2 || s.Dropped[wire.DropQueueFull] != 1 {
			t.Fatalf("conn stats %+v", s)
		}
		// Garbage injected and garbled by the fault function.
		n.Inject(mtce.NetworkMgmt, otherAgent, agentMgmt, []byte("short"))
		n.Inject(mtce.NetworkMgmt, otherAgent, agentMgmt, []byte(`{"service":`))
		n.SetFault(func(r agenttest.Route) agenttest.Fault {
			if r.Message != nil && r.Message.Command == wire.CmdReboot {
				return agenttest.Garble
			}
			return agenttest.Deliver
		})
		send(agentMgmt)
		n.SetFault(func(agenttest.Route) agenttest.Fault { return agenttest.Lose })
		send(agentMgmt)
		n.SetFault(nil)
		s := a.Stats()
		if s.Dropped[wire.DropShort] != 1 || s.Dropped[wire.DropJSON] != 1 || s.Dropped[wire.DropSignature] != 1 {
			t.Fatalf("decode drops %+v", s.Dropped)
		}
		a.Close()
		a.Close() // idempotent
		send(agentMgmt)
		ns := n.Stats()
		if ns.Dropped[agenttest.NetDropUnknown] != 1 || ns.Dropped[agenttest.NetDropLost] != 1 || ns.Dropped[agenttest.NetDropClosed] != 1 || ns.Sent != 9 {
			t.Fatalf("network stats %+v", ns)
		}
		if _, err := a.Recv(ctx); !errors.Is(err, wire.ErrClosed) {
			t.Fatalf("Recv after Close: %v", err)
		}
		if err := a.Send(ctx, mtce.NetworkMgmt, otherAgent, &m); !errors.Is(err, wire.ErrClosed) {
			t.Fatalf("Send after Close: %v", err)
		}
		// The address can be attached again.
		n.Agent(agentMgmt, netip.AddrPort{}).Close()
	})
}

func TestConnRecvBlocksDurablyUntilContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := agenttest.NewNetwork()
		a := n.Agent(agentMgmt, netip.AddrPort{})
		defer a.Close()
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		if _, err := a.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d != time.Hour {
			t.Fatalf("returned after %v", d)
		}
	})
}

func TestAgentPanicsOnAddressInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := agenttest.NewNetwork()
		a := n.Agent(agentMgmt, netip.AddrPort{})
		defer a.Close()
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		n.Agent(agentMgmt, netip.AddrPort{})
	})
}
