package wire

import (
	"errors"

	"opendev.org/starlingx/metal-go/mtce"
)

// Target addresses an agent → client command to one host on one network
// (spec K.3, K.8).
type Target struct {
	// MAC is the host's inventory management MAC. It goes after the
	// signature with ver 1, and the client drops the command unless it
	// matches its own. Empty sends an unaddressed ver-0 command, which a
	// client accepts from anyone (stock mtcAgent always addresses).
	MAC string
	// Address is the agent's address on Network (floating, cluster-host or
	// pxeboot IP), written into the buffer's JSON.
	Address string
	Network mtce.Network
}

// CommandInfo is the JSON buffer of an agent → client command (spec K.3):
// {"address":"<agent IP>","interface":"Mgmnt|Clstr|Pxeboot"}.
type CommandInfo struct {
	Address   string
	Interface mtce.Network
}

// AppendText appends the command buffer JSON (encoding.TextAppender).
func (ci CommandInfo) AppendText(b []byte) ([]byte, error) {
	if !ci.Interface.Valid() {
		return b, &InvalidError{What: "command interface", Value: ci.Interface.String()}
	}
	b = append(b, `{"address":`...)
	b = appendJSONString(b, ci.Address)
	b = append(b, `,"interface":`...)
	b = appendJSONString(b, ci.Interface.String())
	return append(b, '}'), nil
}

// CommandInfo reads the JSON buffer of an agent command. An absent address
// reads "none"; an unknown interface leaves Interface zero. A buffer that
// is not a JSON object is an error wrapping ErrJSON.
func (m *Message) CommandInfo() (CommandInfo, error) {
	o, err := parseObject(m.Buf)
	if err != nil {
		return CommandInfo{}, &DecodeError{Err: ErrJSON, Len: m.Len(), Detail: err.Error()}
	}
	ci := CommandInfo{Address: o.get("address")}
	if n, err := mtce.ParseNetwork(o.get("interface")); err == nil {
		ci.Interface = n
	}
	return ci, nil
}

// NewRequest builds an agent → client command as mtcAgent's send_mtc_cmd
// does (spec K.3, K.8): signature "cgts mtc cmd req:", ver 1 and the MAC
// after the signature (ver 0 without a MAC), rev 0, num 0, the
// CommandInfo JSON in the buffer, length 100 + JSON + 1.
func NewRequest(cmd Command, t Target) (Message, error) {
	buf, err := CommandInfo{Address: t.Address, Interface: t.Network}.AppendText(make([]byte, 0, 64))
	if err != nil {
		return Message{}, err
	}
	m := Message{
		Signature: SigRequest,
		MAC:       t.MAC,
		Command:   cmd,
		Buf:       string(buf),
		Size:      SizeTerminated,
	}
	if t.MAC != "" {
		m.Version = VersionMACInHeader
	}
	return validated(m)
}

// NewReboot builds a reboot request (cmd 2).
func NewReboot(t Target) (Message, error) { return NewRequest(CmdReboot, t) }

// NewReset builds a reset request (cmd 4): the client reboots with --force.
func NewReset(t Target) (Message, error) { return NewRequest(CmdReset, t) }

// NewWipedisk builds a wipedisk request (cmd 3).
func NewWipedisk(t Target) (Message, error) { return NewRequest(CmdWipedisk, t) }

// NewLazyReboot builds a lazy reboot request (cmd 20) whose parm[0] is the
// delay in seconds the client waits before rebooting.
func NewLazyReboot(t Target, delaySeconds uint32) (Message, error) {
	m, err := NewRequest(CmdLazyReboot, t)
	if err != nil {
		return Message{}, err
	}
	m.Num, m.Parm[ParmLazyDelay] = 1, delaySeconds
	return m, nil
}

// NewLocked builds the locked notice (cmd 13). With persist the client also
// keeps the lock over a reboot (num 1, parm[0] = 1, LOCK_PERSIST); without
// it (mtcAgent does so when /etc/platform/simplex exists, spec K.5) num is 0
// and the client removes its persistent lock file.
func NewLocked(t Target, persist bool) (Message, error) {
	m, err := NewRequest(CmdLocked, t)
	if err != nil {
		return Message{}, err
	}
	if persist {
		m.Num, m.Parm[ParmLockPersist] = 1, 1
	}
	return m, nil
}

// NewUnlocked builds the unlocked notice (cmd 24).
func NewUnlocked(t Target) (Message, error) { return NewRequest(CmdUnlocked, t) }

// NewMtcAliveRequest builds an mtcAlive request (cmd 6). Only over pxeboot
// does a stock client answer it, with an immediate mtcAlive (spec K.2).
func NewMtcAliveRequest(t Target) (Message, error) { return NewRequest(CmdMtcAliveRequest, t) }

// NewHostServicesRequest builds the command that starts or stops the host
// services of one function (cmds 14–19). fn must be exactly one of
// FunctionController, FunctionWorker and FunctionStorage. Since 6106051 a
// stock mtcAgent sends only stops; clients still honour starts.
func NewHostServicesRequest(fn mtce.NodeFunctions, start bool, t Target) (Message, error) {
	cmd, err := HostServicesCommand(fn, start)
	if err != nil {
		return Message{}, err
	}
	return NewRequest(cmd, t)
}

// LockPersist reports whether a locked notice asks the client to persist
// the lock: num > 0 and parm[0] non-zero, as mtcClient tests it.
func (m *Message) LockPersist() bool { return m.Command == CmdLocked && m.Num > 0 && m.Parm[0] != 0 }

// LazyRebootDelay returns a lazy reboot's delay in seconds (parm[0] when
// num > 0, else 0).
func (m *Message) LazyRebootDelay() uint32 { return m.parm(ParmLazyDelay) }

// AddressedTo reports whether the client whose management MAC is mac takes
// the request, by mtcClient's check (spec K.8): a ver-0 message is for
// anyone; from ver 1 the text after the signature must equal mac in its
// first 18 bytes (strncmp(&hdr[17], mac, 18)). mtcClient skips the check
// for messages from its own addresses; the caller decides that.
func (m *Message) AddressedTo(mac string) bool {
	if m.Version < VersionMACInHeader {
		return true
	}
	a, b := m.MAC, mac
	if len(a) > SignatureSize {
		a = a[:SignatureSize]
	}
	if len(b) > SignatureSize {
		b = b[:SignatureSize]
	}
	return a == b
}

// NewAck builds the client's ACK to a request as mtcClient does for every
// command but the host-services ones (spec K.1, K.8): it reuses the
// request. Header bytes 0–17 become "cgts mtc cmd rsp:" and its NUL;
// header bytes 18–63 stay as received, so the ACK to an addressed command
// carries the tail of the MAC there (and MAC reads ""); ver, rev, res, cmd,
// num and parm stay as received; there is no buffer: 100 bytes. req must be
// a valid request (signature "cgts mtc cmd req:"). Use NewHostServicesAck
// for cmds 14–19.
func NewAck(req *Message) (Message, error) {
	if req.Signature != SigRequest {
		return Message{}, wrongMessage(req, "request")
	}
	if err := req.Validate(); err != nil {
		return Message{}, err
	}
	m := *req
	m.Signature = SigResponse
	m.HeaderTail = req.headerBytes()
	m.MAC = ""
	m.Buf = ""
	m.Size = SizeExact
	return validated(m)
}

// headerBytes returns header bytes 18–63 of m's encoding: HeaderTail with
// the MAC's bytes after byte 17, and its NUL, laid over it. m must be valid.
func (m *Message) headerBytes() [HeaderTailSize]byte {
	h := m.HeaderTail
	if m.MAC != "" {
		copy(h[:], m.MAC[1:]) // the NUL after it is zero in a valid m
	}
	return h
}

// NewHostServicesAck builds the client's ACK to a host-services command
// (spec K.4, K.8), sent on receipt before any script runs: the request as
// NewAck reuses it (header bytes 18–63, ver, rev, res and cmd as received),
// num 2, parm[0] = rc, parm[1] = EnhancedHostServices, parm[2..4] as
// received, 100 bytes.
func NewHostServicesAck(req *Message, rc mtce.RC) (Message, error) {
	if _, _, ok := req.Command.HostServices(); !ok {
		return Message{}, wrongMessage(req, "host-services request")
	}
	m, err := NewAck(req)
	if err != nil {
		return Message{}, err
	}
	m.Num = 2
	m.Parm[ParmRC] = uint32(rc)
	m.Parm[ParmMagic] = EnhancedHostServices
	return m, nil
}

