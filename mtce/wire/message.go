package wire

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
)

// Sizing says how many bytes a message occupies on the wire. StarlingX
// senders send the fixed 100 bytes plus only the used part of the buffer,
// some with the buffer's trailing NUL and some without, and a few send the
// whole struct (spec F.2).
type Sizing uint8

// Datagram sizings.
const (
	// SizeTerminated: 100 + len(Buf) + 1, the NUL counted (mtcAlive,
	// agent commands, ready events). The zero value.
	SizeTerminated Sizing = iota
	// SizeExact: 100 + len(Buf), no NUL (host-services results; every ACK,
	// whose buffer is empty, is 100 bytes).
	SizeExact
	// SizeFull: all 1060 bytes, the buffer NUL-padded (hwmond, hbsAgent).
	SizeFull
)

// String returns "terminated", "exact" or "full".
func (s Sizing) String() string {
	switch s {
	case SizeTerminated:
		return "terminated"
	case SizeExact:
		return "exact"
	case SizeFull:
		return "full"
	}
	return "Sizing(" + strconv.Itoa(int(s)) + ")"
}

// Message is one mtc_message_type (spec F.2) in decoded form.
//
// The 64-byte header holds the Signature in its first 17 bytes; byte 17 is
// the signature's NUL, except in addressed commands where the target's MAC
// text starts there and is NUL-terminated (spec K.8). MAC is that text, at
// most 46 bytes (header byte 63 is always a terminator).
//
// HeaderTail is header bytes 18–63 (HeaderTail[i] is byte 18+i) as
// received, except the ones the MAC text and its NUL occupy, which are
// zero here (the MAC says what they hold). Nothing StarlingX reads lives
// there, but an ACK reuses its request's header, so an ACK built from an
// addressed request carries the MAC's tail in it (spec K.8, [NewAck]).
// Constructors other than the ACKs leave it zero.
//
// Buf is the buffer's text up to its first NUL (or the datagram's end);
// Size records how the datagram was, or will be, sized.
type Message struct {
	Signature  Signature
	MAC        string // text after the signature (addressed commands); "" if none
	HeaderTail [HeaderTailSize]byte
	Version    uint16
	Revision   uint16
	Reserved   uint32
	Command    Command
	Num        uint32 // count of valid parameters, at most NumParms
	Parm       [NumParms]uint32
	Buf        string
	Size       Sizing
}

// Len returns the number of bytes m occupies on the wire.
func (m *Message) Len() int {
	switch m.Size {
	case SizeFull:
		return MaxSize
	case SizeExact:
		return FixedSize + len(m.Buf)
	}
	return FixedSize + len(m.Buf) + 1
}

// Validate reports why m cannot be encoded, or nil. It checks what a
// StarlingX receiver relies on: a known signature, num ≤ 5, a buffer of at
// most MaxBufferLen bytes without NUL, and a MAC of at most MaxMACLen bytes
// without NUL; and that HeaderTail leaves the MAC's bytes and its NUL
// (HeaderTail[:len(MAC)]) zero, so that the message decodes to itself.
func (m *Message) Validate() error {
	if !m.Signature.Valid() {
		return &InvalidError{What: "signature", Value: m.Signature.String()}
	}
	if m.Num > NumParms {
		return &InvalidError{What: "num", Value: strconv.FormatUint(uint64(m.Num), 10), Why: "at most 5 parameters"}
	}
	if len(m.Buf) > MaxBufferLen {
		return &InvalidError{What: "buffer", Value: m.Buf[:32] + "…", Why: "longer than 959 bytes"}
	}
	if strings.IndexByte(m.Buf, 0) >= 0 {
		return &InvalidError{What: "buffer", Value: m.Buf, Why: "contains NUL"}
	}
	if len(m.MAC) > MaxMACLen || strings.IndexByte(m.MAC, 0) >= 0 {
		return &InvalidError{What: "MAC", Value: m.MAC, Why: "longer than 46 bytes or contains NUL"}
	}
	for _, c := range m.HeaderTail[:len(m.MAC)] {
		if c != 0 {
			return &InvalidError{What: "header tail", Value: strconv.Quote(string(m.HeaderTail[:len(m.MAC)])),
				Why: "overlaps the MAC and its NUL"}
		}
	}
	if m.Size > SizeFull {
		return &InvalidError{What: "sizing", Value: m.Size.String()}
	}
	return nil
}

// validated returns m if it can be encoded, and the zero Message with the
// reason otherwise: constructors never hand out a half-built message.
func validated(m Message) (Message, error) {
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// AppendBinary appends m's datagram bytes to b (encoding.BinaryAppender).
// The fixed part is little-endian and packed; the buffer is followed by a
// NUL or padding as m.Size says.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return b, err
	}
	n := m.Len()
	start := len(b)
	b = append(b, make([]byte, n)...) // zeroed; the compiler avoids the allocation
	d := b[start:]
	copy(d, signatureTexts[m.Signature])
	copy(d[SignatureSize:HeaderSize], m.HeaderTail[:])
	copy(d[sigLen:], m.MAC) // overwrites the signature's NUL when present; its own NUL is in HeaderTail
	binary.LittleEndian.PutUint16(d[offVer:], m.Version)
	binary.LittleEndian.PutUint16(d[offRev:], m.Revision)
	binary.LittleEndian.PutUint32(d[offRes:], m.Reserved)
	binary.LittleEndian.PutUint32(d[offCmd:], uint32(m.Command))
	binary.LittleEndian.PutUint32(d[offNum:], m.Num)
	for i, p := range m.Parm {
		binary.LittleEndian.PutUint32(d[offParm+4*i:], p)
	}
	copy(d[FixedSize:], m.Buf)
	return b, nil
}

