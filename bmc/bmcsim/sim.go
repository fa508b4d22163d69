package bmcsim

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Standard Redfish ResetType values (DMTF ResourceType ResetType).
var AllResetTypes = []string{
	"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
	"Nmi", "ForceOn", "PushPowerButton", "PowerCycle",
}

// GracefulOnlyResetTypes is a restricted AllowableValues list, as some BMCs
// publish it: no ForceOff, no ForceRestart, no PowerCycle.
var GracefulOnlyResetTypes = []string{"On", "GracefulShutdown", "GracefulRestart"}

// AllBootTargets are the BootSourceOverrideTarget values the emulator accepts
// by default.
var AllBootTargets = []string{"None", "Pxe", "Hdd", "Cd", "BiosSetup", "Usb"}

// SensorKind selects where a sensor appears in the tree.
type SensorKind string

// Sensor kinds.
const (
	// Temperature: Chassis/{id}/Thermal Temperatures[], ReadingCelsius.
	Temperature SensorKind = "Temperature"
	// Fan: Thermal Fans[], Reading with ReadingUnits (Units, default "RPM").
	Fan SensorKind = "Fan"
	// Voltage: Chassis/{id}/Power Voltages[], ReadingVolts.
	Voltage SensorKind = "Voltage"
	// PowerSupply: Power PowerSupplies[], LastPowerOutputWatts; in the
	// newer model PowerSubsystem/PowerSupplies/{id} with Metrics
	// (OutputPowerWatts, and InputVoltage, InputPowerWatts when set).
	PowerSupply SensorKind = "PowerSupply"
	// PowerControl: Power PowerControl[], PowerConsumedWatts.
	PowerControl SensorKind = "PowerControl"
)

// SensorModel selects which Redfish sensor resources a chassis publishes.
type SensorModel string

// Sensor models.
const (
	// ModelLegacy: Thermal (Temperatures, Fans) and Power (Voltages,
	// PowerSupplies, PowerControl) only, as before Redfish 2020.4. The
	// default.
	ModelLegacy SensorModel = "legacy"
	// ModelModern: Sensors, ThermalSubsystem and PowerSubsystem only, no
	// Thermal or Power (Redfish 2020.4 on). Temperatures, voltages and
	// power consumption are Sensors; fans are only ThermalSubsystem/Fans
	// entries and power supplies only PowerSubsystem/PowerSupplies
	// entries (with PowerSupplyMetrics), without DataSourceUri.
	ModelModern SensorModel = "modern"
	// ModelBoth: both models. Every reading is a Sensor, including fan
	// speeds and power supply metrics, and the fans' SpeedPercent and the
	// PowerSupplyMetrics readings link to those Sensors with
	// DataSourceUri; Thermal and Power repeat them all.
	ModelBoth SensorModel = "both"
)

// Sensor is one simulated sensor. Thresholds follow Redfish naming; nil
// means "not reported".
type Sensor struct {
	Kind    SensorKind
	Name    string
	Reading float64
	// Units is only used for fans: "RPM" (default) or "Percent".
	Units string
	// Absent reports the sensor with Status.State "Absent" and no reading.
	Absent bool
	// InputVoltage and InputPower are a power supply's input readings
	// (PowerSupply only; PowerSupplyMetrics in the newer model,
	// LineInputVoltage and PowerInputWatts in the older).
	InputVoltage, InputPower *float64

	LowerThresholdNonCritical, LowerThresholdCritical, LowerThresholdFatal *float64
	UpperThresholdNonCritical, UpperThresholdCritical, UpperThresholdFatal *float64
}

func f(v float64) *float64 { return &v }

// DefaultSensors mirror the project's ipmi_sim configuration, plus a power
// supply and the system power consumption.
func DefaultSensors() []Sensor {
	return []Sensor{
		{Kind: Temperature, Name: "CPU Temp", Reading: 45,
			UpperThresholdNonCritical: f(80), UpperThresholdCritical: f(90), UpperThresholdFatal: f(100)},
		{Kind: Temperature, Name: "Inlet Temp", Reading: 24},
		{Kind: Fan, Name: "FAN1", Reading: 5400, Units: "RPM", LowerThresholdCritical: f(1000)},
		{Kind: Voltage, Name: "12V", Reading: 12,
			LowerThresholdCritical: f(10.8), UpperThresholdCritical: f(13.2)},
		{Kind: PowerSupply, Name: "PSU1", Reading: 180, InputVoltage: f(230), InputPower: f(200)},
		{Kind: PowerControl, Name: "System Power", Reading: 180},
	}
}

// DefaultEnclosureSensors are an enclosure's shared fans and power
// supplies, for Config.Enclosure.
func DefaultEnclosureSensors() []Sensor {
	return []Sensor{
		{Kind: Fan, Name: "Chassis Fan 1", Reading: 40, Units: "Percent"},
		{Kind: Fan, Name: "Chassis Fan 2", Reading: 42, Units: "Percent"},
		{Kind: PowerSupply, Name: "Chassis PSU 1", Reading: 950, InputVoltage: f(230)},
		{Kind: Temperature, Name: "Chassis Ambient", Reading: 22, UpperThresholdCritical: f(45)},
	}
}

