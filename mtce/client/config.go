package client

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/config"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// PacketConn is the client's UDP: it receives the agent's commands on the
// client ports (mgmt 2118, cluster-host 2115, pxeboot 2119) and sends
// mtcAlive, ACKs and results from the same sockets. *wire.Transport
// satisfies it; tests use an in-memory one. It has the shape of the agent's
// PacketConn.
type PacketConn interface {
	Recv(ctx context.Context) (wire.Packet, error)
	Send(ctx context.Context, n mtce.Network, to netip.AddrPort, m *wire.Message) error
	Close() error
}

// Flag files, relative to Config.Root (spec E.1, K.2, K.8). The hostsvc
// package names the goenabled and node-locked ones.
const (
	ConfigCompleteFile    = "/etc/platform/.initial_config_complete"
	WorkerConfigFile      = "/var/run/.worker_config_complete"
	GoEnabledGateFile     = "/var/run/.goenabled"
	GoEnabledSubfGateFile = "/var/run/.goenabled_subf"
	ConfigPassFile        = "/var/run/.config_pass"
	ConfigFailFile        = "/var/run/.config_fail"
	PatchingFile          = "/var/run/patch_installing"
	PatchedFile           = "/var/run/node_is_patched"
	SMDegradedFile        = "/var/run/.sm_degraded"
	SMUnhealthyFile       = "/var/run/.sm_node_unhealthy"
	NodeResetFile         = "/var/run/.node_reset"
	PersistLockedFile     = "/var/persist/mtc/.node_locked"
	DefaultGoEnabledDir   = "/etc/goenabled.d"
)

// Defaults.
const (
	// DefaultAlivePeriod is MTC_ALIVE_TIMER: one mtcAlive per network
	// every 5 s.
	DefaultAlivePeriod = 5 * time.Second
	// DefaultAliveFirst is the delay of the first mtcAlive after start.
	DefaultAliveFirst = time.Second
	// DefaultReadyPeriod is how often the client's ready event is re-sent.
	DefaultReadyPeriod = 60 * time.Second
	// DefaultPollInterval is how often flag-file gates are looked at.
	DefaultPollInterval = time.Second
	// DefaultDrain bounds how long shutdown lets a running script set
	// finish before its process groups are killed.
	DefaultDrain = 20 * time.Second
	// DefaultGoEnabledTimeout bounds one run of the goenabled tests when
	// mtc.conf gives no goenabled_timeout.
	DefaultGoEnabledTimeout = 300 * time.Second
	// smUnhealthyDebounce: SM_UNHEALTHY is set when the file is seen on
	// more than this many consecutive messages of one interface.
	smUnhealthyDebounce = 6
)

