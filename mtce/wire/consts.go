package wire

import (
	"strconv"
	"strings"

	"opendev.org/starlingx/metal-go/mtce"
)

// Layout of mtc_message_type as nodeBase.h's HDR_SIZE and BUF_SIZE macros
// make it (spec F.2). nodeBase.h's layout comment describes a 128-byte
// header; the macros, which the C++ compiler follows, give 64.
const (
	HeaderSize     = 64   // hdr[]: signature, then free bytes (the MAC of addressed commands)
	SignatureSize  = 18   // MSG_HEADER_SIZE: 17 signature characters and a NUL
	FixedSize      = 100  // hdr, ver, rev, res, cmd, num, parm[5]
	BufferSize     = 960  // BUF_SIZE = 1024 - 64
	MaxSize        = 1060 // sizeof(mtc_message_type): the largest datagram
	MaxBufferLen   = 959  // the longest buffer text a receiver keeps (it forces buf[959] to NUL)
	MaxMACLen      = 46   // the longest text that fits after the signature with its NUL
	HeaderTailSize = 46   // header bytes 18–63: Message.HeaderTail
	NumParms       = 5    // parm[5]

	sigLen = SignatureSize - 1 // signature characters

	offVer  = 64
	offRev  = 66
	offRes  = 68
	offCmd  = 72
	offNum  = 76
	offParm = 80
)

// Message versions (nodeBase.h MTC_CMD_FEATURE_VER__*): ver ≥ 1 means an
// addressed command carries the target's MAC after the signature; ver 2
// marks key/value JSON in the buffer (hwmond and hbsAgent messages).
const (
	VersionMACInHeader uint16 = 1
	VersionJSONBuffer  uint16 = 2
)

// EnhancedHostServices is the magic mtcClient puts in parm[1] of a
// host-services ACK (MTC_ENHANCED_HOST_SERVICES): it tells mtcAgent to wait
// for a separate result message (spec E.2).
const EnhancedHostServices uint32 = 0x1B0000B1

// Signature is the text in the first 17 bytes of a message (spec F.2). The
// zero value is not a valid signature.
type Signature uint8

// Signatures, with their exact texts.
//
// SigLog heads mtclogd's log_message_type (header, hostname, file name,
// log text), not mtc_message_type: [Decode] recognises only its signature
// and size, and the fields it reads from such a datagram mean nothing.
const (
	SigRequest        Signature = iota + 1 // "cgts mtc cmd req:" agent → client command
	SigResponse                            // "cgts mtc cmd rsp:" ACK and host-services result
	SigReply                               // "cgts mtc rep msg:" agent's reply to goEnabled
	SigWorker                              // "cgts mtc message:" client → agent, e.g. mtcAlive
	SigEvent                               // "mtce event msg  :" events (JSON in the buffer)
	SigHbsCommand                          // "cgts mtc hbs cmd:" agent → hbsAgent
	SigLoopback                            // "mtc loopback msg:"
	SigHeartbeatLoss                       // "heart beat loss :"
	SigHeartbeatEvent                      // "heart beat event:"
	SigHeartbeatReady                      // "heart beat ready:"
	SigPmondPulse                          // "pmond alive pulse"
	SigLog                                 // "cgts mtc log msg:" (mtclogd's log_message_type; see below)
)

var signatureTexts = [...]string{
	SigRequest:        "cgts mtc cmd req:",
	SigResponse:       "cgts mtc cmd rsp:",
	SigReply:          "cgts mtc rep msg:",
	SigWorker:         "cgts mtc message:",
	SigEvent:          "mtce event msg  :",
	SigHbsCommand:     "cgts mtc hbs cmd:",
	SigLoopback:       "mtc loopback msg:",
	SigHeartbeatLoss:  "heart beat loss :",
	SigHeartbeatEvent: "heart beat event:",
	SigHeartbeatReady: "heart beat ready:",
	SigPmondPulse:     "pmond alive pulse",
	SigLog:            "cgts mtc log msg:",
}

var signatureByText = func() map[string]Signature {
	m := make(map[string]Signature, len(signatureTexts))
	for i, s := range signatureTexts {
		if s != "" {
			m[s] = Signature(i)
		}
	}
	return m
}()

// String returns the signature's 17-character text.
func (s Signature) String() string {
	if s.Valid() {
		return signatureTexts[s]
	}
	return "Signature(" + strconv.Itoa(int(s)) + ")"
}

// Valid reports whether s is one of the known signatures.
func (s Signature) Valid() bool { return s > 0 && int(s) < len(signatureTexts) }

// Command is the cmd field of a message (nodeBase.h MTC_CMD_*, MTC_MSG_*,
// MTC_REQ_* and the event codes).
type Command uint32