// Config describes the simulated BMC. The zero value of every field means
// its default, so Config{} is a working BMC with user "admin"/"secret".
type Config struct {
	// Username and Password accepted by basic auth and session login
	// (default "admin" / "secret").
	Username, Password string
	// RedfishVersion of the service root (default "1.6.0").
	RedfishVersion string
	// Vendor, Model and FirmwareVersion shown on the service root, the
	// system and the manager (defaults "metal-go", "bmcsim", "1.0.0").
	Vendor, Model, FirmwareVersion string
	// PowerState at start: "On" or "Off" (default "Off").
	PowerState string
	// ResetTypes advertised as ResetType@Redfish.AllowableValues and
	// accepted by the Reset action (default AllResetTypes).
	ResetTypes []string
	// ResetActionInfo advertises the reset types through
	// @Redfish.ActionInfo instead of an inline AllowableValues annotation.
	ResetActionInfo bool
	// BootTargets accepted for BootSourceOverrideTarget (default
	// AllBootTargets). An empty non-nil slice removes the Boot object (a
	// system without boot override support).
	BootTargets []string
	// RequireIfMatch makes PATCH without an If-Match header fail with 428.
	RequireIfMatch bool
	// NoSessions removes the SessionService (basic auth only).
	NoSessions bool
	// Sensors in the chassis (default DefaultSensors()). An empty non-nil
	// slice gives a chassis without any sensor resource.
	Sensors []Sensor
	// SensorModel selects the sensor resources (default ModelLegacy).
	SensorModel SensorModel
	// Enclosure, when non-nil, makes Chassis/1 a blade contained
	// (Links.ContainedBy) by Chassis/Enclosure, which has these sensors,
	// in the same SensorModel (DefaultEnclosureSensors is an example).
	// Sensor names must be unique across Sensors and Enclosure.
	Enclosure []Sensor
	// ExpandQuery advertises ProtocolFeaturesSupported.ExpandQuery
	// (NoLinks, Levels, MaxLevels 1) on the service root and serves
	// "$expand=." on Sensors collections with the members inline.
	ExpandQuery bool
	// Logger receives one record per request (nil: silent).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Username, "admin")
	def(&c.Password, "secret")
	def(&c.RedfishVersion, "1.6.0")
	def(&c.Vendor, "metal-go")
	def(&c.Model, "bmcsim")
	def(&c.FirmwareVersion, "1.0.0")
	def(&c.PowerState, "Off")
	if c.ResetTypes == nil {
		c.ResetTypes = slices.Clone(AllResetTypes)
	}
	if c.BootTargets == nil {
		c.BootTargets = slices.Clone(AllBootTargets)
	}
	if c.Sensors == nil {
		c.Sensors = DefaultSensors()
	}
	if c.SensorModel == "" {
		c.SensorModel = ModelLegacy
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the configuration (after defaults are applied).
func (c Config) Validate() error {
	c.setDefaults()
	if c.PowerState != "On" && c.PowerState != "Off" {
		return fmt.Errorf("bmcsim: invalid config: PowerState: %q is not On or Off", c.PowerState)
	}
	for _, rt := range c.ResetTypes {
		if !slices.Contains(AllResetTypes, rt) {
			return fmt.Errorf("bmcsim: invalid config: ResetTypes: unknown reset type %q", rt)
		}
	}
	switch c.SensorModel {
	case ModelLegacy, ModelModern, ModelBoth:
	default:
		return fmt.Errorf("bmcsim: invalid config: SensorModel: unknown model %q", c.SensorModel)
	}
	seen := map[string]bool{}
	ids := map[string]map[string]bool{"Sensors": {}, "Enclosure": {}}
	for field, list := range map[string][]Sensor{"Sensors": c.Sensors, "Enclosure": c.Enclosure} {
		for i, s := range list {
			switch s.Kind {
			case Temperature, Fan, Voltage, PowerSupply, PowerControl:
			default:
				return fmt.Errorf("bmcsim: invalid config: %s[%d]: unknown kind %q", field, i, s.Kind)
			}
			if s.Name == "" || seen[s.Name] {
				return fmt.Errorf("bmcsim: invalid config: %s[%d]: name %q empty or duplicate", field, i, s.Name)
			}
			seen[s.Name] = true
			if id := resourceID(s.Name); id == "" || ids[field][id] {
				return fmt.Errorf("bmcsim: invalid config: %s[%d]: name %q gives an empty or duplicate resource Id", field, i, s.Name)
			} else {
				ids[field][id] = true
			}
		}
	}
	return nil
}

// FaultKind is an injectable failure.
type FaultKind int

// Fault kinds.
const (
	// FaultUnauthorized answers 401 as if the credentials were wrong.
	FaultUnauthorized FaultKind = iota + 1
	// FaultServerError answers 500 with a Redfish error body.
	FaultServerError
	// FaultSlow waits Delay, then serves the request normally.
	FaultSlow
	// FaultHang never answers: the request blocks until the client gives
	// up (its context ends) or the Server is closed.
	FaultHang
	// FaultMalformedJSON answers 200 with a truncated JSON document.
	FaultMalformedJSON
	// FaultNotFound answers 404 with a Redfish error body, as for a
	// resource the BMC links to but does not serve.
	FaultNotFound
)

func (k FaultKind) String() string {
	switch k {
	case FaultUnauthorized:
		return "unauthorized"
	case FaultServerError:
		return "server-error"
	case FaultSlow:
		return "slow"
	case FaultHang:
		return "hang"
	case FaultMalformedJSON:
		return "malformed-json"
	case FaultNotFound:
		return "not-found"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault is an injected failure, applied to matching requests.
type Fault struct {
	Kind FaultKind
	// Method restricts the fault to one HTTP method ("" = any).
	Method string
	// Path restricts the fault to paths with this prefix ("" = any). The
	// unauthenticated service root is "/redfish/v1/".
	Path string
	// Count is how many requests the fault applies to (0 = until cleared).
	Count int
	// Delay for FaultSlow.
	Delay time.Duration
}

// BootOverride is the system's Boot object.
type BootOverride struct {
	Target  string // BootSourceOverrideTarget
	Enabled string // BootSourceOverrideEnabled: Disabled, Once, Continuous
	Mode    string // BootSourceOverrideMode: Legacy, UEFI
}

// Server is a Redfish BMC emulator. It is an http.Handler: serve it over
// real loopback with httptest.NewTLSServer, or in memory with Transport.
// All methods are safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	power     string
	boot      BootOverride
	etag      int
	resetLog  []string
	boots     []string
	sensors   []Sensor
	encl      []Sensor
	sessions  map[string]string // id -> token
	nextSess  int
	faults    []Fault
	requests  int
	closed    chan struct{}
	closeOnce sync.Once
}

// DefaultConfig returns the configuration New uses for zero fields.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	c.Logger = nil
	return c
}

// New returns an emulator for cfg (zero fields take their defaults).
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		power:    cfg.PowerState,
		boot:     BootOverride{Target: "None", Enabled: "Disabled", Mode: "Legacy"},
		etag:     1,
		sensors:  slices.Clone(cfg.Sensors),
		encl:     slices.Clone(cfg.Enclosure),
		sessions: map[string]string{},
		closed:   make(chan struct{}),
	}
	return s, nil
}

