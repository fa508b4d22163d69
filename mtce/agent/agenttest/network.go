package agenttest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// Errors of this package.
var (
	// ErrAddrInUse: an address given to Network.Agent or Network.AddHost
	// is already attached to the network.
	ErrAddrInUse = errors.New("agenttest: address already in use")
	// ErrNoAddress: a Conn was asked to send on a network it has no
	// address on.
	ErrNoAddress = errors.New("agenttest: no address on that network")
	// ErrInvalidConfig: a HostConfig or SendersConfig field is unusable;
	// the error text names the field.
	ErrInvalidConfig = errors.New("agenttest: invalid configuration")
)

// DefaultQueueLen is how many undelivered datagrams each receiver (a Conn
// or a Host) holds before the network drops more for it, as
// wire.DefaultQueueLen does for a Transport.
const DefaultQueueLen = wire.DefaultQueueLen

// Option configures a Network.
type Option func(*Network)

// WithQueueLen sets the receive queue length of every Conn and Host
// attached afterwards (n < 1 means DefaultQueueLen).
func WithQueueLen(n int) Option {
	return func(nw *Network) {
		if n < 1 {
			n = DefaultQueueLen
		}
		nw.queueLen = n
	}
}

// Fault is what the network does with one datagram (see Network.SetFault).
type Fault uint8

// Faults.
const (
	Deliver Fault = iota // deliver it unchanged
	Lose                 // drop it silently (counted as NetDropLost)
	Garble               // deliver bytes that fail to decode (counted by the receiver)
)

// Route describes one datagram in flight, for a fault function.
type Route struct {
	Network  mtce.Network   // the sender's network
	From, To netip.AddrPort // source and destination
	Message  *wire.Message  // decoded content; nil for raw bytes (Network.Inject)
}

// NetDrop says why the network itself dropped a datagram before any
// receiver saw it. Drops at a receiver (decode failure, full queue) are
// counted by wire.DropReason in the receiver's Stats.
type NetDrop uint8

// Network drop reasons.
const (
	NetDropUnknown NetDrop = iota + 1 // nothing ever attached at the destination
	NetDropClosed                     // the receiver there was closed
	NetDropLost                       // the fault function chose Lose
)

// String returns the reason's short name.
func (d NetDrop) String() string {
	switch d {
	case NetDropUnknown:
		return "unknown-destination"
	case NetDropClosed:
		return "closed"
	case NetDropLost:
		return "lost"
	}
	return fmt.Sprintf("NetDrop(%d)", uint8(d))
}

// NetStats are a Network's counters since it was made.
type NetStats struct {
	Sent    uint64             // datagrams handed to the network
	Dropped map[NetDrop]uint64 // by reason; reasons with no drop are absent
}

// Network is an in-memory UDP network between one or more agents' Conns
// and fake hosts. Every datagram is encoded to bytes and decoded by the
// receiver, as over UDP; the receiver sees the sender's address on the
// network as its source. Nothing blocks a sender: a datagram to an
// unknown address, or to a receiver whose queue is full, is dropped and
// counted. Make the Network inside the testing/synctest bubble that uses
// it (its channels belong to the bubble they are made in). It is safe for
// concurrent use.
type Network struct {
	queueLen int

	mu    sync.Mutex
	eps   map[netip.AddrPort]*endpoint
	gone  map[netip.AddrPort]bool // detached addresses, for NetDropClosed
	fault func(Route) Fault
	sent  uint64
	drops map[NetDrop]uint64
}

// endpoint is one attached address and the receiver behind it.
type endpoint struct {
	network mtce.Network
	rx      *receiver
}

// receiver is a bounded queue of decoded packets with its counters; a
// Conn or a Host owns one, shared by its addresses.
type receiver struct {
	q      chan wire.Packet
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	stats wire.Stats
}

func newReceiver(n int) *receiver {
	return &receiver{
		q:      make(chan wire.Packet, n),
		closed: make(chan struct{}),
		stats:  wire.Stats{Dropped: map[wire.DropReason]uint64{}},
	}
}

