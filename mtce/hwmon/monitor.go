package hwmon

import (
	"container/heap"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
)

// Monitor is the hardware-monitor role: a sensor audit per provisioned
// host every Config.Interval. Create it with New, feed it hosts with Set
// and Remove (before or during Run), run it with Run and stop it with
// Close or by cancelling Run's context. Its methods are safe for
// concurrent use.
type Monitor struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	hosts   map[string]*hostState
	due     dueHeap
	ready   []*hostState // due, waiting for a slot (FIFO)
	running int          // audits in progress
	started bool         // Run was called
	exiting bool         // Run is stopping or stopped: no new audit, drivers closed by Run
	base    context.Context
	cancel  context.CancelFunc

	wake      chan struct{} // cap 1: the scheduler has something to look at
	closing   chan struct{}
	closeOnce sync.Once
	runDone   chan struct{} // closed when Run returns (or at Close without Run)
	runErr    error
	wg        sync.WaitGroup // audits and driver closers
	pending   []namedDriver  // drivers Run's exit must close
}

type namedDriver struct {
	host string
	d    bmc.Driver
}

// hostState is one host. Fields are guarded by Monitor.mu, except that
// while running is true the audit goroutine owns driver and cache.
type hostState struct {
	host     Host
	removed  bool
	running  bool
	queued   bool // in Monitor.ready
	schedGen uint64
	cancel   context.CancelFunc // of the running audit

	driver     bmc.Driver
	driverHost Host // the BMC fields driver was opened with
	cache      *records
	resetCache bool // UUID changed while an audit ran
	rerun      bool // BMC changed while an audit ran: audit again when it ends

	st Status
}

// dueEntry is a host's next tick; stale entries (gen != host.schedGen or
// host removed) are dropped when they surface.
type dueEntry struct {
	at  time.Time
	hs  *hostState
	gen uint64
}

type dueHeap []dueEntry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = dueEntry{}
	*h = old[:len(old)-1]
	return e
}

// New validates cfg and returns a Monitor. It starts no goroutine.
func New(cfg Config) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, cancel := context.WithCancel(context.Background())
	return &Monitor{
		cfg: cfg, log: log.With("component", "hwmon"),
		hosts: map[string]*hostState{},
		base:  base, cancel: cancel,
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		runDone: make(chan struct{}),
	}, nil
}

func (m *Monitor) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// scheduleNowLocked makes hs due at once (a new host, or a BMC change).
func (m *Monitor) scheduleNowLocked(hs *hostState) {
	hs.schedGen++
	heap.Push(&m.due, dueEntry{at: time.Now(), hs: hs, gen: hs.schedGen})
	m.kick()
}

// Set provisions h or updates it. A host whose BMC is provisioned is
// audited at once and then every Interval; a change of bm_ip, bm_username
// or bm_type cancels a running audit, closes the driver and re-opens it
// (with a fresh password) at an audit started at once; a changed UUID
// drops what the monitor knows of the host's SysInv records. A host whose
// BMC is not provisioned is kept but not audited, and its driver closed.
// A host without a name is ignored.
func (m *Monitor) Set(h Host) {
	if h.Name == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	hs := m.hosts[h.Name]
	if hs == nil {
		hs = &hostState{host: h, st: Status{Host: h.Name, Records: -1}}
		m.hosts[h.Name] = hs
		hs.st.Provisioned = h.BMCProvisioned()
		if hs.st.Provisioned {
			m.scheduleNowLocked(hs)
			m.log.Info("host provisioned", "host", h.Name, "bm_type", h.BMType.String(), "bm_ip", h.BMIP)
		}
		return
	}
	old := hs.host
	hs.host = h
	if old.UUID != h.UUID {
		if hs.running {
			hs.resetCache = true
		} else {
			hs.cache = nil
			hs.st.Records = -1
		}
	}
	was, now := old.BMCProvisioned(), h.BMCProvisioned()
	hs.st.Provisioned = now
	if was && now && sameBMC(old, h) {
		return
	}
	if !was && !now {
		return
	}
	m.log.Info("host BMC changed", "host", h.Name, "provisioned", now, "bm_type", h.BMType.String(), "bm_ip", h.BMIP)
	hs.schedGen++ // drop its tick
	if hs.running {
		hs.cancel() // the audit closes its stale driver when it ends
		hs.rerun = now
		return
	}
	m.closeDriverLocked(hs)
	if now {
		m.scheduleNowLocked(hs)
	}
}

