package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/config"
	"opendev.org/starlingx/metal-go/mtce/hwmon"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// Sentinel errors.
var (
	// ErrInvalidConfig is wrapped by Config.Validate and New; the message
	// names the field.
	ErrInvalidConfig = errors.New("agent: invalid configuration")
	// ErrClosed is returned by Run after Close, and by Request once the
	// agent is closing.
	ErrClosed = errors.New("agent: closed")
	// ErrAlreadyRunning is returned by a second call of Run.
	ErrAlreadyRunning = errors.New("agent: Run called twice")
	// ErrNotReady is returned by Request before the inventory is loaded.
	ErrNotReady = errors.New("agent: not ready")
	// ErrUnknownHost is returned by Request for a host the agent does not
	// know.
	ErrUnknownHost = errors.New("agent: unknown host")
	// ErrRejected is wrapped by the *RejectedError that Request returns
	// when the event API's admission refuses the action.
	ErrRejected = errors.New("agent: request rejected")
	// ErrInventory wraps the last error of a start-up inventory load that
	// gave up (spec B.7).
	ErrInventory = errors.New("agent: inventory load gave up")
	// ErrNoBMC is returned by Password for a host whose BMC is not
	// provisioned.
	ErrNoBMC = errors.New("agent: BMC not provisioned")
)

// Defaults of the fields the agent adds to StarlingX's configuration.
const (
	// MtcAliveInterval is how often a client sends mtcAlive (spec F.4).
	MtcAliveInterval = 5 * time.Second
	// MinOfflineAfter is the least silence that makes a host offline: two
	// mtcAlive intervals and a second, so one lost datagram never does.
	MinOfflineAfter = 2*MtcAliveInterval + time.Second
	// MaxOfflineAfter caps the silence before offline.
	MaxOfflineAfter = 10 * time.Minute
	// DefaultInventoryWait is the wait between inventory load attempts (B.7).
	DefaultInventoryWait = 15 * time.Second
	// DefaultRebootSends is how many times a reboot is sent before a BMC
	// reset (K.8), DefaultRebootResend the wait for an ACK between sends.
	DefaultRebootSends  = 5
	DefaultRebootResend = 10 * time.Second
	// DefaultCloseTimeout bounds Close.
	DefaultCloseTimeout = 10 * time.Second
	// DefaultTaskHold is how long a completion task ("Reset Completed")
	// stays before it is cleared (G.2).
	DefaultTaskHold = 30 * time.Second
	// DefaultTokenLogEvery is how often the start-up logs that it still
	// waits for the first token.
	DefaultTokenLogEvery = 30 * time.Second
)

// Paths says where Load finds the configuration files.
type Paths struct {
	// Root is prefixed to every StarlingX path ("/" when empty).
	Root string
	// Hostname is the controller this agent runs on; "" means os.Hostname.
	Hostname string
}

// BMCHost is what the BMC code needs of a host. Its fields are those of
// hwmon.Host, in the same order, so the two convert into each other.
type BMCHost struct {
	Name, UUID       string
	BMIP, BMUsername string
	BMType           mtce.BMCType
}

