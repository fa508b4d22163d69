package wire

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/mtce"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Real-socket tests run in wall time on 127.0.0.1 with port 0 and short
// timeouts.
const wallTimeout = 5 * time.Second

func listen(t *testing.T, cfg Config) *Transport {
	t.Helper()
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = []Endpoint{{Network: mtce.NetworkMgmt, Addr: "127.0.0.1:0"}}
	}
	tr, err := Listen(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func recvWithin(t *testing.T, tr *Transport) Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wallTimeout)
	defer cancel()
	p, err := tr.Recv(ctx)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return p
}

func rawSender(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTransportSendRecv(t *testing.T) {
	agent := listen(t, DefaultConfig())
	client := listen(t, DefaultConfig())
	alive, err := NewMtcAlive(Alive{Uptime: 5, Sequence: 1, Identity: testIdentity})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Send(t.Context(), mtce.NetworkMgmt, agent.Addr(mtce.NetworkMgmt), &alive); err != nil {
		t.Fatal(err)
	}
	p := recvWithin(t, agent)
	if p.Network != mtce.NetworkMgmt || p.From != client.Addr(mtce.NetworkMgmt) || p.Kind != KindMessage || p.Message != alive {
		t.Fatalf("%+v", p)
	}
	a, err := p.Message.MtcAlive()
	if err != nil || a.Identity.Hostname != "controller-0" {
		t.Fatalf("%+v %v", a, err)
	}
	// A JSON datagram arrives as such.
	if err := client.WriteTo(t.Context(), mtce.NetworkMgmt, agent.Addr(mtce.NetworkMgmt),
		AppendCollectd(nil, "worker-0", DegradeClear, "cpu")); err != nil {
		t.Fatal(err)
	}
	p = recvWithin(t, agent)
	if p.Kind != KindJSON || p.JSON.Degrade != DegradeClear || p.JSON.Hostname != "worker-0" {
		t.Fatalf("%+v", p)
	}
	s := agent.Stats()
	if s.Received != 2 || s.Delivered != 2 || s.DroppedTotal() != 0 {
		t.Errorf("%+v", s)
	}
	if err := client.Send(t.Context(), mtce.NetworkPxeboot, agent.Addr(mtce.NetworkMgmt), &alive); err == nil {
		t.Error("send on a network without endpoint")
	}
	if agent.Addr(mtce.NetworkClusterHost).IsValid() {
		t.Error("address for unbound network")
	}
}

func TestTransportDropsByReason(t *testing.T) {
	agent := listen(t, DefaultConfig())
	raw := rawSender(t)
	to := net.UDPAddrFromAddrPort(agent.Addr(mtce.NetworkMgmt))
	send := func(b []byte) {
		if _, err := raw.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
	}
	send([]byte("short"))
	send(bytes.Repeat([]byte{'x'}, 1500))
	send(cStruct{hdr: "cgts mtc bogus!!!"}.bytes(100))
	send(cStruct{hdr: "cgts mtc cmd rsp:", num: 6}.bytes(100))
	send([]byte(`{"service":`))
	send(cStruct{hdr: "cgts mtc cmd rsp:", cmd: 2}.bytes(100)) // good; the socket's reader handles datagrams in order
	p := recvWithin(t, agent)
	if p.Message.Command != CmdReboot {
		t.Fatalf("%+v", p)
	}
	s := agent.Stats()
	want := map[DropReason]uint64{DropShort: 1, DropLong: 1, DropSignature: 1, DropNum: 1, DropJSON: 1}
	if s.Received != 6 || s.Delivered != 1 || len(s.Dropped) != len(want) {
		t.Fatalf("%+v", s)
	}
	for r, n := range want {
		if s.Dropped[r] != n {
			t.Errorf("%v: %d, want %d", r, s.Dropped[r], n)
		}
	}
}

func TestTransportBoundedQueue(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueueLen = 2
	agent := listen(t, cfg)
	raw := rawSender(t)
	to := net.UDPAddrFromAddrPort(agent.Addr(mtce.NetworkMgmt))
	for i := range uint32(5) {
		b := cStruct{hdr: "cgts mtc message:", cmd: 5, num: 4, parm: [5]uint32{3: i}}.bytes(101)
		if _, err := raw.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
	}
	// Wait, bounded, until the reader has seen all five.
	deadline := time.Now().Add(wallTimeout)
	for agent.Stats().Received < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d received", agent.Stats().Received)
		}
		time.Sleep(time.Millisecond)
	}
	s := agent.Stats()
	if s.Delivered != 2 || s.Dropped[DropQueueFull] != 3 {
		t.Fatalf("%+v", s)
	}
	for i := range uint32(2) { // the first two were kept, in order
		if p := recvWithin(t, agent); p.Message.Parm[3] != i {
			t.Errorf("packet %d has sequence %d", i, p.Message.Parm[3])
		}
	}
}

