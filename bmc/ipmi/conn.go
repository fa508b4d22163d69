package ipmi

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// errInterrupted is what a read or write on an interrupted connection
// returns. It is deliberately not a timeout: go-ipmi retries timeouts, and
// an interrupted exchange must end at once.
var errInterrupted = &net.OpError{Op: "read", Net: "udp", Err: net.ErrClosed}

// trackedConn wraps the UDP socket that go-ipmi uses (we hand it out through
// go-ipmi's proxy dialer hook). It lets the driver
//   - interrupt a read that go-ipmi's exchange goroutine is blocked in, when
//     the caller's context ends (go-ipmi itself would leave that goroutine
//     blocked until its read deadline);
//   - wait until no read or write is in progress, so that no go-ipmi
//     goroutine outlives the driver call that started it;
//   - tell a BMC that stopped answering (read deadlines expired) from other
//     failures, without parsing go-ipmi's error strings.
type trackedConn struct {
	net.Conn

	mu          sync.Mutex
	inflight    int
	idle        chan struct{} // closed while inflight == 0
	interrupted bool
	aborted     bool
	timeouts    int // read timeouts since the last successful read
	reads       int // successful reads since the socket was dialled
}

func newTrackedConn(c net.Conn) *trackedConn {
	idle := make(chan struct{})
	close(idle)
	return &trackedConn{Conn: c, idle: idle}
}

func (c *trackedConn) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.interrupted || c.aborted {
		return false
	}
	if c.inflight == 0 {
		c.idle = make(chan struct{})
	}
	c.inflight++
	return true
}

// leave ends an operation and maps its error.
func (c *trackedConn) leave(read bool, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	if c.inflight == 0 {
		close(c.idle)
	}
	switch {
	case err == nil:
		if read {
			c.timeouts = 0
			c.reads++
		}
	case c.interrupted || c.aborted:
		err = errInterrupted
	case read && isTimeout(err):
		c.timeouts++
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *trackedConn) Read(b []byte) (int, error) {
	if !c.enter() {
		return 0, errInterrupted
	}
	n, err := c.Conn.Read(b)
	return n, c.leave(true, err)
}

func (c *trackedConn) Write(b []byte) (int, error) {
	if !c.enter() {
		return 0, errInterrupted
	}
	n, err := c.Conn.Write(b)
	return n, c.leave(false, err)
}

// interrupt makes the reads and writes in progress, and any new ones, fail
// at once until resume.
func (c *trackedConn) interrupt() {
	c.mu.Lock()
	c.interrupted = true
	c.mu.Unlock()
	_ = c.Conn.SetDeadline(time.Now())
}

// resume undoes interrupt (go-ipmi sets a fresh read deadline per read).
func (c *trackedConn) resume() {
	c.mu.Lock()
	c.interrupted = false
	c.mu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Time{})
}

// abort makes every read and write fail from now on.
func (c *trackedConn) abort() {
	c.mu.Lock()
	c.aborted = true
	c.mu.Unlock()
	_ = c.Conn.SetDeadline(time.Now())
}

// waitIdle waits until no read or write is in progress, or ctx ends.
func (c *trackedConn) waitIdle(ctx context.Context) bool {
	c.mu.Lock()
	idle := c.idle
	c.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	}
}

// resetStats starts a new operation's bookkeeping.
func (c *trackedConn) resetStats() {
	c.mu.Lock()
	c.timeouts = 0
	c.mu.Unlock()
}

// answers returns the number of reads the BMC answered since the socket
// was dialled (one socket per session).
func (c *trackedConn) answers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// timedOut reports whether the last reads ended by deadline without a
// later successful read: the BMC stopped answering.
func (c *trackedConn) timedOut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeouts > 0
}