// Config configures an Agent. Start from DefaultConfig or Load.
type Config struct {
	// Hostname is the controller this agent runs on (J.11). Required.
	Hostname string
	// Mtc and Platform are the loaded mtc.conf/mtc.ini and platform.conf.
	// Required.
	Mtc      *config.Mtc
	Platform *config.Platform

	// Base URLs of the platform services. SysInvURL, VIMURL and
	// KeystoneURL are required; BarbicanURL may be empty (BMC passwords
	// then cannot be fetched). SMURL "" means http://<Hostname>:<ha_port>
	// (K.7).
	SysInvURL, VIMURL, BarbicanURL, KeystoneURL string
	SMURL                                       string

	// Keystone carries the credentials (from mtc.ini by Load). AuthURL
	// and Transport are filled from KeystoneURL and HTTPTransport when
	// empty.
	Keystone keystone.Config

	// HTTPTransport carries every platform call; nil = a clone of
	// http.DefaultTransport (TLS verification on).
	HTTPTransport http.RoundTripper

	// EventListener serves the event API; nil = eventapi.Listen on
	// 127.0.0.1:<inv_event_port>.
	EventListener net.Listener
	// Packets is the agent's UDP; nil = wire.Listen on UDPEndpoints.
	Packets PacketConn
	// UDPEndpoints are bound when Packets is nil; nil = mgmt on
	// 0.0.0.0:<mtc_agent_port>.
	UDPEndpoints []wire.Endpoint
	// Addresses is the agent's own address per network, written into
	// every command's JSON (K.3). Missing networks use the PacketConn's
	// Addr(network) when it has one.
	Addresses map[mtce.Network]string

	// NewBMC makes a driver for a host's BMC; nil = by bm_type (redfish,
	// ipmi; dynamic is detected).
	NewBMC func(ctx context.Context, h BMCHost, pw bmc.Password) (bmc.Driver, error)
	// Power configures the power requests (G.2 retry waits).
	Power bmc.PowerConfig
	// GracefulFallback lets a Redfish power-off/reset send the graceful
	// action on BMCs that lack the forced one, as StarlingX does; every use
	// is logged as a warning. Default true (StarlingX's behaviour).
	GracefulFallback bool

	// OnBMCProvisioned and OnBMCDeprovisioned, if set, see every BMC
	// provisioning change (the hardware monitor's Set and Remove). They
	// run with the host records locked: keep them quick.
	OnBMCProvisioned   func(h BMCHost)
	OnBMCDeprovisioned func(name string)

	// HardwareMonitor runs the hardware-monitor role (package mtce/hwmon,
	// StarlingX's hwmond): a sensor audit of every host with a provisioned
	// BMC. Default true. Hwmon tunes it (Interval, Concurrency,
	// HostTimeout, CloseTimeout, Observer, Logger); its SysInv, Password,
	// NewDriver and Simplex are the agent's and are overwritten.
	HardwareMonitor bool
	Hwmon           hwmon.Config

	// InventoryAttempts bounds the start-up load (0 = api_retries + 10);
	// InventoryWait is the wait between attempts (0 = 15 s).
	InventoryAttempts int
	InventoryWait     time.Duration
	// RebootSends and RebootResend: K.8's reboot budget (0 = 5 and 10 s).
	RebootSends  int
	RebootResend time.Duration
	// TaskHold: how long completion tasks stay (0 = 30 s).
	TaskHold time.Duration
	// CloseTimeout bounds Close and Run's drain (0 = 10 s).
	CloseTimeout time.Duration

	// Logger receives the agent's logs; nil = silent.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the agent's own defaults; Hostname,
// Mtc, Platform and the URLs must still be set (Load does).
func DefaultConfig() Config {
	return Config{
		Keystone:         keystone.DefaultConfig(),
		Power:            bmc.DefaultPowerConfig(),
		GracefulFallback: true,
		HardwareMonitor:  true,
		Hwmon:            hwmon.DefaultConfig(),
		InventoryWait:    DefaultInventoryWait,
		RebootSends:      DefaultRebootSends,
		RebootResend:     DefaultRebootResend,
		TaskHold:         DefaultTaskHold,
		CloseTimeout:     DefaultCloseTimeout,
	}
}

// Validate reports every unusable field, each wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...)))
	}
	if c.Hostname == "" || c.Hostname == "none" {
		bad("Hostname is required")
	}
	if c.Mtc == nil {
		bad("Mtc is required")
	}
	if c.Platform == nil {
		bad("Platform is required")
	}
	for _, u := range []struct{ name, v string }{{"SysInvURL", c.SysInvURL}, {"VIMURL", c.VIMURL}, {"KeystoneURL", c.KeystoneURL}} {
		if !strings.HasPrefix(u.v, "http://") && !strings.HasPrefix(u.v, "https://") {
			bad("%s %q is not an http(s) URL", u.name, u.v)
		}
	}
	if c.InventoryAttempts < 0 || c.InventoryWait < 0 || c.RebootSends < 0 || c.RebootResend < 0 || c.TaskHold < 0 || c.CloseTimeout < 0 {
		bad("InventoryAttempts, InventoryWait, RebootSends, RebootResend, TaskHold and CloseTimeout must not be negative")
	}
	if err := c.Power.Validate(); err != nil {
		bad("Power: %v", err)
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.InventoryAttempts == 0 && c.Mtc != nil {
		c.InventoryAttempts = c.Mtc.Agent.APIRetries + 10
	}
	if c.InventoryAttempts < 1 {
		c.InventoryAttempts = 1
	}
	if c.InventoryWait == 0 {
		c.InventoryWait = d.InventoryWait
	}
	if c.RebootSends == 0 {
		c.RebootSends = d.RebootSends
	}
	if c.RebootResend == 0 {
		c.RebootResend = d.RebootResend
	}
	if c.TaskHold == 0 {
		c.TaskHold = d.TaskHold
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = d.CloseTimeout
	}
	if c.SMURL == "" && c.Mtc != nil {
		c.SMURL = "http://" + net.JoinHostPort(c.Hostname, strconv.Itoa(c.Mtc.Agent.HAPort))
	}
	return c
}

