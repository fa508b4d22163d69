package redfish

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
)

// AuthMode selects how the driver authenticates.
type AuthMode string

// Authentication modes.
const (
	// AuthBasic sends HTTP basic auth on every request. It needs no
	// server-side state, so it cannot exhaust the BMC's session table.
	AuthBasic AuthMode = "basic"
	// AuthSession logs in once (POST SessionService/Sessions) and sends
	// X-Auth-Token; Close logs out. A 401 triggers one re-login.
	AuthSession AuthMode = "session"
)

// Config configures a Driver.
type Config struct {
	// Endpoint is the BMC: "host", "host:port", "https://host[:port]" or,
	// only when the BMC is configured for plain HTTP (StarlingX bm_http),
	// "http://host[:port]". Required.
	Endpoint string
	// Username and Password are the BMC credentials.
	Username string
	Password bmc.Password
	// Auth is AuthBasic (default) or AuthSession.
	Auth AuthMode
	// SystemID selects a member of the Systems collection by Id (last path
	// segment) or full @odata.id. Empty: the first member.
	SystemID string
	// Timeout bounds each HTTP request (default 30 s, redfishtool's -T 30).
	Timeout time.Duration
	// RootCAs verifies the BMC certificate (nil: CAFile, else the system
	// roots).
	RootCAs *x509.CertPool
	// CAFile is a PEM bundle used when RootCAs is nil.
	CAFile string
	// InsecureSkipVerify disables certificate verification. Never the
	// default; New and Open log a warning each time it is in effect.
	InsecureSkipVerify bool
	// Transport replaces the HTTP transport (tests: bmcsim.Server.Transport;
	// proxies). TLS options are then the transport's business.
	Transport http.RoundTripper
	// CycleOffTimeout bounds the fallback power cycle (ForceOff, wait for
	// Off, On) used when the BMC does not advertise PowerCycle (default
	// 60 s, StarlingX's MTC_BM_POWEROFF_TIMEOUT).
	CycleOffTimeout time.Duration
	// CyclePollInterval is the power-state polling interval of that
	// fallback (default 2 s).
	CyclePollInterval time.Duration
	// GracefulFallback opts in to StarlingX's substitution (mtcBmcUtil):
	// when the BMC does not advertise ForceOff, ActionOff sends
	// GracefulShutdown, and when it does not advertise ForceRestart,
	// ActionReset sends GracefulRestart. A graceful action depends on the
	// host OS, which may ignore it, so "off" then no longer means power is
	// cut at once. Off by default: without the forced ResetType the action
	// is bmc.ErrNotSupported (and not among Capabilities). Every use of the
	// fallback is logged at Warn level.
	GracefulFallback bool
	// MaxParallelRequests bounds the requests Sensors has in flight at
	// once while it reads the members of a collection (default 4; 1 reads
	// one resource at a time).
	MaxParallelRequests int
	// Logger receives request and warning records (nil: silent).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; Endpoint and credentials must be set.
func DefaultConfig() Config {
	return Config{
		Auth:                AuthBasic,
		Timeout:             30 * time.Second,
		CycleOffTimeout:     60 * time.Second,
		CyclePollInterval:   2 * time.Second,
		MaxParallelRequests: 4,
	}
}

func (c *Config) setDefaults() {
	d := DefaultConfig()
	if c.Auth == "" {
		c.Auth = d.Auth
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.CycleOffTimeout == 0 {
		c.CycleOffTimeout = d.CycleOffTimeout
	}
	if c.CyclePollInterval == 0 {
		c.CyclePollInterval = d.CyclePollInterval
	}
	if c.MaxParallelRequests == 0 {
		c.MaxParallelRequests = d.MaxParallelRequests
	}
}

// Validate checks the configuration. Zero durations, a zero
// MaxParallelRequests and an empty Auth mean their defaults.
func (c Config) Validate() error {
	if _, err := baseURL(c.Endpoint); err != nil {
		return err
	}
	if c.Username == "" {
		return &bmc.ConfigError{Field: "Username", Reason: "must be set"}
	}
	switch c.Auth {
	case "", AuthBasic, AuthSession:
	default:
		return &bmc.ConfigError{Field: "Auth", Reason: `must be "basic" or "session"`}
	}
	switch {
	case c.Timeout < 0:
		return &bmc.ConfigError{Field: "Timeout", Reason: "must be >= 0"}
	case c.CycleOffTimeout < 0:
		return &bmc.ConfigError{Field: "CycleOffTimeout", Reason: "must be >= 0"}
	case c.CyclePollInterval < 0:
		return &bmc.ConfigError{Field: "CyclePollInterval", Reason: "must be >= 0"}
	case c.MaxParallelRequests < 0:
		return &bmc.ConfigError{Field: "MaxParallelRequests", Reason: "must be >= 0"}
	}
	if c.CAFile != "" && c.RootCAs == nil {
		if _, err := os.Stat(c.CAFile); err != nil {
			return &bmc.ConfigError{Field: "CAFile", Reason: err.Error()}
		}
	}
	return nil
}

// baseURL normalises Endpoint to "scheme://host[:port]".
func baseURL(endpoint string) (string, error) {
	if endpoint == "" {
		return "", &bmc.ConfigError{Field: "Endpoint", Reason: "must be set"}
	}
	e := endpoint
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", &bmc.ConfigError{Field: "Endpoint", Reason: "not a URL or host[:port]"}
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", &bmc.ConfigError{Field: "Endpoint", Reason: "scheme must be https or http"}
	case u.User != nil:
		return "", &bmc.ConfigError{Field: "Endpoint", Reason: "must not contain credentials (use Username and Password)"}
	case u.Host == "":
		return "", &bmc.ConfigError{Field: "Endpoint", Reason: "has no host"}
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return "", &bmc.ConfigError{Field: "Endpoint", Reason: "must not have a path, query or fragment"}
	}
	return u.Scheme + "://" + u.Host, nil
}
