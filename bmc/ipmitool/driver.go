package ipmitool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
)

const name = "ipmitool"

// Driver is a bmc.Driver that runs ipmitool as StarlingX does
// ("ipmitool -I lanplus -R 1 -H <ip> -U <user> -f <pwfile> <cmd>"), one
// process per operation. It is the fallback for BMCs the go-ipmi driver
// cannot talk to and the baseline of the benchmarks. Calls are serialised
// per driver.
type Driver struct {
	cfg  Config
	log  *slog.Logger
	addr string
	sem  chan struct{}

	mu     sync.Mutex
	opened bool
	closed bool
	caps   bmc.Capability
}

var _ bmc.Driver = (*Driver)(nil)

// New validates cfg and returns an unopened driver.
func New(cfg Config) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Driver{
		cfg:  cfg,
		log:  cfg.Logger,
		addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		sem:  make(chan struct{}, 1),
	}, nil
}

// Name implements bmc.Driver.
func (d *Driver) Name() string { return name }

// Protocol implements bmc.Driver.
func (d *Driver) Protocol() bmc.Protocol { return bmc.ProtocolIPMI }

// Capabilities implements bmc.Driver (learned at Open from "mc info" and a
// "chassis restart_cause" probe).
func (d *Driver) Capabilities() bmc.Capability {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.opened || d.closed {
		return 0
	}
	return d.caps
}

func (d *Driver) newErr(op string, kind, err error) error {
	return bmc.NewError(op, name, d.addr, kind, err)
}

func (d *Driver) check(op string, need bmc.Capability) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return d.newErr(op, bmc.ErrClosed, nil)
	case !d.opened:
		return d.newErr(op, bmc.ErrNotOpen, nil)
	case need != 0 && !d.caps.Has(need):
		return d.newErr(op, bmc.ErrNotSupported, fmt.Errorf("BMC lacks %s", need))
	}
	return nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// args returns ipmitool's connection arguments (no password).
func (d *Driver) args() []string {
	secs := int((d.cfg.Timeout + time.Second - 1) / time.Second)
	return []string{
		"-I", "lanplus",
		"-H", d.cfg.Host,
		"-p", strconv.Itoa(d.cfg.Port),
		"-U", d.cfg.Username,
		"-C", strconv.Itoa(d.cfg.CipherSuite),
		"-N", strconv.Itoa(secs),
		"-R", strconv.Itoa(d.cfg.Retries),
	}
}

// run executes one ipmitool command and returns its stdout. need is
// checked first; the call is serialised with the driver's other calls.
func (d *Driver) run(ctx context.Context, op string, need bmc.Capability, command ...string) (string, error) {
	if err := d.check(op, need); err != nil {
		return "", err
	}
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return "", d.newErr(op, nil, ctx.Err())
	}
	defer func() { <-d.sem }()
	if op != "open" {
		if err := d.check(op, 0); err != nil {
			return "", err
		}
	}
	return d.exec(ctx, op, command)
}

