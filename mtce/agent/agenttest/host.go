package agenttest

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// Defaults of HostConfig's durations (a zero field takes its default).
const (
	DefaultAlivePeriod   = 5 * time.Second  // MTC_ALIVE_TIMER
	DefaultFirstAlive    = 1 * time.Second  // the first mtcAlive after the client starts
	DefaultBootTime      = 60 * time.Second // power-on (or reboot) to mtcClient start
	DefaultConfigTime    = 30 * time.Second // client start to configured
	DefaultGoEnabledTime = 10 * time.Second // configured to goenabled
	DefaultServicesTime  = 10 * time.Second // one host-services script set
	DefaultLogLimit      = 1024             // entries kept in each of a host's logs
)

// HostConfig describes one simulated host and its mtcClient.
type HostConfig struct {
	Name        string           // hostname (required)
	Personality mtce.Personality // required
	// Subfunctions are platform.conf's subfunction functions; zero means
	// Personality's function alone. An AIO controller is
	// FunctionController|FunctionWorker. The mtcAlive identity's
	// "personality" is their text ("controller,worker").
	Subfunctions mtce.NodeFunctions
	// Mgmt is the client's management address (its mtc_rx_mgmnt_port,
	// 2118 in StarlingX); required. The host sends from it.
	Mgmt netip.AddrPort
	// Cluster is the client's cluster-host address (port 2115); zero
	// means the host has no cluster-host network.
	Cluster netip.AddrPort
	// MAC is the management MAC, lower-case "aa:bb:cc:dd:ee:ff": addressed
	// commands carrying another MAC are dropped silently (spec K.8).
	MAC string
	// AgentMgmt is where mtcAlive, ACKs and results go on the management
	// network (the floating controller address, port 2101); required.
	AgentMgmt netip.AddrPort
	// AgentCluster is where the cluster-host mtcAlive and ACKs go (zero:
	// none are sent on that network).
	AgentCluster netip.AddrPort

	AlivePeriod   time.Duration // between mtcAlive messages; default 5 s
	BootTime      time.Duration // silent time of a boot; default 60 s
	ConfigTime    time.Duration // client start to configured; default 30 s
	GoEnabledTime time.Duration // configured to goenabled; default 10 s
	ServicesTime  time.Duration // each host-services script set; default 10 s

	// Running makes the host already up when Run starts: configured,
	// goenabled, its services started unless Locked, Uptime old. Otherwise
	// Run powers it on and it boots.
	Running bool
	Uptime  time.Duration
	// Locked starts the host with its persistent node-locked file
	// (/var/persist/mtc/.node_locked), so it comes up locked and does not
	// auto-start host services.
	Locked bool

	// Failure injection; each can also be changed at run time.
	FailServices int  // the next N host-services starts fail (< 0: all)
	NoAck        bool // answer no command at all (no ACK, no result)
	NoResult     bool // ACK host-services commands but never send a result (empty script directory, spec K.4)
	ConfigHang   bool // after a boot, configuration never completes (never goenabled)

	LogLimit int          // entries kept in the Received and Sent logs; default 1024
	Logger   *slog.Logger // nil: silent
}

// Validate reports the first unusable field, naming it.
func (c HostConfig) Validate() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: HostConfig.%s", ErrInvalidConfig, fmt.Sprintf(f, a...))
	}
	switch {
	case c.Name == "":
		return bad("Name is empty")
	case c.Personality == mtce.PersonalityNone:
		return bad("Personality is none")
	case !c.Mgmt.IsValid():
		return bad("Mgmt is not a valid address")
	case !c.AgentMgmt.IsValid():
		return bad("AgentMgmt is not a valid address")
	case c.AlivePeriod < 0 || c.BootTime < 0 || c.ConfigTime < 0 || c.GoEnabledTime < 0 || c.ServicesTime < 0 || c.Uptime < 0:
		return bad("durations must not be negative")
	case c.Cluster.IsValid() && c.Cluster == c.Mgmt:
		return bad("Cluster equals Mgmt (%v)", c.Mgmt)
	}
	return nil
}

