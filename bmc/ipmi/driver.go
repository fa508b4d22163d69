package ipmi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"

	"opendev.org/starlingx/metal-go/bmc"
)

const name = "ipmi"

// Driver is a bmc.Driver for IPMI 2.0 BMCs over RMCP+ ("lanplus"), built on
// github.com/bougou/go-ipmi. Calls are serialised per driver (one exchange
// in flight per BMC, like StarlingX's one BMC thread per host).
type Driver struct {
	cfg  Config
	log  *slog.Logger
	addr string
	sem  chan struct{}

	mu     sync.Mutex
	opened bool
	closed bool
	caps   bmc.Capability
	info   bmc.Info
	sess   *session // SessionReuse only
}

var _ bmc.Driver = (*Driver)(nil)

// session is one go-ipmi client with its RMCP+ session and socket.
type session struct {
	c    *client.Client
	conn atomic.Pointer[trackedConn]
}

// dialer implements go-ipmi's proxy.Dialer hook: it hands go-ipmi our
// tracked socket.
type dialer struct {
	d *Driver
	s *session
}

func (x dialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), x.d.cfg.Timeout)
	defer cancel()
	c, err := x.d.cfg.Dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := newTrackedConn(c)
	if old := x.s.conn.Swap(tc); old != nil {
		_ = old.Close()
	}
	return tc, nil
}

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

// Capabilities implements bmc.Driver. Power, boot device and BMC info are
// IPMI basics; sensors need a sensor or SDR repository device (Get Device
// ID); the restart cause is probed at Open, since it is optional (OpenIPMI's
// simulator answers "invalid command").
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

// connect opens a session. On failure the caller (finish) releases it.
func (d *Driver) connect(ctx context.Context) (*session, error) {
	s := &session{}
	c, err := client.NewClient(d.cfg.Host, d.cfg.Port, d.cfg.Username, d.cfg.Password.Reveal())
	if err != nil {
		return nil, err
	}
	c.WithCipherSuiteID(types.CipherSuiteID(d.cfg.CipherSuite))
	c.WithTimeout(d.cfg.Timeout)
	c.WithRetry(d.cfg.Retries)
	c.WithMaxPrivilegeLevel(types.PrivilegeLevelAdministrator)
	c.WithUDPProxy(dialer{d: d, s: s})
	s.c = c
	start := time.Now()
	if err := c.Connect(ctx); err != nil {
		// finish releases the half-open session.
		return s, err
	}
	d.log.DebugContext(ctx, "bmc ipmi: session opened", "bmc", d.addr, "duration", time.Since(start))
	return s, nil
}

// release closes a session. hard: the BMC is not answering (or the session
// is broken), so no Close Session request is attempted.
func (d *Driver) release(ctx context.Context, s *session, hard bool) {
	if s == nil || s.c == nil {
		return
	}
	conn := s.conn.Load()
	if conn == nil {
		// Never dialled: closing would make go-ipmi dial just to send
		// Close Session. Nothing to release.
		return
	}
	if hard {
		conn.abort()
	} else {
		conn.resume()
	}
	// Bounded even if the BMC stops answering now: one exchange at most.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Timeout)
	defer cancel()
	if err := s.c.Close(cctx); err != nil && !hard {
		d.log.DebugContext(ctx, "bmc ipmi: close session", "bmc", d.addr, "err", err)
	}
	_ = conn.Close()
	conn.waitIdle(cctx)
}

// setupAnswers is how many answers go-ipmi's lanplus session setup reads
// before the BMC has activated the session (channel authentication
// capabilities, Open Session response, RAKP 2, RAKP 4).
const setupAnswers = 4

// classify maps a go-ipmi error to a bmc sentinel.
func classify(err error, conn *trackedConn) error {
	if respErr, ok := types.IsResponseError(err); ok {
		switch respErr.CompletionCode() {
		case types.CodeInvalidCommand, types.CodeInvalidCommandForLUN, types.CodeIllegalCommand:
			return bmc.ErrNotSupported
		case types.CodeInsufficientPrivilege:
			return bmc.ErrAuth
		}
		return bmc.ErrProtocol
	}
	if errors.Is(err, client.ErrRAKPAuthentication) {
		return bmc.ErrAuth
	}
	var rs *types.RmcpStatusError
	if errors.As(err, &rs) {
		return rmcpKind(rs.StatusCode())
	}
	if k := bmc.ClassifyTransport(err); k != nil && k != bmc.ErrTimeout {
		return k
	}
	if conn != nil && conn.timedOut() {
		return bmc.ErrTimeout
	}
	if k := bmc.ClassifyTransport(err); k != nil {
		return k
	}
	return flattenedKind(err)
}

