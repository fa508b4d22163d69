package agenttest

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// DefaultSendersBase is the first source address of AliveSenders.
var DefaultSendersBase = netip.AddrFrom4([4]byte{127, 1, 0, 1})

// SendersConfig configures AliveSenders.
type SendersConfig struct {
	// N is the number of simulated hosts, each with its own socket bound
	// to its own loopback address; required (> 0).
	N int
	// Agent is where mtcAlive goes (the agent's management receive
	// address); required.
	Agent netip.AddrPort
	// Base is the first source address (default 127.1.0.1); the others
	// follow it, skipping addresses ending in .0 and .255. All must lie in
	// 127.0.0.0/8, which Linux routes to the loopback interface.
	Base netip.Addr
	// Port is the source port of every sender (0: an ephemeral port each).
	Port uint16
	// Period is the time between one host's messages (default 5 s);
	// Jitter bounds how far each send moves from its slot (default
	// Period/10; negative: none). Senders start spread evenly over one
	// period.
	Period, Jitter time.Duration
	// NamePrefix names the hosts NamePrefix+index (default "worker-").
	NamePrefix string
	// Personality is the identity's personality text (default "worker").
	Personality string
	// Flags go in every message (default configured, healthy, goenabled).
	Flags wire.AliveFlags
	// Workers is the number of sending goroutines (default min(N, 4)).
	Workers int
	// Seed seeds the jitter, so runs can be repeated.
	Seed uint64
}

// Validate reports the first unusable field, naming it.
func (c SendersConfig) Validate() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: SendersConfig.%s", ErrInvalidConfig, fmt.Sprintf(f, a...))
	}
	switch {
	case c.N <= 0:
		return bad("N must be positive (%d)", c.N)
	case !c.Agent.IsValid():
		return bad("Agent is not a valid address")
	case c.Base.IsValid() && !netip.MustParsePrefix("127.0.0.0/8").Contains(c.Base):
		return bad("Base %v is not in 127.0.0.0/8", c.Base)
	case c.Period < 0:
		return bad("Period is negative")
	case c.Workers < 0:
		return bad("Workers is negative")
	}
	return nil
}

// SenderHost is one simulated host of AliveSenders.
type SenderHost struct {
	Name string
	Addr netip.Addr // its source address (and mgmt IP)
	MAC  string
}

// SendersStats are the load generator's counters.
type SendersStats struct {
	Sent   uint64 // datagrams sent
	Errors uint64 // failed sends
}

// Senders is a running mtcAlive load generator over real UDP.
type Senders struct {
	hosts  []SenderHost
	conns  []*net.UDPConn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	sent   atomic.Uint64
	errs   atomic.Uint64
}

