package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
)

// Where StarlingX keeps the files this package reads. Loaders join them to
// Config.Root.
const (
	MtcConfPath         = "/etc/mtc.conf"
	MtcIniPath          = "/etc/mtc.ini"
	PlatformConfPath    = "/etc/platform/platform.conf"
	SimplexFlagPath     = "/etc/platform/simplex"
	VirtualHostFlagPath = "/var/run/virtual.host"
	SysinvConfPath      = "/etc/sysinv/sysinv.conf"
	BarbicanConfPath    = "/etc/barbican/barbican.conf"
	NFVPluginConfPath   = "/etc/nfv/nfv_plugins/nfvi_plugins/config.ini"
)

// Errors of this package.
var (
	// ErrMissingKey is wrapped by *MissingKeyError: a key the daemon
	// requires is absent (mtce's FAIL_INI_CONFIG).
	ErrMissingKey = errors.New("config: required key missing")
	// ErrSyntax is wrapped by *SyntaxError: a file is not parseable INI.
	ErrSyntax = errors.New("config: syntax error")
	// ErrIncomplete is returned by Platform.Ready while platform.conf lacks
	// what the daemons wait for.
	ErrIncomplete = errors.New("config: platform.conf incomplete")
)

// Role says which daemon's rules apply: the keys each requires differ
// (spec K.6).
type Role uint8

// Roles.
const (
	RoleAgent  Role = iota + 1 // mtcAgent, on the active controller
	RoleClient                 // mtcClient, on every host
)

// String returns "agent" or "client".
func (r Role) String() string {
	switch r {
	case RoleAgent:
		return "agent"
	case RoleClient:
		return "client"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// Config says where the files are and how to report what the loaders do.
type Config struct {
	// Root is prefixed to every StarlingX path ("/" on a host, a temporary
	// directory in tests). It must be absolute.
	Root string
	// Role selects the required keys of mtc.conf.
	Role Role
	// Logger receives a warning for each corrected value; nil is silent.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration of an agent on a real host:
// Root "/", RoleAgent, no logger.
func DefaultConfig() Config { return Config{Root: "/", Role: RoleAgent} }

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if c.Root == "" || !filepath.IsAbs(c.Root) {
		return fmt.Errorf("config: Config.Root must be an absolute path, is %q", c.Root)
	}
	if c.Role != RoleAgent && c.Role != RoleClient {
		return fmt.Errorf("config: Config.Role must be RoleAgent or RoleClient, is %v", c.Role)
	}
	return nil
}

// Path returns the location of a StarlingX path under c.Root.
func (c Config) Path(p string) string { return filepath.Join(c.Root, p) }

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// SyntaxError reports a file that cannot be parsed, with the offending
// line's number (0 if it could not be located) and text.
type SyntaxError struct {
	File string
	Line int
	Text string
	Err  error // the parser's error
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("config: %s:%d: cannot parse %q: %v", e.File, e.Line, e.Text, e.Err)
	}
	return fmt.Sprintf("config: %s: cannot parse %q: %v", e.File, e.Text, e.Err)
}

// Unwrap returns ErrSyntax and the parser's error.
func (e *SyntaxError) Unwrap() []error { return []error{ErrSyntax, e.Err} }

// MissingKeyError names a required key that is absent.
type MissingKeyError struct {
	File    string // the file where StarlingX ships it
	Section string
	Key     string
}

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("config: %s: required key [%s] %s is missing", e.File, e.Section, e.Key)
}

// Unwrap returns ErrMissingKey.
func (e *MissingKeyError) Unwrap() error { return ErrMissingKey }

// Correction records one value the loader changed, as StarlingX would.
type Correction struct {
	File    string
	Section string
	Key     string
	Read    string // the text in the file
	Used    string // the value used
	Reason  string
}

// Secret is a configuration value that must not be logged: String, Format,
// GoString, LogValue and MarshalText all print "[redacted]" (or "" when
// empty). Reveal returns the value.
type Secret string

const redacted = "[redacted]"

func (s Secret) redact() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Reveal returns the secret text.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return s.redact() }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return strconv.Quote(s.redact()) }

// Format implements fmt.Formatter: every verb prints the redacted form,
// quoted for %q and %#v.
func (s Secret) Format(f fmt.State, verb rune) {
	out := s.redact()
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		out = strconv.Quote(out)
	}
	f.Write([]byte(out))
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redact()) }

// MarshalText implements encoding.TextMarshaler (JSON, YAML, ...).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redact()), nil }
