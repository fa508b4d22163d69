package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Service names one of the simulated platform services.
type Service string

// The simulated services.
const (
	Keystone Service = "keystone" // identity: /v3/auth/tokens
	SysInv   Service = "sysinv"   // inventory: /v1/ihosts, /v1/isensors, /v1/isensorgroups
	SM       Service = "sm"       // service management: /v1/servicenode/<host>
	VIM      Service = "vim"      // NFV infrastructure REST API: /nfvi-plugins/v1/hosts/<uuid>
	Barbican Service = "barbican" // key manager: /v1/secrets
)

// Services lists every simulated service in a fixed order.
func Services() []Service { return []Service{Keystone, SysInv, SM, VIM, Barbican} }

func (s Service) valid() bool {
	switch s {
	case Keystone, SysInv, SM, VIM, Barbican:
		return true
	}
	return false
}

// Endpoints holds the base URL (scheme://host:port, no path) of each
// service. The Keystone auth URL is [Endpoints.AuthURL].
type Endpoints struct {
	Keystone string
	SysInv   string
	SM       string
	VIM      string
	Barbican string
}

// URL returns the base URL of svc ("" for an unknown service).
func (e Endpoints) URL(svc Service) string {
	switch svc {
	case Keystone:
		return e.Keystone
	case SysInv:
		return e.SysInv
	case SM:
		return e.SM
	case VIM:
		return e.VIM
	case Barbican:
		return e.Barbican
	}
	return ""
}

// AuthURL is the Keystone v3 auth URL (the Keystone base URL + "/v3"), as
// gophercloud's IdentityEndpoint wants it.
func (e Endpoints) AuthURL() string { return e.Keystone + "/v3" }

func (e *Endpoints) set(svc Service, u string) {
	switch svc {
	case Keystone:
		e.Keystone = u
	case SysInv:
		e.SysInv = u
	case SM:
		e.SM = u
	case VIM:
		e.VIM = u
	case Barbican:
		e.Barbican = u
	}
}

// DefaultMemoryEndpoints are the in-memory transport's URLs: hosts under the
// reserved ".invalid" top-level domain, which can never resolve, so that a
// client that is accidentally given a real transport fails fast instead of
// reaching a real platform. The ports are StarlingX's defaults.
func DefaultMemoryEndpoints() Endpoints {
	return Endpoints{
		Keystone: "http://keystone.sim.invalid:5000",
		SysInv:   "http://sysinv.sim.invalid:6385",
		SM:       "http://sm.sim.invalid:7777",
		VIM:      "http://vim.sim.invalid:30001",
		Barbican: "http://barbican.sim.invalid:9311",
	}
}

// AppCredential is a Keystone application credential the simulator accepts.
// Authentication may name it by ID, or by Name together with the user.
type AppCredential struct {
	ID     string
	Name   string
	Secret Secret
}

// Action is a user's host action (lock, unlock, swact, ...) received by
// SysInv, as handed to [Config.OnAction] and recorded by [Sim.Actions].
type Action struct {
	Time   time.Time // when SysInv received it
	Action string    // e.g. "lock", "unlock", "swact", "force-swact"
	Host   Host      // the host record when the action arrived
	Via    string    // "api" (PATCH of /action over REST) or "direct" (Sim.UserAction)
}

// ActionFunc receives a user's host action. Returning an error rejects the
// action: the REST caller gets SysInv's 400 with the error text as the fault
// string and the host record is left unchanged. It runs on the request's
// goroutine (or UserAction's caller's) with no simulator lock held, so it
// may call the Sim's methods; for a REST request ctx ends when the
// requester gives up.
type ActionFunc func(ctx context.Context, a Action) error

