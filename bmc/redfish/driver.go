package redfish

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
)

const (
	name         = "redfish"
	maxBody      = 4 << 20
	serviceRootP = "/redfish/v1/"
)

// Driver is a bmc.Driver for Redfish BMCs, written on net/http.
type Driver struct {
	cfg    Config
	base   string
	client *http.Client
	owned  *http.Transport // closed by Close when we built it
	log    *slog.Logger

	loginMu    sync.Mutex // one re-login at a time
	bootMu     sync.Mutex // one boot override read-modify-write at a time
	mu         sync.Mutex
	opened     bool
	closed     bool
	token      string // session mode
	sessionURI string // this login's session, deleted by Close
	loginURI   string // the Sessions collection
	version    string
	vendor     string
	product    string
	systemURI  string
	resetURI   string
	resetTypes []string
	bootOK     bool
	bootTgts   []string // nil: not annotated
	chassisURI string
	chassis    *chassis // the system's chassis, read at Open
	enclURI    string   // the chassis containing it (Links.ContainedBy), if any
	enclosure  *chassis // nil until read (Open, else the first Sensors)
	expand     bool     // the service supports $expand=. (ExpandQuery.NoLinks)
	managerURI string
	caps       bmc.Capability
}

var _ bmc.Driver = (*Driver)(nil)

// New validates cfg and returns an unopened driver.
func New(cfg Config) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	base, _ := baseURL(cfg.Endpoint)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{cfg: cfg, base: base, log: log}
	rt := cfg.Transport
	if rt == nil {
		pool := cfg.RootCAs
		if pool == nil && cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, &bmc.ConfigError{Field: "CAFile", Reason: err.Error()}
			}
			pool = x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &bmc.ConfigError{Field: "CAFile", Reason: "no PEM certificate found"}
			}
		}
		if cfg.InsecureSkipVerify {
			d.warnInsecure(context.Background())
		}
		d.owned = &http.Transport{
			// No proxy from the environment: BMC traffic carries credentials
			// and belongs on the management network.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: cfg.Timeout,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			TLSClientConfig: &tls.Config{
				RootCAs:            pool,
				InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // explicit opt-in, logged
				MinVersion:         tls.VersionTLS12,
			},
		}
		rt = d.owned
	}
	d.client = &http.Client{
		Transport: rt,
		// A BMC redirect must not carry our credentials elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d, nil
}

func (d *Driver) warnInsecure(ctx context.Context) {
	d.log.WarnContext(ctx, "bmc redfish: TLS CERTIFICATE VERIFICATION IS DISABLED (InsecureSkipVerify); "+
		"the BMC's identity is not checked and its credentials can be intercepted", "endpoint", d.base)
}

// Name implements bmc.Driver.
func (d *Driver) Name() string { return name }

// Protocol implements bmc.Driver.
func (d *Driver) Protocol() bmc.Protocol { return bmc.ProtocolRedfish }

// Capabilities implements bmc.Driver: what the BMC advertised at Open.
func (d *Driver) Capabilities() bmc.Capability {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.opened || d.closed {
		return 0
	}
	return d.caps
}

func (d *Driver) err(op string, kind, err error) error {
	return bmc.NewError(op, name, d.base, kind, err)
}

// state checks that the driver is usable.
func (d *Driver) state(op string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return d.err(op, bmc.ErrClosed, nil)
	case !d.opened:
		return d.err(op, bmc.ErrNotOpen, nil)
	}
	return nil
}

// httpError is the cause recorded for a non-2xx answer.
type httpError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *httpError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// request performs one HTTP exchange and returns the body of a 2xx answer.
// auth=false sends no credentials (service root, login).
func (d *Driver) request(ctx context.Context, op, method, path string, body any, hdr http.Header, auth bool) ([]byte, http.Header, error) {
	return d.requestOnce(ctx, op, method, path, body, hdr, auth, true)
}

