package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"opendev.org/starlingx/metal-go/mtce"
)

// readBufSize is the receive buffer per socket: larger than MaxSize so that
// an oversized datagram is seen as such (and dropped as DropLong) rather
// than silently truncated to a valid length.
const readBufSize = 2048

// Defaults of [Config].
const (
	DefaultQueueLen     = 256
	DefaultPeerQueueLen = 16
)

// Endpoint is one socket of a [Transport]: the network it serves and the
// address to bind, e.g. "192.168.204.2:2101" (mtcAgent's management port
// on the floating address) or "127.0.0.1:0" (a free port, for tests).
type Endpoint struct {
	Network mtce.Network
	Addr    string
}

// Check is a per-source sanity check run on every decoded datagram before
// it is queued; a non-nil error drops the datagram (counted as
// DropRejected). It runs on the socket's receive goroutine and must not
// block. [CheckAddressed] and [CheckKnownSource] are StarlingX's checks.
type Check func(p Packet) error

// Config configures a [Transport].
type Config struct {
	// Endpoints are the sockets to bind, at most one per network.
	Endpoints []Endpoint
	// QueueLen bounds the packets received and not yet taken by Recv;
	// datagrams arriving while it is full are dropped (DropQueueFull).
	QueueLen int
	// PeerQueueLen bounds each Peer's queue in the same way.
	PeerQueueLen int
	// Check, if set, is the per-source sanity check.
	Check Check
	// Logger receives drop and error records; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the default queue lengths and no
// endpoints.
func DefaultConfig() Config {
	return Config{QueueLen: DefaultQueueLen, PeerQueueLen: DefaultPeerQueueLen}
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if len(c.Endpoints) == 0 {
		return errors.New("wire: Config.Endpoints is empty")
	}
	seen := map[mtce.Network]bool{}
	for i, e := range c.Endpoints {
		if !e.Network.Valid() {
			return fmt.Errorf("wire: Config.Endpoints[%d].Network is invalid (%v)", i, e.Network)
		}
		if seen[e.Network] {
			return fmt.Errorf("wire: Config.Endpoints[%d].Network %v appears twice", i, e.Network)
		}
		seen[e.Network] = true
		if e.Addr == "" {
			return fmt.Errorf("wire: Config.Endpoints[%d].Addr is empty", i)
		}
	}
	if c.QueueLen < 1 {
		return fmt.Errorf("wire: Config.QueueLen must be at least 1, is %d", c.QueueLen)
	}
	if c.PeerQueueLen < 1 {
		return fmt.Errorf("wire: Config.PeerQueueLen must be at least 1, is %d", c.PeerQueueLen)
	}
	return nil
}

// Packet is a received datagram with where it came from.
type Packet struct {
	Network mtce.Network   // the endpoint it arrived on
	From    netip.AddrPort // source address (IPv4-mapped addresses unmapped)
	Datagram
}

// DropReason says why a received datagram was not delivered.
type DropReason uint8

// Drop reasons.
const (
	DropShort     DropReason = iota + 1 // fewer than 100 bytes (ErrShort)
	DropLong                            // more than 1060 bytes (ErrLong)
	DropSignature                       // unknown signature (ErrSignature)
	DropNum                             // num > 5 (ErrNum)
	DropJSON                            // malformed JSON datagram (ErrJSON)
	DropRejected                        // the Check refused it
	DropQueueFull                       // the Recv or Peer queue was full
	DropReadError                       // the socket read failed
	numDropReasons
)

var dropNames = [...]string{"", "short", "long", "signature", "num", "json", "rejected", "queue-full", "read-error"}

// String returns the reason's short name ("queue-full").
func (r DropReason) String() string {
	if r > 0 && r < numDropReasons {
		return dropNames[r]
	}
	return "DropReason(" + strconv.Itoa(int(r)) + ")"
}

// Stats are a Transport's counters since it started.
type Stats struct {
	Received  uint64                // datagrams read from the sockets
	Delivered uint64                // packets queued for Recv or a Peer
	Dropped   map[DropReason]uint64 // by reason; reasons with no drop are absent
}

// DroppedTotal returns the sum of s.Dropped.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

type peerKey struct {
	n    mtce.Network
	addr netip.Addr
}

// Transport is UDP messaging on StarlingX's maintenance ports: one socket
// per network, one receive goroutine per socket that decodes, checks and
// queues each datagram. It is safe for concurrent use. Close stops the
// goroutines and waits for them.
type Transport struct {
	cfg     Config
	log     *slog.Logger
	conns   map[mtce.Network]*net.UDPConn
	queue   chan Packet
	closing chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	mu    sync.Mutex
	peers map[peerKey]*Peer

	received  atomic.Uint64
	delivered atomic.Uint64
	dropped   [numDropReasons]atomic.Uint64
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, MaxSize); return &b }}