// Commands between mtcAgent and mtcClient (spec F.3).
const (
	CmdNone                    Command = 0  // "none"
	CmdLoopback                Command = 1  // to host
	CmdReboot                  Command = 2  // to host
	CmdWipedisk                Command = 3  // to host
	CmdReset                   Command = 4  // to host
	CmdMtcAlive                Command = 5  // from host (MTC_MSG_MTCALIVE)
	CmdMtcAliveRequest         Command = 6  // to host (MTC_REQ_MTCALIVE)
	CmdMainGoEnabled           Command = 7  // from host
	CmdSubfGoEnabled           Command = 8  // from host
	CmdMainGoEnabledRequest    Command = 9  // to host
	CmdSubfGoEnabledRequest    Command = 10 // to host
	CmdMainGoEnabledFailed     Command = 11 // from host
	CmdSubfGoEnabledFailed     Command = 12 // from host
	CmdLocked                  Command = 13 // to host (MTC_MSG_LOCKED)
	CmdStopControllerServices  Command = 14 // to host
	CmdStopWorkerServices      Command = 15 // to host
	CmdStopStorageServices     Command = 16 // to host
	CmdStartControllerServices Command = 17 // to host
	CmdStartWorkerServices     Command = 18 // to host
	CmdStartStorageServices    Command = 19 // to host
	CmdLazyReboot              Command = 20 // to host
	CmdHostServicesResult      Command = 21 // from host
	CmdInfo                    Command = 22 // to host, no ACK (MTC_MSG_INFO)
	CmdSync                    Command = 23 // to host, no ACK
	CmdUnlocked                Command = 24 // to host (MTC_MSG_UNLOCKED)
)

// Agent, heartbeat and monitor command and event codes (large magic values).
const (
	CmdAddHost          Command = 0x11110010
	CmdDelHost          Command = 0x11110011
	CmdModHost          Command = 0x11110012
	CmdQueryHost        Command = 0x11110013
	CmdStartHost        Command = 0x11110014
	CmdStopHost         Command = 0x11110015
	CmdActiveController Command = 0x11110016

	CmdRestartHbs Command = 0x0000f11f
	CmdBackoffHbs Command = 0x0000f00f
	CmdRecoverHbs Command = 0x00000ff0

	CmdDegradeRaise Command = 0x77770001
	CmdDegradeClear Command = 0x77770000

	EventLoopback     Command = 0x01010101
	EventGoEnableFail Command = 0x7AB00BAE
	EventMonitorReady Command = 0xf0f0f0f0 // client ready (JSON buffer, spec K.3)
	EventHostStalled  Command = 0x66600999

	EventPmonClear  Command = 0x02020202
	EventPmonCrit   Command = 0x04040404
	EventPmonMajor  Command = 0x05050505
	EventPmonMinor  Command = 0x08080808
	EventPmonLog    Command = 0x03030303
	EventPmondClear Command = 0x06060606
	EventPmondRaise Command = 0x07070707

	EventHwmonConfig     Command = 0x11110000
	EventHwmonClear      Command = 0x11110001
	EventHwmonMinor      Command = 0x11110002
	EventHwmonMajor      Command = 0x11110003
	EventHwmonCrit       Command = 0x11110004
	EventHwmonReset      Command = 0x11110005
	EventHwmonLog        Command = 0x11110006
	EventHwmonPowerdown  Command = 0x11110008
	EventHwmonPowercycle Command = 0x11110009

	EventHeartbeatReady      Command = 0x5a5a5a5a
	EventHeartbeatLoss       Command = 0x0000fead
	EventHeartbeatRunning    Command = 0x0110fead
	EventHeartbeatIllhealth  Command = 0x0001fead
	EventHeartbeatStopped    Command = 0x0100fead
	EventHeartbeatDegradeSet Command = 0xbeefbeef
	EventHeartbeatMinorSet   Command = 0xdadeedad
	EventHeartbeatMinorClear Command = 0xdad00dad
	EventHeartbeatDegradeClr Command = 0xf00df00d
)

