package agenttest

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Listener is an in-memory net.Listener for the agent's event API (or
// any HTTP server) whose connections are net.Pipe pairs, so that HTTP
// between a simulator and the agent runs inside a testing/synctest
// bubble. Its dialling side is DialContext, or Transport for an
// http.RoundTripper. Make it inside the bubble that uses it.
type Listener struct {
	addr   netip.AddrPort
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	port   atomic.Uint32 // client port counter
}

// NewListener returns a listener that reports addr as its address
// (e.g. 127.0.0.1:2112; nothing is bound).
func NewListener(addr netip.AddrPort) *Listener {
	l := &Listener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
	l.port.Store(40000)
	return l
}

// Accept waits for the next dialled connection; after Close it returns
// net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and later dials fail. It is idempotent.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns the address given to NewListener.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// DialContext connects to the listener, whatever network and address it
// is given, once Accept takes the connection. The client's address is
// 127.0.0.1 with a made-up port.
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	c, s := net.Pipe()
	client := net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(l.port.Add(1))))
	server := l.Addr()
	select {
	case l.conns <- &pipeConn{Conn: s, local: server, remote: client}:
		return &pipeConn{Conn: c, local: client, remote: server}, nil
	case <-l.closed:
		c.Close()
		s.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: server, Err: net.ErrClosed}
	case <-ctx.Done():
		c.Close()
		s.Close()
		return nil, ctx.Err()
	}
}

// Transport returns an http.Transport that dials the listener for every
// request and keeps no idle connection (so nothing outlives a request).
func (l *Listener) Transport() *http.Transport {
	return &http.Transport{DialContext: l.DialContext, DisableKeepAlives: true}
}

// pipeConn is a net.Pipe end with TCP-like addresses.
type pipeConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.local }
func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }
