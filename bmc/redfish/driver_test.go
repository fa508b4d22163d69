package redfish_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
	"opendev.org/starlingx/metal-go/bmc/bmctest"
	"opendev.org/starlingx/metal-go/bmc/redfish"
)

func newSim(t *testing.T, cfg bmcsim.Config) *bmcsim.Server {
	t.Helper()
	s, err := bmcsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// memConfig talks to the emulator in memory.
func memConfig(sim *bmcsim.Server) redfish.Config {
	cfg := redfish.DefaultConfig()
	cfg.Endpoint = "https://bmc.example"
	cfg.Username = "admin"
	cfg.Password = bmc.NewPassword("secret")
	cfg.Transport = sim.Transport()
	cfg.Timeout = 5 * time.Second
	cfg.CyclePollInterval = 10 * time.Millisecond
	cfg.CycleOffTimeout = time.Second
	return cfg
}

func newDriver(t *testing.T, cfg redfish.Config) *redfish.Driver {
	t.Helper()
	d, err := redfish.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func open(t *testing.T, cfg redfish.Config) *redfish.Driver {
	t.Helper()
	d := newDriver(t, cfg)
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// simSensors is what the driver must read from bmcsim.DefaultSensors.
func simSensors() []bmc.Sensor {
	return append(bmctest.DefaultSensors(), []bmc.Sensor{
		{Name: "PSU1", Type: bmc.SensorPower, Reading: bmc.Float(180), Unit: "Watts", Status: bmc.StatusOK},
		{Name: "System Power", Type: bmc.SensorPower, Reading: bmc.Float(180), Unit: "Watts", Status: bmc.StatusOK},
	}...)
}

func expectedSensors() []bmc.Sensor {
	s := simSensors()
	for i := range s {
		switch s[i].Name {
		case "FAN1":
			s[i].Thresholds.LowerCritical = bmc.Float(1000)
		case "12V":
			s[i].Thresholds.LowerCritical = bmc.Float(10.8)
			s[i].Thresholds.UpperCritical = bmc.Float(13.2)
		}
	}
	return s
}

func TestConformanceInMemory(t *testing.T) {
	for _, auth := range []redfish.AuthMode{redfish.AuthBasic, redfish.AuthSession} {
		t.Run(string(auth), func(t *testing.T) {
			sim := newSim(t, bmcsim.Config{})
			t.Cleanup(func() { // runs after the suite's own cleanups closed its drivers
				if n := sim.Sessions(); n != 0 {
					t.Errorf("%d sessions left open after every driver was closed", n)
				}
			})
			bmctest.Run(t, bmctest.Harness{
				New: func(t *testing.T) bmc.Driver {
					cfg := memConfig(sim)
					cfg.Auth = auth
					cfg.Timeout = 300 * time.Millisecond
					return newDriver(t, cfg)
				},
				Backend:   bmctest.SimBackend(sim),
				Want:      bmc.CapAll &^ bmc.CapRestartCause,
				OpTimeout: 5 * time.Second,
				Sensors:   expectedSensors(),
				Hang: func(t *testing.T) func() {
					sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultHang})
					return sim.ClearFaults
				},
				HangBudget: 2 * time.Second,
				BadCredentials: func(t *testing.T) bmc.Driver {
					cfg := memConfig(sim)
					cfg.Auth = auth
					cfg.Password = bmc.NewPassword("wrong")
					return newDriver(t, cfg)
				},
			})
		})
	}
}

// Over real loopback TLS, with the emulator's certificate as CA file.
func TestConformanceTLSLoopback(t *testing.T) {
	sim := newSim(t, bmcsim.Config{})
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := redfish.DefaultConfig()
	cfg.Endpoint = srv.URL
	cfg.Username = "admin"
	cfg.Password = bmc.NewPassword("secret")
	cfg.CAFile = caFile
	cfg.Timeout = time.Second
	bmctest.Run(t, bmctest.Harness{
		New:     func(t *testing.T) bmc.Driver { return newDriver(t, cfg) },
		Backend: bmctest.SimBackend(sim),
		Want:    bmc.CapAll &^ bmc.CapRestartCause,
		Sensors: expectedSensors(),
		Hang: func(t *testing.T) func() {
			sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultHang})
			return sim.ClearFaults
		},
		HangBudget: 3 * time.Second,
	})
}

func TestTLSVerification(t *testing.T) {
	sim := newSim(t, bmcsim.Config{})
	srv := httptest.NewUnstartedServer(sim)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := redfish.DefaultConfig()
	cfg.Endpoint = srv.URL
	cfg.Username = "admin"
	cfg.Password = bmc.NewPassword("secret")
	cfg.Timeout = 2 * time.Second

	d := newDriver(t, cfg)
	if err := d.Open(t.Context()); !errors.Is(err, bmc.ErrTLS) {
		t.Fatalf("Open against an unknown CA = %v, want ErrTLS", err)
	}
	d.Close(t.Context())

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg.RootCAs = pool
	open(t, cfg)

	cfg.RootCAs = nil
	cfg.InsecureSkipVerify = true
	var logs strings.Builder
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	open(t, cfg)
	if n := strings.Count(logs.String(), "TLS CERTIFICATE VERIFICATION IS DISABLED"); n < 2 {
		t.Errorf("InsecureSkipVerify logged %d times (want at New and Open): %s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("not logged at WARN: %s", logs.String())
	}
}

func TestResetTypeMapping(t *testing.T) {
	tests := []struct {
		name      string
		types     []string
		actionInf bool
		fallback  bool
		caps      bmc.Capability
		want      map[bmc.PowerAction][]string // ResetTypes sent per action
	}{
		{
			name:  "all",
			types: bmcsim.AllResetTypes,
			caps:  bmc.CapAll &^ bmc.CapRestartCause,
			want: map[bmc.PowerAction][]string{bmc.ActionOn: {"On"}, bmc.ActionOff: {"ForceOff"},
				bmc.ActionSoftOff: {"GracefulShutdown"}, bmc.ActionReset: {"ForceRestart"}, bmc.ActionCycle: {"PowerCycle"}},
		},
		{
			// The default never sends a graceful action for a hard one.
			name:      "graceful only, via ActionInfo",
			types:     []string{"ForceOn", "GracefulShutdown", "GracefulRestart"},
			actionInf: true,
			caps:      bmc.CapPowerState | bmc.CapPowerOn | bmc.CapPowerSoft | bmc.CapBootPXE | bmc.CapInfo | bmc.CapSensors,
			want: map[bmc.PowerAction][]string{bmc.ActionOn: {"ForceOn"},
				bmc.ActionSoftOff: {"GracefulShutdown"}},
		},
		{
			name:      "graceful only, GracefulFallback opted in",
			types:     []string{"ForceOn", "GracefulShutdown", "GracefulRestart"},
			actionInf: true,
			fallback:  true,
			caps:      bmc.CapPowerState | bmc.CapPowerOn | bmc.CapPowerOff | bmc.CapPowerSoft | bmc.CapPowerReset | bmc.CapBootPXE | bmc.CapInfo | bmc.CapSensors,
			want: map[bmc.PowerAction][]string{bmc.ActionOn: {"ForceOn"}, bmc.ActionOff: {"GracefulShutdown"},
				bmc.ActionSoftOff: {"GracefulShutdown"}, bmc.ActionReset: {"GracefulRestart"}},
		},
		{
			// Opting in changes nothing where the forced value is offered.
			name:     "all, GracefulFallback opted in",
			types:    bmcsim.AllResetTypes,
			fallback: true,
			caps:     bmc.CapAll &^ bmc.CapRestartCause,
			want: map[bmc.PowerAction][]string{bmc.ActionOn: {"On"}, bmc.ActionOff: {"ForceOff"},
				bmc.ActionSoftOff: {"GracefulShutdown"}, bmc.ActionReset: {"ForceRestart"}, bmc.ActionCycle: {"PowerCycle"}},
		},
		{
			name:  "cycle emulated by ForceOff then On",
			types: []string{"On", "ForceOff", "ForceRestart"},
			caps:  bmc.CapPowerState | bmc.CapPowerOn | bmc.CapPowerOff | bmc.CapPowerReset | bmc.CapPowerCycle | bmc.CapBootPXE | bmc.CapInfo | bmc.CapSensors,
			want: map[bmc.PowerAction][]string{bmc.ActionOn: {"On"}, bmc.ActionOff: {"ForceOff"},
				bmc.ActionReset: {"ForceRestart"}, bmc.ActionCycle: {"ForceOff", "On"}},
		},
		{
			name:  "power state only",
			types: []string{"Nmi"},
			caps:  bmc.CapPowerState | bmc.CapBootPXE | bmc.CapInfo | bmc.CapSensors,
			want:  map[bmc.PowerAction][]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, bmcsim.Config{ResetTypes: tc.types, ResetActionInfo: tc.actionInf, PowerState: "On"})
			cfg := memConfig(sim)
			cfg.GracefulFallback = tc.fallback
			d := open(t, cfg)
			if got := d.Capabilities(); got != tc.caps {
				t.Fatalf("capabilities = %s, want %s", got, tc.caps)
			}
			for _, a := range bmc.PowerActions {
				before := len(sim.ResetLog())
				from := "On"
				if a == bmc.ActionOn {
					from = "Off"
				}
				_ = sim.SetPowerState(from)
				err := d.PowerSet(t.Context(), a)
				sent := sim.ResetLog()[before:]
				want, ok := tc.want[a]
				if !ok {
					if !errors.Is(err, bmc.ErrNotSupported) || len(sent) != 0 {
						t.Errorf("%s: err %v, sent %v; want ErrNotSupported and nothing sent", a, err, sent)
					}
					continue
				}
				if err != nil || !slices.Equal(sent, want) {
					t.Errorf("%s: err %v, sent %v; want %v", a, err, sent, want)
				}
			}
		})
	}
}

