package hwmon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
)

// Defaults.
const (
	// DefaultInterval is hwmond's sensor audit interval
	// (HWMON_DEFAULT_AUDIT_INTERVAL, spec G.3).
	DefaultInterval = 2 * time.Minute
	// DefaultConcurrency bounds the audits that run at once.
	DefaultConcurrency = 16
	// DefaultHostTimeout bounds one host's audit (BMC open and read, SysInv
	// load and writes). It is below DefaultInterval so that an audit cut
	// short still leaves its host's next tick free.
	DefaultHostTimeout = 90 * time.Second
	// DefaultCloseTimeout bounds each driver Close and the wait of Run's
	// exit (and so Close) for the audits it cancelled.
	DefaultCloseTimeout = 10 * time.Second
)

// Errors. Test with errors.Is.
var (
	// ErrInvalidConfig is wrapped by Config.Validate and New.
	ErrInvalidConfig = errors.New("hwmon: invalid configuration")
	// ErrClosed: Run after Close.
	ErrClosed = errors.New("hwmon: monitor closed")
	// ErrRunning: Run called while another Run is active, or a second time.
	ErrRunning = errors.New("hwmon: monitor already running")
	// ErrNoPassword: Config.Password returned an empty password (the BMC
	// has no secret in Barbican yet). The audit is retried at the next tick.
	ErrNoPassword = errors.New("hwmon: empty BMC password")
	// ErrStuck: Run's exit (and Close) waited Config.CloseTimeout for an
	// audit or a driver Close that ignores its context; that goroutine is
	// left behind and ends when the driver returns.
	ErrStuck = errors.New("hwmon: audits did not stop within the close timeout")
)

// Host is one host's identity and BMC fields, as SysInv holds them.
type Host struct {
	// Name is the hostname: the key of Set and Remove and the SysInv lane.
	Name string
	// UUID is SysInv's host UUID (sensor records point to it).
	UUID string
	// BMIP, BMUsername and BMType are bm_ip, bm_username and bm_type.
	BMIP, BMUsername string
	BMType           mtce.BMCType
}

// BMCProvisioned reports whether h's BMC is provisioned by mtce's rule
// (J.5): a bm_type other than none, and bm_ip and bm_username neither
// empty nor "none". Only such hosts are audited.
func (h Host) BMCProvisioned() bool {
	return h.BMType.Provisioned() && present(h.BMIP) && present(h.BMUsername)
}

func present(s string) bool { return s != "" && s != "none" }

// sameBMC reports whether a and b address the same BMC with the same
// credentials (hwmond's mod_host compares bm_ip, bm_username, bm_type).
func sameBMC(a, b Host) bool {
	return a.BMIP == b.BMIP && a.BMUsername == b.BMUsername && a.BMType == b.BMType
}

// SysInv is what the monitor needs of *sysinv.Client: the sensor calls.
// The caller builds that client with its OWN workqueue.Queue and
// UserAgent "hwmon/1.0" (sharing the agent's keystone transport), so that
// sensor writes never sit ahead of the agent's state calls on a host's
// lane. Every call is queued on the host name's lane and awaited with the
// audit's context; a call still pending when the audit ends is cancelled.
type SysInv interface {
	Sensors(ref sysinv.Ref) (*sysinv.Call[[]sysinv.Sensor], error)
	SensorGroups(ref sysinv.Ref) (*sysinv.Call[[]sysinv.SensorGroup], error)
	AddSensor(ref sysinv.Ref, s sysinv.Sensor) (*sysinv.Call[sysinv.Sensor], error)
	AddSensorGroup(ref sysinv.Ref, g sysinv.SensorGroup) (*sysinv.Call[sysinv.SensorGroup], error)
	ModifySensor(ref sysinv.Ref, sensorUUID string, fields ...sysinv.Field) (*sysinv.Call[sysinv.Sensor], error)
	ModifySensorGroup(ref sysinv.Ref, groupUUID string, fields ...sysinv.Field) (*sysinv.Call[sysinv.SensorGroup], error)
	GroupSensors(ref sysinv.Ref, groupUUID string, sensorUUIDs []string) (*sysinv.Call[sysinv.SensorGroup], error)
	DeleteSensor(ref sysinv.Ref, sensorUUID string) (*sysinv.Call[struct{}], error)
}

var _ SysInv = (*sysinv.Client)(nil)

// Config configures a Monitor. Start from DefaultConfig.
type Config struct {
	// SysInv receives the sensor records. Required.
	SysInv SysInv
	// Password returns the host's BMC password (the agent's lazy Barbican
	// store). It is called each time a driver is opened: at the first
	// audit, after a BMC field change and after a failed read. An error or
	// an empty password ends that audit (OutcomePassword); the next tick
	// retries. Required.
	Password func(ctx context.Context, h Host) (bmc.Password, error)
	// NewDriver builds the host's BMC driver (not yet opened) by bm_type.
	// The monitor opens it, reads sensors with it and closes it. Required.
	NewDriver func(ctx context.Context, h Host, pw bmc.Password) (bmc.Driver, error)
	// Interval between two audits of a host (default 2 min). Ticks are on
	// a fixed grid from the host's Set; a tick that finds the host's
	// previous audit still running or waiting for a slot is skipped.
	Interval time.Duration
	// Concurrency is the most audits that run at once (default 16). Hosts
	// due while every slot is busy wait in FIFO order.
	Concurrency int
	// HostTimeout bounds one audit, BMC and SysInv work together (default
	// 90 s). What was written before it ran out is kept.
	HostTimeout time.Duration
	// CloseTimeout bounds each driver Close and Run's wait, at exit, for
	// the audits it cancelled (default 10 s).
	CloseTimeout time.Duration
	// Simplex: an AIO-simplex system, where hwmond offers neither reset
	// nor power-cycle among a group's critical actions.
	Simplex bool
	// Observer, if not nil, is called once per finished audit (metrics).
	// It runs on the audit's goroutine and must be quick.
	Observer func(Audit)
	// Logger receives the monitor's logs; nil means silent. No password is
	// ever logged.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; set SysInv, Password and NewDriver.
func DefaultConfig() Config {
	return Config{
		Interval:     DefaultInterval,
		Concurrency:  DefaultConcurrency,
		HostTimeout:  DefaultHostTimeout,
		CloseTimeout: DefaultCloseTimeout,
	}
}

// Validate reports every unusable field, each error naming the field and
// wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, reason string) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, reason))
	}
	if c.SysInv == nil {
		bad("SysInv", "required")
	}
	if c.Password == nil {
		bad("Password", "required")
	}
	if c.NewDriver == nil {
		bad("NewDriver", "required")
	}
	if c.Interval <= 0 {
		bad("Interval", "must be positive")
	}
	if c.Concurrency < 1 {
		bad("Concurrency", "must be at least 1")
	}
	if c.HostTimeout <= 0 {
		bad("HostTimeout", "must be positive")
	}
	if c.CloseTimeout <= 0 {
		bad("CloseTimeout", "must be positive")
	}
	return errors.Join(errs...)
}