// Remove stops the host's audits (cancelling a running one) and closes its
// driver (deprovision or delete). SysInv's sensor records are left alone:
// hwmond's delete handler does not delete them either (SysInv removes a
// deleted host's sensors itself). Unknown names are ignored.
func (m *Monitor) Remove(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hs := m.hosts[name]
	if hs == nil {
		return
	}
	delete(m.hosts, name)
	hs.removed = true
	hs.schedGen++
	if hs.running {
		hs.cancel()
	} else {
		m.closeDriverLocked(hs)
	}
	m.log.Info("host removed", "host", name)
}

// closeDriverLocked closes hs's driver, if any, on a tracked goroutine.
// When Run is exiting (or never ran) there is no driver: Run's exit closes
// every one it finds.
func (m *Monitor) closeDriverLocked(hs *hostState) {
	d := hs.driver
	if d == nil {
		return
	}
	hs.driver, hs.st.DriverOpen = nil, false
	name := hs.host.Name
	if m.exiting {
		// Run's exit is waiting for the audits; it closes these next.
		m.pending = append(m.pending, namedDriver{name, d})
		return
	}
	m.wg.Go(func() { m.closeDriver(name, d) })
}

func (m *Monitor) closeDriver(host string, d bmc.Driver) {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.CloseTimeout)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		m.log.Warn("BMC driver close failed", "host", host, "err", err)
	}
}

// Snapshot returns every host's status, ordered by name.
func (m *Monitor) Snapshot() []Status {
	m.mu.Lock()
	out := make([]Status, 0, len(m.hosts))
	for _, hs := range m.hosts {
		st := hs.st
		st.Running = hs.running
		out = append(out, st)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// Run audits the hosts until ctx ends or Close is called, then cancels the
// running audits, waits for them and closes every driver, each wait bounded
// by Config.CloseTimeout. It returns nil, ErrStuck when an audit or a
// driver Close outlived that bound, ErrClosed after Close, or ErrRunning
// if Run was called before. It runs one scheduler (the calling goroutine)
// and at most Config.Concurrency audit goroutines, plus short-lived driver
// closers, all joined before it returns.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	switch {
	case m.started:
		m.mu.Unlock()
		return ErrRunning
	case m.exiting:
		m.mu.Unlock()
		return ErrClosed
	}
	m.started = true
	m.mu.Unlock()
	defer close(m.runDone)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, ok := m.dispatch()
		if ok {
			timer.Reset(time.Until(next))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			m.runErr = m.exit()
			return m.runErr
		case <-m.closing:
			m.runErr = m.exit()
			return m.runErr
		case <-m.wake:
		case <-timer.C:
		}
	}
}

// dispatch moves due hosts to the ready FIFO, starts audits while slots
// are free and returns the next due time.
func (m *Monitor) dispatch() (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for m.due.Len() > 0 && !m.due[0].at.After(now) {
		e := heap.Pop(&m.due).(dueEntry)
		hs := e.hs
		if hs.removed || e.gen != hs.schedGen {
			continue
		}
		if hs.running || hs.queued {
			hs.st.Skipped++
			m.log.Warn("previous audit still running or waiting for a slot; tick skipped", "host", hs.host.Name)
		} else {
			hs.queued = true
			m.ready = append(m.ready, hs)
		}
		at := e.at.Add(m.cfg.Interval)
		for !at.After(now) {
			at = at.Add(m.cfg.Interval)
		}
		heap.Push(&m.due, dueEntry{at: at, hs: hs, gen: e.gen})
	}
	for m.running < m.cfg.Concurrency && len(m.ready) > 0 {
		hs := m.ready[0]
		m.ready[0] = nil
		m.ready = m.ready[1:]
		hs.queued = false
		if hs.removed || !hs.st.Provisioned {
			continue
		}
		m.startLocked(hs)
	}
	if len(m.ready) == 0 {
		m.ready = nil // let the backing array go
	}
	if m.due.Len() == 0 {
		return time.Time{}, false
	}
	return m.due[0].at, true
}