func (d *Driver) requestOnce(ctx context.Context, op, method, path string, body any, hdr http.Header, auth, relogin bool) ([]byte, http.Header, error) {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, d.err(op, nil, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(rctx, method, d.base+path, rd)
	if err != nil {
		return nil, nil, d.err(op, bmc.ErrProtocol, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	var token string
	if auth {
		d.mu.Lock()
		token = d.token
		d.mu.Unlock()
		if d.cfg.Auth == AuthSession && token != "" {
			req.Header.Set("X-Auth-Token", token)
		} else {
			req.SetBasicAuth(d.cfg.Username, d.cfg.Password.Reveal())
		}
	}
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, nil, d.transportErr(ctx, rctx, op, method, path, err)
	}
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	d.log.DebugContext(ctx, "bmc redfish: request", "method", method, "path", path,
		"status", resp.StatusCode, "duration", time.Since(start))
	if rerr != nil {
		return nil, nil, d.transportErr(ctx, rctx, op, method, path, rerr)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, resp.Header, nil
	}
	herr := &httpError{Method: method, Path: path, Status: resp.StatusCode, Message: decodeError(data)}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if auth && relogin && d.cfg.Auth == AuthSession && token != "" {
			if lerr := d.relogin(ctx, token); lerr == nil {
				return d.requestOnce(ctx, op, method, path, body, hdr, auth, false)
			}
		}
		return nil, nil, d.err(op, bmc.ErrAuth, herr)
	case http.StatusForbidden:
		return nil, nil, d.err(op, bmc.ErrAuth, herr)
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return nil, nil, d.err(op, bmc.ErrNotSupported, herr)
	}
	return nil, nil, d.err(op, bmc.ErrProtocol, herr)
}

func (d *Driver) transportErr(ctx, rctx context.Context, op, method, path string, err error) error {
	// The caller's own cancellation is reported as such, unclassified.
	if ctx.Err() != nil {
		return d.err(op, nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err()))
	}
	// Our request deadline passed: whatever error won the race with it
	// (often the connection being torn down), the BMC did not answer in time.
	if rctx.Err() != nil {
		return d.err(op, bmc.ErrTimeout, fmt.Errorf("%s %s: no answer within %s: %w", method, path, d.cfg.Timeout, rctx.Err()))
	}
	kind := bmc.ClassifyTransport(err)
	if kind == nil {
		kind = bmc.ErrUnreachable
		if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "malformed HTTP") {
			kind = bmc.ErrProtocol
		}
	}
	var uerr interface{ Unwrap() error }
	if errors.As(err, &uerr) {
		// *url.Error repeats the full URL; ours has no credentials in it,
		// but keep the message short.
		err = uerr.Unwrap()
	}
	return d.err(op, kind, fmt.Errorf("%s %s: %w", method, path, err))
}

// getJSON fetches path and decodes it with dec.
func getJSON[T any](ctx context.Context, d *Driver, op, path string, dec func([]byte) (T, error)) (T, http.Header, error) {
	var zero T
	b, h, err := d.request(ctx, op, http.MethodGet, path, nil, nil, true)
	if err != nil {
		return zero, nil, err
	}
	v, err := dec(b)
	if err != nil {
		return zero, nil, d.err(op, bmc.ErrProtocol, fmt.Errorf("GET %s: %w", path, err))
	}
	return v, h, nil
}

// Open fetches the service root, logs in (AuthSession), selects the system
// and learns its reset types, boot override support, chassis sensors and
// manager.
func (d *Driver) Open(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return d.err("open", bmc.ErrClosed, nil)
	case d.opened:
		d.mu.Unlock()
		return nil
	}
	d.mu.Unlock()
	if d.cfg.InsecureSkipVerify && d.owned != nil {
		d.warnInsecure(ctx)
	}
	if err := d.open(ctx); err != nil {
		d.logout(ctx)
		return err
	}
	return nil
}

