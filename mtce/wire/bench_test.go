package wire

import (
	"context"
	"net"
	"testing"

	"opendev.org/starlingx/metal-go/mtce"
)

func benchAlive(b *testing.B) Message {
	m, err := NewMtcAlive(Alive{Uptime: 3600, Health: HealthHealthy, Flags: FlagConfigured, Sequence: 145, Identity: testIdentity})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkEncodeMtcAlive: AppendBinary into a reused buffer.
func BenchmarkEncodeMtcAlive(b *testing.B) {
	m := benchAlive(b)
	buf := make([]byte, 0, MaxSize)
	b.SetBytes(int64(m.Len()))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewMtcAlive: building the message, identity JSON included.
func BenchmarkNewMtcAlive(b *testing.B) {
	a := Alive{Uptime: 3600, Health: HealthHealthy, Flags: FlagConfigured, Sequence: 145, Identity: testIdentity}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewMtcAlive(a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMtcAlive: Decode of a 317-byte mtcAlive (one allocation:
// the buffer string).
func BenchmarkDecodeMtcAlive(b *testing.B) {
	m := benchAlive(b)
	data, _ := m.MarshalBinary()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAck: Decode of a 100-byte ACK (no buffer, no allocation).
func BenchmarkDecodeAck(b *testing.B) {
	req, _ := NewHostServicesRequest(mtce.FunctionWorker, false, target)
	ack, _ := NewHostServicesAck(&req, mtce.Pass)
	data, _ := ack.MarshalBinary()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMtcAliveIdentity: Decode plus reading the identity JSON,
// what mtcAgent does with every mtcAlive.
func BenchmarkDecodeMtcAliveIdentity(b *testing.B) {
	m := benchAlive(b)
	data, _ := m.MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		d, err := Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Message.MtcAlive(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUDPRoundTrip: an mtcAlive from one Transport to another on
// loopback and back (echoed by the second), Decode on each side.
// BenchmarkUDPRoundTripBaseline does the same with plain net.UDPConn and
// no decoding; run both in one invocation to compare.
func BenchmarkUDPRoundTrip(b *testing.B) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Endpoints = []Endpoint{{mtce.NetworkMgmt, "127.0.0.1:0"}}
	a, err := Listen(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	echo, err := Listen(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer echo.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			p, err := echo.Recv(ctx)
			if err != nil {
				return
			}
			echo.Send(ctx, mtce.NetworkMgmt, p.From, &p.Message)
		}
	}()
	m := benchAlive(b)
	to := echo.Addr(mtce.NetworkMgmt)
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Send(ctx, mtce.NetworkMgmt, to, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	echo.Close()
	<-done
}

func BenchmarkUDPRoundTripBaseline(b *testing.B) {
	laddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	a, err := net.ListenUDP("udp", laddr)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	echo, err := net.ListenUDP("udp", laddr)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, readBufSize)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	m := benchAlive(b)
	data, _ := m.MarshalBinary()
	to := echo.LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, readBufSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.WriteToUDPAddrPort(data, to); err != nil {
			b.Fatal(err)
		}
		if _, _, err := a.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	echo.Close()
	<-done
}