func TestTransportCheckAddressed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Check = CheckAddressed(target.MAC)
	client := listen(t, cfg)
	agent := listen(t, DefaultConfig())
	to := client.Addr(mtce.NetworkMgmt)

	wrong, _ := NewReboot(Target{MAC: "08:00:27:00:00:01", Address: "127.0.0.1", Network: mtce.NetworkMgmt})
	right, _ := NewReset(target)
	for _, m := range []*Message{&wrong, &right} {
		if err := agent.Send(t.Context(), mtce.NetworkMgmt, to, m); err != nil {
			t.Fatal(err)
		}
	}
	if p := recvWithin(t, client); p.Message.Command != CmdReset {
		t.Fatalf("%+v", p)
	}
	if s := client.Stats(); s.Dropped[DropRejected] != 1 || s.Delivered != 1 {
		t.Errorf("%+v", s)
	}

	// From one of the client's own addresses the MAC is not checked.
	self := listen(t, Config{Endpoints: []Endpoint{{mtce.NetworkMgmt, "127.0.0.1:0"}}, QueueLen: 4, PeerQueueLen: 4,
		Check: CheckAddressed(target.MAC, netip.MustParseAddr("127.0.0.1"))})
	if err := agent.Send(t.Context(), mtce.NetworkMgmt, self.Addr(mtce.NetworkMgmt), &wrong); err != nil {
		t.Fatal(err)
	}
	if p := recvWithin(t, self); p.Message.Command != CmdReboot {
		t.Fatalf("%+v", p)
	}
}

func TestCheckKnownSource(t *testing.T) {
	known := netip.MustParseAddr("10.0.0.1")
	check := CheckKnownSource(func(a netip.Addr) bool { return a == known })
	alive, _ := NewMtcAlive(Alive{Identity: testIdentity})
	ack := Message{Signature: SigResponse, Command: CmdReboot}
	nameless := alive
	nameless.Buf = ""
	unknown := netip.MustParseAddrPort("10.0.0.9:4000")
	cases := []struct {
		name string
		p    Packet
		ok   bool
	}{
		{"known ack", Packet{From: netip.AddrPortFrom(known, 1), Datagram: Datagram{Kind: KindMessage, Message: ack}}, true},
		{"unknown ack", Packet{From: unknown, Datagram: Datagram{Kind: KindMessage, Message: ack}}, false},
		{"unknown mtcAlive", Packet{From: unknown, Datagram: Datagram{Kind: KindMessage, Message: alive}}, true},
		{"unknown empty mtcAlive", Packet{From: unknown, Datagram: Datagram{Kind: KindMessage, Message: nameless}}, false},
		{"unknown collectd", Packet{From: unknown, Datagram: Datagram{Kind: KindJSON}}, false},
		{"known collectd", Packet{From: netip.AddrPortFrom(known, 2), Datagram: Datagram{Kind: KindJSON}}, true},
	}
	for _, c := range cases {
		err := check(c.p)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrRejected)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestRequestOverUDP runs the host-services exchange over real sockets: the
// agent talks to a Peer, the client answers from its own transport.
func TestRequestOverUDP(t *testing.T) {
	agent := listen(t, DefaultConfig())
	client := listen(t, DefaultConfig())
	peer, err := agent.Peer(mtce.NetworkMgmt, client.Addr(mtce.NetworkMgmt))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := agent.Peer(mtce.NetworkMgmt, client.Addr(mtce.NetworkMgmt)); err == nil {
		t.Error("second Peer for the same address")
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		p := recvWithin(t, client)
		to := agent.Addr(mtce.NetworkMgmt) // ACKs go to the agent's fixed port
		ack, err := NewHostServicesAck(&p.Message, mtce.Pass)
		if err != nil {
			t.Error(err)
			return
		}
		alive, _ := NewMtcAlive(Alive{Sequence: 7, Identity: testIdentity})
		res, _ := NewHostServicesResult(Result{Kind: ResultFailed, Script: "/etc/services.d/worker/x", ExitCode: 4})
		for _, m := range []*Message{&ack, &alive, &res} {
			if err := client.Send(t.Context(), mtce.NetworkMgmt, to, m); err != nil {
				t.Error(err)
			}
		}
	})
	req := stopWorker(t)
	ctx, cancel := context.WithTimeout(t.Context(), wallTimeout)
	defer cancel()
	r, err := RequestHostServices(ctx, peer, &req, time.Second)
	if mtce.RCOf(err) != mtce.FailOperation || r.ExitCode != 4 || r.Script != "/etc/services.d/worker/x" {
		t.Fatalf("%+v %v", r, err)
	}
	wg.Wait()
	// The mtcAlive between ACK and result went to the peer's queue and was skipped.
	if s := agent.Stats(); s.Delivered != 3 || s.DroppedTotal() != 0 {
		t.Errorf("%+v", s)
	}

	// After Close the address goes to Recv again.
	peer.Close()
	peer.Close()
	if _, err := peer.Recv(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv on closed peer: %v", err)
	}
	if err := peer.Send(t.Context(), &req); !errors.Is(err, ErrClosed) {
		t.Errorf("Send on closed peer: %v", err)
	}
	alive, _ := NewMtcAlive(Alive{Identity: testIdentity})
	client.Send(t.Context(), mtce.NetworkMgmt, agent.Addr(mtce.NetworkMgmt), &alive)
	if p := recvWithin(t, agent); p.Message.Command != CmdMtcAlive {
		t.Errorf("%+v", p)
	}
}