func (d *Driver) open(ctx context.Context) error {
	const op = "open"
	b, _, err := d.request(ctx, op, http.MethodGet, serviceRootP, nil, nil, false)
	if err != nil {
		return err
	}
	root, err := decodeServiceRoot(b)
	if err != nil {
		return d.err(op, bmc.ErrProtocol, fmt.Errorf("service root: %w", err))
	}
	d.mu.Lock()
	d.version, d.vendor, d.product = root.RedfishVersion, root.Vendor, root.Product
	d.expand = root.ProtocolFeaturesSupported.ExpandQuery.NoLinks
	d.mu.Unlock()

	if d.cfg.Auth == AuthSession {
		sessions := "/redfish/v1/SessionService/Sessions"
		if root.Links.Sessions != nil && validPath(root.Links.Sessions.ID) {
			sessions = root.Links.Sessions.ID
		}
		d.mu.Lock()
		d.loginURI = sessions
		d.mu.Unlock()
		if err := d.login(ctx, sessions); err != nil {
			return err
		}
	}

	members, _, err := getJSON(ctx, d, op, root.Systems.ID, decodeCollection)
	if err != nil {
		return err
	}
	sysURI := ""
	for _, m := range members {
		if d.cfg.SystemID == "" || m == d.cfg.SystemID || strings.TrimSuffix(m, "/") == strings.TrimSuffix(d.cfg.SystemID, "/") ||
			m[strings.LastIndex(strings.TrimSuffix(m, "/"), "/")+1:] == d.cfg.SystemID {
			sysURI = m
			break
		}
	}
	if sysURI == "" {
		return d.err(op, bmc.ErrProtocol, fmt.Errorf("no system %q in %s (members %v)", d.cfg.SystemID, root.Systems.ID, members))
	}
	sys, _, err := getJSON(ctx, d, op, sysURI, decodeSystem)
	if err != nil {
		return err
	}
	var resetURI string
	var resetTypes []string
	if ra := sys.Actions.Reset; ra != nil && ra.Target != "" {
		resetURI = ra.Target
		resetTypes = ra.Allowable
		if resetTypes == nil && ra.ActionInfo != "" {
			vals, _, err := getJSON(ctx, d, op, ra.ActionInfo, func(b []byte) ([]string, error) {
				return decodeActionInfo(b, "ResetType")
			})
			var herr *httpError
			switch {
			case err == nil:
				resetTypes = vals
			case errors.As(err, &herr) && herr.Status == http.StatusNotFound:
				// A dangling ActionInfo link is no list at all.
				d.log.WarnContext(ctx, "bmc redfish: Reset @Redfish.ActionInfo not found; assuming every ResetType",
					"endpoint", d.base, "action_info", ra.ActionInfo)
			default:
				return err
			}
		}
		if resetTypes == nil {
			// Nothing advertised: the Redfish specification says every
			// value of the ResetType enum may then be attempted.
			resetTypes = []string{"On", "ForceOff", "GracefulShutdown", "GracefulRestart",
				"ForceRestart", "Nmi", "ForceOn", "PushPowerButton", "PowerCycle"}
		}
	}

	chassisURI, managerURI := "", ""
	if len(sys.Links.Chassis) > 0 && validPath(sys.Links.Chassis[0].ID) {
		chassisURI = sys.Links.Chassis[0].ID
	} else if root.Chassis != nil && validPath(root.Chassis.ID) {
		if ms, _, err := getJSON(ctx, d, op, root.Chassis.ID, decodeCollection); err == nil && len(ms) > 0 {
			chassisURI = ms[0]
		}
	}
	if len(sys.Links.ManagedBy) > 0 && validPath(sys.Links.ManagedBy[0].ID) {
		managerURI = sys.Links.ManagedBy[0].ID
	} else if root.Managers != nil && validPath(root.Managers.ID) {
		if ms, _, err := getJSON(ctx, d, op, root.Managers.ID, decodeCollection); err == nil && len(ms) > 0 {
			managerURI = ms[0]
		}
	}
	var ownCh, encl *chassis
	var enclURI string
	if chassisURI != "" {
		ch, _, err := getJSON(ctx, d, op, chassisURI, decodeChassis)
		if err != nil {
			return err
		}
		ownCh = &ch
		if c := ch.Links.ContainedBy; c != nil && sameResource(c.ID) != sameResource(chassisURI) {
			// A blade: its enclosure's fans and power supplies are its
			// own too. Followed once (the enclosure's ContainedBy is not).
			enclURI = c.ID
			e, _, err := getJSON(ctx, d, op, enclURI, decodeChassis)
			switch {
			case err == nil:
				encl = &e
			case ctx.Err() != nil:
				return err
			default:
				d.log.WarnContext(ctx, "bmc redfish: enclosure chassis unreadable, retried by Sensors",
					"endpoint", d.base, "enclosure", enclURI, "err", err)
			}
		}
	}

	has := func(v ...string) bool {
		for _, x := range v {
			if slices.Contains(resetTypes, x) {
				return true
			}
		}
		return false
	}
	caps := bmc.CapPowerState | bmc.CapInfo
	if resetURI != "" {
		if has("On", "ForceOn") {
			caps |= bmc.CapPowerOn
		}
		if has(d.resetPrefs(bmc.ActionOff)...) {
			caps |= bmc.CapPowerOff
		}
		if has("GracefulShutdown") {
			caps |= bmc.CapPowerSoft
		}
		if has(d.resetPrefs(bmc.ActionReset)...) {
			caps |= bmc.CapPowerReset
		}
		if has("PowerCycle") || (has("ForceOff") && has("On", "ForceOn")) {
			caps |= bmc.CapPowerCycle
		}
	}
	var bootTgts []string
	bootOK := sys.Boot != nil
	if bootOK {
		bootTgts = sys.Boot.AllowableTargets
		if bootTgts == nil || slices.Contains(bootTgts, "Pxe") {
			caps |= bmc.CapBootPXE
		}
	}
	if (ownCh != nil && ownCh.hasSensors()) || (enclURI != "" && (encl == nil || encl.hasSensors())) {
		caps |= bmc.CapSensors
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return d.err(op, bmc.ErrClosed, nil)
	}
	d.systemURI, d.resetURI, d.resetTypes = sysURI, resetURI, resetTypes
	d.bootOK, d.bootTgts = bootOK, bootTgts
	d.chassisURI, d.chassis, d.enclURI, d.enclosure, d.managerURI = chassisURI, ownCh, enclURI, encl, managerURI
	d.caps = caps
	d.opened = true
	d.log.InfoContext(ctx, "bmc redfish: opened", "endpoint", d.base, "redfish_version", d.version,
		"system", sysURI, "reset_types", resetTypes, "capabilities", caps.String())
	return nil
}

