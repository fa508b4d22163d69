package wire

import "strings"

// GoEnabled is the message mtcClient sends when the agent's goEnabled
// request (cmd 9 main, 10 subfunction) has its answer (spec K.2, K.8):
// cmd 7 / 8 when the tests passed, 11 / 12 when they failed.
type GoEnabled struct {
	Subfunction bool   // the subfunction (worker) tests of an AIO controller: cmd 8 / 12
	Passed      bool   // cmd 7 / 8; otherwise 11 / 12
	Reason      string // why the tests failed ("" when they passed); cut to MaxBufferLen bytes
	Uptime      uint32 // parm[0], as in mtcAlive
	Health      Health // parm[1]
	Flags       AliveFlags
	Sequence    uint32 // parm[3]: the next management-network mtcAlive sequence number
}

// Command returns the message's command: 7, 8, 11 or 12.
func (g GoEnabled) Command() Command {
	switch {
	case g.Passed && !g.Subfunction:
		return CmdMainGoEnabled
	case g.Passed:
		return CmdSubfGoEnabled
	case !g.Subfunction:
		return CmdMainGoEnabledFailed
	}
	return CmdSubfGoEnabledFailed
}

// NewGoEnabled builds a goEnabled message as mtcClient's send_mtc_msg
// does: the mtcAlive layout (signature "cgts mtc message:", num 4,
// parm[0..3] = uptime, health, flags, sequence) with g.Command().
//
// The buffer is the failure text alone (empty when the tests passed).
// StarlingX builds it with the mtcAlive JSON builder given "" or the
// failure text in place of the identity, so its buffer is the text
// followed by `,"interface":"Mgmnt","sequence":N}` — neither JSON nor the
// plain text; that is a bug this package does not copy. A Reason longer
// than MaxBufferLen is cut (at a byte boundary) and NULs are dropped.
func NewGoEnabled(g GoEnabled) (Message, error) {
	text := g.Reason
	if g.Passed {
		text = ""
	}
	text = strings.ReplaceAll(text, "\x00", "")
	if len(text) > MaxBufferLen {
		text = text[:MaxBufferLen]
	}
	m := Message{
		Signature: SigWorker,
		Command:   g.Command(),
		Num:       4,
		Parm:      [NumParms]uint32{g.Uptime, uint32(g.Health), uint32(g.Flags), g.Sequence, 0},
		Buf:       text,
		Size:      SizeTerminated,
	}
	return validated(m)
}

// GoEnabled reads a goEnabled message (signature "cgts mtc message:", cmd
// 7, 8, 11 or 12; otherwise ErrWrongMessage). Reason is the buffer of a
// failed message up to its first NUL, StarlingX's JSON tail included when
// the sender is StarlingX's mtcClient.
func (m *Message) GoEnabled() (GoEnabled, error) {
	if m.Signature != SigWorker {
		return GoEnabled{}, wrongMessage(m, "goEnabled message")
	}
	g := GoEnabled{
		Uptime:   m.parm(ParmUptime),
		Health:   Health(m.parm(ParmHealth)),
		Flags:    AliveFlags(m.parm(ParmFlags)),
		Sequence: m.parm(ParmSequence),
	}
	switch m.Command {
	case CmdMainGoEnabled:
		g.Passed = true
	case CmdSubfGoEnabled:
		g.Passed, g.Subfunction = true, true
	case CmdMainGoEnabledFailed:
		g.Reason = m.Buf
	case CmdSubfGoEnabledFailed:
		g.Subfunction, g.Reason = true, m.Buf
	default:
		return GoEnabled{}, wrongMessage(m, "goEnabled message")
	}
	return g, nil
}
