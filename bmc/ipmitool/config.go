package ipmitool

import (
	"log/slog"
	"os"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
)

// PasswordVia says how the password reaches ipmitool. It is never put on
// the command line, where every local user could read it in /proc.
type PasswordVia string

// Password transports.
const (
	// PasswordFile writes the password to a fresh 0600 file in a private
	// 0700 directory, passes "-f <file>" and removes both after the command
	// (StarlingX's way, default).
	PasswordFile PasswordVia = "file"
	// PasswordEnv passes "-E" and the password in IPMI_PASSWORD in the
	// child's environment only (readable by the same user and root).
	PasswordEnv PasswordVia = "env"
)

// Config configures a Driver.
type Config struct {
	// Host is the BMC address (bm_ip). Required.
	Host string
	// Port is the RMCP+ UDP port (default 623).
	Port int
	// Username and Password are the BMC credentials.
	Username string
	Password bmc.Password
	// CipherSuite is passed as "-C" (default 3). Always passing it also
	// saves ipmitool 1.8.19's Get Channel Cipher Suites round, which
	// OpenIPMI's simulator never answers (10 s per command).
	CipherSuite int
	// Path is the ipmitool executable (default "ipmitool" from PATH).
	Path string
	// Timeout is ipmitool's per-exchange timeout, "-N" in whole seconds
	// (default 1 s, ipmitool's lanplus default).
	Timeout time.Duration
	// Retries is ipmitool's "-R" (default 1, as StarlingX runs it). Zero
	// means the default: ipmitool itself reads "-R 0" as "use my built-in
	// retry schedule", which waits about 20 s for a hung BMC.
	Retries int
	// CommandTimeout bounds one ipmitool process; at the deadline its whole
	// process group is killed (default 20 s).
	CommandTimeout time.Duration
	// WaitDelay is how long to wait for the output pipes after the kill
	// (default 1 s).
	WaitDelay time.Duration
	// PasswordVia is PasswordFile (default) or PasswordEnv.
	PasswordVia PasswordVia
	// TempDir holds the private password directories (default os.TempDir()).
	TempDir string
	// Logger receives command records (never the password) (nil: silent).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; Host and credentials must be set.
func DefaultConfig() Config {
	return Config{
		Port:           623,
		CipherSuite:    3,
		Path:           "ipmitool",
		Timeout:        time.Second,
		Retries:        1,
		CommandTimeout: 20 * time.Second,
		WaitDelay:      time.Second,
		PasswordVia:    PasswordFile,
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
	if c.Path == "" {
		c.Path = d.Path
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.Retries == 0 {
		c.Retries = d.Retries
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = d.CommandTimeout
	}
	if c.WaitDelay == 0 {
		c.WaitDelay = d.WaitDelay
	}
	if c.PasswordVia == "" {
		c.PasswordVia = d.PasswordVia
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the configuration; zero fields take their defaults.
func (c Config) Validate() error {
	switch {
	case c.Host == "":
		return &bmc.ConfigError{Field: "Host", Reason: "must be set"}
	case strings.HasPrefix(c.Host, "-") || strings.ContainsAny(c.Host, " \t\n/@"):
		return &bmc.ConfigError{Field: "Host", Reason: "must be a host name or address"}
	case c.Port < 0 || c.Port > 65535:
		return &bmc.ConfigError{Field: "Port", Reason: "must be 1..65535"}
	case c.Username == "" || len(c.Username) > 16 || strings.HasPrefix(c.Username, "-") || strings.ContainsAny(c.Username, "\n\x00"):
		return &bmc.ConfigError{Field: "Username", Reason: "must be 1..16 bytes, not starting with '-'"}
	case strings.ContainsAny(c.Password.Reveal(), "\n\x00"):
		return &bmc.ConfigError{Field: "Password", Reason: "must not contain a newline or NUL"}
	case len(c.Password.Reveal()) > 20:
		return &bmc.ConfigError{Field: "Password", Reason: "must be at most 20 bytes (IPMI 2.0 limit)"}
	case c.CipherSuite < 0 || c.CipherSuite > 17:
		return &bmc.ConfigError{Field: "CipherSuite", Reason: "must be 1..17"}
	case c.Timeout < 0 || (c.Timeout > 0 && c.Timeout < time.Second):
		return &bmc.ConfigError{Field: "Timeout", Reason: "must be whole seconds >= 1 s (ipmitool -N)"}
	case c.Retries < 0:
		return &bmc.ConfigError{Field: "Retries", Reason: "must be >= 0"}
	case c.CommandTimeout < 0:
		return &bmc.ConfigError{Field: "CommandTimeout", Reason: "must be >= 0"}
	case c.WaitDelay < 0:
		return &bmc.ConfigError{Field: "WaitDelay", Reason: "must be >= 0"}
	}
	switch c.PasswordVia {
	case "", PasswordFile, PasswordEnv:
	default:
		return &bmc.ConfigError{Field: "PasswordVia", Reason: `must be "file" or "env"`}
	}
	return nil
}