func (d *Driver) login(ctx context.Context, sessions string) error {
	_, h, err := d.request(ctx, "login", http.MethodPost, sessions,
		map[string]string{"UserName": d.cfg.Username, "Password": d.cfg.Password.Reveal()}, nil, false)
	if err != nil {
		return err
	}
	tok := h.Get("X-Auth-Token")
	if tok == "" {
		return d.err("login", bmc.ErrProtocol, errors.New("session created without X-Auth-Token"))
	}
	loc := h.Get("Location")
	if i := strings.Index(loc, "/redfish/"); i > 0 {
		loc = loc[i:] // absolute URL: keep the path only (same host)
	}
	if !validPath(loc) {
		loc = ""
	}
	d.mu.Lock()
	d.token, d.sessionURI = tok, loc
	d.mu.Unlock()
	return nil
}

// relogin replaces an expired session token (once per stale token).
func (d *Driver) relogin(ctx context.Context, stale string) error {
	d.loginMu.Lock()
	defer d.loginMu.Unlock()
	d.mu.Lock()
	if d.token != stale {
		d.mu.Unlock()
		return nil // someone else already did
	}
	sessions := d.loginURI
	d.mu.Unlock()
	d.log.InfoContext(ctx, "bmc redfish: session rejected, logging in again", "endpoint", d.base)
	return d.login(ctx, sessions)
}

// logout deletes the session, if any, with its own bounded context.
func (d *Driver) logout(ctx context.Context) {
	d.mu.Lock()
	uri, tok := d.sessionURI, d.token
	d.token, d.sessionURI = "", ""
	d.mu.Unlock()
	if tok == "" || uri == "" {
		return
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(d.cfg.Timeout, 5*time.Second))
	defer cancel()
	hdr := http.Header{"X-Auth-Token": {tok}}
	if _, _, err := d.requestOnce(lctx, "logout", http.MethodDelete, uri, nil, hdr, false, false); err != nil {
		d.log.WarnContext(ctx, "bmc redfish: logout failed", "endpoint", d.base, "err", err)
	}
}