// Load reads mtc.conf, mtc.ini, platform.conf and the SysInv, VIM and
// Barbican endpoint files under p.Root through mtce/config, and returns a
// Config built on DefaultConfig. Errors name the file and key (config's
// *SyntaxError and *MissingKeyError) or the missing endpoint.
func Load(p Paths, log *slog.Logger) (Config, error) {
	root := p.Root
	if root == "" {
		root = "/"
	}
	cc := config.Config{Root: root, Role: config.RoleAgent, Logger: log}
	c := DefaultConfig()
	c.Logger = log
	c.Hostname = p.Hostname
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return Config{}, fmt.Errorf("agent: hostname: %w", err)
		}
		c.Hostname = h
	}
	m, err := config.LoadMtc(cc)
	if err != nil {
		return Config{}, err
	}
	c.Mtc = m
	pl, err := config.LoadPlatform(cc)
	if err != nil {
		return Config{}, err
	}
	c.Platform = pl
	si, err := config.LoadSysinv(cc)
	if err != nil {
		return Config{}, err
	}
	if !si.Valid() {
		return Config{}, fmt.Errorf("agent: %s: [DEFAULT] sysinv_api_bind_ip/sysinv_api_port do not name an endpoint", cc.Path(config.SysinvConfPath))
	}
	c.SysInvURL = "http://" + si.HostPort()
	vim, err := config.LoadVIM(cc)
	if err != nil {
		return Config{}, err
	}
	if !vim.Valid() {
		return Config{}, fmt.Errorf("agent: %s: [infrastructure-rest-api] port is missing", cc.Path(config.NFVPluginConfPath))
	}
	c.VIMURL = "http://" + vim.HostPort()
	if bb, err := config.LoadBarbican(cc); err == nil && bb.Valid() {
		c.BarbicanURL = "http://" + bb.HostPort()
	} else if log != nil {
		log.Warn("no Barbican endpoint: BMC passwords cannot be fetched", "file", cc.Path(config.BarbicanConfPath), "err", err)
	}
	k := m.Keystone
	if given(k.AuthURI) {
		c.KeystoneURL = k.AuthURI
	} else {
		c.KeystoneURL = "http://" + net.JoinHostPort(k.AuthHost, strconv.Itoa(m.Agent.KeystonePort))
	}
	if !strings.HasSuffix(c.KeystoneURL, "/v3") {
		c.KeystoneURL = strings.TrimSuffix(c.KeystoneURL, "/") + "/v3"
	}
	c.Keystone.AuthURL = c.KeystoneURL
	c.Keystone.Username = k.Username
	c.Keystone.Password = keystone.Secret(k.Password.Reveal())
	c.Keystone.ProjectName = k.Project
	c.Keystone.UserDomainName = k.UserDomain
	c.Keystone.ProjectDomainName = k.ProjectDomain
	if given(k.RegionName) {
		c.Keystone.Region = k.RegionName
	}
	if m.Agent.TokenRefreshRate > 0 {
		c.Keystone.RefreshPeriod = m.Agent.TokenRefreshRate
	}
	return c, nil
}

func given(s string) bool { return s != "" && s != "none" }
