package ipmi_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/clock"
	"github.com/bougou/go-ipmi/pkg/hal/mock"
	"github.com/bougou/go-ipmi/pkg/server"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/ipmi"
)

// memBMC is go-ipmi's reference BMC (pkg/server) behind an in-memory packet
// transport: a fake BMC for tests in a testing/synctest bubble, where
// timers and read deadlines run on the virtual clock. Stall makes it drop
// every packet (a hung BMC) while sessions stay valid.
type memBMC struct {
	hal    *mock.HAL
	b      *gobmc.BMC
	srv    *server.Server
	hub    *hub
	cancel context.CancelFunc
	done   chan struct{}
}

const memUser, memPass = "admin", "secret-pass"

func startMemBMC(t *testing.T) *memBMC {
	t.Helper()
	h := mock.New()
	b := gobmc.New(gobmc.DeviceInfo{IPMIVersion: 0x20, FirmwareMajor: 1, FirmwareMinor: 0x02,
		ManufacturerID: 7154, AdditionalDeviceSupport: 0x8f}, [16]byte{1}, h, gobmc.WithClock(clock.Real))
	admin, err := b.Users.Add(2, memUser)
	if err != nil {
		t.Fatal(err)
	}
	admin.SetPassword([]byte(memPass))
	admin.Enabled = true
	admin.ChannelAccess[1] = gobmc.UserChannelAccess{MaxPrivilege: gobmc.PrivilegeLevelAdministrator, Enabled: true}
	m := &memBMC{hal: h, b: b, hub: newHub(), done: make(chan struct{})}
	m.srv = server.NewServer(b, m.hub)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ctx)
	}()
	t.Cleanup(m.stop)
	return m
}

func (m *memBMC) stop() {
	m.cancel()
	_ = m.srv.Close()
	<-m.done
}

func (m *memBMC) stall(on bool) { m.hub.stalled.Store(on) }

func (m *memBMC) sessions() int { return m.b.Sessions.Count() }

func (m *memBMC) config() ipmi.Config {
	cfg := ipmi.DefaultConfig()
	cfg.Host = "192.0.2.1"
	cfg.Username = memUser
	cfg.Password = bmc.NewPassword(memPass)
	cfg.Dial = func(context.Context, string, string) (net.Conn, error) { return m.hub.dial(), nil }
	return cfg
}

// hub connects client sockets to the server's PacketConn.
type hub struct {
	mu      sync.Mutex
	clients map[int]*memConn
	next    int
	inbox   chan packet
	closed  chan struct{}
	once    sync.Once
	stalled atomic.Bool
}

type packet struct {
	data []byte
	from *net.UDPAddr
}

func newHub() *hub {
	return &hub{clients: map[int]*memConn{}, inbox: make(chan packet, 256), closed: make(chan struct{}), next: 40000}
}

func (h *hub) dial() *memConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	c := &memConn{hub: h, port: h.next, in: make(chan []byte, 256), changed: make(chan struct{}), closed: make(chan struct{})}
	h.clients[c.port] = c
	return c
}

// ReadFrom implements go-ipmi's transport.PacketConn (server side).
func (h *hub) ReadFrom(buf []byte) (int, net.Addr, error) {
	for {
		select {
		case p := <-h.inbox:
			if h.stalled.Load() {
				continue
			}
			return copy(buf, p.data), p.from, nil
		case <-h.closed:
			return 0, nil, net.ErrClosed
		}
	}
}

func (h *hub) WriteTo(data []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, net.ErrClosed
	}
	h.mu.Lock()
	c := h.clients[ua.Port]
	h.mu.Unlock()
	if c == nil {
		return len(data), nil // like UDP: nobody listens
	}
	select {
	case c.in <- append([]byte(nil), data...):
	default: // socket buffer full: dropped
	}
	return len(data), nil
}

func (h *hub) Close() error { h.once.Do(func() { close(h.closed) }); return nil }

// memConn is a client UDP socket with deadline support on timers. With a
// nil hub it is a black hole (see newBlackhole).
type memConn struct {
	hub      *hub
	port     int
	in       chan []byte
	mu       sync.Mutex
	deadline time.Time
	changed  chan struct{}
	closed   chan struct{}
	once     sync.Once
	reading  int
}

func (c *memConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	c.reading++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reading--
		c.mu.Unlock()
	}()
	for {
		c.mu.Lock()
		dl, changed := c.deadline, c.changed
		c.mu.Unlock()
		var expired <-chan time.Time
		var tm *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, &net.OpError{Op: "read", Net: "udp", Err: os.ErrDeadlineExceeded}
			}
			tm = time.NewTimer(d)
			expired = tm.C
		}
		var (
			n   int
			err error
			out = true
		)
		select {
		case p := <-c.in:
			n = copy(b, p)
		case <-expired:
			err = &net.OpError{Op: "read", Net: "udp", Err: os.ErrDeadlineExceeded}
		case <-changed:
			out = false
		case <-c.closed:
			err = net.ErrClosed
		}
		if tm != nil {
			tm.Stop()
		}
		if out {
			return n, err
		}
	}
}

func (c *memConn) Write(b []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	if c.hub == nil {
		return len(b), nil // a black hole swallows every datagram
	}
	select {
	case c.hub.inbox <- packet{append([]byte(nil), b...), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c.port}}:
	default:
	}
	return len(b), nil
}

func (c *memConn) setDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *memConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		if c.hub == nil {
			return
		}
		c.hub.mu.Lock()
		delete(c.hub.clients, c.port)
		c.hub.mu.Unlock()
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c.port}
}
func (c *memConn) RemoteAddr() net.Addr              { return &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 623} }
func (c *memConn) SetDeadline(t time.Time) error     { c.setDeadline(t); return nil }
func (c *memConn) SetReadDeadline(t time.Time) error { c.setDeadline(t); return nil }
func (c *memConn) SetWriteDeadline(time.Time) error  { return nil }

// activeReads counts the reads in progress on c.
func (c *memConn) activeReads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reading
}

// activeReads counts reads in progress on every client socket.
func (h *hub) activeReads() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.clients {
		c.mu.Lock()
		n += c.reading
		c.mu.Unlock()
	}
	return n
}

func (h *hub) String() string { return "hub with " + strconv.Itoa(len(h.clients)) + " clients" }