// Close logs out of the session (AuthSession) and releases connections.
// It is idempotent and bounded by min(Timeout, 5 s).
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.logout(ctx)
	if d.owned != nil {
		d.owned.CloseIdleConnections()
	}
	return nil
}

func (d *Driver) need(op string, c bmc.Capability) error {
	if err := d.state(op); err != nil {
		return err
	}
	if !d.Capabilities().Has(c) {
		return d.err(op, bmc.ErrNotSupported, fmt.Errorf("BMC does not advertise %s", c))
	}
	return nil
}

// PowerStateGet implements bmc.Driver (ComputerSystem.PowerState).
// Transitional states count as the state being entered.
func (d *Driver) PowerStateGet(ctx context.Context) (bmc.PowerState, error) {
	const op = "power-status"
	if err := d.need(op, bmc.CapPowerState); err != nil {
		return bmc.PowerUnknown, err
	}
	sys, _, err := getJSON(ctx, d, op, d.systemURI, decodeSystem)
	if err != nil {
		return bmc.PowerUnknown, err
	}
	switch sys.PowerState {
	case "On", "PoweringOn", "Paused":
		return bmc.PowerOn, nil
	case "Off", "PoweringOff":
		return bmc.PowerOff, nil
	}
	return bmc.PowerUnknown, d.err(op, bmc.ErrProtocol, fmt.Errorf("unknown PowerState %q", sys.PowerState))
}

// resetPrefs lists, per action, the ResetType values in order of
// preference. A forced action is never replaced by a graceful one unless
// Config.GracefulFallback opts in (StarlingX's mtcBmcUtil does it always;
// a graceful shutdown a hung OS ignores is not "off").
var resetPrefs = map[bmc.PowerAction][]string{
	bmc.ActionOn:      {"On", "ForceOn"},
	bmc.ActionOff:     {"ForceOff"},
	bmc.ActionSoftOff: {"GracefulShutdown"},
	bmc.ActionReset:   {"ForceRestart"},
	bmc.ActionCycle:   {"PowerCycle"},
}

// gracefulFallbacks are the substitutes allowed by Config.GracefulFallback.
var gracefulFallbacks = map[bmc.PowerAction]string{
	bmc.ActionOff:   "GracefulShutdown",
	bmc.ActionReset: "GracefulRestart",
}

func (d *Driver) resetPrefs(a bmc.PowerAction) []string {
	p := resetPrefs[a]
	if fb, ok := gracefulFallbacks[a]; ok && d.cfg.GracefulFallback {
		p = append(slices.Clone(p), fb)
	}
	return p
}

// PowerSet implements bmc.Driver with ComputerSystem.Reset, choosing the
// first advertised ResetType of: on → On, ForceOn; off → ForceOff; soft →
// GracefulShutdown; reset → ForceRestart; cycle → PowerCycle, else
// ForceOff, wait for Off (CycleOffTimeout), then On/ForceOn. With
// Config.GracefulFallback, off may also be GracefulShutdown and reset
// GracefulRestart (logged at Warn level); without it, a BMC offering only
// the graceful variant answers bmc.ErrNotSupported and nothing is sent.
func (d *Driver) PowerSet(ctx context.Context, action bmc.PowerAction) error {
	op := "power-" + string(action)
	if !action.Valid() {
		return d.err(op, bmc.ErrNotSupported, fmt.Errorf("unknown power action %q", action))
	}
	if err := d.need(op, action.Capability()); err != nil {
		return err
	}
	d.mu.Lock()
	types := d.resetTypes
	d.mu.Unlock()
	for _, rt := range d.resetPrefs(action) {
		if slices.Contains(types, rt) {
			if rt == gracefulFallbacks[action] {
				d.log.WarnContext(ctx, "bmc redfish: forced ResetType not offered, sending the graceful one (GracefulFallback)",
					"endpoint", d.base, "action", string(action), "reset_type", rt)
			}
			return d.postReset(ctx, op, rt)
		}
	}
	if action == bmc.ActionCycle {
		return d.cycleByOffOn(ctx, op, types)
	}
	return d.err(op, bmc.ErrNotSupported, fmt.Errorf("no ResetType for %s among %v", action, types))
}