// commandNames is get_mtcNodeCommand_str (nodeBase.cpp).
var commandNames = map[Command]string{
	CmdNone: "none", CmdLoopback: "loopback", CmdReboot: "reboot", CmdWipedisk: "wipedisk",
	CmdReset: "reset", CmdMtcAlive: "mtcAlive msg", CmdMtcAliveRequest: "mtcAlive req",
	CmdLocked: "locked msg", CmdUnlocked: "unlocked msg", CmdLazyReboot: "lazy reboot",
	CmdInfo: "info msg", CmdSync: "sync",
	CmdMainGoEnabled: "goEnabled main msg", CmdSubfGoEnabled: "goEnabled subf msg",
	CmdMainGoEnabledRequest: "goEnabled main req", CmdSubfGoEnabledRequest: "goEnabled subf req",
	CmdMainGoEnabledFailed: "goEnabled main failed", CmdSubfGoEnabledFailed: "goEnabled subf failed",
	CmdStopControllerServices: "stop controller host services", CmdStopWorkerServices: "stop worker host services",
	CmdStopStorageServices: "stop storage host services", CmdStartControllerServices: "start controller host services",
	CmdStartWorkerServices: "start worker host services", CmdStartStorageServices: "start storage host services",
	CmdHostServicesResult: "host services result",
	CmdRestartHbs:         "heartbeat restart", CmdBackoffHbs: "heartbeat backoff", CmdRecoverHbs: "heartbeat recover",
	EventHeartbeatReady: "heartbeat ready event", EventHeartbeatLoss: "heartbeat loss",
	EventHeartbeatRunning: "heartbeat running", EventHeartbeatIllhealth: "heartbeat illhealth",
	EventHeartbeatStopped: "heartbeat stopped", EventHeartbeatDegradeSet: "heartbeat degrade set",
	EventHeartbeatMinorClear: "heartbeat minor clear", EventHeartbeatDegradeClr: "heartbeat degrade clear",
	EventHeartbeatMinorSet: "heartbeat minor set",
	CmdDegradeRaise:        "degrade raise", CmdDegradeClear: "degrade clear",
	EventLoopback: "loopback", EventMonitorReady: "monitor ready event", EventGoEnableFail: "goenable fail",
	EventHostStalled: "host stalled event",
	EventPmonClear:   "pmon degrade clear", EventPmonCrit: "pmon critical event", EventPmonMajor: "pmon major event",
	EventPmonMinor: "pmon minor event", EventPmonLog: "pmon log", EventPmondRaise: "pmond raise",
	EventPmondClear:  "pmond clear",
	EventHwmonConfig: "hwmon config event", EventHwmonClear: "hwmon clear", EventHwmonMinor: "hwmon minor event",
	EventHwmonMajor: "hwmon major event", EventHwmonCrit: "hwmon critical event", EventHwmonReset: "hwmon reset event",
	EventHwmonLog: "hwmon log", EventHwmonPowerdown: "hwmon powerdown event", EventHwmonPowercycle: "hwmon powercycle event",
	CmdAddHost: "add host", CmdDelHost: "del host", CmdModHost: "modify host", CmdQueryHost: "query host",
	CmdStartHost: "start host service", CmdStopHost: "stop host service", CmdActiveController: "publish active controller",
}

var commandByName = func() map[string]Command {
	m := make(map[string]Command)
	for c, n := range commandNames {
		if c == EventLoopback {
			continue // shares its name with CmdLoopback
		}
		m[n] = c
	}
	return m
}()

// String returns mtce's name for c ("stop worker host services"), or
// "unknown(0x…)" for a code mtce does not name.
func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return "unknown(0x" + strconv.FormatUint(uint64(c), 16) + ")"
}

// HostServices reports whether c is one of the six host-services commands
// (14–19) and, if so, which function it concerns and whether it starts or
// stops its services.
func (c Command) HostServices() (fn mtce.NodeFunctions, start, ok bool) {
	switch c {
	case CmdStopControllerServices:
		return mtce.FunctionController, false, true
	case CmdStopWorkerServices:
		return mtce.FunctionWorker, false, true
	case CmdStopStorageServices:
		return mtce.FunctionStorage, false, true
	case CmdStartControllerServices:
		return mtce.FunctionController, true, true
	case CmdStartWorkerServices:
		return mtce.FunctionWorker, true, true
	case CmdStartStorageServices:
		return mtce.FunctionStorage, true, true
	}
	return 0, false, false
}

// HostServicesCommand returns the host-services command that starts (or
// stops) the services of one function. fn must be exactly one of
// FunctionController, FunctionWorker and FunctionStorage.
func HostServicesCommand(fn mtce.NodeFunctions, start bool) (Command, error) {
	var c Command
	switch fn {
	case mtce.FunctionController:
		c = CmdStopControllerServices
	case mtce.FunctionWorker:
		c = CmdStopWorkerServices
	case mtce.FunctionStorage:
		c = CmdStopStorageServices
	default:
		return 0, &InvalidError{What: "host-services function", Value: fn.String()}
	}
	if start {
		c += CmdStartControllerServices - CmdStopControllerServices
	}
	return c, nil
}