// SenderAddrs returns n source addresses from base (the zero Addr: the
// default base) as AliveSenders allocates them: consecutive IPv4
// addresses in 127.0.0.0/8, skipping those ending in .0 and .255.
func SenderAddrs(base netip.Addr, n int) ([]netip.Addr, error) {
	if !base.IsValid() {
		base = DefaultSendersBase
	}
	lo := netip.MustParsePrefix("127.0.0.0/8")
	out := make([]netip.Addr, 0, n)
	for a := base; len(out) < n; a = a.Next() {
		if !lo.Contains(a) {
			return nil, fmt.Errorf("%w: %d sender addresses from %v leave 127.0.0.0/8", ErrInvalidConfig, n, base)
		}
		if b := a.As4(); b[3] == 0 || b[3] == 255 {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// AliveSenders binds cfg.N UDP sockets, one per loopback source address,
// and starts sending each host's mtcAlive (spec K.2) to cfg.Agent every
// Period until ctx ends or Close. It raises the soft RLIMIT_NOFILE when
// N sockets need it, and fails if the hard limit is too low.
func AliveSenders(ctx context.Context, cfg SendersConfig) (*Senders, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Period == 0 {
		cfg.Period = DefaultAlivePeriod
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = cfg.Period / 10
	}
	if cfg.Jitter < 0 {
		cfg.Jitter = 0
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "worker-"
	}
	if cfg.Personality == "" {
		cfg.Personality = "worker"
	}
	if cfg.Flags == 0 {
		cfg.Flags = wire.FlagConfigured | wire.FlagHealthy | wire.FlagMainGoEnabled
	}
	if cfg.Workers == 0 {
		cfg.Workers = min(cfg.N, 4)
	}
	addrs, err := SenderAddrs(cfg.Base, cfg.N)
	if err != nil {
		return nil, err
	}
	if err := raiseNoFile(uint64(cfg.N) + 256); err != nil {
		return nil, err
	}
	s := &Senders{}
	for i, a := range addrs {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, cfg.Port)))
		if err != nil {
			s.closeConns()
			return nil, fmt.Errorf("agenttest: binding sender %d to %v: %w", i, a, err)
		}
		s.conns = append(s.conns, c)
		s.hosts = append(s.hosts, SenderHost{
			Name: fmt.Sprintf("%s%d", cfg.NamePrefix, i),
			Addr: a,
			MAC:  fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", byte(i>>24), byte(i>>16), byte(i>>8), byte(i)),
		})
	}
	ctx, s.cancel = context.WithCancel(ctx)
	start := time.Now()
	for w := range cfg.Workers {
		var q slotHeap
		for i := w; i < cfg.N; i += cfg.Workers {
			q = append(q, slot{at: start.Add(cfg.Period * time.Duration(i) / time.Duration(cfg.N)), i: i})
		}
		heap.Init(&q)
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
		s.wg.Go(func() { s.work(ctx, cfg, q, rng, start) })
	}
	return s, nil
}

type slot struct {
	at  time.Time
	i   int
	seq uint32
}

type slotHeap []slot

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)        { *h = append(*h, x.(slot)) }
func (h *slotHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (s *Senders) work(ctx context.Context, cfg SendersConfig, q slotHeap, rng *rand.Rand, start time.Time) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	buf := make([]byte, 0, wire.MaxSize)
	to := net.UDPAddrFromAddrPort(cfg.Agent)
	for len(q) > 0 {
		next := q[0]
		timer.Reset(time.Until(next.at))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		heap.Pop(&q)
		h := s.hosts[next.i]
		next.seq++
		m, err := wire.NewMtcAlive(wire.Alive{
			Uptime:   uint32(3600 + next.i + int(time.Since(start)/time.Second)),
			Health:   wire.HealthHealthy,
			Flags:    cfg.Flags,
			Sequence: next.seq,
			Identity: wire.Identity{
				Hostname: h.Name, Personality: cfg.Personality, MgmtIP: h.Addr.String(),
				MgmtMAC: h.MAC, Interface: mtce.NetworkMgmt, Sequence: next.seq,
			},
		})
		if err == nil {
			buf, err = m.AppendBinary(buf[:0])
		}
		if err == nil {
			_, err = s.conns[next.i].WriteToUDP(buf, to)
		}
		if err != nil {
			s.errs.Add(1)
		} else {
			s.sent.Add(1)
		}
		var j time.Duration
		if cfg.Jitter > 0 {
			j = time.Duration(rng.Int64N(int64(2*cfg.Jitter+1))) - cfg.Jitter
		}
		next.at = next.at.Add(cfg.Period + j)
		heap.Push(&q, next)
	}
}

// Hosts returns the simulated hosts, in index order.
func (s *Senders) Hosts() []SenderHost { return append([]SenderHost(nil), s.hosts...) }

// Stats returns the counters.
func (s *Senders) Stats() SendersStats {
	return SendersStats{Sent: s.sent.Load(), Errors: s.errs.Load()}
}

// Close stops the senders, waits for their goroutines and closes their
// sockets. It is idempotent.
func (s *Senders) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.closeConns()
	})
	return nil
}

func (s *Senders) closeConns() {
	for _, c := range s.conns {
		_ = c.Close() // a loopback UDP socket's close has nothing to report
	}
}