func TestTransportClose(t *testing.T) {
	tr, err := Listen(t.Context(), Config{Endpoints: []Endpoint{
		{mtce.NetworkMgmt, "127.0.0.1:0"}, {mtce.NetworkClusterHost, "127.0.0.1:0"}, {mtce.NetworkPxeboot, "127.0.0.1:0"},
	}, QueueLen: 1, PeerQueueLen: 1})
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := tr.Peer(mtce.NetworkPxeboot, netip.MustParseAddrPort("127.0.0.1:9"))
	errs := make(chan error, 2)
	go func() { _, err := tr.Recv(context.Background()); errs <- err }()
	go func() { _, err := peer.Recv(context.Background()); errs <- err }()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { tr.Close() })
	}
	wg.Wait()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("blocked call returned %v", err)
			}
		case <-time.After(wallTimeout):
			t.Fatal("blocked call not released by Close")
		}
	}
	if err := tr.Close(); err != nil {
		t.Error(err)
	}
	m := Message{Signature: SigWorker}
	if err := tr.Send(t.Context(), mtce.NetworkMgmt, netip.MustParseAddrPort("127.0.0.1:9"), &m); !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
	goleak.VerifyNone(t)
}

func TestConfigValidate(t *testing.T) {
	ok := Endpoint{mtce.NetworkMgmt, "127.0.0.1:0"}
	cases := map[string]Config{
		"Endpoints is empty":   {QueueLen: 1, PeerQueueLen: 1},
		"Network is invalid":   {Endpoints: []Endpoint{{0, "127.0.0.1:0"}}, QueueLen: 1, PeerQueueLen: 1},
		"appears twice":        {Endpoints: []Endpoint{ok, ok}, QueueLen: 1, PeerQueueLen: 1},
		"Addr is empty":        {Endpoints: []Endpoint{{mtce.NetworkMgmt, ""}}, QueueLen: 1, PeerQueueLen: 1},
		"QueueLen must be":     {Endpoints: []Endpoint{ok}, PeerQueueLen: 1},
		"PeerQueueLen must be": {Endpoints: []Endpoint{ok}, QueueLen: 1},
	}
	for want, c := range cases {
		err := c.Validate()
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("%q: %v", want, err)
		}
		if _, err := Listen(t.Context(), c); err == nil {
			t.Errorf("%q: Listen accepted", want)
		}
	}
	_, err := Listen(t.Context(), Config{Endpoints: []Endpoint{ok, {mtce.NetworkPxeboot, "256.0.0.1:1"}}, QueueLen: 1, PeerQueueLen: 1})
	if err == nil {
		t.Error("bad address accepted")
	}
}