func (d *Driver) exec(ctx context.Context, op string, command []string) (string, error) {
	args := d.args()
	env := []string{"PATH=" + os.Getenv("PATH"), "LANG=C", "LC_ALL=C"}
	switch d.cfg.PasswordVia {
	case PasswordEnv:
		args = append(args, "-E")
		env = append(env, "IPMI_PASSWORD="+d.cfg.Password.Reveal())
	default:
		dir, err := os.MkdirTemp(d.cfg.TempDir, "metal-go-ipmitool-")
		if err != nil {
			return "", d.newErr(op, bmc.ErrInvalidConfig, fmt.Errorf("password file: %w", err))
		}
		defer os.RemoveAll(dir)
		pw := filepath.Join(dir, "password")
		if err := os.WriteFile(pw, []byte(d.cfg.Password.Reveal()), 0o600); err != nil {
			return "", d.newErr(op, bmc.ErrInvalidConfig, fmt.Errorf("password file: %w", err))
		}
		args = append(args, "-f", pw)
	}
	args = append(args, command...)

	cctx, cancel := context.WithTimeout(ctx, d.cfg.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, d.cfg.Path, args...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	stdout := &limitedBuffer{max: 1 << 20}
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = d.cfg.WaitDelay
	inOwnGroup(cmd)
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	d.log.DebugContext(ctx, "bmc ipmitool: command", "bmc", d.addr, "command", strings.Join(command, " "),
		"duration", elapsed, "err", err)
	if err == nil {
		return string(stdout.b), nil
	}
	errText := strings.TrimSpace(string(stderr.b))
	switch {
	case ctx.Err() != nil:
		return "", d.newErr(op, nil, ctx.Err())
	case cctx.Err() != nil:
		return "", d.newErr(op, bmc.ErrTimeout, fmt.Errorf("ipmitool killed after %s (command timeout)", d.cfg.CommandTimeout))
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission):
		return "", d.newErr(op, bmc.ErrInvalidConfig, fmt.Errorf("cannot run %s: %w", d.cfg.Path, err))
	}
	kind := d.classify(errText, elapsed)
	if errText == "" {
		errText = err.Error()
	}
	return "", d.newErr(op, kind, fmt.Errorf("ipmitool %s: %s (%v)", strings.Join(command, " "), lastLines(errText), err))
}

// classify maps ipmitool's stderr to a bmc sentinel. ipmitool (without -v)
// reports a rejected login and an unanswered one with the same message,
// "Unable to establish IPMI v2 / RMCP+ session"; they are told apart by
// time: a rejection arrives within milliseconds, while "no answer" takes at
// least one full retransmission timeout (-N). The go-ipmi driver
// classifies these exactly.
func (d *Driver) classify(stderr string, elapsed time.Duration) error {
	s := strings.ToLower(stderr)
	has := func(subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("invalid command", "command not supported", "not supported", "illegal for specified"):
		return bmc.ErrNotSupported
	case has("rakp 2 hmac is invalid", "unauthorized name", "insufficient privilege", "invalid user name"):
		return bmc.ErrAuth
	case has("no response from remote controller", "get auth capabilities error",
		"error issuing get channel authentication capabilities"):
		return bmc.ErrTimeout
	case has("unable to establish"):
		if elapsed >= d.cfg.Timeout {
			return bmc.ErrTimeout
		}
		return bmc.ErrAuth
	case has("insufficient resources for session"):
		return bmc.ErrProtocol
	}
	return bmc.ErrProtocol
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, "; ")
}

// Open runs "mc info" (credentials check, BMC description) and probes
// "chassis restart_cause".
func (d *Driver) Open(ctx context.Context) error {
	const op = "open"
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return d.newErr(op, bmc.ErrClosed, nil)
	case d.opened:
		d.mu.Unlock()
		return nil
	}
	d.opened = true // provisional, so that run accepts the calls
	d.caps = bmc.CapAll
	d.mu.Unlock()

	caps, err := d.probe(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.opened, d.caps = false, 0
		return err
	}
	d.caps = caps
	d.log.InfoContext(ctx, "bmc ipmitool: opened", "bmc", d.addr, "capabilities", caps.String())
	return nil
}

func (d *Driver) probe(ctx context.Context) (bmc.Capability, error) {
	const op = "open"
	out, err := d.run(ctx, op, 0, "mc", "info")
	if err != nil {
		return 0, err
	}
	mc, err := parseMCInfo(out)
	if err != nil {
		return 0, d.newErr(op, bmc.ErrProtocol, err)
	}
	caps := bmc.CapPowerState | bmc.CapPowerOn | bmc.CapPowerOff | bmc.CapPowerSoft |
		bmc.CapPowerReset | bmc.CapPowerCycle | bmc.CapBootPXE | bmc.CapInfo
	if len(mc.support) == 0 || mc.support["Sensor Device"] || mc.support["SDR Repository Device"] {
		caps |= bmc.CapSensors
	}
	_, err = d.run(ctx, op, 0, "chassis", "restart_cause")
	switch {
	case err == nil:
		caps |= bmc.CapRestartCause
	case errors.Is(err, bmc.ErrNotSupported):
	default:
		return 0, err
	}
	return caps, nil
}