// Config configures a Client. Fields marked required have no default.
type Config struct {
	// Root is prefixed to every StarlingX path the client reads or writes
	// (flag files, /etc/services.d, /etc/goenabled.d): "/" on a host,
	// a temporary directory in tests. Default "/".
	Root string

	// Hostname is this host's name (required).
	Hostname string
	// Mtc is mtc.conf/mtc.ini, loaded with config.RoleClient (required):
	// the ports, host_services_timeout, goenabled_timeout and
	// failsafe_shutdown_delay come from it.
	Mtc *config.Mtc
	// Platform is platform.conf (required, and Ready): node functions,
	// subfunction text (the mtcAlive "personality") and system type.
	Platform *config.Platform

	// MgmtIP is this host's management address (required). MgmtMAC is its
	// management MAC (required); addressed commands carrying another MAC
	// are dropped (spec K.8).
	MgmtIP  netip.Addr
	MgmtMAC string
	// ClusterHostIP and PxebootIP are this host's addresses on those
	// networks; the zero Addr means the network is not provisioned.
	ClusterHostIP netip.Addr
	PxebootIP     netip.Addr

	// Controller is the floating "controller" management address, where
	// mtcAlive, ACKs and results go (required).
	Controller netip.Addr
	// ControllerClusterHost are the controller-N-cluster-host addresses
	// (controller-1 is left out on AIO simplex). mtcAlive goes over the
	// cluster-host network only when ClusterHostIP is set and this is not
	// empty.
	ControllerClusterHost []netip.Addr
	// ControllerPxeboot are controller pxeboot addresses known at start;
	// the agent's pxeboot mtcAlive request updates them (spec K.3).
	ControllerPxeboot []netip.Addr

	// Packets is the client's UDP. nil binds a *wire.Transport on
	// Endpoints.
	Packets PacketConn
	// Endpoints are the sockets bound when Packets is nil. nil means
	// MgmtIP:[client] mtc_rx_mgmnt_port, ClusterHostIP:mtc_rx_clstr_port
	// and PxebootIP:mtc_rx_pxeboot_port, for the provisioned networks.
	Endpoints []wire.Endpoint

	// AlivePeriod, AliveFirst, ReadyPeriod and PollInterval: see the
	// Default constants.
	AlivePeriod  time.Duration
	AliveFirst   time.Duration
	ReadyPeriod  time.Duration
	PollInterval time.Duration

	// Launcher starts host-services and goenabled scripts. nil is
	// hostsvc's ExecLauncher (no shell, one process group per script).
	Launcher hostsvc.Launcher
	// TrustCurrentUser accepts scripts owned by the running user besides
	// root. For tests and the simulator.
	TrustCurrentUser bool
	// Subreaper: see hostsvc.Config.Subreaper.
	Subreaper bool
	// ScriptEnv is the complete environment of every script; nil is
	// hostsvc.DefaultEnv().
	ScriptEnv []string
	// ServicesRoot holds the controller, worker and storage script
	// directories. Default Root + /etc/services.d.
	ServicesRoot string
	// GoEnabledDir holds the goenabled tests; GoEnabledSubfDir the
	// subfunction tests of AIO controllers. Default Root +
	// /etc/goenabled.d for both: the spec names only that directory.
	GoEnabledDir     string
	GoEnabledSubfDir string
	// GoEnabledTimeout bounds one run of the goenabled tests. Default
	// Mtc.Timeouts.GoEnabled, else DefaultGoEnabledTimeout.
	GoEnabledTimeout time.Duration
	// HostServicesTimeout bounds one script set. Default
	// Mtc.Timeouts.HostServices, else hostsvc.DefaultTimeout.
	HostServicesTimeout time.Duration
	// Drain bounds how long shutdown lets a running script set finish
	// before killing its process groups. Default DefaultDrain.
	Drain time.Duration

	// Actions are what reboot, reset, wipedisk and lazy reboot do. The
	// zero value refuses every one of them (logged and counted): nothing
	// is done to the machine unless configured explicitly, with
	// SystemActions for a real host or hooks for a simulator.
	Actions Actions

	// Uptime gives parm[0] of mtcAlive; nil is CLOCK_MONOTONIC.
	Uptime func() time.Duration

	// Cryptsetup, when set, is the cryptsetup program: "Cryptsetup status
	// luks_encrypted_vault" then runs at start and every AlivePeriod, and
	// LUKS_VOL_FAILED is set in mtcAlive while it fails (spec K.2). ""
	// (the default) does not check, and the flag is never set: a host
	// without StarlingX's encrypted vault would otherwise report it.
	Cryptsetup string
	// LUKSTimeout bounds one check (default DefaultLUKSTimeout); a check
	// that outlives it is killed and counts as failed.
	LUKSTimeout time.Duration

	// OnEvent, when set, is called with what the client does: script sets
	// starting and done (with the result sent), the auto-start's requests,
	// goenabled runs and replies, machine actions. It is called on the
	// client's own goroutines, possibly concurrently, and must return
	// quickly: a slow OnEvent holds up the goroutine that reports.
	OnEvent func(Event)

	// Logger receives the client's logs; nil is silent.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every defaultable field set; the
// required fields are left for the caller.
func DefaultConfig() Config {
	return Config{
		Root:         "/",
		AlivePeriod:  DefaultAlivePeriod,
		AliveFirst:   DefaultAliveFirst,
		ReadyPeriod:  DefaultReadyPeriod,
		PollInterval: DefaultPollInterval,
		Drain:        DefaultDrain,
	}
}

// Validate reports the first problem with c as an error wrapping ErrConfig
// that names the field. Zero values that have a default are valid.
func (c Config) Validate() error {
	if c.Root != "" && !filepath.IsAbs(c.Root) {
		return configErr("Root", "%q is not absolute", c.Root)
	}
	if c.Hostname == "" {
		return configErr("Hostname", "required")
	}
	if strings.ContainsAny(c.Hostname, " \t\n\"\\") {
		return configErr("Hostname", "%q contains a blank, quote or backslash", c.Hostname)
	}
	if c.Mtc == nil {
		return configErr("Mtc", "required")
	}
	if c.Platform == nil {
		return configErr("Platform", "required")
	}
	if err := c.Platform.Ready(); err != nil {
		return configErr("Platform", "%v", err)
	}
	if _, err := nodeOf(c.Platform); err != nil {
		return configErr("Platform", "%v", err)
	}
	if !c.MgmtIP.IsValid() {
		return configErr("MgmtIP", "required")
	}
	if _, err := normalMAC(c.MgmtMAC); err != nil {
		return configErr("MgmtMAC", "%q: %v", c.MgmtMAC, err)
	}
	if !c.Controller.IsValid() {
		return configErr("Controller", "required")
	}
	for i, a := range c.ControllerClusterHost {
		if !a.IsValid() {
			return configErr("ControllerClusterHost", "[%d] is not an address", i)
		}
	}
	for i, a := range c.ControllerPxeboot {
		if !a.IsValid() {
			return configErr("ControllerPxeboot", "[%d] is not an address", i)
		}
	}
	for name, d := range map[string]time.Duration{
		"AlivePeriod": c.AlivePeriod, "AliveFirst": c.AliveFirst, "ReadyPeriod": c.ReadyPeriod,
		"PollInterval": c.PollInterval, "Drain": c.Drain, "GoEnabledTimeout": c.GoEnabledTimeout,
		"HostServicesTimeout": c.HostServicesTimeout, "LUKSTimeout": c.LUKSTimeout,
	} {
		if d < 0 {
			return configErr(name, "negative (%v)", d)
		}
	}
	for name, p := range map[string]string{"ServicesRoot": c.ServicesRoot, "GoEnabledDir": c.GoEnabledDir,
		"GoEnabledSubfDir": c.GoEnabledSubfDir, "Cryptsetup": c.Cryptsetup} {
		if p != "" && !filepath.IsAbs(p) {
			return configErr(name, "%q is not absolute", p)
		}
	}
	if c.Packets == nil && c.Endpoints != nil {
		wc := wire.DefaultConfig()
		wc.Endpoints = c.Endpoints
		if err := wc.Validate(); err != nil {
			return configErr("Endpoints", "%v", err)
		}
	}
	return nil
}

// withDefaults returns c with every zero defaultable field filled in.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Root == "" {
		c.Root = d.Root
	}
	if c.AlivePeriod == 0 {
		c.AlivePeriod = d.AlivePeriod
	}
	if c.AliveFirst == 0 {
		c.AliveFirst = d.AliveFirst
	}
	if c.ReadyPeriod == 0 {
		c.ReadyPeriod = d.ReadyPeriod
	}
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	}
	if c.Drain == 0 {
		c.Drain = d.Drain
	}
	if c.LUKSTimeout == 0 {
		c.LUKSTimeout = DefaultLUKSTimeout
	}
	if c.ServicesRoot == "" {
		c.ServicesRoot = filepath.Join(c.Root, hostsvc.DefaultServicesRoot)
	}
	if c.GoEnabledDir == "" {
		c.GoEnabledDir = filepath.Join(c.Root, DefaultGoEnabledDir)
	}
	if c.GoEnabledSubfDir == "" {
		c.GoEnabledSubfDir = c.GoEnabledDir
	}
	if c.GoEnabledTimeout == 0 {
		c.GoEnabledTimeout = c.Mtc.Timeouts.GoEnabled
		if c.GoEnabledTimeout <= 0 {
			c.GoEnabledTimeout = DefaultGoEnabledTimeout
		}
	}
	if c.HostServicesTimeout == 0 {
		c.HostServicesTimeout = c.Mtc.Timeouts.HostServices
		if c.HostServicesTimeout <= 0 {
			c.HostServicesTimeout = hostsvc.DefaultTimeout
		}
	}
	if c.Uptime == nil {
		c.Uptime = monotonicUptime
	}
	c.MgmtMAC, _ = normalMAC(c.MgmtMAC)
	return c
}