func (d *Driver) postReset(ctx context.Context, op, resetType string) error {
	d.log.InfoContext(ctx, "bmc redfish: reset", "endpoint", d.base, "reset_type", resetType)
	_, _, err := d.request(ctx, op, http.MethodPost, d.resetURI, map[string]string{"ResetType": resetType}, nil, true)
	return err
}

// cycleByOffOn emulates PowerCycle on BMCs that do not advertise it.
func (d *Driver) cycleByOffOn(ctx context.Context, op string, types []string) error {
	on := "On"
	if !slices.Contains(types, on) {
		on = "ForceOn"
	}
	if err := d.postReset(ctx, op, "ForceOff"); err != nil {
		return err
	}
	deadline := time.NewTimer(d.cfg.CycleOffTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(d.cfg.CyclePollInterval)
	defer tick.Stop()
	for {
		st, err := d.PowerStateGet(ctx)
		if err == nil && st == bmc.PowerOff {
			break
		}
		select {
		case <-ctx.Done():
			return d.err(op, nil, ctx.Err())
		case <-deadline.C:
			return d.err(op, bmc.ErrTimeout, fmt.Errorf("host not off %s after ForceOff", d.cfg.CycleOffTimeout))
		case <-tick.C:
		}
	}
	return d.postReset(ctx, op, on)
}

var bootTargets = map[bmc.BootDevice]string{
	bmc.BootPXE:   "Pxe",
	bmc.BootDisk:  "Hdd",
	bmc.BootCDROM: "Cd",
	bmc.BootBIOS:  "BiosSetup",
	bmc.BootNone:  "None",
}

// BootDeviceSet implements bmc.Driver with a PATCH of the system's Boot
// object (BootSourceOverrideTarget, BootSourceOverrideEnabled Once or
// Continuous, BootSourceOverrideMode UEFI when opts.EFI), sending the
// system's current ETag in If-Match.
func (d *Driver) BootDeviceSet(ctx context.Context, dev bmc.BootDevice, opts bmc.BootOptions) error {
	const op = "bootdev"
	if err := d.state(op); err != nil {
		return err
	}
	target, ok := bootTargets[dev]
	d.mu.Lock()
	bootOK, allowed := d.bootOK, d.bootTgts
	d.mu.Unlock()
	switch {
	case !ok:
		return d.err(op, bmc.ErrNotSupported, fmt.Errorf("unknown boot device %q", dev))
	case !bootOK:
		return d.err(op, bmc.ErrNotSupported, errors.New("system has no Boot override"))
	case allowed != nil && !slices.Contains(allowed, target):
		return d.err(op, bmc.ErrNotSupported, fmt.Errorf("BootSourceOverrideTarget %s not among %v", target, allowed))
	}
	enabled := "Once"
	if opts.Persistent {
		enabled = "Continuous"
	}
	if dev == bmc.BootNone {
		enabled = "Disabled"
	}
	boot := map[string]string{"BootSourceOverrideTarget": target, "BootSourceOverrideEnabled": enabled}
	if opts.EFI {
		boot["BootSourceOverrideMode"] = "UEFI"
	}
	// The ETag read and the conditional PATCH are one read-modify-write:
	// callers sharing this driver take turns, so they never invalidate each
	// other's ETag; a 412 can then only come from another client of the
	// BMC, and is retried once with a fresh ETag.
	d.bootMu.Lock()
	defer d.bootMu.Unlock()
	var err error
	for try := 0; try < 2; try++ {
		var sys system
		var h http.Header
		sys, h, err = getJSON(ctx, d, op, d.systemURI, decodeSystem)
		if err != nil {
			return err
		}
		hdr := http.Header{}
		if et := h.Get("ETag"); et != "" {
			hdr.Set("If-Match", et)
		} else if sys.ETag != "" {
			hdr.Set("If-Match", sys.ETag)
		}
		_, _, err = d.request(ctx, op, http.MethodPatch, d.systemURI, map[string]any{"Boot": boot}, hdr, true)
		var herr *httpError
		if err == nil || !errors.As(err, &herr) || herr.Status != http.StatusPreconditionFailed {
			break // done, or not an ETag race
		}
	}
	if err == nil {
		d.log.InfoContext(ctx, "bmc redfish: boot override set", "endpoint", d.base, "target", target, "enabled", enabled)
	}
	return err
}

// BMCInfo implements bmc.Driver from the system's Manager (falling back to
// the service root's Vendor and Product).
func (d *Driver) BMCInfo(ctx context.Context) (bmc.Info, error) {
	const op = "bmc-info"
	if err := d.need(op, bmc.CapInfo); err != nil {
		return bmc.Info{}, err
	}
	d.mu.Lock()
	info := bmc.Info{Protocol: bmc.ProtocolRedfish, Manufacturer: d.vendor, Product: d.product, ProtocolVersion: d.version}
	mgr := d.managerURI
	d.mu.Unlock()
	if mgr != "" {
		m, _, err := getJSON(ctx, d, op, mgr, decodeManager)
		if err != nil {
			return bmc.Info{}, err
		}
		if m.Manufacturer != "" {
			info.Manufacturer = m.Manufacturer
		}
		if m.Model != "" {
			info.Product = m.Model
		}
		info.FirmwareVersion = m.FirmwareVersion
	}
	return info, nil
}

// RestartCause implements bmc.Driver. Redfish has no standard equivalent of
// IPMI's Get System Restart Cause, so it always answers ErrNotSupported
// (StarlingX only reads the restart cause over IPMI).
func (d *Driver) RestartCause(context.Context) (bmc.RestartCause, error) {
	const op = "restart-cause"
	if err := d.state(op); err != nil {
		return "", err
	}
	return "", d.err(op, bmc.ErrNotSupported, errors.New("no restart cause in Redfish"))
}

// Sensors implements bmc.Driver. It reads the system's chassis and, for a
// blade, the enclosure that contains it (Links.ContainedBy, followed once),
// whose sensors are named "<enclosure Id>/<name>" so that readings shared
// by every blade of an enclosure are recognisable. Per chassis it reads the
// newer model (Sensors; ThermalSubsystem fans; PowerSubsystem supplies and
// their PowerSupplyMetrics) and the older one (Thermal, Power), each
// sensor once (see walker.chassis).
//
// When some resources fail and others answer, it returns what it read and
// an error matching bmc.ErrPartial that wraps a *bmc.PartialError listing
// the failures. A failure that concerns the BMC as a whole (timeout,
// unreachable, TLS, authentication) stops the walk; if nothing at all
// could be read, that error is returned alone, with no sensors.
func (d *Driver) Sensors(ctx context.Context) ([]bmc.Sensor, error) {
	const op = "sensors"
	if err := d.need(op, bmc.CapSensors); err != nil {
		return nil, err
	}
	d.mu.Lock()
	own, enclURI, encl := d.chassis, d.enclURI, d.enclosure
	d.mu.Unlock()
	w := &walker{d: d, ctx: ctx, op: op}
	var out []bmc.Sensor
	if own != nil {
		out = append(out, w.chassis(*own)...)
	}
	if enclURI != "" && encl == nil {
		if e, ok := fetch(w, enclURI, decodeChassis); ok {
			encl = &e
			d.mu.Lock()
			d.enclosure = encl
			d.mu.Unlock()
		}
	}
	if encl != nil {
		label := encl.ID
		if label == "" {
			label = sameResource(enclURI)[strings.LastIndex(sameResource(enclURI), "/")+1:]
		}
		for _, s := range w.chassis(*encl) {
			s.Name = label + "/" + s.Name
			out = append(out, s)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, d.err(op, nil, err)
	}
	if len(w.failures) == 0 {
		return out, nil
	}
	if w.ok == 0 {
		return nil, w.failures[0].Err
	}
	d.log.WarnContext(ctx, "bmc redfish: some sensor resources failed", "endpoint", d.base,
		"failed", len(w.failures), "read", w.ok)
	return out, d.err(op, bmc.ErrPartial, &bmc.PartialError{Failures: w.failures})
}
