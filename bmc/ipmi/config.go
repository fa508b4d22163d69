package ipmi

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
)

// SessionMode says how long an RMCP+ session lives.
type SessionMode string

// Session modes.
const (
	// SessionPerCall opens a session for every call and closes it after,
	// like one ipmitool invocation (default). No state is held between
	// calls, and no session can go stale.
	SessionPerCall SessionMode = "per-call"
	// SessionReuse keeps one session open between calls (go-ipmi keeps it
	// alive every 30 s) until Close, or until a call fails at the session
	// or transport level, after which the next call opens a new one.
	SessionReuse SessionMode = "reuse"
)

// Config configures a Driver.
type Config struct {
	// Host is the BMC address (bm_ip). Required.
	Host string
	// Port is the RMCP+ UDP port (default 623).
	Port int
	// Username and Password are the BMC credentials (administrator
	// privilege is requested).
	Username string
	Password bmc.Password
	// CipherSuite is the RMCP+ cipher suite (default 3: HMAC-SHA1,
	// HMAC-SHA1-96, AES-CBC-128). Suite 3 is the only one go-ipmi and
	// OpenIPMI's simulator agree on; suite 2 crashes that simulator. The
	// suite is always sent explicitly: go-ipmi would otherwise first ask
	// the BMC for its suites, which ipmi_sim never answers (5 s lost).
	CipherSuite int
	// Timeout is the read deadline of one request/response exchange
	// (default 1 s, ipmitool's lanplus default). Every exchange has one.
	Timeout time.Duration
	// Retries is how many times an unanswered exchange is resent
	// (DefaultConfig: 1, StarlingX's "ipmitool -R 1"). A BMC that stopped
	// answering thus fails a call after about (Retries+1) × Timeout.
	Retries int
	// CallTimeout bounds one driver call, session setup and teardown
	// included (default 15 s).
	CallTimeout time.Duration
	// Session is SessionPerCall (default) or SessionReuse.
	Session SessionMode
	// Dial opens the UDP socket (default net.Dialer.DialContext). It is the
	// seam for in-memory packet transports in tests.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Logger receives session and warning records (nil: silent).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; Host and credentials must be set.
func DefaultConfig() Config {
	return Config{
		Port:        623,
		CipherSuite: 3,
		Timeout:     time.Second,
		Retries:     1,
		CallTimeout: 15 * time.Second,
		Session:     SessionPerCall,
	}
}

func (c *Config) setDefaults() {
	d := DefaultConfig()
	if c.Port == 0 {
		c.Port = d.Port
	}
	if c.CipherSuite == 0 {
		c.CipherSuite = d.CipherSuite
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = d.CallTimeout
	}
	if c.Session == "" {
		c.Session = d.Session
	}
	if c.Dial == nil {
		c.Dial = (&net.Dialer{}).DialContext
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the configuration. Zero Port, CipherSuite, Timeout,
// CallTimeout and Session mean their defaults; cipher suite 0 (no
// authentication) cannot be selected.
func (c Config) Validate() error {
	switch {
	case c.Host == "":
		return &bmc.ConfigError{Field: "Host", Reason: "must be set"}
	case strings.ContainsAny(c.Host, "/@ "):
		return &bmc.ConfigError{Field: "Host", Reason: "must be a host name or address"}
	case c.Port < 0 || c.Port > 65535:
		return &bmc.ConfigError{Field: "Port", Reason: "must be 1..65535"}
	case c.Username == "" || len(c.Username) > 16:
		return &bmc.ConfigError{Field: "Username", Reason: "must be 1..16 bytes (IPMI limit)"}
	case len(c.Password.Reveal()) > 20:
		return &bmc.ConfigError{Field: "Password", Reason: "must be at most 20 bytes (IPMI 2.0 limit)"}
	case c.CipherSuite < 0 || c.CipherSuite > 19:
		return &bmc.ConfigError{Field: "CipherSuite", Reason: "must be 1..19"}
	case c.Timeout < 0:
		return &bmc.ConfigError{Field: "Timeout", Reason: "must be >= 0"}
	case c.Retries < 0:
		return &bmc.ConfigError{Field: "Retries", Reason: "must be >= 0"}
	case c.CallTimeout < 0:
		return &bmc.ConfigError{Field: "CallTimeout", Reason: "must be >= 0"}
	}
	switch c.Session {
	case "", SessionPerCall, SessionReuse:
	default:
		return &bmc.ConfigError{Field: "Session", Reason: `must be "per-call" or "reuse"`}
	}
	return nil
}