// MarshalBinary returns m's datagram bytes (encoding.BinaryMarshaler).
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, m.Len()))
}

// UnmarshalBinary decodes a datagram in the binary layout into m
// (encoding.BinaryUnmarshaler). It is strict where StarlingX must be and
// tolerant where StarlingX is (spec F.2):
//
//   - fewer than 100 bytes: ErrShort; more than 1060: ErrLong;
//   - a first byte '{' (a JSON datagram, spec K.3): ErrNotBinary;
//   - first 17 bytes not a known signature: ErrSignature;
//   - num > 5: ErrNum;
//   - the buffer ends at its first NUL or at the datagram's end, whichever
//     comes first, and is at most 959 bytes (mtcAgent forces buf[959] to
//     NUL); bytes after the end are ignored;
//   - the MAC ends at its NUL or after 46 bytes; the other header bytes are
//     kept in HeaderTail, except byte 63 after a 46-byte MAC (it re-encodes
//     as the MAC's terminator).
//
// Errors are *DecodeError. m.Size is set from the datagram's length, so
// that re-encoding a canonical datagram gives the same bytes. m keeps no
// reference to data.
func (m *Message) UnmarshalBinary(data []byte) error {
	n := len(data)
	if n > 0 && data[0] == '{' {
		return &DecodeError{Err: ErrNotBinary, Len: n}
	}
	if n < FixedSize {
		return &DecodeError{Err: ErrShort, Len: n}
	}
	if n > MaxSize {
		return &DecodeError{Err: ErrLong, Len: n}
	}
	sig, ok := signatureByText[string(data[:sigLen])]
	if !ok {
		return &DecodeError{Err: ErrSignature, Len: n, Detail: strconv.Quote(cString(data[:sigLen]))}
	}
	num := binary.LittleEndian.Uint32(data[offNum:])
	if num > NumParms {
		return &DecodeError{Err: ErrNum, Len: n, Detail: "num " + strconv.FormatUint(uint64(num), 10)}
	}
	*m = Message{
		Signature: sig,
		MAC:       cString(data[sigLen : sigLen+MaxMACLen]), // header byte 63 is never text
		Version:   binary.LittleEndian.Uint16(data[offVer:]),
		Revision:  binary.LittleEndian.Uint16(data[offRev:]),
		Reserved:  binary.LittleEndian.Uint32(data[offRes:]),
		Command:   Command(binary.LittleEndian.Uint32(data[offCmd:])),
		Num:       num,
	}
	copy(m.HeaderTail[:], data[SignatureSize:HeaderSize])
	clear(m.HeaderTail[:len(m.MAC)]) // the MAC's bytes and its NUL
	for i := range m.Parm {
		m.Parm[i] = binary.LittleEndian.Uint32(data[offParm+4*i:])
	}
	buf := data[FixedSize:]
	if len(buf) > MaxBufferLen {
		buf = buf[:MaxBufferLen] // mtcAgent forces buf[959] to NUL
	}
	m.Buf = cString(buf)
	switch {
	case n == MaxSize:
		m.Size = SizeFull
	case n == FixedSize+len(m.Buf):
		m.Size = SizeExact
	default:
		m.Size = SizeTerminated
	}
	return nil
}

// cString returns b up to its first NUL as a string.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return ""
	}
	return string(b)
}

// Kind says what a datagram holds.
type Kind uint8

// Datagram kinds.
const (
	KindMessage Kind = iota + 1 // the binary layout
	KindJSON                    // a JSON object as the whole payload (spec K.3)
)

// String returns "message" or "json".
func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindJSON:
		return "json"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Datagram is one decoded UDP payload: a binary Message, or a JSON Event
// such as collectd's degrade notifications (spec K.3).
type Datagram struct {
	Kind    Kind
	Message Message // when Kind == KindMessage
	JSON    Event   // when Kind == KindJSON
}

// Decode decodes one UDP payload as mtcAgent does: a payload whose first
// byte is '{' is a JSON object up to its first NUL or the payload's end
// (ErrJSON if malformed, ErrLong above 1060 bytes); anything else is the
// binary layout, decoded by [Message.UnmarshalBinary]. Errors are
// *DecodeError. The result keeps no reference to b.
func Decode(b []byte) (Datagram, error) {
	if len(b) > 0 && b[0] == '{' {
		if len(b) > MaxSize {
			return Datagram{}, &DecodeError{Err: ErrLong, Len: len(b)}
		}
		ev, err := ParseEvent(cString(b))
		if err != nil {
			return Datagram{}, &DecodeError{Err: ErrJSON, Len: len(b), Detail: err.Error()}
		}
		return Datagram{Kind: KindJSON, JSON: ev}, nil
	}
	var d Datagram
	if err := d.Message.UnmarshalBinary(b); err != nil {
		return Datagram{}, err
	}
	d.Kind = KindMessage
	return d, nil
}
