package bmctest

import (
	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
)

// SimBackend adapts a bmcsim Redfish emulator to Backend.
func SimBackend(s *bmcsim.Server) Backend { return simBackend{s} }

type simBackend struct{ s *bmcsim.Server }

func (b simBackend) Power() (bmc.PowerState, error) {
	if b.s.PowerState() == "On" {
		return bmc.PowerOn, nil
	}
	return bmc.PowerOff, nil
}

func (b simBackend) SetPower(st bmc.PowerState) error {
	if st == bmc.PowerOn {
		return b.s.SetPowerState("On")
	}
	return b.s.SetPowerState("Off")
}

var simTargets = map[string]bmc.BootDevice{
	"Pxe": bmc.BootPXE, "Hdd": bmc.BootDisk, "Cd": bmc.BootCDROM, "BiosSetup": bmc.BootBIOS,
}

func (b simBackend) BootDevice() (bmc.BootDevice, error) {
	o := b.s.BootOverride()
	if o.Enabled == "Disabled" {
		return "", nil
	}
	return simTargets[o.Target], nil
}

func (b simBackend) Resets() (int, error) {
	n := 0
	for _, rt := range b.s.ResetLog() {
		if rt == "ForceRestart" || rt == "GracefulRestart" {
			n++
		}
	}
	return n, nil
}