func (c HostConfig) withDefaults() HostConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AlivePeriod, DefaultAlivePeriod)
	def(&c.BootTime, DefaultBootTime)
	def(&c.ConfigTime, DefaultConfigTime)
	def(&c.GoEnabledTime, DefaultGoEnabledTime)
	def(&c.ServicesTime, DefaultServicesTime)
	if c.Subfunctions == 0 {
		c.Subfunctions = c.Personality.Function()
	}
	if c.LogLimit <= 0 {
		c.LogLimit = DefaultLogLimit
	}
	c.MAC = strings.ToLower(c.MAC)
	return c
}

// Power is a simulated host's power and boot state.
type Power uint8

// Power states.
const (
	PowerDown    Power = iota + 1 // crashed or off: silent until PowerOn
	PowerBooting                  // booting: silent until mtcClient starts
	PowerUp                       // mtcClient running
)

// String returns "down", "booting" or "up".
func (p Power) String() string {
	switch p {
	case PowerDown:
		return "down"
	case PowerBooting:
		return "booting"
	case PowerUp:
		return "up"
	}
	return fmt.Sprintf("Power(%d)", uint8(p))
}

// HostState is a snapshot of a simulated host.
type HostState struct {
	Power  Power
	Uptime time.Duration // since the last boot started (zero unless up)
	// Boots counts client starts after Run (the first boot included,
	// a Running start not).
	Boots int
	// Flags and Health are what the next mtcAlive carries.
	Flags  wire.AliveFlags
	Health wire.Health
	// Locked is /var/run/.node_locked, LockPersist its persistent copy.
	Locked, LockPersist bool
	// ServicesStarted are the functions whose host services last ran a
	// successful start and no stop since; ServicesFailed those whose last
	// start failed.
	ServicesStarted, ServicesFailed mtce.NodeFunctions
	// Running is the host-services command whose scripts are running
	// (CmdNone if none).
	Running wire.Command
	// AliveSent counts mtcAlive messages sent, on every network.
	AliveSent uint64
}

// Outcome says what a host did with a received datagram.
type Outcome uint8

// Outcomes.
const (
	Accepted    Outcome = iota + 1 // acted on (ACKed or not, as the command says)
	DroppedMAC                     // addressed to another MAC: silent drop (spec K.8)
	DroppedDown                    // the host was not up
	Ignored                        // not a command (another signature, a JSON datagram)
)

// String returns the outcome's short name.
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case DroppedMAC:
		return "dropped-mac"
	case DroppedDown:
		return "dropped-down"
	case Ignored:
		return "ignored"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Received is one datagram a host received.
type Received struct {
	At      time.Time
	Network mtce.Network
	From    netip.AddrPort
	Message wire.Message // zero for a JSON datagram
	Outcome Outcome
}

// Sent is one message a host sent other than mtcAlive (ACKs and results).
type Sent struct {
	At      time.Time
	Network mtce.Network
	To      netip.AddrPort
	Message wire.Message
}

type eventKind uint8

const (
	evClientStart eventKind = iota + 1
	evConfigured
	evGoEnabled
	evScriptsDone
	evLazyReboot
)

type event struct {
	at   time.Time
	kind eventKind
}

// Host is a simulated host with a fake mtcClient on a Network. Make it
// with Network.AddHost, drive it with Run, stop it with Close. Its
// methods are safe for concurrent use.
type Host struct {
	cfg  HostConfig
	net  *Network
	rx   *receiver
	log  *slog.Logger
	kick chan struct{}

	closeOnce sync.Once
	closed    chan struct{}
	done      chan struct{} // closed when Run returns
	runOnce   sync.Once

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change
	power     Power
	bootStart time.Time
	boots     int
	events    []event
	nextAlive time.Time
	seq       map[mtce.Network]uint32

	configured, goenabled bool
	locked, lockPersist   bool
	injected              wire.AliveFlags

	needsStart   bool               // E.3: set at client start unless locked
	startWanted  mtce.NodeFunctions // start booleans
	stopsPosted  []wire.Command     // posted stop script sets, de-duplicated
	active       wire.Command
	lastStart    wire.Command
	started      mtce.NodeFunctions
	failed       mtce.NodeFunctions
	failServices int
	noAck        bool
	noResult     bool
	configHang   bool
	aliveSent    uint64
	receivedLog  []Received
	sentLog      []Sent
}

