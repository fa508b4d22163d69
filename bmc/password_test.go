package bmc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"opendev.org/starlingx/metal-go/bmc"
)

const secret = "s3cr3t-Pa55"

func TestPasswordRedacts(t *testing.T) {
	p := bmc.NewPassword(secret)
	if p.Reveal() != secret || p.IsZero() || !bmc.NewPassword("").IsZero() {
		t.Fatal("Reveal/IsZero broken")
	}
	type creds struct {
		User string
		Pass bmc.Password
	}
	c := creds{"admin", p}
	var outs []string
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, p), fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c))
	}
	outs = append(outs, fmt.Sprint(p), fmt.Sprintln(c), p.String(), p.GoString())
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("login", "password", p, "creds", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("login", "password", p)
	outs = append(outs, buf.String())
	e := bmc.NewError("open", "ipmi", "10.0.0.1", bmc.ErrAuth, fmt.Errorf("user %s pass %v", "admin", p))
	outs = append(outs, e.Error(), fmt.Sprintf("%+v", e))
	hexSecret := fmt.Sprintf("%x", secret)
	for _, o := range outs {
		if strings.Contains(o, secret) || strings.Contains(o, hexSecret) {
			t.Errorf("secret leaked: %s", o)
		}
	}
	if !strings.Contains(string(j), `"[REDACTED]"`) || !strings.Contains(fmt.Sprintf("%#v", p), "REDACTED") {
		t.Errorf("redaction marker missing: %s", j)
	}
}

func TestErrorMatching(t *testing.T) {
	cause := errors.New("read udp: i/o timeout")
	e := bmc.NewError("power-status", "ipmi", "10.0.0.1:623", bmc.ErrTimeout, cause)
	if !errors.Is(e, bmc.ErrTimeout) || !errors.Is(e, cause) || errors.Is(e, bmc.ErrAuth) {
		t.Errorf("errors.Is broken on %v", e)
	}
	wrapped := fmt.Errorf("outer: %w", e)
	var be *bmc.Error
	if !errors.As(wrapped, &be) || be.Op != "power-status" {
		t.Errorf("errors.As broken")
	}
	// A re-wrapping keeps the inner kind.
	if k := bmc.NewError("outer", "x", "y", nil, wrapped); k.Kind != bmc.ErrTimeout {
		t.Errorf("NewError lost the inner kind: %v", k.Kind)
	}
	if got := e.Error(); got != "bmc ipmi 10.0.0.1:623 power-status: timed out waiting for the BMC: read udp: i/o timeout" {
		t.Errorf("Error() = %q", got)
	}
}

func TestCapabilityString(t *testing.T) {
	if s := (bmc.CapPowerState | bmc.CapSensors).String(); s != "power-state|sensors" {
		t.Errorf("String = %q", s)
	}
	if s := bmc.Capability(0).String(); s != "none" {
		t.Errorf("String(0) = %q", s)
	}
	if !bmc.CapAll.Has(bmc.CapBootPXE|bmc.CapInfo) || bmc.CapPowerOn.Has(0) || bmc.CapPowerOn.Has(bmc.CapPowerOff) {
		t.Error("Has broken")
	}
	for _, a := range bmc.PowerActions {
		if !a.Valid() || a.Target() == bmc.PowerUnknown {
			t.Errorf("action %s", a)
		}
	}
}

func TestThresholdsClassify(t *testing.T) {
	th := bmc.Thresholds{LowerCritical: bmc.Float(10), UpperNonCritical: bmc.Float(80),
		UpperCritical: bmc.Float(90), UpperNonRecoverable: bmc.Float(100)}
	for v, want := range map[float64]bmc.SensorStatus{
		45: bmc.StatusOK, 80: bmc.StatusNonCritical, 95: bmc.StatusCritical, 100: bmc.StatusNonRecoverable,
		10: bmc.StatusCritical, 5: bmc.StatusCritical,
	} {
		if got := th.Classify(v); got != want {
			t.Errorf("Classify(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestParseProtocolAndRestartCause(t *testing.T) {
	for in, want := range map[string]bmc.Protocol{"ipmi": bmc.ProtocolIPMI, "Redfish": bmc.ProtocolRedfish,
		"": bmc.ProtocolDynamic, " dynamic ": bmc.ProtocolDynamic} {
		if got, err := bmc.ParseProtocol(in); err != nil || got != want {
			t.Errorf("ParseProtocol(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := bmc.ParseProtocol("amt"); err == nil {
		t.Error("ParseProtocol(amt) succeeded")
	}
	if bmc.RestartCauseFromCode(3) != bmc.RestartPowerButton || bmc.RestartCauseFromCode(0x1b) != bmc.RestartRTCWakeup ||
		bmc.RestartCauseFromCode(0x0e) != bmc.RestartInvalid || bmc.RestartInvalid.Known() {
		t.Error("RestartCauseFromCode broken")
	}
}

func newTextLogger(w *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