// Listen validates cfg, binds every endpoint and starts receiving. On error
// nothing stays bound.
func Listen(ctx context.Context, cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Transport{
		cfg:     cfg,
		log:     cfg.Logger,
		conns:   make(map[mtce.Network]*net.UDPConn, len(cfg.Endpoints)),
		queue:   make(chan Packet, cfg.QueueLen),
		closing: make(chan struct{}),
		peers:   make(map[peerKey]*Peer),
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	for _, e := range cfg.Endpoints {
		pc, err := lc.ListenPacket(ctx, "udp", e.Addr)
		if err != nil {
			for _, c := range t.conns {
				c.Close()
			}
			return nil, fmt.Errorf("wire: listen %v on %s: %w", e.Network, e.Addr, err)
		}
		t.conns[e.Network] = pc.(*net.UDPConn)
	}
	for n, c := range t.conns {
		t.wg.Go(func() { t.receive(n, c) })
	}
	return t, nil
}

// Addr returns the bound address of network n's socket (the zero AddrPort
// if n has none); useful after binding port 0.
func (t *Transport) Addr(n mtce.Network) netip.AddrPort {
	c, ok := t.conns[n]
	if !ok {
		return netip.AddrPort{}
	}
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Send encodes m and sends it from network n's socket to to. UDP sends do
// not block for long; ctx is only checked before sending.
func (t *Transport) Send(ctx context.Context, n mtce.Network, to netip.AddrPort, m *Message) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b, err := m.AppendBinary((*bp)[:0])
	*bp = b[:0]
	if err != nil {
		return err
	}
	return t.WriteTo(ctx, n, to, b)
}

// WriteTo sends raw bytes from network n's socket, for datagrams that are
// not Messages (collectd's JSON notifications, or malformed ones in tests).
func (t *Transport) WriteTo(ctx context.Context, n mtce.Network, to netip.AddrPort, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-t.closing:
		return ErrClosed
	default:
	}
	c, ok := t.conns[n]
	if !ok {
		return fmt.Errorf("wire: no %v endpoint", n)
	}
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("wire: send %d bytes to %v on %v: %w", len(b), to, n, err)
	}
	return nil
}

// Recv returns the next received packet that no Peer took. After Close it
// returns ErrClosed.
func (t *Transport) Recv(ctx context.Context) (Packet, error) {
	select {
	case <-t.closing:
		return Packet{}, ErrClosed
	default:
	}
	select {
	case p := <-t.queue:
		return p, nil
	case <-t.closing:
		return Packet{}, ErrClosed
	case <-ctx.Done():
		return Packet{}, ctx.Err()
	}
}

// Peer returns a [Link] to one remote address on network n: Send goes to
// to, and binary messages from to's IP address (any port) on network n go
// to the Peer's queue instead of Recv's. JSON datagrams still go to Recv.
// There can be one Peer per network and IP address at a time; close it to
// release the address.
func (t *Transport) Peer(n mtce.Network, to netip.AddrPort) (*Peer, error) {
	if _, ok := t.conns[n]; !ok {
		return nil, fmt.Errorf("wire: no %v endpoint", n)
	}
	k := peerKey{n, to.Addr().Unmap()}
	p := &Peer{t: t, n: n, to: to, key: k, in: make(chan *Message, t.cfg.PeerQueueLen), closed: make(chan struct{})}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.peers[k]; dup {
		return nil, fmt.Errorf("wire: a Peer for %v on %v is already open", k.addr, n)
	}
	t.peers[k] = p
	return p, nil
}

// Stats returns a snapshot of the counters.
func (t *Transport) Stats() Stats {
	s := Stats{Received: t.received.Load(), Delivered: t.delivered.Load(), Dropped: map[DropReason]uint64{}}
	for r := DropShort; r < numDropReasons; r++ {
		if v := t.dropped[r].Load(); v != 0 {
			s.Dropped[r] = v
		}
	}
	return s
}

// Close closes the sockets and waits for the receive goroutines to end. It
// is idempotent; every call returns after the goroutines have ended.
func (t *Transport) Close() error {
	t.once.Do(func() {
		close(t.closing)
		for _, c := range t.conns {
			c.Close()
		}
	})
	t.wg.Wait()
	return nil
}

