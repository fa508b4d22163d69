package wire

import (
	"strconv"

	"opendev.org/starlingx/metal-go/mtce"
)

// Identity is the JSON the client puts in every mtcAlive buffer (spec K.2):
//
//	{"hostname":"H","personality":"P","pxeboot_ip":"A","mgmt_ip":"A","cluster_host_ip":"A","mgmt_mac":"M","interface":"I","sequence":N}
//
// exactly, without blanks. Personality is platform.conf's subfunction value
// verbatim (e.g. "controller,worker"); unknown IPs are ""; MgmtMAC is
// lower-case "aa:bb:cc:dd:ee:ff".
type Identity struct {
	Hostname      string
	Personality   string
	PxebootIP     string
	MgmtIP        string
	ClusterHostIP string
	MgmtMAC       string
	Interface     mtce.Network
	Sequence      uint32
}

// AppendText appends the identity JSON in mtcClient's exact form
// (encoding.TextAppender). Strings are JSON-escaped; mtcClient does not
// escape, so a quote in a host name breaks its JSON, which is a bug this
// package does not copy.
func (id Identity) AppendText(b []byte) ([]byte, error) {
	if !id.Interface.Valid() {
		return b, &InvalidError{What: "identity interface", Value: id.Interface.String()}
	}
	b = append(b, `{"hostname":`...)
	b = appendJSONString(b, id.Hostname)
	b = append(b, `,"personality":`...)
	b = appendJSONString(b, id.Personality)
	b = append(b, `,"pxeboot_ip":`...)
	b = appendJSONString(b, id.PxebootIP)
	b = append(b, `,"mgmt_ip":`...)
	b = appendJSONString(b, id.MgmtIP)
	b = append(b, `,"cluster_host_ip":`...)
	b = appendJSONString(b, id.ClusterHostIP)
	b = append(b, `,"mgmt_mac":`...)
	b = appendJSONString(b, id.MgmtMAC)
	b = append(b, `,"interface":`...)
	b = appendJSONString(b, id.Interface.String())
	b = append(b, `,"sequence":`...)
	b = strconv.AppendUint(b, uint64(id.Sequence), 10)
	return append(b, '}'), nil
}

// MarshalText implements encoding.TextMarshaler with [Identity.AppendText].
func (id Identity) MarshalText() ([]byte, error) { return id.AppendText(nil) }

// ParseIdentity decodes an identity buffer as mtcAgent reads it: any JSON
// object is accepted, unknown keys are ignored, and a string key that is
// absent or null reads "none" — so a missing "personality" reads "none",
// which gives the host no node functions (spec K.2). An "interface" that is
// not one of StarlingX's names leaves Interface zero (the agent never reads
// it); a "sequence" that is not an unsigned 32-bit number leaves Sequence 0.
// Text that is not a JSON object (a goEnabled message's buffer, for one) is
// an error wrapping ErrJSON.
func ParseIdentity(text string) (Identity, error) {
	o, err := parseObject(text)
	if err != nil {
		return Identity{}, &DecodeError{Err: ErrJSON, Len: len(text), Detail: err.Error()}
	}
	id := Identity{
		Hostname:      o.get("hostname"),
		Personality:   o.get("personality"),
		PxebootIP:     o.get("pxeboot_ip"),
		MgmtIP:        o.get("mgmt_ip"),
		ClusterHostIP: o.get("cluster_host_ip"),
		MgmtMAC:       o.get("mgmt_mac"),
	}
	if n, err := mtce.ParseNetwork(o.get("interface")); err == nil {
		id.Interface = n
	}
	id.Sequence, _ = o.uint32Of("sequence")
	return id, nil
}

// Alive is the content of an mtcAlive message (spec F.4, K.2).
type Alive struct {
	Uptime   uint32     // parm[0]: CLOCK_MONOTONIC seconds
	Health   Health     // parm[1]
	Flags    AliveFlags // parm[2]
	Sequence uint32     // parm[3]: per-interface counter, first message 1
	Identity Identity   // the buffer; its Sequence is Alive.Sequence when sent
}

// NewMtcAlive builds the mtcAlive message mtcClient sends (spec K.2): a
// zeroed struct, signature "cgts mtc message:", cmd 5, num 4, ver and rev 0,
// parm[0..3] = uptime, health, flags, sequence, parm[4] = 0, the identity
// JSON (with a.Sequence as its "sequence") in the buffer, and a length of
// 100 + JSON + 1.
func NewMtcAlive(a Alive) (Message, error) {
	id := a.Identity
	id.Sequence = a.Sequence
	buf, err := id.AppendText(make([]byte, 0, 192))
	if err != nil {
		return Message{}, err
	}
	m := Message{
		Signature: SigWorker,
		Command:   CmdMtcAlive,
		Num:       4,
		Parm:      [NumParms]uint32{a.Uptime, uint32(a.Health), uint32(a.Flags), a.Sequence, 0},
		Buf:       string(buf),
		Size:      SizeTerminated,
	}
	return validated(m)
}

// MtcAlive reads an mtcAlive message (signature "cgts mtc message:", cmd 5;
// otherwise ErrWrongMessage). Parameters beyond num read as zero. If the
// buffer is not a JSON object the parameters are still returned, with a
// zero Identity and an error wrapping ErrJSON: mtcAgent then knows the
// sender only by its source address.
func (m *Message) MtcAlive() (Alive, error) {
	a, err := m.MtcAliveParams()
	if err != nil {
		return Alive{}, err
	}
	id, err := ParseIdentity(m.Buf)
	a.Identity = id
	return a, err
}

// MtcAliveParams reads an mtcAlive's binary parameters (uptime, health,
// flags, sequence) as MtcAlive does, without parsing the identity JSON,
// which it leaves zero: for a receiver that already knows the sender
// (mtcAgent reads the JSON only to identify an unknown source, spec K.2).
func (m *Message) MtcAliveParams() (Alive, error) {
	if m.Signature != SigWorker || m.Command != CmdMtcAlive {
		return Alive{}, wrongMessage(m, "mtcAlive")
	}
	return Alive{
		Uptime:   m.parm(ParmUptime),
		Health:   Health(m.parm(ParmHealth)),
		Flags:    AliveFlags(m.parm(ParmFlags)),
		Sequence: m.parm(ParmSequence),
	}, nil
}

// parm returns parm[i] if num says it is valid, else 0.
func (m *Message) parm(i ParmIndex) uint32 {
	if uint32(i) < m.Num {
		return m.Parm[i]
	}
	return 0
}

func wrongMessage(m *Message, want string) error {
	return &DecodeError{Err: ErrWrongMessage, Len: m.Len(),
		Detail: "want " + want + ", have " + strconv.Quote(m.Signature.String()) + " " + m.Command.String()}
}