// Config configures a [Sim]. Start from [DefaultConfig]; [New] fills the
// zero-valued fields that have a default and then calls [Config.Validate].
type Config struct {
	// Logger receives debug records of every request and fault (nil = silent).
	Logger *slog.Logger

	// Seed seeds every random choice (tokens, UUIDs, probability faults,
	// the corruption schedule), so that a run can be replayed.
	Seed uint64

	// Keystone: the password user and its project (mtc.ini [agent]
	// keystone_auth_* keys), the region of the catalog and the lifetime of
	// an issued token (Keystone's default is one hour).
	Username          string
	Password          Secret
	ProjectName       string
	UserDomainName    string
	ProjectDomainName string
	Region            string
	AppCredentials    []AppCredential
	TokenLifetime     time.Duration

	// Hosts is the initial SysInv inventory (see [Inventory]).
	Hosts []Host

	// ActiveController is the controller that SM reports as active
	// (default: controller-0 when it exists).
	ActiveController string
	// SwactDelay is how long SM takes to move activity to the mate after
	// accepting a swact (StarlingX test data: about 6 s).
	SwactDelay time.Duration
	// Unswactable makes SM report swactable_services "no" for every
	// controller until [Sim.SetSwactable] says otherwise.
	Unswactable bool
	// OnSwact, if set, is called from the Sim's own goroutine after a swact
	// has completed. It must not block for long: Close waits for it.
	OnSwact func(from, to string)

	// OnAction receives users' host actions (nil: accepted and recorded)
	// when MtcAgentURL is empty. When MtcAgentURL is set, the agent
	// decides and OnAction is not called.
	OnAction ActionFunc

	// MtcAgentURL is the maintenance agent's event API
	// ("http://127.0.0.1:2112"; StarlingX: http://localhost:2112). When
	// set, SysInv hands users' host actions, host adds (POST /v1/ihosts)
	// and deletes to the agent as StarlingX's SysInv does (spec J.11),
	// after SysInv's own checks; see the package documentation.
	MtcAgentURL string
	// MtcAgentTransport carries the requests to MtcAgentURL (nil: a plain
	// http.Transport of the Sim's own, closed by Close). Each request asks
	// for Connection: close, as SysInv's urllib does.
	MtcAgentTransport http.RoundTripper
	// VIMServicesDelay is how long the VIM takes to disable a host's
	// services on a lock before SysInv hands the lock to the agent (0: at
	// once). Only used with MtcAgentURL.
	VIMServicesDelay time.Duration

	// Secrets are Barbican secrets created at start, name → payload. A BMC
	// password is stored under the host's UUID, as StarlingX does.
	Secrets map[string]Secret

	// Memory sets the URLs the in-memory transport answers to; zero fields
	// take [DefaultMemoryEndpoints]. Each must be http://host:port.
	Memory Endpoints

	// RecordLimit bounds each record log (requests, faults, VIM state
	// changes, actions, swacts, corruptions): the oldest entries are
	// dropped; counters in [Stats] are never dropped.
	RecordLimit int
	// HistoryLimit bounds each host's task history.
	HistoryLimit int
	// MaxBodyBytes bounds a request body (larger ones get 413).
	MaxBodyBytes int64
	// CloseTimeout bounds how long Close waits for loopback connections to
	// finish before cutting them.
	CloseTimeout time.Duration
}

// DefaultConfig returns a configuration with a four-host standard system
// ([Inventory](4)), the StarlingX-style admin credentials and one-hour
// tokens.
func DefaultConfig() Config {
	return Config{
		Seed:              1,
		Username:          "admin",
		Password:          "Sim-Passw0rd!",
		ProjectName:       "admin",
		UserDomainName:    "Default",
		ProjectDomainName: "Default",
		Region:            "RegionOne",
		TokenLifetime:     time.Hour,
		Hosts:             Inventory(4),
		ActiveController:  "controller-0",
		SwactDelay:        6 * time.Second,
		Memory:            DefaultMemoryEndpoints(),
		RecordLimit:       10000,
		HistoryLimit:      256,
		MaxBodyBytes:      1 << 20,
		CloseTimeout:      5 * time.Second,
	}
}

// withDefaults fills the zero fields that have a default. Hosts and
// credentials are not filled: an empty inventory is legal and a missing
// user is reported by Validate.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Region == "" {
		c.Region = d.Region
	}
	if c.UserDomainName == "" {
		c.UserDomainName = d.UserDomainName
	}
	if c.ProjectDomainName == "" {
		c.ProjectDomainName = d.ProjectDomainName
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = d.TokenLifetime
	}
	if c.SwactDelay == 0 {
		c.SwactDelay = d.SwactDelay
	}
	if c.ActiveController == "" {
		for _, h := range c.Hosts {
			if h.Personality == "controller" {
				c.ActiveController = h.Hostname
				break
			}
		}
	}
	for _, svc := range Services() {
		if c.Memory.URL(svc) == "" {
			c.Memory.set(svc, d.Memory.URL(svc))
		}
	}
	if c.RecordLimit == 0 {
		c.RecordLimit = d.RecordLimit
	}
	if c.HistoryLimit == 0 {
		c.HistoryLimit = d.HistoryLimit
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = d.CloseTimeout
	}
	return c
}