// ParmIndex names a position in parm[5] for a given message (nodeBase.h
// MTC_PARM_*_IDX and the uses in spec E.2, F.4, K.1).
type ParmIndex int

// Parameter positions.
const (
	ParmUptime   ParmIndex = 0 // mtcAlive: CLOCK_MONOTONIC seconds
	ParmHealth   ParmIndex = 1 // mtcAlive: Health
	ParmFlags    ParmIndex = 2 // mtcAlive: AliveFlags
	ParmSequence ParmIndex = 3 // mtcAlive: per-interface sequence, first is 1

	ParmRC    ParmIndex = 0 // host-services ACK and result: return code
	ParmMagic ParmIndex = 1 // host-services ACK: EnhancedHostServices

	ParmLockPersist ParmIndex = 0 // locked: 1 asks the client to persist the lock over reboot
	ParmLazyDelay   ParmIndex = 0 // lazy reboot: delay in seconds
	ParmNodeType    ParmIndex = 0 // agent → hbsAgent: NodeFunctions bits
)

// Health is the mtcAlive parm[1] value (nodeBase.h NODE_HEALTH_*).
type Health uint32

// Health values.
const (
	HealthUnknown   Health = 0 // during boot
	HealthHealthy   Health = 1 // /var/run/.config_pass present
	HealthUnhealthy Health = 2 // /var/run/.config_fail present
)

// String returns "unknown", "healthy", "unhealthy" or "Health(n)".
func (h Health) String() string {
	switch h {
	case HealthUnknown:
		return "unknown"
	case HealthHealthy:
		return "healthy"
	case HealthUnhealthy:
		return "unhealthy"
	}
	return "Health(" + strconv.FormatUint(uint64(h), 10) + ")"
}

// AliveFlags is the mtcAlive parm[2] flags word (nodeBase.h MTC_FLAG__*).
type AliveFlags uint32

// mtcAlive flags (spec F.4, E.2).
const (
	FlagConfigured       AliveFlags = 0x00000001 // /etc/platform/.initial_config_complete
	FlagNotHealthy       AliveFlags = 0x00000002
	FlagHealthy          AliveFlags = 0x00000004
	FlagLocked           AliveFlags = 0x00000008 // /var/run/.node_locked
	FlagSubfConfigured   AliveFlags = 0x00000010
	FlagMainGoEnabled    AliveFlags = 0x00000020 // /var/run/goenabled
	FlagSubfGoEnabled    AliveFlags = 0x00000040
	FlagSMDegraded       AliveFlags = 0x00000080 // /var/run/.sm_degraded
	FlagPatching         AliveFlags = 0x00000100 // /var/run/patch_installing
	FlagPatched          AliveFlags = 0x00000200 // /var/run/node_is_patched
	FlagLUKSVolFailed    AliveFlags = 0x00000400
	FlagSMUnhealthy      AliveFlags = 0x00001000 // debounced over 6 messages
	FlagMainGoEnableFail AliveFlags = 0x00010000
	FlagSubfGoEnableFail AliveFlags = 0x00020000
	FlagMainServicesFail AliveFlags = 0x00040000
	FlagSubfServicesFail AliveFlags = 0x00080000

	// FailureFlags are the four out-of-band failure flags mtcAgent acts on
	// while a host is unlocked-enabled (spec E.2).
	FailureFlags = FlagMainGoEnableFail | FlagSubfGoEnableFail | FlagMainServicesFail | FlagSubfServicesFail
)

var flagNames = []struct {
	f    AliveFlags
	name string
}{
	{FlagConfigured, "configured"}, {FlagNotHealthy, "not-healthy"}, {FlagHealthy, "healthy"},
	{FlagLocked, "locked"}, {FlagSubfConfigured, "subf-configured"}, {FlagMainGoEnabled, "main-goenabled"},
	{FlagSubfGoEnabled, "subf-goenabled"}, {FlagSMDegraded, "sm-degraded"}, {FlagPatching, "patching"},
	{FlagPatched, "patched"}, {FlagLUKSVolFailed, "luks-vol-failed"}, {FlagSMUnhealthy, "sm-unhealthy"},
	{FlagMainGoEnableFail, "main-goenable-fail"}, {FlagSubfGoEnableFail, "subf-goenable-fail"},
	{FlagMainServicesFail, "main-services-fail"}, {FlagSubfServicesFail, "subf-services-fail"},
}

// String lists the set flags separated by '|' ("configured|locked"), "0"
// for none, unknown bits in hexadecimal.
func (f AliveFlags) String() string {
	if f == 0 {
		return "0"
	}
	var parts []string
	rest := f
	for _, n := range flagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
			rest &^= n.f
		}
	}
	if rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}
