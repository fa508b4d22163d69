package hostsvc

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// Defaults and limits.
const (
	// MaxScripts is the largest script set the Runner accepts
	// (MAX_RUN_SCRIPTS in StarlingX, which overruns its table beyond it).
	MaxScripts = 20
	// DefaultServicesRoot holds one directory per function (SERVICES_DIR).
	DefaultServicesRoot = "/etc/services.d"
	// DefaultTimeout is host_services_timeout (mtc.conf [timeouts]).
	DefaultTimeout = 300 * time.Second
	// DefaultWaitDelay bounds the wait for a killed script's process group
	// and output pipe.
	DefaultWaitDelay = 2 * time.Second
	// DefaultOutputTail is how many trailing bytes of each script's output
	// are kept.
	DefaultOutputTail = 4096
	// DefaultPollInterval is how often AutoStart looks at the flag files.
	DefaultPollInterval = time.Second
)

// DefaultEnv returns the environment given to scripts when Config.Env is
// nil: a fixed PATH and the C locale. The caller's own environment is never
// passed on.
func DefaultEnv() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C",
	}
}

// Config configures a Runner. Zero fields take the defaults shown; Node has
// no default.
type Config struct {
	// Node is the node's function set and system type (required). It
	// drives the AIO stop-list merge.
	Node Node

	// ServicesRoot holds the controller, worker and storage script
	// directories; absolute. Default DefaultServicesRoot.
	ServicesRoot string

	// Timeout is the single timeout of a whole script set
	// (host_services_timeout). Default DefaultTimeout.
	Timeout time.Duration

	// Env is the complete environment of every script. nil means
	// DefaultEnv(); an empty non-nil slice means an empty environment. The
	// built-in launcher appends MarkerEnv.
	Env []string

	// TrustCurrentUser also accepts scripts and directories owned by the
	// effective uid of this process, besides root. For tests.
	TrustCurrentUser bool

	// OutputTail is how many trailing bytes of each script's combined
	// stdout and stderr are kept in its ScriptResult. Default
	// DefaultOutputTail; negative keeps none.
	OutputTail int

	// Launcher starts the processes. nil means the os/exec launcher
	// (NewExecLauncher(WaitDelay, Subreaper)).
	Launcher Launcher

	// WaitDelay bounds the wait for a killed script's process group and
	// output pipe. Only for the built-in launcher. Default DefaultWaitDelay.
	WaitDelay time.Duration

	// Subreaper makes this process a child subreaper so that descendants
	// leaving a script's process group can still be killed at a timeout.
	// Only for the built-in launcher; see ExecLauncher for the limits.
	Subreaper bool

	// Logger receives the runner's logs; nil is silent.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in, for node n.
func DefaultConfig(n Node) Config {
	return Config{
		Node:         n,
		ServicesRoot: DefaultServicesRoot,
		Timeout:      DefaultTimeout,
		Env:          DefaultEnv(),
		OutputTail:   DefaultOutputTail,
		WaitDelay:    DefaultWaitDelay,
	}
}

// Validate reports the first invalid field as a *ConfigError. Zero values
// that have a default are valid.
func (c Config) Validate() error {
	if err := c.Node.Validate(); err != nil {
		return err
	}
	if c.ServicesRoot != "" && !filepath.IsAbs(c.ServicesRoot) {
		return &ConfigError{Field: "ServicesRoot", Reason: fmt.Sprintf("%q is not absolute", c.ServicesRoot)}
	}
	if strings.IndexByte(c.ServicesRoot, 0) >= 0 {
		return &ConfigError{Field: "ServicesRoot", Reason: "contains NUL"}
	}
	if c.Timeout < 0 {
		return &ConfigError{Field: "Timeout", Reason: "negative"}
	}
	if c.WaitDelay < 0 {
		return &ConfigError{Field: "WaitDelay", Reason: "negative"}
	}
	for i, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.IndexByte(kv, 0) >= 0 {
			return &ConfigError{Field: fmt.Sprintf("Env[%d]", i), Reason: fmt.Sprintf("%q is not NAME=value", kv)}
		}
		if strings.HasPrefix(kv, MarkerEnv+"=") {
			return &ConfigError{Field: fmt.Sprintf("Env[%d]", i), Reason: MarkerEnv + " is reserved"}
		}
	}
	if c.Launcher != nil && c.Subreaper {
		return &ConfigError{Field: "Subreaper", Reason: "applies to the built-in launcher only; Launcher is set"}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.ServicesRoot == "" {
		c.ServicesRoot = DefaultServicesRoot
	}
	c.ServicesRoot = filepath.Clean(c.ServicesRoot)
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Env == nil {
		c.Env = DefaultEnv()
	} else {
		c.Env = append([]string{}, c.Env...)
	}
	if c.OutputTail == 0 {
		c.OutputTail = DefaultOutputTail
	}
	if c.WaitDelay == 0 {
		c.WaitDelay = DefaultWaitDelay
	}
	return c
}

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// Runner runs the script sets (required). The Scheduler takes the node
	// description from it.
	Runner *Runner

	// FlagRoot is prepended to every flag-file path AutoStart reads
	// (NodeLockedFile, GoEnabledFile, ...); "" reads the real paths.
	FlagRoot string

	// PollInterval is how often AutoStart looks at the flag files while it
	// waits. Default DefaultPollInterval.
	PollInterval time.Duration

	// OnRunStart, if set, is called from Run's goroutine just before a
	// script set starts.
	OnRunStart func(Command)

	// OnResult, if set, is called from Run's goroutine exactly once per
	// executed set, before the requesters are released. This is where the
	// maintenance client sends its single "host services result" message.
	OnResult func(Result)

	// Logger receives the scheduler's logs; nil is silent.
	Logger *slog.Logger
}

// DefaultSchedulerConfig returns a SchedulerConfig for r with the defaults.
func DefaultSchedulerConfig(r *Runner) SchedulerConfig {
	return SchedulerConfig{Runner: r, PollInterval: DefaultPollInterval}
}

// Validate reports the first invalid field as a *ConfigError.
func (c SchedulerConfig) Validate() error {
	if c.Runner == nil {
		return &ConfigError{Field: "Runner", Reason: "required"}
	}
	if c.PollInterval < 0 {
		return &ConfigError{Field: "PollInterval", Reason: "negative"}
	}
	if strings.IndexByte(c.FlagRoot, 0) >= 0 {
		return &ConfigError{Field: "FlagRoot", Reason: "contains NUL"}
	}
	return nil
}