func (t *Transport) receive(n mtce.Network, c *net.UDPConn) {
	buf := make([]byte, readBufSize)
	for {
		nb, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-t.closing:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.drop(DropReadError, n, from, nb, err)
			continue
		}
		t.received.Add(1)
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		d, err := Decode(buf[:nb])
		if err != nil {
			t.drop(reasonOf(err), n, from, nb, err)
			continue
		}
		p := Packet{Network: n, From: from, Datagram: d}
		if t.cfg.Check != nil {
			if err := t.cfg.Check(p); err != nil {
				t.drop(DropRejected, n, from, nb, err)
				continue
			}
		}
		t.deliver(&p, nb)
	}
}

func (t *Transport) deliver(p *Packet, nb int) {
	if p.Kind == KindMessage {
		t.mu.Lock()
		peer := t.peers[peerKey{p.Network, p.From.Addr()}]
		t.mu.Unlock()
		if peer != nil {
			// Count before queueing so that a reader who got the packet
			// sees it counted.
			t.delivered.Add(1)
			msg := p.Message // only this copy escapes, not every Packet
			select {
			case peer.in <- &msg:
			default:
				t.delivered.Add(^uint64(0))
				t.drop(DropQueueFull, p.Network, p.From, nb, errors.New("peer queue full"))
			}
			return
		}
	}
	t.delivered.Add(1)
	select {
	case t.queue <- *p:
	default:
		t.delivered.Add(^uint64(0))
		t.drop(DropQueueFull, p.Network, p.From, nb, errors.New("receive queue full"))
	}
}

func (t *Transport) drop(r DropReason, n mtce.Network, from netip.AddrPort, size int, err error) {
	t.dropped[r].Add(1)
	t.log.Debug("datagram dropped", "reason", r.String(), "network", n.String(),
		"from", from.String(), "bytes", size, "err", err)
}

func reasonOf(err error) DropReason {
	switch {
	case errors.Is(err, ErrShort):
		return DropShort
	case errors.Is(err, ErrLong):
		return DropLong
	case errors.Is(err, ErrSignature):
		return DropSignature
	case errors.Is(err, ErrNum):
		return DropNum
	case errors.Is(err, ErrJSON):
		return DropJSON
	}
	return DropRejected
}

// Peer is a [Link] to one remote address over a [Transport].
type Peer struct {
	t      *Transport
	n      mtce.Network
	to     netip.AddrPort
	key    peerKey
	in     chan *Message
	once   sync.Once
	closed chan struct{}
}

// Send sends m to the peer.
func (p *Peer) Send(ctx context.Context, m *Message) error {
	select {
	case <-p.closed:
		return ErrClosed
	default:
	}
	return p.t.Send(ctx, p.n, p.to, m)
}

// Recv returns the next binary message from the peer's address.
func (p *Peer) Recv(ctx context.Context) (*Message, error) {
	select {
	case m := <-p.in:
		return m, nil
	case <-p.closed:
		return nil, ErrClosed
	case <-p.t.closing:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close releases the peer's address; later messages from it go to the
// Transport's Recv. It is idempotent.
func (p *Peer) Close() error {
	p.once.Do(func() {
		p.t.mu.Lock()
		if p.t.peers[p.key] == p {
			delete(p.t.peers, p.key)
		}
		p.t.mu.Unlock()
		close(p.closed)
	})
	return nil
}

// CheckAddressed is mtcClient's check on received commands (spec K.8):
// messages of ver ≥ 1 must carry mac after their signature
// ([Message.AddressedTo]) unless they come from one of the client's own
// addresses (self). JSON datagrams pass.
func CheckAddressed(mac string, self ...netip.Addr) Check {
	return func(p Packet) error {
		if p.Kind != KindMessage || slices.Contains(self, p.From.Addr()) || p.Message.AddressedTo(mac) {
			return nil
		}
		return fmt.Errorf("%w: %s addressed to %q, not %q", ErrRejected, p.Message.Command, p.Message.MAC, mac)
	}
}

// CheckKnownSource is mtcAgent's check on received datagrams (spec K.2,
// K.3): the source address must belong to a known host (known reports
// that), except that an mtcAlive with a non-empty buffer from an unknown
// source passes, so that the agent can learn the host's pxeboot address
// from its identity's hostname.
func CheckKnownSource(known func(netip.Addr) bool) Check {
	return func(p Packet) error {
		if known(p.From.Addr()) {
			return nil
		}
		m := &p.Message
		if p.Kind == KindMessage && m.Signature == SigWorker && m.Command == CmdMtcAlive && m.Buf != "" {
			return nil
		}
		return fmt.Errorf("%w: unknown source %v", ErrRejected, p.From.Addr())
	}
}
