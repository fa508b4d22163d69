package mtce

import (
	"errors"
	"fmt"
	"strconv"
)

// RC is a maintenance return code (mtce-common returnCodes.h). Return codes
// travel as unsigned 32-bit message parameters: the host-services ACK and
// result carry one in parm[0] (spec K.1), and the agent's HTTP rejections
// are chosen by one (spec J.9). The zero value is [Pass].
type RC uint32

// Return codes that travel in messages or replies, with returnCodes.h
// values. [RC.String] also knows the other codes of returnCodes.h.
const (
	Pass                 RC = 0
	Fail                 RC = 1
	Retry                RC = 2
	FailBadParm          RC = 3
	FailBadCase          RC = 4
	FailLoadINI          RC = 5
	FailINIConfig        RC = 6
	FailGetHostname      RC = 7
	FailTimeout          RC = 16
	FailJSONParse        RC = 18
	FailInvalidOperation RC = 45
	FailUnknownHostname  RC = 58
	FailAdminAction      RC = 63
	FailOperInProgress   RC = 66
	FailSwactInProgress  RC = 67
	FailSwactNoInsvMate  RC = 68
	FailNodeType         RC = 69
	FailResetPowerOff    RC = 70
	FailInvalidData      RC = 71
	FailKeyValueParse    RC = 73
	FailTokenURL         RC = 81
	FailReadFiles        RC = 85
	FailReservedName     RC = 87
	FailInvalidHostname  RC = 88
	FailInvalidUUID      RC = 89
	FailBMProvisionErr   RC = 91
	FailDupHostname      RC = 92
	FailDupIPAddr        RC = 93
	FailDupMACAddr       RC = 94
	FailPatchInProgress  RC = 99
	FailPatchedNoReboot  RC = 101
	FailOperation        RC = 107
	FailNoCmdAck         RC = 123
	FailCancelled        RC = 253
	FailFIT              RC = 254
)

// rcNames is returnCodes.h at c1cd466, name by value.
var rcNames = map[RC]string{
	0: "PASS", 1: "FAIL", 2: "RETRY", 3: "FAIL_BAD_PARM", 4: "FAIL_BAD_CASE",
	5: "FAIL_LOAD_INI", 6: "FAIL_INI_CONFIG", 7: "FAIL_GET_HOSTNAME",
	8: "FAIL_HOSTNAME_LOOKUP", 9: "FAIL_PID_OPEN", 10: "FAIL_LOG_OPEN",
	11: "FAIL_FILE_WRITE", 12: "FAIL_TIMER_SET_ACTION", 13: "FAIL_TIMER_SET",
	14: "FAIL_TIMER_CREATE", 15: "FAIL_TIMER_STOP", 16: "FAIL_TIMEOUT",
	17: "FAIL_JSON_TOO_LONG", 18: "FAIL_JSON_PARSE", 19: "FAIL_JSON_ZERO_LEN",
	20: "FAIL_STRING_EMPTY", 21: "FAIL_FILES_INIT", 22: "FAIL_HOSTNAME_SETUP",
	23: "FAIL_DAEMON_CONFIG", 24: "FAIL_MESSAGE_INIT", 25: "FAIL_SIGNAL_INIT",
	26: "FAIL_DAEMON_INIT", 27: "FAIL_NO_IP_SUPPORT", 28: "FAIL_SELF_IDENTIFY",
	29: "FAIL_HTTP_ZERO_STATUS", 30: "FAIL_BAD_MCAST", 31: "FAIL_SOCKET_SELECT",
	32: "FAIL_SOCKET_CREATE", 33: "FAIL_SOCKET_INIT", 34: "FAIL_SOCKET_BIND",
	35: "FAIL_SOCKET_OPTION", 36: "FAIL_SOCKET_NOBLOCK", 37: "FAIL_SOCKET_FLAGS",
	38: "FAIL_SOCKET_LISTEN", 39: "FAIL_MCAST_SETUP", 40: "FAIL_MSG_UNDERRUN",
	41: "FAIL_MSG_HEADER", 42: "FAIL_TO_RECEIVE", 43: "FAIL_CONNECT",
	44: "FAIL_TO_TRANSMIT", 45: "FAIL_INVALID_OPERATION", 46: "FAIL_HOSTADDR_LOOKUP",
	47: "FAIL_SOCKET_SENDTO", 48: "FAIL_EVENT_NEW", 49: "FAIL_EVENT_BASE",
	50: "FAIL_DATABASE_DOWN", 51: "FAIL_HEADER_ADD", 52: "FAIL_PAYLOAD_ADD",
	53: "FAIL_REQUEST", 54: "FAIL_INV_QUERY", 55: "FAIL_REQUEST_NEW",
	56: "FAIL_MAKE_REQUEST", 57: "FAIL_MUTEX_ERROR", 58: "FAIL_UNKNOWN_HOSTNAME",
	59: "FAIL_TOKEN_GET", 60: "FAIL_DEL_UNLOCKED", 61: "FAIL_DEL_UNKNOWN",
	62: "FAIL_UNIT_ACTIVE", 63: "FAIL_ADMIN_ACTION", 64: "FAIL_RESET_CONTROL",
	65: "FAIL_POWER_CONTROL", 66: "FAIL_OPER_INPROGRESS", 67: "FAIL_SWACT_INPROGRESS",
	68: "FAIL_SWACT_NOINSVMATE", 69: "FAIL_NODETYPE", 70: "FAIL_RESET_POWEROFF",
	71: "FAIL_INVALID_DATA", 72: "FAIL_BAD_STATE", 73: "FAIL_KEY_VALUE_PARSE",
	74: "FAIL_DATA_SIZE", 75: "FAIL_NOT_FOUND", 76: "FAIL_WORKQ_TIMEOUT",
	77: "FAIL_HTTP_DELETE", 78: "FAIL_AUTHENTICATION", 79: "FAIL_RETRY",
	80: "FAIL_HDLR_INIT", 81: "FAIL_TOKEN_URL", 82: "FAIL_LOW_STORAGE",
	83: "FAIL_NEED_DUPLEX", 84: "FAIL_NEED_STORAGE_MON", 85: "FAIL_READ_FILES",
	86: "FAIL_FILE_ACCESS", 87: "FAIL_RESERVED_NAME", 88: "FAIL_INVALID_HOSTNAME",
	89: "FAIL_INVALID_UUID", 90: "FAIL_NOT_CONNECTED", 91: "FAIL_BM_PROVISION_ERR",
	92: "FAIL_DUP_HOSTNAME", 93: "FAIL_DUP_IPADDR", 94: "FAIL_DUP_MACADDR",
	96: "FAIL_LOCATE_KEY_VALUE", 97: "FAIL_JSON_OBJECT", 98: "FAIL_EXTERNAL_API",
	99: "FAIL_PATCH_INPROGRESS", 100: "FAIL_NO_INFRA_PROV", 101: "FAIL_PATCHED_NOREBOOT",
	102: "FAIL_NOT_SUPPORTED", 103: "FAIL_NO_DATA", 104: "FAIL_FILE_OPEN",
	105: "FAIL_FILE_CREATE", 106: "FAIL_DIR_CREATE", 107: "FAIL_OPERATION",
	108: "FAIL_SYSTEM_CALL", 109: "FAIL_CREATE_OPERATION", 110: "FAIL_THREAD_CREATE",
	112: "FAIL_THREAD_LAUNCH", 114: "FAIL_THREAD_RUNNING", 119: "FAIL_THREAD_EXIT",
	120: "FAIL_NOT_ACCESSIBLE", 121: "FAIL_NOT_ACTIVE", 122: "FAIL_OUT_OF_RANGE",
	123: "FAIL_NO_CMD_ACK", 124: "FAIL_FORK_HANDLING", 253: "FAIL_CANCELLED",
	254: "FAIL_FIT", 256: "FAIL_NULL_POINTER",
}