// AddHost attaches a simulated host's addresses to the network. Call Run
// to start it.
func (n *Network) AddHost(cfg HostConfig) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &Host{
		cfg:          cfg,
		net:          n,
		rx:           newReceiver(n.queueLen),
		log:          cfg.Logger,
		kick:         make(chan struct{}, 1),
		closed:       make(chan struct{}),
		done:         make(chan struct{}),
		changed:      make(chan struct{}),
		power:        PowerDown,
		seq:          map[mtce.Network]uint32{},
		locked:       cfg.Locked,
		lockPersist:  cfg.Locked,
		failServices: cfg.FailServices,
		noAck:        cfg.NoAck,
		noResult:     cfg.NoResult,
		configHang:   cfg.ConfigHang,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("host", cfg.Name)
	addrs := map[mtce.Network]netip.AddrPort{mtce.NetworkMgmt: cfg.Mgmt}
	if cfg.Cluster.IsValid() {
		addrs[mtce.NetworkClusterHost] = cfg.Cluster
	}
	if err := n.attach(h.rx, addrs); err != nil {
		return nil, err
	}
	return h, nil
}

// Name returns the host's name.
func (h *Host) Name() string { return h.cfg.Name }

// Config returns the host's configuration with defaults filled in.
func (h *Host) Config() HostConfig { return h.cfg }

// Run runs the host until ctx ends or Close is called, and returns nil
// then. It starts no other goroutine. A second call returns at once.
func (h *Host) Run(ctx context.Context) error {
	first := false
	h.runOnce.Do(func() { first = true })
	if !first {
		return nil
	}
	defer close(h.done)
	select {
	case <-h.closed:
		return nil
	default:
	}
	h.mu.Lock()
	now := time.Now()
	if h.cfg.Running {
		h.clientStart(now, now.Add(-h.cfg.Uptime))
		h.configured, h.goenabled = true, true
		h.needsStart = false
		if !h.locked {
			h.started = h.autoStartFunctions()
			h.lastStart = h.lastAutoStartCommand()
		}
	} else {
		h.powerOn(now)
	}
	h.mu.Unlock()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		h.mu.Lock()
		next := h.step(time.Now())
		h.notify()
		h.mu.Unlock()
		var tc <-chan time.Time
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.closed:
			return nil
		case p := <-h.rx.q:
			h.mu.Lock()
			h.handle(p, time.Now())
			h.mu.Unlock()
		case <-h.kick:
		case <-tc:
		}
	}
}

// Close detaches the host from the network and stops Run, waiting for it
// if it is running. It is idempotent.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		close(h.closed)
		h.rx.close()
		h.net.detach(h.rx)
		h.runOnce.Do(func() { close(h.done) }) // Run never called: nothing to wait for
	})
	<-h.done
	return nil
}

// wake makes Run re-evaluate its schedule after an API call.
func (h *Host) wake() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// notify wakes WaitState callers. Called with h.mu held.
func (h *Host) notify() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// Reboot reboots the host spontaneously (a kernel panic with reboot, a
// watchdog, someone at the console): it goes silent at once, boots for
// BootTime and comes back with its uptime reset.
func (h *Host) Reboot() {
	h.mu.Lock()
	h.goDown(time.Now(), true)
	h.notify()
	h.mu.Unlock()
	h.wake()
}

// Crash stops the host: it goes silent and stays down until PowerOn.
func (h *Host) Crash() {
	h.mu.Lock()
	h.goDown(time.Now(), false)
	h.notify()
	h.mu.Unlock()
	h.wake()
}

