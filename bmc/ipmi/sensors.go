package ipmi

import (
	"github.com/bougou/go-ipmi/pkg/types"

	"opendev.org/starlingx/metal-go/bmc"
)

var sensorTypes = map[types.SensorType]bmc.SensorType{
	types.SensorTypeTemperature: bmc.SensorTemperature,
	types.SensorTypeVoltage:     bmc.SensorVoltage,
	types.SensorTypeCurrent:     bmc.SensorCurrent,
	types.SensorTypeFan:         bmc.SensorFan,
}

// convertSensor maps a go-ipmi sensor like "ipmitool sensor list" does:
// threshold sensors with a valid reading get it, their readable
// thresholds and the threshold status; everything else is "na".
func convertSensor(s *types.Sensor) bmc.Sensor {
	out := bmc.Sensor{Name: s.Name, Type: bmc.SensorOther, Status: bmc.StatusUnavailable}
	if t, ok := sensorTypes[s.SensorType]; ok {
		out.Type = t
	}
	if s.SensorUnit.BaseUnit == types.SensorUnitType_Watts && out.Type == bmc.SensorOther {
		out.Type = bmc.SensorPower
	}
	if !s.SensorUnit.IsAnalog() || !s.IsThreshold() {
		out.Unit = "discrete"
	} else {
		out.Unit = s.SensorUnit.String()
	}
	if s.NotPresent || s.ScanningDisabled || !s.ReadingAvailable || !s.IsThreshold() || !s.SensorUnit.IsAnalog() {
		if s.ReadingAvailable && !s.NotPresent && !s.ScanningDisabled {
			out.Status = bmc.StatusOK // a discrete sensor that answers
		}
		return out
	}
	v := s.Value
	out.Reading = &v
	th := s.Threshold
	val := func(readable bool, x float64) *float64 {
		if !readable {
			return nil
		}
		return &x
	}
	out.Thresholds = bmc.Thresholds{
		LowerNonRecoverable: val(th.Mask.LNR.Readable, th.LNR),
		LowerCritical:       val(th.Mask.LCR.Readable, th.LCR),
		LowerNonCritical:    val(th.Mask.LNC.Readable, th.LNC),
		UpperNonCritical:    val(th.Mask.UNC.Readable, th.UNC),
		UpperCritical:       val(th.Mask.UCR.Readable, th.UCR),
		UpperNonRecoverable: val(th.Mask.UNR.Readable, th.UNR),
	}
	switch th.ThresholdStatus {
	case types.SensorThresholdStatus_LNR, types.SensorThresholdStatus_UNR:
		out.Status = bmc.StatusNonRecoverable
	case types.SensorThresholdStatus_LCR, types.SensorThresholdStatus_UCR:
		out.Status = bmc.StatusCritical
	case types.SensorThresholdStatus_LNC, types.SensorThresholdStatus_UNC:
		out.Status = bmc.StatusNonCritical
	default:
		out.Status = bmc.StatusOK
	}
	return out
}