func TestBootOverride(t *testing.T) {
	sim := newSim(t, bmcsim.Config{RequireIfMatch: true, PowerState: "Off"})
	d := open(t, memConfig(sim))
	if err := d.BootDeviceSet(t.Context(), bmc.BootPXE, bmc.BootOptions{EFI: true}); err != nil {
		t.Fatal(err)
	}
	if got := sim.BootOverride(); got != (bmcsim.BootOverride{Target: "Pxe", Enabled: "Once", Mode: "UEFI"}) {
		t.Errorf("boot override = %+v", got)
	}
	// The next boot consumes the one-time override.
	if err := d.PowerSet(t.Context(), bmc.ActionOn); err != nil {
		t.Fatal(err)
	}
	if got := sim.Boots(); !slices.Equal(got, []string{"Pxe"}) {
		t.Errorf("boots = %v, want [Pxe]", got)
	}
	if got := sim.BootOverride(); got.Enabled != "Disabled" {
		t.Errorf("override not consumed: %+v", got)
	}
	if err := d.BootDeviceSet(t.Context(), bmc.BootDisk, bmc.BootOptions{Persistent: true}); err != nil {
		t.Fatal(err)
	}
	if got := sim.BootOverride(); got.Target != "Hdd" || got.Enabled != "Continuous" {
		t.Errorf("boot override = %+v", got)
	}
	if err := d.BootDeviceSet(t.Context(), "floppy", bmc.BootOptions{}); !errors.Is(err, bmc.ErrNotSupported) {
		t.Errorf("BootDeviceSet(floppy) = %v", err)
	}

	// A BMC without Pxe among its targets, or without a Boot object.
	for _, targets := range [][]string{{"None", "Hdd"}, {}} {
		sim2 := newSim(t, bmcsim.Config{BootTargets: targets})
		d2 := open(t, memConfig(sim2))
		if d2.Capabilities().Has(bmc.CapBootPXE) {
			t.Errorf("targets %v: CapBootPXE declared", targets)
		}
		if err := d2.BootDeviceSet(t.Context(), bmc.BootPXE, bmc.BootOptions{}); !errors.Is(err, bmc.ErrNotSupported) {
			t.Errorf("targets %v: BootDeviceSet(pxe) = %v", targets, err)
		}
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault bmcsim.Fault
		want  error
	}{
		{bmcsim.Fault{Kind: bmcsim.FaultUnauthorized, Count: 1}, bmc.ErrAuth},
		{bmcsim.Fault{Kind: bmcsim.FaultServerError, Count: 1}, bmc.ErrProtocol},
		{bmcsim.Fault{Kind: bmcsim.FaultMalformedJSON, Count: 1}, bmc.ErrProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.fault.Kind.String(), func(t *testing.T) {
			sim := newSim(t, bmcsim.Config{})
			d := open(t, memConfig(sim))
			sim.InjectFault(tc.fault)
			_, err := d.PowerStateGet(t.Context())
			if !errors.Is(err, tc.want) {
				t.Fatalf("PowerStateGet = %v, want %v", err, tc.want)
			}
			var be *bmc.Error
			if !errors.As(err, &be) || be.Driver != "redfish" || be.Op != "power-status" {
				t.Errorf("error %#v is not a redfish *bmc.Error", err)
			}
			// The fault was used up; the driver works again.
			if _, err := d.PowerStateGet(t.Context()); err != nil {
				t.Errorf("after the fault: %v", err)
			}
		})
	}
}