// startLocked starts hs's audit on a new goroutine.
func (m *Monitor) startLocked(hs *hostState) {
	actx, cancel := context.WithCancel(m.base)
	hs.running, hs.cancel = true, cancel
	if hs.resetCache {
		hs.cache, hs.resetCache = nil, false
	}
	in := auditInput{host: hs.host, driver: hs.driver, driverHost: hs.driverHost, cache: hs.cache}
	hs.driver = nil
	m.running++
	m.wg.Go(func() {
		defer cancel()
		out := m.audit(actx, in)
		m.finish(hs, in, out)
	})
}

// finish records an audit's result, keeps or closes its driver, frees the
// slot and tells the observer.
func (m *Monitor) finish(hs *hostState, in auditInput, out auditOutput) {
	m.mu.Lock()
	hs.running, hs.cancel = false, nil
	m.running--
	keep := out.driver != nil && !hs.removed && !m.exiting && hs.st.Provisioned && sameBMC(in.host, hs.host)
	var stale bmc.Driver
	if keep {
		hs.driver, hs.driverHost = out.driver, in.host
	} else {
		stale = out.driver
	}
	hs.st.DriverOpen = hs.driver != nil
	if hs.resetCache {
		hs.cache, hs.resetCache = nil, false
	} else {
		hs.cache = out.cache
	}
	hs.st.Records = -1
	if hs.cache != nil {
		hs.st.Records = len(hs.cache.sensors)
	}
	a := out.audit
	hs.st.LastAudit, hs.st.LastDuration, hs.st.LastOutcome, hs.st.LastErr = a.Start, a.Duration, a.Outcome, a.Err
	if out.reachedBMC {
		hs.st.Sensors = a.Read
	}
	if hs.rerun {
		hs.rerun = false
		if !hs.removed && hs.st.Provisioned && !m.exiting {
			m.scheduleNowLocked(hs)
		}
	}
	hs.st.Audits++
	if a.Outcome != OutcomeOK && a.Outcome != OutcomePartial {
		hs.st.Failures++
	}
	m.kick()
	m.mu.Unlock()

	if stale != nil {
		m.closeDriver(in.host.Name, stale)
	}
	lvl := slog.LevelDebug
	if a.Outcome != OutcomeOK {
		lvl = slog.LevelWarn
	}
	m.log.Log(context.Background(), lvl, "sensor audit done", "host", a.Host, "outcome", a.Outcome.String(),
		"read", a.Read, "changed", a.Changed, "duration", a.Duration, "err", a.Err)
	if m.cfg.Observer != nil {
		m.cfg.Observer(a)
	}
}

// exit stops the audits and closes every driver; bounded by CloseTimeout
// for the audits and by CloseTimeout per driver Close (closed in parallel).
func (m *Monitor) exit() error {
	m.mu.Lock()
	m.exiting = true
	m.cancel()
	m.ready = nil
	m.mu.Unlock()

	err := waitBounded(&m.wg, m.cfg.CloseTimeout)

	m.mu.Lock()
	drivers := m.pending
	m.pending = nil
	for _, hs := range m.hosts {
		if hs.driver != nil {
			drivers = append(drivers, namedDriver{hs.host.Name, hs.driver})
			hs.driver, hs.st.DriverOpen = nil, false
		}
	}
	m.mu.Unlock()
	var closers sync.WaitGroup
	for _, nd := range drivers {
		closers.Go(func() { m.closeDriver(nd.host, nd.d) })
	}
	if e := waitBounded(&closers, m.cfg.CloseTimeout+time.Second); e != nil && err == nil {
		err = e
	}
	return err
}

// waitBounded waits for wg at most d; on timeout the helper goroutine
// stays until wg is done (the stuck goroutines' own lifetime).
func waitBounded(wg *sync.WaitGroup, d time.Duration) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return ErrStuck
	}
}

// Close stops the monitor: it makes Run return (see Run for what that
// does) and waits for it. It returns within Config.CloseTimeout (audits)
// plus Config.CloseTimeout + 1 s (driver closes) after Run notices,
// whatever the drivers do; without a Run it returns at once. Idempotent:
// later calls return the first call's result.
func (m *Monitor) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		started := m.started
		if !started {
			m.exiting = true
			m.cancel()
		}
		m.mu.Unlock()
		close(m.closing)
		if !started {
			close(m.runDone)
		}
	})
	<-m.runDone
	if m.runErr == nil {
		return nil
	}
	return m.runErr
}