// PowerOn boots a host that is down (as a BMC power-on or reset would);
// it does nothing to a host that is booting or up.
func (h *Host) PowerOn() {
	h.mu.Lock()
	if h.power == PowerDown {
		h.powerOn(time.Now())
		h.notify()
	}
	h.mu.Unlock()
	h.wake()
}

// SetFlags sets and then clears mtcAlive flags on top of those the host
// computes (a services-failure flag, SM degraded, ...). Injected flags
// last until the next client start.
func (h *Host) SetFlags(set, clear wire.AliveFlags) {
	h.mu.Lock()
	h.injected = (h.injected | set) &^ clear
	h.notify()
	h.mu.Unlock()
}

// FailServices makes the next n host-services starts fail (n < 0: all;
// 0: none).
func (h *Host) FailServices(n int) {
	h.mu.Lock()
	h.failServices = n
	h.mu.Unlock()
}

// SetNoAck makes the host answer no command (true) or answer again.
func (h *Host) SetNoAck(v bool) {
	h.mu.Lock()
	h.noAck = v
	h.mu.Unlock()
}

// SetNoResult makes the host send no host-services result (true).
func (h *Host) SetNoResult(v bool) {
	h.mu.Lock()
	h.noResult = v
	h.mu.Unlock()
}

// SetConfigHang makes configuration never complete after later boots.
func (h *Host) SetConfigHang(v bool) {
	h.mu.Lock()
	h.configHang = v
	h.mu.Unlock()
}

// State returns a snapshot of the host.
func (h *Host) State() HostState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stateLocked(time.Now())
}

func (h *Host) stateLocked(now time.Time) HostState {
	s := HostState{
		Power:           h.power,
		Boots:           h.boots,
		Flags:           h.flags(),
		Health:          h.health(),
		Locked:          h.locked,
		LockPersist:     h.lockPersist,
		ServicesStarted: h.started,
		ServicesFailed:  h.failed,
		Running:         h.active,
		AliveSent:       h.aliveSent,
	}
	if h.power == PowerUp {
		s.Uptime = now.Sub(h.bootStart)
	}
	return s
}

// WaitState waits until cond holds for the host's state and returns that
// state, or ctx's error. cond runs with the host's lock held: it must
// not call the host.
func (h *Host) WaitState(ctx context.Context, cond func(HostState) bool) (HostState, error) {
	for {
		h.mu.Lock()
		s := h.stateLocked(time.Now())
		ch := h.changed
		ok := cond(s)
		h.mu.Unlock()
		if ok {
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s, ctx.Err()
		}
	}
}

// Received returns the datagrams the host received, oldest first (at
// most LogLimit of the latest).
func (h *Host) Received() []Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.receivedLog)
}

// Commands returns the commands the host accepted, oldest first: the
// Received entries with Outcome Accepted.
func (h *Host) Commands() []Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Received
	for _, r := range h.receivedLog {
		if r.Outcome == Accepted {
			out = append(out, r)
		}
	}
	return out
}

// Sent returns the ACKs and results the host sent, oldest first (at most
// LogLimit of the latest).
func (h *Host) Sent() []Sent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sentLog)
}

// --- the client, run with h.mu held -----------------------------------

func (h *Host) aio() bool {
	return h.cfg.Subfunctions.Has(mtce.FunctionController | mtce.FunctionWorker)
}

// mainFunction is the node's function: controller, else worker, else storage.
func (h *Host) mainFunction() mtce.NodeFunctions {
	for _, f := range []mtce.NodeFunctions{mtce.FunctionController, mtce.FunctionWorker, mtce.FunctionStorage} {
		if h.cfg.Subfunctions.Has(f) {
			return f
		}
	}
	return 0
}

