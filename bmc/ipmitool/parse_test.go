package ipmitool

import (
	"strings"
	"testing"

	"opendev.org/starlingx/metal-go/bmc"
)

// Outputs captured from ipmitool 1.8.19 against the project's ipmi_sim.
const (
	simSensorList = `CPU Temp         | 45.000     | degrees C  | ok    | na        | na        | na        | 80.000    | 90.000    | 100.000   
Inlet Temp       | 24.000     | degrees C  | ok    | na        | na        | na        | na        | na        | na        
FAN1             | 5400.000   | RPM        | ok    | na        | na        | na        | na        | na        | na        
12V              | 12.000     | Volts      | ok    | na        | na        | na        | na        | na        | na        
`
	simMCInfo = `Device ID                 : 0
Device Revision           : 3
Firmware Revision         : 9.08
IPMI Version              : 2.0
Manufacturer ID           : 4753
Manufacturer Name         : MontaVista Software, Inc.
Product ID                : 3842 (0x0f02)
Product Name              : Unknown (0xF02)
Device Available          : yes
Provides Device SDRs      : no
Additional Device Support :
    Sensor Device
    SDR Repository Device
    SEL Device
    FRU Inventory Device
    IPMB Event Receiver
    Chassis Device
Aux Firmware Rev Info     : 
    0x00
    0x00
    0x00
    0x00
`
	realSensorList = `Temp             | 38.000     | degrees C  | ok    | 3.000     | 8.000     | na        | na        | 80.000    | 85.000    
Fan1 RPM         | 3360.000   | RPM        | ok    | na        | 360.000   | 600.000   | na        | na        | na        
PS1 Status       | 0x1        | discrete   | 0x0100| na        | na        | na        | na        | na        | na        
Pwr Consumption  | 112.000    | Watts      | ok    | na        | na        | na        | na        | 896.000   | 980.000   
Intrusion        | na         | discrete   | na    | na        | na        | na        | na        | na        | na        
Hot One          | 91.000     | degrees C  | ucr   | na        | na        | na        | 80.000    | 90.000    | 100.000   
No Reading       | na         | Volts      | na    | na        | na        | na        | na        | na        | na        
`
)

func TestParseSensorList(t *testing.T) {
	got, err := parseSensorList(simSensorList)
	if err != nil || len(got) != 4 {
		t.Fatalf("parse = %v, %v", got, err)
	}
	cpu := got[0]
	if cpu.String() != "CPU Temp | 45 | degrees C | ok" || cpu.Type != bmc.SensorTemperature ||
		*cpu.Thresholds.UpperNonCritical != 80 || *cpu.Thresholds.UpperNonRecoverable != 100 ||
		cpu.Thresholds.LowerCritical != nil {
		t.Errorf("CPU Temp = %+v", cpu)
	}
	got, err = parseSensorList(realSensorList)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Temp | 38 | degrees C | ok", "Fan1 RPM | 3360 | RPM | ok", "PS1 Status | na | discrete | ok",
		"Pwr Consumption | 112 | Watts | ok", "Intrusion | na | discrete | na", "Hot One | 91 | degrees C | cr",
		"No Reading | na | Volts | na",
	}
	for i, w := range want {
		if got[i].String() != w {
			t.Errorf("row %d = %q, want %q", i, got[i], w)
		}
	}
	if _, err := parseSensorList("only | three | cols\n"); err == nil {
		t.Error("short row accepted")
	}
}

func TestParseMCInfo(t *testing.T) {
	m, err := parseMCInfo(simMCInfo)
	if err != nil {
		t.Fatal(err)
	}
	if m.info.FirmwareVersion != "9.08" || m.info.ProtocolVersion != "2.0" || m.info.ManufacturerID != 4753 ||
		m.info.Manufacturer != "MontaVista Software, Inc." || m.info.Product != "3842 (0x0f02)" {
		t.Errorf("info = %+v", m.info)
	}
	if !m.support["Sensor Device"] || !m.support["Chassis Device"] || m.support["0x00"] {
		t.Errorf("support = %v", m.support)
	}
	if _, err := parseMCInfo("garbage"); err == nil {
		t.Error("garbage accepted")
	}
}

func TestParsePowerAndRestartCause(t *testing.T) {
	for in, want := range map[string]bmc.PowerState{"Chassis Power is on\n": bmc.PowerOn, "Chassis Power is off": bmc.PowerOff} {
		if got, err := parsePowerStatus(in); err != nil || got != want {
			t.Errorf("parsePowerStatus(%q) = %s, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "Chassis Power is sideways", "Error"} {
		if _, err := parsePowerStatus(bad); err == nil {
			t.Errorf("parsePowerStatus(%q) accepted", bad)
		}
	}
	if rc, err := parseRestartCause("System restart cause: watchdog expired\n"); err != nil || rc != bmc.RestartWatchdog {
		t.Errorf("restart cause = %q, %v", rc, err)
	}
	if rc, err := parseRestartCause("System restart cause: invalid\n"); err != nil || rc != bmc.RestartInvalid {
		t.Errorf("restart cause = %q, %v", rc, err)
	}
}

func FuzzParseSensorList(f *testing.F) {
	for _, s := range []string{simSensorList, realSensorList, "", "|||", "a|b|c|d|e|f|g|h|i|j|k|l",
		"x | NaN | Volts | ok", "x | 1e999 | RPM | nc | 0x | na"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		list, err := parseSensorList(out)
		if err != nil {
			return
		}
		for _, s := range list {
			if s.Name == "" || !s.Status.Valid() {
				t.Errorf("bad sensor %+v", s)
			}
			if s.Reading == nil && s.Unit != "discrete" && s.Status != bmc.StatusUnavailable {
				t.Errorf("sensor without reading has status %s", s.Status)
			}
		}
	})
}

func FuzzParseMCInfo(f *testing.F) {
	for _, s := range []string{simMCInfo, "", ":", "Firmware Revision : \n", "Manufacturer ID : 99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		m, err := parseMCInfo(out)
		if err == nil && !strings.Contains(out, "Firmware Revision") {
			t.Errorf("accepted output without a firmware revision: %+v", m)
		}
	})
}

func FuzzParsePowerStatus(f *testing.F) {
	for _, s := range []string{"Chassis Power is on", "Chassis Power is off\n", "", "Chassis Power is "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		st, err := parsePowerStatus(out)
		if err == nil && st != bmc.PowerOn && st != bmc.PowerOff {
			t.Errorf("state %q without error", st)
		}
	})
}

func FuzzParseRestartCause(f *testing.F) {
	for _, s := range []string{"System restart cause: power-up via pushbutton", "restart cause:", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		rc, err := parseRestartCause(out)
		if err == nil && !rc.Known() && rc != bmc.RestartInvalid {
			t.Errorf("cause %q", rc)
		}
	})
}