var rcByName = func() map[string]RC {
	m := make(map[string]RC, len(rcNames))
	for v, n := range rcNames {
		m[n] = v
	}
	return m
}()

// String returns the returnCodes.h name of c ("FAIL_TIMEOUT"), or
// "RC(<decimal>)" for a value without a name.
func (c RC) String() string {
	if n, ok := rcNames[c]; ok {
		return n
	}
	return "RC(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// Known reports whether c has a name in returnCodes.h.
func (c RC) Known() bool { _, ok := rcNames[c]; return ok }

// ParseRC accepts a returnCodes.h name ("PASS", "FAIL_TIMEOUT", ...) or the
// unsigned decimal text mtce logs and writes into result texts ("rc:16"
// carries "16"); a decimal need not have a name, since return codes travel
// as arbitrary 32-bit values. Anything else is an error naming the text.
func ParseRC(text string) (RC, error) {
	if c, ok := rcByName[text]; ok {
		return c, nil
	}
	if text != "" && text[0] >= '0' && text[0] <= '9' {
		if v, err := strconv.ParseUint(text, 10, 32); err == nil {
			return RC(v), nil
		}
	}
	return 0, &ParseError{Kind: "return code", Value: text}
}

// MarshalText implements encoding.TextMarshaler with the returnCodes.h name
// when there is one and the decimal value otherwise, so that [ParseRC]
// reads it back.
func (c RC) MarshalText() ([]byte, error) {
	if n, ok := rcNames[c]; ok {
		return []byte(n), nil
	}
	return strconv.AppendUint(nil, uint64(c), 10), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with [ParseRC].
func (c *RC) UnmarshalText(text []byte) (err error) {
	*c, err = ParseRC(string(text))
	return err
}

// Err returns nil for [Pass] and an *RCError carrying c otherwise.
func (c RC) Err() error {
	if c == Pass {
		return nil
	}
	return &RCError{RC: c}
}

// RCError is an error that stands for a non-PASS return code. Two RCErrors
// match with errors.Is when their codes are equal, whatever their details.
type RCError struct {
	RC     RC
	Detail string // optional human text, e.g. a host-services result text
}

func (e *RCError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("mtce: %s (rc:%d)", e.RC, uint32(e.RC))
	}
	return fmt.Sprintf("mtce: %s (rc:%d): %s", e.RC, uint32(e.RC), e.Detail)
}

// Is reports whether target is an *RCError with the same code.
func (e *RCError) Is(target error) bool {
	t, ok := target.(*RCError)
	return ok && t.RC == e.RC
}

// RCOf maps an error to a return code: nil is [Pass], an error wrapping an
// *RCError gives that error's code, and any other error is [Fail].
func RCOf(err error) RC {
	if err == nil {
		return Pass
	}
	if e, ok := errors.AsType[*RCError](err); ok {
		return e.RC
	}
	return Fail
}