// autoStartFunctions are what the client starts after a boot (spec E.3):
// the main function, and on an AIO controller the worker too.
func (h *Host) autoStartFunctions() mtce.NodeFunctions {
	f := h.mainFunction()
	if h.aio() {
		f |= mtce.FunctionWorker
	}
	return f
}

func (h *Host) lastAutoStartCommand() wire.Command {
	fn := h.mainFunction()
	if h.aio() {
		fn = mtce.FunctionWorker
	}
	c, err := wire.HostServicesCommand(fn, true)
	if err != nil {
		return wire.CmdNone
	}
	return c
}

func (h *Host) flags() wire.AliveFlags {
	var f wire.AliveFlags
	if h.power != PowerUp {
		return 0
	}
	aio := h.aio()
	if h.configured {
		f |= wire.FlagConfigured | wire.FlagHealthy
		if aio {
			f |= wire.FlagSubfConfigured
		}
	}
	if h.locked {
		f |= wire.FlagLocked
	}
	if h.goenabled {
		f |= wire.FlagMainGoEnabled
		if aio {
			f |= wire.FlagSubfGoEnabled
		}
	}
	if h.failed.Has(h.mainFunction()) && h.mainFunction() != 0 {
		f |= wire.FlagMainServicesFail
	}
	if aio && h.failed.Has(mtce.FunctionWorker) {
		f |= wire.FlagSubfServicesFail
	}
	return f | h.injected
}

func (h *Host) health() wire.Health {
	if h.power == PowerUp && h.configured {
		return wire.HealthHealthy
	}
	return wire.HealthUnknown
}

func (h *Host) schedule(at time.Time, k eventKind) {
	h.events = append(h.events, event{at: at, kind: k})
}

// powerOn starts a boot: silent for BootTime, then the client starts.
func (h *Host) powerOn(now time.Time) {
	h.power = PowerBooting
	h.bootStart = now
	h.events = nil
	h.schedule(now.Add(h.cfg.BootTime), evClientStart)
}

// goDown stops everything the running host was doing; with reboot it
// boots again.
func (h *Host) goDown(now time.Time, reboot bool) {
	h.power = PowerDown
	h.events = nil
	h.configured, h.goenabled = false, false
	h.active, h.stopsPosted, h.startWanted = wire.CmdNone, nil, 0
	h.started, h.failed = 0, 0
	h.injected = 0
	h.locked = h.lockPersist // /var/run is gone; the persistent file stays
	if reboot {
		h.powerOn(now)
	}
}

// clientStart is mtcClient starting after a boot that began at bootStart.
func (h *Host) clientStart(now, bootStart time.Time) {
	h.power = PowerUp
	h.bootStart = bootStart
	h.locked = h.lockPersist
	h.seq = map[mtce.Network]uint32{}
	h.needsStart = !h.locked
	h.nextAlive = now.Add(DefaultFirstAlive)
}