// Close releases every request blocked by FaultHang. Later hung requests
// return at once. It is idempotent.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// PowerState returns "On" or "Off".
func (s *Server) PowerState() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.power
}

// SetPowerState sets the power state as if it changed outside Redfish.
func (s *Server) SetPowerState(state string) error {
	if state != "On" && state != "Off" {
		return fmt.Errorf("bmcsim: power state %q is not On or Off", state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.power != state {
		s.power = state
		s.etag++
	}
	return nil
}

// BootOverride returns the current boot override.
func (s *Server) BootOverride() BootOverride {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boot
}

// ResetLog returns every ResetType accepted so far, in order.
func (s *Server) ResetLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.resetLog)
}

// Boots returns the boot source of every simulated boot so far (power on,
// restart or cycle): the override target if one was armed, else "None". A
// "Once" override is consumed by the boot, as on real hardware.
func (s *Server) Boots() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.boots)
}

// SetReading changes the reading of the named sensor (of the chassis or
// the enclosure).
func (s *Server) SetReading(name string, reading float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, list := range [][]Sensor{s.sensors, s.encl} {
		for i := range list {
			if list[i].Name == name {
				list[i].Reading = reading
				return nil
			}
		}
	}
	return errors.New("bmcsim: no sensor " + name)
}

// Sessions returns the number of open Redfish sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Requests returns the number of requests served (including faulted ones).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// InjectFault adds a fault. Faults are matched in the order they were added.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFaultLocked returns the first fault matching the request and uses
// up one of its Count.
func (s *Server) takeFaultLocked(method, path string) (Fault, bool) {
	for i, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.Path != "" && !hasPrefix(path, f.Path) {
			continue
		}
		if f.Count > 0 {
			s.faults[i].Count--
			if s.faults[i].Count == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return f, true
	}
	return Fault{}, false
}

func hasPrefix(path, prefix string) bool {
	return len(path) >= len(prefix) && path[:len(prefix)] == prefix
}

// bootLocked records a boot and consumes a one-time override.
func (s *Server) bootLocked() {
	target := "None"
	if s.boot.Enabled == "Once" || s.boot.Enabled == "Continuous" {
		target = s.boot.Target
	}
	s.boots = append(s.boots, target)
	if s.boot.Enabled == "Once" {
		s.boot.Enabled = "Disabled"
		s.boot.Target = "None"
	}
}