// Validate reports the first invalid field as a *[ConfigError].
func (c Config) Validate() error {
	bad := func(field, format string, a ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	if c.Username == "" {
		return bad("Username", "must not be empty")
	}
	if c.Password == "" {
		return bad("Password", "must not be empty")
	}
	if c.ProjectName == "" {
		return bad("ProjectName", "must not be empty")
	}
	if c.UserDomainName == "" {
		return bad("UserDomainName", "must not be empty")
	}
	if c.ProjectDomainName == "" {
		return bad("ProjectDomainName", "must not be empty")
	}
	if c.Region == "" {
		return bad("Region", "must not be empty")
	}
	for i, a := range c.AppCredentials {
		if a.ID == "" && a.Name == "" {
			return bad(fmt.Sprintf("AppCredentials[%d]", i), "needs an ID or a Name")
		}
		if a.Secret == "" {
			return bad(fmt.Sprintf("AppCredentials[%d].Secret", i), "must not be empty")
		}
	}
	if c.TokenLifetime < time.Second {
		return bad("TokenLifetime", "%v is shorter than 1s (Keystone expiry has whole-second precision)", c.TokenLifetime)
	}
	if c.SwactDelay < 0 {
		return bad("SwactDelay", "%v is negative", c.SwactDelay)
	}
	names := map[string]bool{}
	uuids := map[string]bool{}
	controllers := 0
	for i, h := range c.Hosts {
		field := fmt.Sprintf("Hosts[%d]", i)
		if err := h.validate(); err != nil {
			return bad(field, "%v", err)
		}
		if names[h.Hostname] {
			return bad(field, "duplicate hostname %q", h.Hostname)
		}
		if uuids[h.UUID] {
			return bad(field, "duplicate uuid %q", h.UUID)
		}
		names[h.Hostname], uuids[h.UUID] = true, true
		if h.Personality == "controller" {
			controllers++
		}
	}
	if controllers > 2 {
		return bad("Hosts", "%d controllers; StarlingX has at most two", controllers)
	}
	if c.ActiveController != "" {
		ok := false
		for _, h := range c.Hosts {
			ok = ok || (h.Hostname == c.ActiveController && h.Personality == "controller")
		}
		if !ok {
			return bad("ActiveController", "%q is not a controller of Hosts", c.ActiveController)
		}
	}
	for name := range c.Secrets {
		if name == "" {
			return bad("Secrets", "a secret has an empty name")
		}
	}
	seen := map[string]Service{}
	for _, svc := range Services() {
		raw := c.Memory.URL(svc)
		field := "Memory." + serviceField(svc)
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return bad(field, "%q is not http://host:port", raw)
		}
		key := strings.ToLower(u.Host)
		if other, dup := seen[key]; dup {
			return bad(field, "%q is also the URL of %s", raw, other)
		}
		seen[key] = svc
	}
	if c.MtcAgentURL != "" {
		u, err := url.Parse(c.MtcAgentURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return bad("MtcAgentURL", "%q is not http://host:port", c.MtcAgentURL)
		}
	}
	if c.VIMServicesDelay < 0 {
		return bad("VIMServicesDelay", "%v is negative", c.VIMServicesDelay)
	}
	if c.RecordLimit < 1 {
		return bad("RecordLimit", "%d is not positive", c.RecordLimit)
	}
	if c.HistoryLimit < 1 {
		return bad("HistoryLimit", "%d is not positive", c.HistoryLimit)
	}
	if c.MaxBodyBytes < 1024 {
		return bad("MaxBodyBytes", "%d is below 1024", c.MaxBodyBytes)
	}
	if c.CloseTimeout <= 0 {
		return bad("CloseTimeout", "%v is not positive", c.CloseTimeout)
	}
	return nil
}

func serviceField(svc Service) string {
	switch svc {
	case SysInv:
		return "SysInv"
	case SM:
		return "SM"
	case VIM:
		return "VIM"
	}
	return strings.ToUpper(string(svc[:1])) + string(svc[1:])
}

// Errors returned by the simulator.
var (
	// ErrClosed is returned once Close has been called by the methods that
	// add state or start work (Inject, AddHost, PutSecret, Listen,
	// CorruptTokenEvery, Stress, UserAction) and by the in-memory
	// transport (wrapped in a *net.OpError).
	ErrClosed = errors.New("sim: closed")
	// ErrInvalidConfig is matched (errors.Is) by every *ConfigError.
	ErrInvalidConfig = errors.New("sim: invalid config")
	// ErrInvalidFault is returned by Inject for a fault that cannot fire.
	ErrInvalidFault = errors.New("sim: invalid fault")
	// ErrNotFound is returned for an unknown host, controller or secret.
	ErrNotFound = errors.New("sim: not found")
	// ErrConflict is returned when a hostname or UUID is already in use.
	ErrConflict = errors.New("sim: conflict")
	// ErrInvalidValue is returned for a field value SysInv or SM would
	// reject (an unknown state, action or personality).
	ErrInvalidValue = errors.New("sim: invalid value")
	// ErrRejected is matched by a *SysInvError with status 400: SysInv
	// refused a user's action (its own checks, or the maintenance agent's
	// rejection or no response).
	ErrRejected = errors.New("sim: rejected by sysinv")
	// ErrSysInvCrash is matched by a *SysInvError with status 500:
	// SysInv's API crashed reading the maintenance agent's reply.
	ErrSysInvCrash = errors.New("sim: sysinv crashed on the agent's reply")
)

// ConfigError names the invalid [Config] field. It matches
// [ErrInvalidConfig] with errors.Is.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "sim: invalid config: " + e.Field + ": " + e.Reason }

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }
