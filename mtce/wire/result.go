package wire

import (
	"strconv"
	"strings"

	"opendev.org/starlingx/metal-go/mtce"
)

// MaxResultText is how much of a host-services result text mtcClient sends
// (MAX_MTCE_EVENT_NAME_LEN - 1).
const MaxResultText = 63

// ResultKind classifies a host-services result (spec E.2, K.4).
type ResultKind uint8

// Result kinds.
const (
	ResultPass         ResultKind = iota + 1 // all scripts passed
	ResultFailed                             // "<script> failed ; rc:<exit code>"
	ResultTimeout                            // "<script> timeout"
	ResultLaunchFailed                       // "launch failed rc:<rc>"
)

// String returns "pass", "failed", "timeout" or "launch-failed".
func (k ResultKind) String() string {
	switch k {
	case ResultPass:
		return "pass"
	case ResultFailed:
		return "failed"
	case ResultTimeout:
		return "timeout"
	case ResultLaunchFailed:
		return "launch-failed"
	}
	return "ResultKind(" + strconv.Itoa(int(k)) + ")"
}

// RC returns the status mtcClient reports for a result of this kind:
// FAIL_OPERATION for failures, FAIL_TIMEOUT for a timeout, PASS otherwise.
func (k ResultKind) RC() mtce.RC {
	switch k {
	case ResultFailed, ResultLaunchFailed:
		return mtce.FailOperation
	case ResultTimeout:
		return mtce.FailTimeout
	}
	return mtce.Pass
}

// Result is a host-services result (cmd 21).
type Result struct {
	Kind ResultKind
	// Command is what a PASS text names: the host-services command the
	// client last auto-started, or CmdNone (text "none").
	Command Command
	// Script is the full path of the failed or timed-out script.
	Script string
	// ExitCode is the script's exit code (ResultFailed) or the launch
	// return code (ResultLaunchFailed); -1 when the text was cut before it.
	ExitCode int
	// Status is parm[0] of a received result, the value mtcAgent acts on.
	Status mtce.RC
	// Text is the buffer as received (or as it will be sent).
	Text string
	// Legacy is set by RequestHostServices when a legacy client's ACK
	// stood for the result (spec K.4).
	Legacy bool
}

// Err returns nil for a PASS status and an *mtce.RCError carrying Status
// and Text otherwise.
func (r Result) Err() error {
	if r.Status == mtce.Pass {
		return nil
	}
	return &mtce.RCError{RC: r.Status, Detail: r.Text}
}

// FormatText returns the buffer text mtcClient writes for r (spec K.4),
// before the cut to MaxResultText bytes.
func (r Result) FormatText() string {
	switch r.Kind {
	case ResultFailed:
		return r.Script + " failed ; rc:" + strconv.Itoa(r.ExitCode)
	case ResultTimeout:
		return r.Script + " timeout"
	case ResultLaunchFailed:
		return "launch failed rc:" + strconv.Itoa(r.ExitCode)
	}
	return r.Command.String()
}

// NewHostServicesResult builds the result message mtcClient sends (spec
// K.4): a zeroed struct, signature "cgts mtc cmd rsp:", cmd 21, num 1, ver
// 0, parm[0] = r.Kind.RC(), the text of [Result.FormatText] cut to 63
// bytes, length 100 + strnlen(text, 64): no NUL, except that a cut text is
// followed by the NUL at buffer byte 63.
//
// mtcClient derives parm[0] from the text ("failed" anywhere gives
// FAIL_OPERATION, "timeout" anywhere FAIL_TIMEOUT, timeout winning), so a
// script path that contains "timeout" turns its failure into a timeout;
// here the status follows r.Kind instead. r.Status and r.Text are ignored.
func NewHostServicesResult(r Result) (Message, error) {
	switch r.Kind {
	case ResultPass, ResultFailed, ResultTimeout, ResultLaunchFailed:
	default:
		return Message{}, &InvalidError{What: "result kind", Value: r.Kind.String()}
	}
	text := r.FormatText()
	size := SizeExact
	if len(text) > MaxResultText {
		text, size = text[:MaxResultText], SizeTerminated
	}
	m := Message{
		Signature: SigResponse,
		Command:   CmdHostServicesResult,
		Num:       1,
		Buf:       text,
		Size:      size,
	}
	m.Parm[ParmRC] = uint32(r.Kind.RC())
	return validated(m)
}

// HostServicesResult reads a result message (signature "cgts mtc cmd
// rsp:", cmd 21; otherwise ErrWrongMessage). Status is parm[0] (PASS when
// num is 0); the text is parsed by [ParseResultText].
func (m *Message) HostServicesResult() (Result, error) {
	if m.Signature != SigResponse || m.Command != CmdHostServicesResult {
		return Result{}, wrongMessage(m, "host-services result")
	}
	return ParseResultText(mtce.RC(m.parm(ParmRC)), m.Buf), nil
}

// ParseResultText interprets a result text received with a status. It
// recognises "launch failed rc:N", "<script> failed ; rc:N" and
// "<script> timeout"; any other text under a PASS status is a pass naming
// a command (Command is CmdNone when the text names none). A failure text
// cut at 63 bytes is classified by the status, with Script set to what
// was received and ExitCode -1.
func ParseResultText(status mtce.RC, text string) Result {
	r := Result{Status: status, Text: text, ExitCode: -1}
	switch {
	case strings.HasPrefix(text, "launch failed rc:"):
		r.Kind = ResultLaunchFailed
		r.ExitCode = atoiOr(text[len("launch failed rc:"):], -1)
	case strings.Contains(text, " failed ; rc:"):
		i := strings.LastIndex(text, " failed ; rc:")
		r.Kind = ResultFailed
		r.Script = text[:i]
		r.ExitCode = atoiOr(text[i+len(" failed ; rc:"):], -1)
	case strings.HasSuffix(text, " timeout"):
		r.Kind = ResultTimeout
		r.Script = strings.TrimSuffix(text, " timeout")
	case status == mtce.Pass:
		r.Kind = ResultPass
		r.ExitCode = 0
		r.Command = commandByName[text]
		if _, _, ok := r.Command.HostServices(); !ok {
			r.Command = CmdNone
		}
	case status == mtce.FailTimeout:
		r.Kind = ResultTimeout
		r.Script = text
	default:
		r.Kind = ResultFailed
		r.Script = text
	}
	return r
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
