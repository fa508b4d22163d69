package hwmon

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform/simtest"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeBMC is a scriptable bmc.Driver: sensors, a read delay, a hang (until
// the context ends), a partial read, an open error; it tracks concurrent
// calls across every driver sharing its tracker.
type fakeBMC struct {
	host string
	tr   *tracker

	mu      sync.Mutex
	opened  bool
	closed  bool
	sensors []bmc.Sensor
	delay   time.Duration
	hang    bool
	partial []string // names returned, with an ErrPartial
	openErr error
	readErr error // returned by every read
}

// tracker counts calls and concurrency over a set of fake drivers.
type tracker struct {
	mu                sync.Mutex
	active, maxActive int
	perHost           map[string]int // active calls per host
	maxPerHost        int
	opens, closes     map[string]int
	drivers           map[string]*fakeBMC // the latest per host
	sensors           map[string][]bmc.Sensor
	hung              map[string]bool
	delay             time.Duration
	partial           map[string][]string
}

func newTracker() *tracker {
	return &tracker{perHost: map[string]int{}, opens: map[string]int{}, closes: map[string]int{},
		drivers: map[string]*fakeBMC{}, sensors: map[string][]bmc.Sensor{}, hung: map[string]bool{},
		partial: map[string][]string{}}
}

// newDriver is a Config.NewDriver.
func (t *tracker) newDriver(_ context.Context, h Host, pw bmc.Password) (bmc.Driver, error) {
	if pw.Reveal() != "pw-"+h.Name {
		return nil, errors.New("wrong password")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.sensors[h.Name]
	if !ok {
		s = testSensors()
	}
	d := &fakeBMC{host: h.Name, tr: t, sensors: s, delay: t.delay, hang: t.hung[h.Name], partial: t.partial[h.Name]}
	t.drivers[h.Name] = d
	return d, nil
}

func (t *tracker) set(host string, s []bmc.Sensor) {
	t.mu.Lock()
	t.sensors[host] = s
	if d := t.drivers[host]; d != nil {
		d.mu.Lock()
		d.sensors = s
		d.mu.Unlock()
	}
	t.mu.Unlock()
}

func (t *tracker) count(m map[string]int, host string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return m[host]
}

func (t *tracker) max() (all, perHost int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.maxActive, t.maxPerHost
}

func (d *fakeBMC) Name() string                 { return "fake" }
func (d *fakeBMC) Protocol() bmc.Protocol       { return bmc.ProtocolIPMI }
func (d *fakeBMC) Capabilities() bmc.Capability { return bmc.CapSensors }

func (d *fakeBMC) Open(ctx context.Context) error {
	d.tr.mu.Lock()
	d.tr.opens[d.host]++
	d.tr.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.openErr != nil {
		return d.openErr
	}
	d.opened = true
	return ctx.Err()
}

func (d *fakeBMC) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.tr.mu.Lock()
		d.tr.closes[d.host]++
		d.tr.mu.Unlock()
	}
	return nil
}

func (d *fakeBMC) PowerStateGet(context.Context) (bmc.PowerState, error) {
	return "", bmc.ErrNotSupported
}
func (d *fakeBMC) PowerSet(context.Context, bmc.PowerAction) error { return bmc.ErrNotSupported }
func (d *fakeBMC) BootDeviceSet(context.Context, bmc.BootDevice, bmc.BootOptions) error {
	return bmc.ErrNotSupported
}
func (d *fakeBMC) BMCInfo(context.Context) (bmc.Info, error) { return bmc.Info{}, bmc.ErrNotSupported }
func (d *fakeBMC) RestartCause(context.Context) (bmc.RestartCause, error) {
	return "", bmc.ErrNotSupported
}

func (d *fakeBMC) Sensors(ctx context.Context) ([]bmc.Sensor, error) {
	t := d.tr
	t.mu.Lock()
	t.active++
	t.perHost[d.host]++
	t.maxActive = max(t.maxActive, t.active)
	t.maxPerHost = max(t.maxPerHost, t.perHost[d.host])
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.active--
		t.perHost[d.host]--
		t.mu.Unlock()
	}()
	d.mu.Lock()
	open, closed, hang, delay := d.opened, d.closed, d.hang, d.delay
	sensors, partial, readErr := slices.Clone(d.sensors), d.partial, d.readErr
	d.mu.Unlock()
	if readErr != nil {
		return nil, readErr
	}
	if !open || closed {
		return nil, bmc.NewError("sensors", "fake", d.host, bmc.ErrNotOpen, nil)
	}
	if hang {
		<-ctx.Done() // a dead BMC whose driver honours only the context
		return nil, bmc.NewError("sensors", "fake", d.host, bmc.ErrTimeout, ctx.Err())
	}
	if delay > 0 {
		tm := time.NewTimer(delay)
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return nil, bmc.NewError("sensors", "fake", d.host, nil, ctx.Err())
		case <-tm.C:
		}
	}
	if partial != nil {
		var out []bmc.Sensor
		for _, s := range sensors {
			if slices.Contains(partial, s.Name) {
				out = append(out, s)
			}
		}
		pe := &bmc.PartialError{Failures: []bmc.ResourceFailure{{Resource: "/redfish/v1/Chassis/1/Power", Err: bmc.ErrTimeout}}}
		return out, bmc.NewError("sensors", "fake", d.host, bmc.ErrPartial, pe)
	}
	return sensors, nil
}

