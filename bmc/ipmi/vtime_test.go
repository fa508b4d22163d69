package ipmi_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/ipmi"
)

// newBlackhole returns an in-memory UDP "BMC" that swallows every datagram
// and never answers: a hung BMC. Its reads honour deadlines with timers, so
// inside a synctest bubble they run on the virtual clock.
func newBlackhole() *memConn {
	return &memConn{port: 40000, in: make(chan []byte), changed: make(chan struct{}), closed: make(chan struct{})}
}

func hungDriver(t *testing.T, mutate func(*ipmi.Config)) (*ipmi.Driver, *[]*memConn) {
	t.Helper()
	var mu sync.Mutex
	var conns []*memConn
	cfg := ipmi.DefaultConfig()
	cfg.Host = "192.0.2.1"
	cfg.Username = "admin"
	cfg.Password = bmc.NewPassword("secret")
	cfg.Dial = func(context.Context, string, string) (net.Conn, error) {
		b := newBlackhole()
		mu.Lock()
		conns = append(conns, b)
		mu.Unlock()
		return b, nil
	}
	if mutate != nil {
		mutate(&cfg)
	}
	d, err := ipmi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d, &conns
}

func assertNoReads(t *testing.T, conns []*memConn) {
	t.Helper()
	if len(conns) == 0 {
		t.Fatal("the driver never dialled")
	}
	for i, c := range conns {
		if n := c.activeReads(); n != 0 {
			t.Errorf("socket %d still has %d reads in progress after the call returned", i, n)
		}
	}
}

// A BMC that never answers fails after exactly (Retries+1) × Timeout, with
// ErrTimeout, and no go-ipmi goroutine is left reading.
func TestHungBMCVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, conns := hungDriver(t, func(c *ipmi.Config) { c.Timeout = time.Second; c.Retries = 1 })
		defer d.Close(context.Background())
		start := time.Now()
		err := d.Open(context.Background())
		if !errors.Is(err, bmc.ErrTimeout) {
			t.Fatalf("Open on a hung BMC = %v, want ErrTimeout", err)
		}
		if el := time.Since(start); el != 2*time.Second {
			t.Errorf("failed after %s, want 2 × 1s", el)
		}
		assertNoReads(t, *conns)
		synctest.Wait()
	})
}

// Cancelling the caller's context ends the call at once, although go-ipmi
// alone would keep its exchange goroutine reading until the 10 s deadline.
func TestCancelVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, conns := hungDriver(t, func(c *ipmi.Config) { c.Timeout = 10 * time.Second })
		defer d.Close(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		err := d.Open(ctx)
		if !errors.Is(err, context.Canceled) || errors.Is(err, bmc.ErrTimeout) {
			t.Fatalf("cancelled Open = %v, want context.Canceled", err)
		}
		if el := time.Since(start); el != 300*time.Millisecond {
			t.Errorf("returned after %s, want 300ms", el)
		}
		assertNoReads(t, *conns)
	})
}

// CallTimeout bounds a call whatever the retry budget.
func TestCallTimeoutVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, conns := hungDriver(t, func(c *ipmi.Config) {
			c.Timeout = time.Second
			c.Retries = 100
			c.CallTimeout = 3500 * time.Millisecond
		})
		defer d.Close(context.Background())
		start := time.Now()
		err := d.Open(context.Background())
		if !errors.Is(err, bmc.ErrTimeout) || errors.Is(err, context.Canceled) {
			t.Fatalf("Open = %v, want ErrTimeout", err)
		}
		if el := time.Since(start); el != 3500*time.Millisecond {
			t.Errorf("returned after %s, want CallTimeout 3.5s", el)
		}
		assertNoReads(t, *conns)
	})
}

// A caller deadline shorter than the BMC timeouts is the caller's
// DeadlineExceeded, not the driver's ErrTimeout.
func TestCallerDeadlineVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, conns := hungDriver(t, func(c *ipmi.Config) { c.Timeout = 5 * time.Second })
		defer d.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := d.Open(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, bmc.ErrTimeout) {
			t.Fatalf("Open = %v, want the caller's DeadlineExceeded", err)
		}
		if el := time.Since(start); el != 1200*time.Millisecond {
			t.Errorf("returned after %s", el)
		}
		assertNoReads(t, *conns)
	})
}

func TestNotOpenAndClosed(t *testing.T) {
	d, _ := hungDriver(t, nil)
	if _, err := d.PowerStateGet(t.Context()); !errors.Is(err, bmc.ErrNotOpen) {
		t.Errorf("before Open: %v", err)
	}
	if d.Capabilities() != 0 {
		t.Errorf("capabilities before Open")
	}
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := d.Open(t.Context()); !errors.Is(err, bmc.ErrClosed) {
		t.Errorf("Open after Close: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	base := ipmi.DefaultConfig()
	base.Host, base.Username = "10.0.0.1", "root"
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		mod   func(*ipmi.Config)
	}{
		{"Host", func(c *ipmi.Config) { c.Host = "" }},
		{"Port", func(c *ipmi.Config) { c.Port = 70000 }},
		{"Username", func(c *ipmi.Config) { c.Username = "" }},
		{"Password", func(c *ipmi.Config) { c.Password = bmc.NewPassword("012345678901234567890") }},
		{"CipherSuite", func(c *ipmi.Config) { c.CipherSuite = 20 }},
		{"Retries", func(c *ipmi.Config) { c.Retries = -1 }},
		{"Session", func(c *ipmi.Config) { c.Session = "forever" }},
	} {
		cfg := base
		tc.mod(&cfg)
		var ce *bmc.ConfigError
		if err := cfg.Validate(); !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("bad %s: %v", tc.field, err)
		}
		if _, err := ipmi.New(cfg); !errors.Is(err, bmc.ErrInvalidConfig) {
			t.Errorf("New with bad %s: %v", tc.field, err)
		}
	}
}