// deliver decodes b and queues it without blocking.
func (r *receiver) deliver(n mtce.Network, from netip.AddrPort, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Received++
	d, err := wire.Decode(b)
	if err != nil {
		r.stats.Dropped[dropReason(err)]++
		return
	}
	select {
	case <-r.closed:
		return
	default:
	}
	select {
	case r.q <- wire.Packet{Network: n, From: from, Datagram: d}:
		r.stats.Delivered++
	default:
		r.stats.Dropped[wire.DropQueueFull]++
	}
}

func (r *receiver) close() { r.once.Do(func() { close(r.closed) }) }

func (r *receiver) snapshot() wire.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := wire.Stats{Received: r.stats.Received, Delivered: r.stats.Delivered, Dropped: map[wire.DropReason]uint64{}}
	for k, v := range r.stats.Dropped {
		s.Dropped[k] = v
	}
	return s
}

func dropReason(err error) wire.DropReason {
	switch {
	case errors.Is(err, wire.ErrShort):
		return wire.DropShort
	case errors.Is(err, wire.ErrLong):
		return wire.DropLong
	case errors.Is(err, wire.ErrSignature):
		return wire.DropSignature
	case errors.Is(err, wire.ErrNum):
		return wire.DropNum
	default:
		return wire.DropJSON
	}
}

// NewNetwork returns an empty network.
func NewNetwork(opts ...Option) *Network {
	n := &Network{
		queueLen: DefaultQueueLen,
		eps:      map[netip.AddrPort]*endpoint{},
		gone:     map[netip.AddrPort]bool{},
		drops:    map[NetDrop]uint64{},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

// SetFault installs f, called for every datagram sent from now on (nil
// delivers everything). It runs in the sender's goroutine with the
// network's lock held: it must be quick and must not call the Network.
func (n *Network) SetFault(f func(Route) Fault) {
	n.mu.Lock()
	n.fault = f
	n.mu.Unlock()
}

// Stats returns a snapshot of the network's own counters.
func (n *Network) Stats() NetStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := NetStats{Sent: n.sent, Dropped: map[NetDrop]uint64{}}
	for k, v := range n.drops {
		s.Dropped[k] = v
	}
	return s
}

// attach registers addrs (zero addresses skipped) for rx, all or none.
func (n *Network) attach(rx *receiver, addrs map[mtce.Network]netip.AddrPort) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range addrs {
		if !a.IsValid() {
			continue
		}
		if _, ok := n.eps[a]; ok {
			return fmt.Errorf("%w: %v", ErrAddrInUse, a)
		}
	}
	for nw, a := range addrs {
		if a.IsValid() {
			n.eps[a] = &endpoint{network: nw, rx: rx}
			delete(n.gone, a)
		}
	}
	return nil
}

// detach removes every address of rx.
func (n *Network) detach(rx *receiver) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for a, ep := range n.eps {
		if ep.rx == rx {
			delete(n.eps, a)
			n.gone[a] = true
		}
	}
}

// send routes one datagram; m is nil for raw bytes.
func (n *Network) send(nw mtce.Network, from, to netip.AddrPort, m *wire.Message, b []byte) {
	n.mu.Lock()
	n.sent++
	f := Deliver
	if n.fault != nil {
		f = n.fault(Route{Network: nw, From: from, To: to, Message: m})
	}
	ep, ok := n.eps[to]
	switch {
	case f == Lose:
		n.drops[NetDropLost]++
		ok = false
	case !ok && n.gone[to]:
		n.drops[NetDropClosed]++
	case !ok:
		n.drops[NetDropUnknown]++
	}
	n.mu.Unlock()
	if !ok {
		return
	}
	if f == Garble {
		b = garble(b)
	}
	ep.rx.deliver(ep.network, from, b)
}