// endpoints returns the sockets to bind when Packets is nil.
func (c Config) endpoints() []wire.Endpoint {
	if c.Endpoints != nil {
		return c.Endpoints
	}
	eps := []wire.Endpoint{{Network: mtce.NetworkMgmt, Addr: netip.AddrPortFrom(c.MgmtIP, uint16(c.Mtc.Client.MtcRxMgmtPort)).String()}}
	if c.ClusterHostIP.IsValid() {
		eps = append(eps, wire.Endpoint{Network: mtce.NetworkClusterHost, Addr: netip.AddrPortFrom(c.ClusterHostIP, uint16(c.Mtc.Client.MtcRxClstrPort)).String()})
	}
	if c.PxebootIP.IsValid() {
		eps = append(eps, wire.Endpoint{Network: mtce.NetworkPxeboot, Addr: netip.AddrPortFrom(c.PxebootIP, uint16(c.Mtc.Client.MtcRxPxebootPort)).String()})
	}
	return eps
}

// normalMAC parses a MAC and returns it as mtcAlive and the addressed
// check want it: lower-case "aa:bb:cc:dd:ee:ff".
func normalMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil {
		return "", err
	}
	if len(hw) != 6 {
		return "", &net.AddrError{Err: "not a 6-byte MAC", Addr: s}
	}
	return hw.String(), nil
}

// nodeOf converts platform.conf's functions and system type to hostsvc's.
func nodeOf(p *config.Platform) (hostsvc.Node, error) {
	var fs hostsvc.FunctionSet
	if p.Functions&mtce.FunctionController != 0 {
		fs |= hostsvc.FunctionSet(hostsvc.Controller)
	}
	if p.Functions&mtce.FunctionWorker != 0 {
		fs |= hostsvc.FunctionSet(hostsvc.Worker)
	}
	if p.Functions&mtce.FunctionStorage != 0 {
		fs |= hostsvc.FunctionSet(hostsvc.Storage)
	}
	var st hostsvc.SystemType
	switch p.SystemType {
	case mtce.SystemStandard:
		st = hostsvc.Standard
	case mtce.SystemAIODuplex:
		st = hostsvc.AIODuplex
	case mtce.SystemAIODuplexDirect:
		st = hostsvc.AIODuplexDirect
	default:
		st = hostsvc.AIOSimplex
	}
	n := hostsvc.Node{Functions: fs, System: st}
	return n, n.Validate()
}