// Close implements bmc.Driver. ipmitool holds no session between calls;
// Close waits for a command in flight (bounded by CommandTimeout).
func (d *Driver) Close(context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.sem <- struct{}{}
	<-d.sem
	return nil
}

// PowerStateGet implements bmc.Driver ("chassis power status").
func (d *Driver) PowerStateGet(ctx context.Context) (bmc.PowerState, error) {
	const op = "power-status"
	out, err := d.run(ctx, op, bmc.CapPowerState, "chassis", "power", "status")
	if err != nil {
		return bmc.PowerUnknown, err
	}
	st, err := parsePowerStatus(out)
	if err != nil {
		return bmc.PowerUnknown, d.newErr(op, bmc.ErrProtocol, err)
	}
	return st, nil
}

// PowerSet implements bmc.Driver ("chassis power on|off|soft|reset|cycle").
func (d *Driver) PowerSet(ctx context.Context, action bmc.PowerAction) error {
	op := "power-" + string(action)
	if !action.Valid() {
		if err := d.check(op, 0); err != nil {
			return err
		}
		return d.newErr(op, bmc.ErrNotSupported, fmt.Errorf("unknown power action %q", action))
	}
	_, err := d.run(ctx, op, action.Capability(), "chassis", "power", string(action))
	return err
}

var bootdevs = map[bmc.BootDevice]string{
	bmc.BootPXE: "pxe", bmc.BootDisk: "disk", bmc.BootCDROM: "cdrom", bmc.BootBIOS: "bios", bmc.BootNone: "none",
}

// BootDeviceSet implements bmc.Driver ("chassis bootdev pxe
// [options=persistent,efiboot]").
func (d *Driver) BootDeviceSet(ctx context.Context, dev bmc.BootDevice, opts bmc.BootOptions) error {
	const op = "bootdev"
	arg, ok := bootdevs[dev]
	if !ok {
		if err := d.check(op, 0); err != nil {
			return err
		}
		return d.newErr(op, bmc.ErrNotSupported, fmt.Errorf("unknown boot device %q", dev))
	}
	cmd := []string{"chassis", "bootdev", arg}
	var o []string
	if opts.Persistent {
		o = append(o, "persistent")
	}
	if opts.EFI {
		o = append(o, "efiboot")
	}
	if len(o) > 0 {
		cmd = append(cmd, "options="+strings.Join(o, ","))
	}
	_, err := d.run(ctx, op, bmc.CapBootPXE, cmd...)
	return err
}

// BMCInfo implements bmc.Driver ("mc info").
func (d *Driver) BMCInfo(ctx context.Context) (bmc.Info, error) {
	const op = "bmc-info"
	out, err := d.run(ctx, op, bmc.CapInfo, "mc", "info")
	if err != nil {
		return bmc.Info{}, err
	}
	mc, err := parseMCInfo(out)
	if err != nil {
		return bmc.Info{}, d.newErr(op, bmc.ErrProtocol, err)
	}
	return mc.info, nil
}

// RestartCause implements bmc.Driver ("chassis restart_cause").
func (d *Driver) RestartCause(ctx context.Context) (bmc.RestartCause, error) {
	const op = "restart-cause"
	out, err := d.run(ctx, op, bmc.CapRestartCause, "chassis", "restart_cause")
	if err != nil {
		return "", err
	}
	rc, err := parseRestartCause(out)
	if err != nil {
		return "", d.newErr(op, bmc.ErrProtocol, err)
	}
	return rc, nil
}

// Sensors implements bmc.Driver ("sensor list", as StarlingX's hwmond).
func (d *Driver) Sensors(ctx context.Context) ([]bmc.Sensor, error) {
	const op = "sensors"
	out, err := d.run(ctx, op, bmc.CapSensors, "sensor", "list")
	if err != nil {
		return nil, err
	}
	list, err := parseSensorList(out)
	if err != nil {
		return nil, d.newErr(op, bmc.ErrProtocol, err)
	}
	return list, nil
}