var (
	authStatus = []types.RmcpStatusCode{
		types.RmcpStatusCodeUnauthorizedName, types.RmcpStatusCodeInvalidRole,
		types.RmcpStatusCodeUnauthorizedRoleOfPriLevel, types.RmcpStatusCodeUnauthorizedGUID,
		types.RmcpStatusCodeInvalidIntegrityCheckValue,
	}
	suiteStatus = []types.RmcpStatusCode{
		types.RmcpStatusCodeNoCipherSuiteMatch, types.RmcpStatusCodeInvalidAuthAlg,
		types.RmcpStatusCodeInvalidIntegrityAlg, types.RmcpStatusCodeInvalidConfidentAlg,
	}
)

func rmcpKind(code types.RmcpStatusCode) error {
	switch {
	case slices.Contains(authStatus, code):
		return bmc.ErrAuth
	case slices.Contains(suiteStatus, code):
		return bmc.ErrNotSupported
	}
	return bmc.ErrProtocol
}

// flattenedKind classifies session-setup errors that go-ipmi v0.9.1 has
// turned into text: Connect20 joins the errors of each cipher suite it
// tried and formats them with %v, so errors.Is no longer sees
// client.ErrRAKPAuthentication or *types.RmcpStatusError. The texts
// matched are produced by go-ipmi's own values, not copied literals.
func flattenedKind(err error) error {
	msg := err.Error()
	if strings.Contains(msg, client.ErrRAKPAuthentication.Error()) {
		return bmc.ErrAuth
	}
	for _, code := range append(slices.Clone(authStatus), suiteStatus...) {
		if strings.Contains(msg, types.NewRmcpStatusError(code).Error()) {
			return rmcpKind(code)
		}
	}
	return bmc.ErrProtocol
}