// testSensors: two temperatures, a fan, a voltage, a current, and an
// "other" sensor hwmond ignores.
func testSensors() []bmc.Sensor {
	return []bmc.Sensor{
		{Name: "CPU Temp", Type: bmc.SensorTemperature, Reading: bmc.Float(45), Unit: "degrees C", Status: bmc.StatusOK,
			Thresholds: bmc.Thresholds{UpperNonCritical: bmc.Float(80), UpperCritical: bmc.Float(90), UpperNonRecoverable: bmc.Float(100)}},
		{Name: "Inlet Temp", Type: bmc.SensorTemperature, Reading: bmc.Float(24), Unit: "degrees C", Status: bmc.StatusOK},
		{Name: "FAN1", Type: bmc.SensorFan, Reading: bmc.Float(5400), Unit: "RPM", Status: bmc.StatusOK},
		{Name: "12V", Type: bmc.SensorVoltage, Reading: bmc.Float(12), Unit: "Volts", Status: bmc.StatusOK},
		{Name: "PSU1 Current", Type: bmc.SensorCurrent, Reading: bmc.Float(1.5), Unit: "Amps", Status: bmc.StatusOK},
		{Name: "Intrusion", Type: bmc.SensorOther, Status: bmc.StatusOK},
	}
}

// rig is a monitor over the in-memory sim with a real sysinv client on
// its own queue (simtest's), and fake drivers.
type rig struct {
	env    *simtest.Env
	m      *Monitor
	tr     *tracker
	audits chan Audit
	pwMu   sync.Mutex
	pwErr  map[string]int // failures left per host
	pwCall map[string]int
	cancel context.CancelFunc
	done   chan error
}

func newRig(t testing.TB, hosts int, mod func(*Config)) *rig {
	t.Helper()
	env := simtest.Start(t, func(c *sim.Config) { c.Hosts = sim.Inventory(hosts) }, nil)
	scfg := sysinv.DefaultConfig()
	scfg.BaseURL, scfg.HTTPClient, scfg.Queue = env.EP.SysInv, env.Token, env.Queue
	scfg.UserAgent = "hwmon/1.0"
	si, err := sysinv.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{env: env, tr: newTracker(), audits: make(chan Audit, 1000), pwErr: map[string]int{}, pwCall: map[string]int{}}
	cfg := DefaultConfig()
	cfg.SysInv = si
	cfg.NewDriver = r.tr.newDriver
	cfg.Password = func(ctx context.Context, h Host) (bmc.Password, error) {
		r.pwMu.Lock()
		defer r.pwMu.Unlock()
		r.pwCall[h.Name]++
		if r.pwErr[h.Name] > 0 {
			r.pwErr[h.Name]--
			return bmc.Password{}, errors.New("barbican: secret not found")
		}
		return bmc.NewPassword("pw-" + h.Name), nil
	}
	cfg.Observer = func(a Audit) { r.audits <- a }
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.m = m
	return r
}

func (r *rig) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.m.Run(ctx) }()
	t.Cleanup(r.stop)
}

func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
	_ = r.m.Close()
}

// host returns the monitor's Host for a sim host, with a provisioned BMC.
func (r *rig) host(t testing.TB, name string) Host {
	t.Helper()
	h, ok := r.env.Sim.Host(name)
	if !ok {
		t.Fatalf("no sim host %s", name)
	}
	return Host{Name: name, UUID: h.UUID, BMIP: "10.10.10." + name[len(name)-1:], BMUsername: "root", BMType: mtce.BMCRedfish}
}

// next waits for the next audit (virtual time advances meanwhile).
func (r *rig) next(t *testing.T) Audit {
	t.Helper()
	select {
	case a := <-r.audits:
		return a
	case <-time.After(time.Hour):
		t.Fatal("no audit within an hour")
		return Audit{}
	}
}