// Ack is an ACK as mtcAgent reads it.
type Ack struct {
	Command Command
	// Enhanced: num > 1 and parm[1] is EnhancedHostServices. A
	// host-services ACK without it comes from a legacy client and itself
	// means completion with PASS (spec K.4).
	Enhanced bool
	// RC is parm[0] of an enhanced ACK: whether the client accepted the
	// command. It is Pass for other ACKs, which echo the request's
	// parameters rather than carry a return code.
	RC mtce.RC
}

// Ack reads an ACK: signature "cgts mtc cmd rsp:" and any command but the
// host-services result (otherwise ErrWrongMessage).
func (m *Message) Ack() (Ack, error) {
	if m.Signature != SigResponse || m.Command == CmdHostServicesResult {
		return Ack{}, wrongMessage(m, "ACK")
	}
	a := Ack{Command: m.Command}
	if m.Num > 1 && m.Parm[ParmMagic] == EnhancedHostServices {
		a.Enhanced = true
		a.RC = mtce.RC(m.Parm[ParmRC])
	}
	return a, nil
}

// NewClientReady builds the event mtcClient sends at start and every 60 s
// (spec K.3): signature "mtce event msg  :", cmd EventMonitorReady, and
// {"hostname":H,"service":"mtcClient","active_controller_pxeboot_address":A,
// "features":["pxeboot_mtcAlive"]} in the buffer, length 100 + JSON + 1.
func NewClientReady(hostname, activeControllerPxebootAddress string) (Message, error) {
	b := make([]byte, 0, 160)
	b = append(b, `{"hostname":`...)
	b = appendJSONString(b, hostname)
	b = append(b, `,"service":"mtcClient","active_controller_pxeboot_address":`...)
	b = appendJSONString(b, activeControllerPxebootAddress)
	b = append(b, `,"features":["pxeboot_mtcAlive"]}`...)
	m := Message{Signature: SigEvent, Command: EventMonitorReady, Buf: string(b), Size: SizeTerminated}
	return validated(m)
}

// Event reads the JSON buffer of an event message (signature
// "mtce event msg  :", otherwise ErrWrongMessage) with [ParseEvent]'s rules.
func (m *Message) Event() (Event, error) {
	if m.Signature != SigEvent {
		return Event{}, wrongMessage(m, "event")
	}
	ev, err := ParseEvent(m.Buf)
	if err != nil {
		return Event{}, &DecodeError{Err: ErrJSON, Len: m.Len(), Detail: err.Error()}
	}
	return ev, nil
}

// PxebootInfo is the buffer of an mtcAlive request sent over pxeboot (spec
// K.3): {"pxebootInfo":{"controller":IP,"controller-0":IP,"controller-1":IP}}.
// A client keeps its stored addresses where a field is empty.
type PxebootInfo struct {
	Controller  string
	Controller0 string
	Controller1 string
}

// NewPxebootMtcAliveRequest builds the mtcAlive request mtcAgent sends over
// pxeboot: as NewRequest(CmdMtcAliveRequest, t), with PxebootInfo JSON in
// the buffer instead of the CommandInfo.
func NewPxebootMtcAliveRequest(t Target, info PxebootInfo) (Message, error) {
	m, err := NewRequest(CmdMtcAliveRequest, t)
	if err != nil {
		return Message{}, err
	}
	b := make([]byte, 0, 128)
	b = append(b, `{"pxebootInfo":{"controller":`...)
	b = appendJSONString(b, info.Controller)
	b = append(b, `,"controller-0":`...)
	b = appendJSONString(b, info.Controller0)
	b = append(b, `,"controller-1":`...)
	b = appendJSONString(b, info.Controller1)
	b = append(b, "}}"...)
	m.Buf = string(b)
	return validated(m)
}

// PxebootInfo reads the pxebootInfo object of an mtcAlive request's buffer.
// Absent addresses read "" (nothing to store). A buffer without a
// pxebootInfo object is an error wrapping ErrJSON.
func (m *Message) PxebootInfo() (PxebootInfo, error) {
	o, err := parseObject(m.Buf)
	if err == nil {
		if raw, ok := o["pxebootInfo"]; ok {
			var inner object
			if inner, err = parseObject(string(raw)); err == nil {
				get := func(k string) string {
					if !inner.has(k) {
						return ""
					}
					return inner.get(k)
				}
				return PxebootInfo{get("controller"), get("controller-0"), get("controller-1")}, nil
			}
		} else {
			err = errors.New("no pxebootInfo object")
		}
	}
	return PxebootInfo{}, &DecodeError{Err: ErrJSON, Len: m.Len(), Detail: err.Error()}
}