// do runs fn with a session, within CallTimeout, one call at a time.
func (d *Driver) do(ctx context.Context, op string, need bmc.Capability, fn func(context.Context, *client.Client) error) error {
	if err := d.check(op, need); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	select {
	case d.sem <- struct{}{}:
	case <-cctx.Done():
		return d.ctxErr(op, ctx, cctx.Err())
	}
	defer func() { <-d.sem }()
	if err := d.check(op, 0); err != nil { // closed while we waited
		return err
	}
	return d.run(ctx, cctx, op, fn)
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

// ctxErr reports the end of the caller's context as such, and the end of
// our own CallTimeout as ErrTimeout.
func (d *Driver) ctxErr(op string, caller context.Context, err error) error {
	if cerr := expired(caller); cerr != nil {
		return d.newErr(op, nil, cerr)
	}
	if err == nil {
		err = context.DeadlineExceeded
	}
	return d.newErr(op, bmc.ErrTimeout, fmt.Errorf("call timeout %s: %w", d.cfg.CallTimeout, err))
}

// expired returns ctx's error, or context.DeadlineExceeded once ctx's
// deadline has passed even if its timer has not fired yet. go-ipmi clamps
// its UDP read deadlines to the context's deadline, so its read can give up
// a moment before ctx.Err() turns non-nil; without this check such a call
// would be reported as a protocol error or a BMC timeout instead of the
// caller's deadline.
func expired(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// run is do's body, with the semaphore held. ctx is the caller's, cctx
// adds CallTimeout.
func (d *Driver) run(ctx, cctx context.Context, op string, fn func(context.Context, *client.Client) error) error {
	d.mu.Lock()
	s := d.sess
	d.sess = nil
	d.mu.Unlock()
	if s == nil {
		var err error
		if s, err = d.connect(cctx); err != nil {
			return d.finish(ctx, cctx, op, s, err, true)
		}
	}
	if conn := s.conn.Load(); conn != nil {
		conn.resetStats()
	}
	err := fn(cctx, s.c)
	return d.finish(ctx, cctx, op, s, err, false)
}

// finish classifies err, makes sure no go-ipmi goroutine is still using
// the socket, and keeps or releases the session.
func (d *Driver) finish(ctx, cctx context.Context, op string, s *session, err error, connecting bool) error {
	var conn *trackedConn
	if s != nil {
		conn = s.conn.Load()
	}
	interrupted := expired(cctx) != nil
	answers := 0
	if conn != nil {
		answers = conn.answers()
	}
	if interrupted && conn != nil {
		// go-ipmi returned because the context ended, but its exchange
		// goroutine may still sit in a read until its deadline: cut it
		// short and wait for it.
		conn.interrupt()
		wctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.waitIdle(wctx)
		cancel()
		conn.resume()
	}
	var kind error
	if err != nil {
		switch {
		case interrupted:
			kind = nil
		default:
			kind = classify(err, conn)
		}
	}
	// Keep a healthy session in reuse mode; a session is healthy after
	// success, after a completion-code error (the BMC answered), and after
	// the caller's own cancellation.
	_, ccErr := types.IsResponseError(err)
	callerEnded := interrupted && expired(ctx) != nil
	healthy := !connecting && (err == nil || ccErr || callerEnded)
	if connecting {
		// A failed session setup. If the caller's context ended after the
		// BMC had activated the session (RAKP message 4 received: the
		// fourth answer, after Get Channel Authentication Capabilities,
		// Open Session and RAKP 2), log it out, or it holds a slot of the
		// BMC's session table until the BMC expires it (ipmi_sim: 63
		// slots, 30-60 s). Earlier, the BMC does not answer Close Session
		// for the half-open session (it would cost a full Timeout) and
		// expires it itself; after a rejected login or no answer there is
		// nothing to log out.
		d.release(ctx, s, !(callerEnded && answers >= setupAnswers))
	} else if healthy && d.cfg.Session == SessionReuse {
		d.mu.Lock()
		if d.closed || d.sess != nil {
			d.mu.Unlock()
			d.release(ctx, s, false)
		} else {
			d.sess = s
			d.mu.Unlock()
		}
	} else {
		// The caller's own deadline or cancellation says nothing about the
		// BMC, which answered the session setup: log the session out (one
		// exchange, bounded by Timeout) rather than leave it to fill the
		// BMC's session table.
		d.release(ctx, s, !healthy)
	}
	if err == nil {
		return nil
	}
	if interrupted {
		return d.ctxErr(op, ctx, cctx.Err())
	}
	if kind == bmc.ErrTimeout {
		err = fmt.Errorf("no answer from the BMC within %d × %s: %w", d.cfg.Retries+1, d.cfg.Timeout, err)
	}
	return d.newErr(op, kind, err)
}

// Open connects and learns what the BMC supports (Get Device ID, and a
// probe of Get System Restart Cause).
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
	// Opened provisionally so that do() accepts the call; reverted on error.
	d.opened = true
	d.caps = bmc.CapAll
	d.mu.Unlock()

	var info bmc.Info
	caps := bmc.CapPowerState | bmc.CapPowerOn | bmc.CapPowerOff | bmc.CapPowerSoft |
		bmc.CapPowerReset | bmc.CapPowerCycle | bmc.CapBootPXE | bmc.CapInfo
	err := d.do(ctx, op, 0, func(ctx context.Context, c *client.Client) error {
		id, err := c.GetDeviceID(ctx)
		if err != nil {
			return err
		}
		info = deviceInfo(id.ManufacturerID, id.ProductID, id.MajorFirmwareRevision, id.MinorFirmwareRevision,
			id.MajorIPMIVersion, id.MinorIPMIVersion)
		if id.SupportSensor || id.SupportSDRRepo {
			caps |= bmc.CapSensors
		}
		_, err = c.GetSystemRestartCause(ctx)
		switch {
		case err == nil:
			caps |= bmc.CapRestartCause
		case classify(err, nil) == bmc.ErrNotSupported:
		default:
			return err
		}
		return nil
	})
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.opened = false
		d.caps = 0
		return err
	}
	d.caps, d.info = caps, info
	d.log.InfoContext(ctx, "bmc ipmi: opened", "bmc", d.addr, "firmware", info.FirmwareVersion,
		"ipmi", info.ProtocolVersion, "capabilities", caps.String(), "session", d.cfg.Session)
	return nil
}

func deviceInfo(mfr uint32, product uint16, fwMajor, fwMinor, ipmiMajor, ipmiMinor uint8) bmc.Info {
	info := bmc.Info{
		Protocol:        bmc.ProtocolIPMI,
		ManufacturerID:  mfr,
		Product:         fmt.Sprintf("0x%04x", product),
		FirmwareVersion: fmt.Sprintf("%d.%02d", fwMajor, fwMinor),
		ProtocolVersion: fmt.Sprintf("%d.%d", ipmiMajor, ipmiMinor),
	}
	if n := types.OEM(mfr).String(); n != "Unknown" {
		info.Manufacturer = n
	}
	return info
}

// Close closes the reused session, if any. It is idempotent; it waits for
// a call in progress to finish (each is bounded by CallTimeout), then
// spends at most Timeout on the Close Session request.
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	// Wait for the call in flight, if any (bounded by its CallTimeout).
	d.sem <- struct{}{}
	defer func() { <-d.sem }()
	d.mu.Lock()
	s := d.sess
	d.sess = nil
	d.mu.Unlock()
	d.release(ctx, s, false)
	return nil
}