// Timeouts, slow BMCs, the session re-login and the emulated power cycle
// run in virtual time over the in-memory transport.
func TestTimeoutsVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, _ := bmcsim.New(bmcsim.Config{})
		defer sim.Close()
		cfg := memConfig(sim)
		cfg.Timeout = 30 * time.Second
		d := open(t, cfg)

		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultSlow, Delay: 29 * time.Second, Count: 1})
		start := time.Now()
		if _, err := d.PowerStateGet(t.Context()); err != nil {
			t.Errorf("slow BMC within the timeout: %v", err)
		}
		if el := time.Since(start); el != 29*time.Second {
			t.Errorf("slow call took %s", el)
		}

		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultSlow, Delay: 31 * time.Second, Count: 1})
		start = time.Now()
		_, err := d.PowerStateGet(t.Context())
		if !errors.Is(err, bmc.ErrTimeout) || time.Since(start) != 30*time.Second {
			t.Errorf("too slow BMC: %v after %s, want ErrTimeout after 30s", err, time.Since(start))
		}

		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultHang, Count: 1})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start = time.Now()
		_, err = d.PowerStateGet(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, bmc.ErrTimeout) || time.Since(start) != 3*time.Second {
			t.Errorf("caller deadline: %v after %s; want the caller's DeadlineExceeded, not ErrTimeout", err, time.Since(start))
		}
	})
}

func TestCycleFallbackVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, _ := bmcsim.New(bmcsim.Config{ResetTypes: []string{"On", "ForceOff"}, PowerState: "On"})
		defer sim.Close()
		cfg := memConfig(sim)
		cfg.CyclePollInterval = 2 * time.Second
		cfg.CycleOffTimeout = 60 * time.Second
		d := open(t, cfg)
		if err := d.PowerSet(t.Context(), bmc.ActionCycle); err != nil {
			t.Fatal(err)
		}
		if got := sim.ResetLog(); !slices.Equal(got, []string{"ForceOff", "On"}) {
			t.Errorf("reset log %v", got)
		}
		// A BMC that accepts ForceOff but never powers off: the fallback
		// gives up after CycleOffTimeout.
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultServerError, Method: "POST", Count: 1})
		start := time.Now()
		if err := d.PowerSet(t.Context(), bmc.ActionCycle); !errors.Is(err, bmc.ErrProtocol) || time.Since(start) != 0 {
			t.Errorf("ForceOff rejected: %v", err)
		}
	})
}

func TestCycleFallbackStuckVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, _ := bmcsim.New(bmcsim.Config{ResetTypes: []string{"On", "ForceOff"}, PowerState: "On"})
		defer sim.Close()
		cfg := memConfig(sim)
		cfg.CyclePollInterval = 2 * time.Second
		cfg.CycleOffTimeout = 60 * time.Second
		// Every state read says "On": the host never goes off.
		stuck := &stuckOn{rt: sim.Transport()}
		cfg.Transport = stuck
		d := open(t, cfg)
		start := time.Now()
		err := d.PowerSet(t.Context(), bmc.ActionCycle)
		if !errors.Is(err, bmc.ErrTimeout) {
			t.Fatalf("cycle of a host stuck on = %v, want ErrTimeout", err)
		}
		if el := time.Since(start); el != 60*time.Second {
			t.Errorf("gave up after %s, want CycleOffTimeout 60s", el)
		}
		if got := sim.ResetLog(); !slices.Equal(got, []string{"ForceOff"}) {
			t.Errorf("reset log %v: On must not be sent", got)
		}
	})
}

func TestSessionReloginAndLogout(t *testing.T) {
	sim := newSim(t, bmcsim.Config{})
	cfg := memConfig(sim)
	cfg.Auth = redfish.AuthSession
	d := newDriver(t, cfg)
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sim.Sessions() != 1 {
		t.Fatalf("sessions = %d after Open", sim.Sessions())
	}
	// The BMC forgets the session (expiry): one 401, then a new login.
	sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultUnauthorized, Path: "/redfish/v1/Systems/", Count: 1})
	if _, err := d.PowerStateGet(t.Context()); err != nil {
		t.Fatalf("PowerStateGet after a 401: %v", err)
	}
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := sim.Sessions(); n != 1 {
		// The first session was never deleted by the BMC in this test (the
		// 401 was injected); the second one must be logged out.
		t.Errorf("sessions = %d after Close, want 1 (the orphan)", n)
	}
	// A session that keeps being refused is ErrAuth, not a loop.
	d2 := newDriver(t, cfg)
	defer d2.Close(t.Context())
	if err := d2.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultUnauthorized, Path: "/redfish/v1/Systems/"})
	before := sim.Requests()
	if _, err := d2.PowerStateGet(t.Context()); !errors.Is(err, bmc.ErrAuth) {
		t.Errorf("PowerStateGet = %v, want ErrAuth", err)
	}
	if n := sim.Requests() - before; n != 3 {
		t.Errorf("%d requests for one refused call, want 3 (GET, login, GET)", n)
	}
}

func TestConfigValidate(t *testing.T) {
	base := redfish.DefaultConfig()
	base.Endpoint = "10.0.0.1"
	base.Username = "root"
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		mod   func(*redfish.Config)
	}{
		{"Endpoint", func(c *redfish.Config) { c.Endpoint = "" }},
		{"Endpoint", func(c *redfish.Config) { c.Endpoint = "ftp://x" }},
		{"Endpoint", func(c *redfish.Config) { c.Endpoint = "https://u:p@x" }},
		{"Endpoint", func(c *redfish.Config) { c.Endpoint = "https://x/redfish/v1" }},
		{"Username", func(c *redfish.Config) { c.Username = "" }},
		{"Auth", func(c *redfish.Config) { c.Auth = "kerberos" }},
		{"Timeout", func(c *redfish.Config) { c.Timeout = -1 }},
		{"MaxParallelRequests", func(c *redfish.Config) { c.MaxParallelRequests = -1 }},
		{"CAFile", func(c *redfish.Config) { c.CAFile = "/nonexistent/ca.pem" }},
	} {
		cfg := base
		tc.mod(&cfg)
		var ce *bmc.ConfigError
		if err := cfg.Validate(); !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("bad %s: %v", tc.field, err)
		}
		if _, err := redfish.New(cfg); !errors.Is(err, bmc.ErrInvalidConfig) {
			t.Errorf("New with bad %s: %v", tc.field, err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	sim := newSim(t, bmcsim.Config{})
	cfg := memConfig(sim)
	cfg.Auth = redfish.AuthSession
	d := open(t, cfg)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			var err error
			switch i % 4 {
			case 0:
				_, err = d.PowerStateGet(t.Context())
			case 1:
				_, err = d.Sensors(t.Context())
			case 2:
				_, err = d.BMCInfo(t.Context())
			case 3:
				err = d.BootDeviceSet(t.Context(), bmc.BootPXE, bmc.BootOptions{})
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