// step runs every due event and sends due mtcAlives; it returns the next
// deadline (zero: none).
func (h *Host) step(now time.Time) time.Time {
	for {
		i := -1
		for j, e := range h.events {
			if !e.at.After(now) && (i < 0 || e.at.Before(h.events[i].at)) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		e := h.events[i]
		h.events = slices.Delete(h.events, i, i+1)
		h.run(e, now)
	}
	if h.power == PowerUp && !h.nextAlive.After(now) {
		h.sendAlive()
		for !h.nextAlive.After(now) {
			h.nextAlive = h.nextAlive.Add(h.cfg.AlivePeriod)
		}
	}
	var next time.Time
	for _, e := range h.events {
		if next.IsZero() || e.at.Before(next) {
			next = e.at
		}
	}
	if h.power == PowerUp && (next.IsZero() || h.nextAlive.Before(next)) {
		next = h.nextAlive
	}
	return next
}

func (h *Host) run(e event, now time.Time) {
	switch e.kind {
	case evClientStart:
		h.boots++
		h.clientStart(now, h.bootStart)
		h.log.Debug("client started", "uptime", now.Sub(h.bootStart), "locked", h.locked)
		if !h.configHang {
			h.schedule(now.Add(h.cfg.ConfigTime), evConfigured)
		}
	case evConfigured:
		h.configured = true
		h.schedule(now.Add(h.cfg.GoEnabledTime), evGoEnabled)
	case evGoEnabled:
		h.goenabled = true
		if h.needsStart {
			h.needsStart = false
			h.startWanted |= h.autoStartFunctions()
		}
		h.runScripts(now)
	case evScriptsDone:
		h.scriptsDone(now)
	case evLazyReboot:
		h.goDown(now, true)
	}
}

// runScripts posts the next script set when none is active (spec E.3,
// E.4): posted stops first, then starts in the order controller, worker,
// storage.
func (h *Host) runScripts(now time.Time) {
	if h.active != wire.CmdNone || h.power != PowerUp {
		return
	}
	switch {
	case len(h.stopsPosted) > 0:
		h.active = h.stopsPosted[0]
		h.stopsPosted = h.stopsPosted[1:]
	default:
		for _, fn := range []mtce.NodeFunctions{mtce.FunctionController, mtce.FunctionWorker, mtce.FunctionStorage} {
			if h.startWanted.Has(fn) {
				h.startWanted &^= fn
				h.active, _ = wire.HostServicesCommand(fn, true)
				h.lastStart = h.active
				break
			}
		}
	}
	if h.active != wire.CmdNone {
		h.schedule(now.Add(h.cfg.ServicesTime), evScriptsDone)
	}
}

func (h *Host) scriptsDone(now time.Time) {
	cmd := h.active
	h.active = wire.CmdNone
	fn, start, _ := cmd.HostServices()
	r := wire.Result{Kind: wire.ResultPass, Command: h.lastStart}
	switch {
	case start && h.failServices != 0:
		if h.failServices > 0 {
			h.failServices--
		}
		h.failed |= fn
		h.started &^= fn
		name := fn.String()
		r = wire.Result{Kind: wire.ResultFailed, Script: "/etc/services.d/" + name + "/agenttest-" + name + "-services", ExitCode: 1}
	case start:
		h.failed &^= fn
		h.started |= fn
	default:
		h.started &^= fn
	}
	h.log.Debug("host services done", "command", cmd, "result", r.Kind)
	if !h.noResult && !h.noAck {
		m, err := wire.NewHostServicesResult(r)
		if err == nil {
			h.sendLogged(mtce.NetworkMgmt, h.cfg.AgentMgmt, &m, now)
		}
	}
	h.runScripts(now)
}

func (h *Host) identity(nw mtce.Network, seq uint32) wire.Identity {
	id := wire.Identity{
		Hostname:    h.cfg.Name,
		Personality: h.cfg.Subfunctions.String(),
		MgmtIP:      h.cfg.Mgmt.Addr().String(),
		MgmtMAC:     h.cfg.MAC,
		Interface:   nw,
		Sequence:    seq,
	}
	if h.cfg.Cluster.IsValid() {
		id.ClusterHostIP = h.cfg.Cluster.Addr().String()
	}
	return id
}

// sendAlive sends one mtcAlive on each network the host has (spec F.4, K.2).
func (h *Host) sendAlive() {
	now := time.Now()
	uptime := uint32(now.Sub(h.bootStart) / time.Second)
	for _, nw := range []mtce.Network{mtce.NetworkMgmt, mtce.NetworkClusterHost} {
		from, to := h.addrs(nw)
		if !from.IsValid() || !to.IsValid() {
			continue
		}
		h.seq[nw]++
		seq := h.seq[nw]
		m, err := wire.NewMtcAlive(wire.Alive{
			Uptime: uptime, Health: h.health(), Flags: h.flags(), Sequence: seq,
			Identity: h.identity(nw, seq),
		})
		if err != nil {
			h.log.Warn("mtcAlive not built", "err", err)
			continue
		}
		b, err := m.MarshalBinary()
		if err != nil {
			continue
		}
		h.aliveSent++
		h.net.send(nw, from, to, &m, b)
	}
}

// addrs returns the host's own address on nw and the agent's.
func (h *Host) addrs(nw mtce.Network) (from, to netip.AddrPort) {
	if nw == mtce.NetworkClusterHost {
		return h.cfg.Cluster, h.cfg.AgentCluster
	}
	return h.cfg.Mgmt, h.cfg.AgentMgmt
}

func (h *Host) sendLogged(nw mtce.Network, to netip.AddrPort, m *wire.Message, now time.Time) {
	from, _ := h.addrs(nw)
	if !from.IsValid() || !to.IsValid() {
		return
	}
	b, err := m.MarshalBinary()
	if err != nil {
		h.log.Warn("message not encoded", "err", err)
		return
	}
	h.sentLog = appendCapped(h.sentLog, Sent{At: now, Network: nw, To: to, Message: *m}, h.cfg.LogLimit)
	h.net.send(nw, from, to, m, b)
}

func appendCapped[T any](s []T, v T, limit int) []T {
	if len(s) >= limit {
		s = slices.Delete(s, 0, len(s)-limit+1)
	}
	return append(s, v)
}

// handle is the client's command handling (spec K.8, E.2, E.4).
func (h *Host) handle(p wire.Packet, now time.Time) {
	r := Received{At: now, Network: p.Network, From: p.From, Outcome: Accepted}
	if p.Kind == wire.KindMessage {
		r.Message = p.Message
	}
	switch {
	case h.power != PowerUp:
		r.Outcome = DroppedDown
	case p.Kind != wire.KindMessage || p.Message.Signature != wire.SigRequest:
		r.Outcome = Ignored
	case p.Message.Version >= wire.VersionMACInHeader && !h.self(p.From.Addr()) && !p.Message.AddressedTo(h.cfg.MAC):
		r.Outcome = DroppedMAC
	}
	h.receivedLog = appendCapped(h.receivedLog, r, h.cfg.LogLimit)
	if r.Outcome != Accepted {
		h.log.Debug("datagram not taken", "outcome", r.Outcome, "from", p.From)
		return
	}
	m := &p.Message
	_, ackTo := h.addrs(p.Network)
	ack := func() {
		if h.noAck {
			return
		}
		a, err := wire.NewAck(m)
		if err == nil {
			h.sendLogged(p.Network, ackTo, &a, now)
		}
	}
	h.log.Debug("command", "cmd", m.Command, "network", p.Network)
	if fn, start, ok := m.Command.HostServices(); ok {
		if h.noAck {
			return
		}
		a, err := wire.NewHostServicesAck(m, mtce.Pass)
		if err == nil {
			h.sendLogged(p.Network, ackTo, &a, now)
		}
		if start {
			h.startWanted |= fn
		} else if !slices.Contains(h.stopsPosted, m.Command) && h.active != m.Command {
			h.stopsPosted = append(h.stopsPosted, m.Command)
		}
		h.runScripts(now)
		return
	}
	switch m.Command {
	case wire.CmdReboot, wire.CmdReset, wire.CmdWipedisk:
		ack()
		h.goDown(now, true)
	case wire.CmdLazyReboot:
		ack()
		h.schedule(now.Add(time.Duration(m.LazyRebootDelay())*time.Second), evLazyReboot)
	case wire.CmdLocked:
		ack()
		h.locked = true
		h.lockPersist = m.LockPersist()
	case wire.CmdUnlocked:
		ack()
		h.locked, h.lockPersist = false, false
	case wire.CmdMtcAliveRequest, wire.CmdSubfGoEnabledFailed, wire.CmdInfo, wire.CmdSync:
		// No ACK (spec K.8); an mtcAlive request is answered only on pxeboot.
	default:
		ack()
	}
}

func (h *Host) self(a netip.Addr) bool {
	return a == h.cfg.Mgmt.Addr() || (h.cfg.Cluster.IsValid() && a == h.cfg.Cluster.Addr())
}