// garble returns bytes no receiver decodes: the signature's first byte
// is changed (or, for a JSON datagram, the object is cut open).
func garble(b []byte) []byte {
	g := append([]byte(nil), b...)
	if len(g) == 0 {
		return []byte{0}
	}
	if g[0] == '{' {
		return append(g[:len(g)/2:len(g)/2], '"')
	}
	g[0] ^= 0x80
	return g
}

// Inject sends raw bytes from from to to on network nw, as a misbehaving
// or foreign sender would (garbage, collectd's JSON datagrams). The
// receiver decodes them like any datagram.
func (n *Network) Inject(nw mtce.Network, from, to netip.AddrPort, b []byte) {
	n.send(nw, from, to, nil, append([]byte(nil), b...))
}

// Agent attaches an agent's receive addresses (mtc_agent_port on the
// management and cluster-host networks; a zero cluster address means no
// cluster-host network) and returns its Conn. The Conn has the method set
// of agent.PacketConn. Datagrams the agent sends on a network carry that
// network's address as their source. Like httptest, it panics on misuse:
// an invalid management address, or an address already attached.
func (n *Network) Agent(mgmt, cluster netip.AddrPort) *Conn {
	if !mgmt.IsValid() {
		panic(fmt.Sprintf("%v: Agent: management address is not valid", ErrInvalidConfig))
	}
	c := &Conn{net: n, rx: newReceiver(n.queueLen), addrs: map[mtce.Network]netip.AddrPort{
		mtce.NetworkMgmt: mgmt,
	}}
	if cluster.IsValid() {
		c.addrs[mtce.NetworkClusterHost] = cluster
	}
	if err := n.attach(c.rx, c.addrs); err != nil {
		panic(err.Error())
	}
	return c
}

// Conn is an agent's end of a Network: the in-memory counterpart of a
// *wire.Transport. It is safe for concurrent use.
type Conn struct {
	net   *Network
	rx    *receiver
	addrs map[mtce.Network]netip.AddrPort // immutable after Agent
}

// Recv returns the next decoded packet sent to one of the Conn's
// addresses. It returns wire.ErrClosed after Close, and ctx.Err() when ctx
// ends first. Blocking in it is durable inside a synctest bubble.
func (c *Conn) Recv(ctx context.Context) (wire.Packet, error) {
	select {
	case <-c.rx.closed:
		return wire.Packet{}, wire.ErrClosed
	default:
	}
	select {
	case p := <-c.rx.q:
		return p, nil
	case <-c.rx.closed:
		return wire.Packet{}, wire.ErrClosed
	case <-ctx.Done():
		return wire.Packet{}, ctx.Err()
	}
}

// Send encodes m and sends it from the Conn's address on network nw to
// to. Like a UDP send it never waits for the receiver: a datagram nobody
// can take is dropped and counted. It fails for a message that cannot be
// encoded, a network the Conn has no address on, a closed Conn, or an
// ended ctx.
func (c *Conn) Send(ctx context.Context, nw mtce.Network, to netip.AddrPort, m *wire.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-c.rx.closed:
		return wire.ErrClosed
	default:
	}
	from, ok := c.addrs[nw]
	if !ok {
		return fmt.Errorf("%w: %v", ErrNoAddress, nw)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	c.net.send(nw, from, to, m, b)
	return nil
}

// Close detaches the Conn's addresses; later datagrams to them are
// dropped as unknown. It is idempotent and never blocks.
func (c *Conn) Close() error {
	c.rx.close()
	c.net.detach(c.rx)
	return nil
}

// Addr returns the Conn's address on network nw (zero if none).
func (c *Conn) Addr(nw mtce.Network) netip.AddrPort { return c.addrs[nw] }

// Stats returns the Conn's receive counters with *wire.Transport's
// meaning: datagrams that reached it, those queued for Recv, and those
// dropped by reason (decode failures, full queue).
func (c *Conn) Stats() wire.Stats { return c.rx.snapshot() }