// PowerStateGet implements bmc.Driver (Get Chassis Status).
func (d *Driver) PowerStateGet(ctx context.Context) (bmc.PowerState, error) {
	st := bmc.PowerUnknown
	err := d.do(ctx, "power-status", bmc.CapPowerState, func(ctx context.Context, c *client.Client) error {
		res, err := c.GetChassisStatus(ctx)
		if err != nil {
			return err
		}
		st = bmc.PowerOff
		if res.PowerIsOn {
			st = bmc.PowerOn
		}
		return nil
	})
	return st, err
}

var controls = map[bmc.PowerAction]chassis.ChassisControl{
	bmc.ActionOn:      chassis.ChassisControlPowerUp,
	bmc.ActionOff:     chassis.ChassisControlPowerDown,
	bmc.ActionSoftOff: chassis.ChassisControlSoftShutdown,
	bmc.ActionReset:   chassis.ChassisControlHardReset,
	bmc.ActionCycle:   chassis.ChassisControlPowerCycle,
}

// PowerSet implements bmc.Driver (Chassis Control: power up, power down,
// soft shutdown, hard reset, power cycle).
func (d *Driver) PowerSet(ctx context.Context, action bmc.PowerAction) error {
	op := "power-" + string(action)
	ctl, ok := controls[action]
	if !ok {
		return d.newErr(op, bmc.ErrNotSupported, fmt.Errorf("unknown power action %q", action))
	}
	return d.do(ctx, op, action.Capability(), func(ctx context.Context, c *client.Client) error {
		_, err := c.ChassisControl(ctx, ctl)
		return err
	})
}

var selectors = map[bmc.BootDevice]types.BootDeviceSelector{
	bmc.BootPXE:   types.BootDeviceSelectorForcePXE,
	bmc.BootDisk:  types.BootDeviceSelectorForceHardDrive,
	bmc.BootCDROM: types.BootDeviceSelectorForceCDROM,
	bmc.BootBIOS:  types.BootDeviceSelectorForceBIOSSetup,
	bmc.BootNone:  types.BootDeviceSelectorNoOverride,
}

// BootDeviceSet implements bmc.Driver (Set System Boot Options, boot flags
// parameter: valid, one-time unless opts.Persistent, legacy or EFI).
func (d *Driver) BootDeviceSet(ctx context.Context, dev bmc.BootDevice, opts bmc.BootOptions) error {
	const op = "bootdev"
	sel, ok := selectors[dev]
	if !ok {
		if err := d.check(op, 0); err != nil {
			return err
		}
		return d.newErr(op, bmc.ErrNotSupported, fmt.Errorf("unknown boot device %q", dev))
	}
	bootType := types.BIOSBootTypeLegacy
	if opts.EFI {
		bootType = types.BIOSBootTypeEFI
	}
	return d.do(ctx, op, bmc.CapBootPXE, func(ctx context.Context, c *client.Client) error {
		return c.SetBootDevice(ctx, sel, bootType, opts.Persistent)
	})
}

// BMCInfo implements bmc.Driver (Get Device ID, as read at Open, like
// "ipmitool mc info").
func (d *Driver) BMCInfo(ctx context.Context) (bmc.Info, error) {
	var info bmc.Info
	err := d.do(ctx, "bmc-info", bmc.CapInfo, func(ctx context.Context, c *client.Client) error {
		id, err := c.GetDeviceID(ctx)
		if err != nil {
			return err
		}
		info = deviceInfo(id.ManufacturerID, id.ProductID, id.MajorFirmwareRevision, id.MinorFirmwareRevision,
			id.MajorIPMIVersion, id.MinorIPMIVersion)
		return nil
	})
	return info, err
}

// RestartCause implements bmc.Driver (Get System Restart Cause).
func (d *Driver) RestartCause(ctx context.Context) (bmc.RestartCause, error) {
	var rc bmc.RestartCause
	err := d.do(ctx, "restart-cause", bmc.CapRestartCause, func(ctx context.Context, c *client.Client) error {
		res, err := c.GetSystemRestartCause(ctx)
		if err != nil {
			return err
		}
		rc = bmc.RestartCauseFromCode(uint8(res.SystemRestartCause))
		return nil
	})
	return rc, err
}

// Sensors implements bmc.Driver: every full or compact SDR sensor with its
// reading, status and (for threshold sensors) readable thresholds.
func (d *Driver) Sensors(ctx context.Context) ([]bmc.Sensor, error) {
	var out []bmc.Sensor
	err := d.do(ctx, "sensors", bmc.CapSensors, func(ctx context.Context, c *client.Client) error {
		list, err := c.GetSensors(ctx)
		if err != nil {
			return err
		}
		out = make([]bmc.Sensor, 0, len(list))
		for _, s := range list {
			out = append(out, convertSensor(s))
		}
		return nil
	})
	return out, err
}
