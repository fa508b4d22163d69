package demo

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"time"
)

// Sentinel errors.
var (
	// ErrConfig is wrapped by Config.Validate's errors; the text names the
	// field.
	ErrConfig = errors.New("demo: invalid configuration")
	// ErrNoLoopbackAlias: this machine cannot bind 127.0.0.x addresses
	// other than 127.0.0.1 (Linux routes all of 127/8 to lo; other
	// systems need aliases), so the hosts cannot each have their own
	// address.
	ErrNoLoopbackAlias = errors.New("demo: cannot bind loopback addresses other than 127.0.0.1")
	// ErrClosed is returned by the Demo's methods after Close.
	ErrClosed = errors.New("demo: closed")
	// ErrNotStarted is returned by actions before Start succeeded.
	ErrNotStarted = errors.New("demo: not started")
	// ErrUnknownHost names a host that is not in the system.
	ErrUnknownHost = errors.New("demo: unknown host")
)

// System types.
const (
	SystemAIODuplex = "aio-duplex"
	SystemStandard  = "standard"
)

// Defaults.
const (
	DefaultScriptTime = time.Second
	DefaultBootDelay  = time.Second
	DefaultSwactDelay = 2 * time.Second
	DefaultWorkers    = 2
)

// Config configures a Demo.
type Config struct {
	// System is SystemAIODuplex (two controller+worker hosts, the
	// default) or SystemStandard (two controllers and Workers workers).
	System string
	// Workers is the number of worker hosts of a standard system
	// (default DefaultWorkers; 0 with -1). Ignored on AIO duplex.
	Workers int

	// ScriptTime is how long each host-services script takes
	// (default 1 s).
	ScriptTime time.Duration
	// BootDelay is how long a simulated boot takes before the host's
	// client starts again (default 1 s).
	BootDelay time.Duration
	// SwactDelay is how long the simulated SM takes to move activity
	// (default 2 s; StarlingX's is about 6 s).
	SwactDelay time.Duration

	// Base is the x.y of the 127.x.y.0/24 the hosts' addresses are taken
	// from; the zero value picks one at random (and retries another if
	// its addresses are taken), so that two demos on one machine do not
	// collide.
	Base netip.Addr

	// Dir is where the temporary root directory is created ("" = the
	// system's temporary directory).
	Dir string

	// OnEvent, if set, receives every event (state changes, tasks,
	// host services, reboots, swact stages, token renewals) in order, on
	// one goroutine the Demo owns. Keep it quick.
	OnEvent func(Event)

	// Logger receives the components' own logs (agent, clients,
	// simulator); nil = silent.
	Logger *slog.Logger
}

// DefaultConfig returns an AIO duplex demo with 1 s scripts.
func DefaultConfig() Config {
	return Config{
		System:     SystemAIODuplex,
		Workers:    DefaultWorkers,
		ScriptTime: DefaultScriptTime,
		BootDelay:  DefaultBootDelay,
		SwactDelay: DefaultSwactDelay,
	}
}

// Validate reports the first problem, wrapping ErrConfig.
func (c Config) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, a...))
	}
	switch c.System {
	case "", SystemAIODuplex, SystemStandard:
	default:
		return bad("System", "%q is not %q or %q", c.System, SystemAIODuplex, SystemStandard)
	}
	if c.Workers < -1 || c.Workers > 50 {
		return bad("Workers", "%d is not within 0..50", c.Workers)
	}
	for name, d := range map[string]time.Duration{"ScriptTime": c.ScriptTime, "BootDelay": c.BootDelay, "SwactDelay": c.SwactDelay} {
		if d < 0 {
			return bad(name, "negative (%v)", d)
		}
	}
	if c.ScriptTime > time.Minute {
		return bad("ScriptTime", "%v is more than a minute", c.ScriptTime)
	}
	if c.Base.IsValid() && (!c.Base.Is4() || !c.Base.IsLoopback()) {
		return bad("Base", "%v is not an IPv4 loopback address", c.Base)
	}
	if c.Dir != "" && !filepath.IsAbs(c.Dir) {
		return bad("Dir", "%q is not absolute", c.Dir)
	}
	return nil
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.System == "" {
		c.System = d.System
	}
	switch {
	case c.Workers == 0:
		c.Workers = d.Workers
	case c.Workers < 0:
		c.Workers = 0
	}
	if c.System == SystemAIODuplex {
		c.Workers = 0
	}
	if c.ScriptTime == 0 {
		c.ScriptTime = d.ScriptTime
	}
	if c.BootDelay == 0 {
		c.BootDelay = d.BootDelay
	}
	if c.SwactDelay == 0 {
		c.SwactDelay = d.SwactDelay
	}
	return c
}
