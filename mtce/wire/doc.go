// Package wire is the UDP message protocol between StarlingX's mtcAgent
// and mtcClient, byte-compatible with the C++ daemons, so that a Go client
// can stand beside a C++ agent and the other way round.
//
// # Layout
//
// A [Message] is mtc_message_type as nodeBase.h's size macros make it: a
// 64-byte header whose first 17 bytes are the text [Signature] (18 with its
// NUL), then ver and rev as little-endian u16, res, cmd, num and parm[5] as
// little-endian u32, packed — 100 fixed bytes — then a buffer of up to 960
// bytes. Senders send only the used part of the buffer; [Sizing] says
// whether the trailing NUL is counted, or whether all 1060 bytes go out.
// Addressed commands carry the target's MAC text from header byte 17, in
// place of the signature's NUL.
//
// # Decoding
//
// [Decode] takes one UDP payload. A payload starting with '{' is a JSON
// object (collectd's degrade notifications) and decodes to an [Event].
// Anything else must be the binary layout, decoded strictly where StarlingX
// must be and tolerantly where StarlingX is: fewer than 100 bytes, more
// than 1060, an unknown signature or num > 5 give a *[DecodeError] wrapping
// [ErrShort], [ErrLong], [ErrSignature] or [ErrNum]; the buffer ends at its
// first NUL or at the payload's end, and bytes after it are ignored.
// (mtcAgent itself zero-fills any datagram of 7 bytes or more; no StarlingX
// sender sends fewer than 100, and this package refuses them.)
// Re-encoding a decoded message gives the same bytes for every datagram a
// StarlingX sender produces, the free header bytes included
// ([Message.HeaderTail]): an ACK reuses its request's header, MAC tail and
// all, as mtcClient does.
//
// # Messages
//
// Constructors build each message exactly as the C++ code does:
// [NewMtcAlive] (with its [Identity] JSON), [NewRequest] and the
// per-command ones ([NewReboot], [NewReset], [NewLazyReboot],
// [NewLocked], [NewUnlocked], [NewHostServicesRequest],
// [NewPxebootMtcAliveRequest]), the client's
// [NewAck] and [NewHostServicesAck], [NewHostServicesResult] and
// [NewClientReady]; a constructor that refuses its arguments returns the
// zero Message with the error. Accessors ([Message.MtcAlive], [Message.Ack],
// [Message.HostServicesResult], [Message.CommandInfo], [Message.Event])
// read them back and return [ErrWrongMessage] for a message of another
// kind. JSON read from messages follows StarlingX's reader: absent or null
// keys read "none", unknown keys are ignored.
//
// # Transport
//
// [Transport] binds one UDP socket per [mtce.Network], decodes every
// datagram on a receive goroutine per socket, runs the per-source
// [Check], and queues the packet in a bounded queue for [Transport.Recv]
// or for the [Peer] open for its source. Datagrams that fail to decode, are
// rejected, or find a full queue are dropped and counted by [DropReason]
// in [Transport.Stats]; nothing blocks the receive goroutines.
//
// [RequestHostServices] sends a host-services command over any [Link] and
// waits as mtcAgent does: [AckTimeout] for the ACK, then the result until
// host_services_timeout + [ResultTimeoutExtension] after launch. [Pipe]
// is an in-memory Link for tests and simulators; it starts no goroutine
// and works inside testing/synctest bubbles.
//
// # Guarantees and caller duties
//
//   - Decoding never panics and never keeps a reference to its input.
//   - Messages and Datagrams are plain values, safe to copy. A Transport,
//     a Peer and a PipeEnd are safe for concurrent use.
//   - Close on a Transport closes its sockets and returns only after its
//     goroutines have ended; it is idempotent. The caller must call it.
//   - Close on a Peer releases its source address; the caller must call it.
//   - The caller decides which addresses are "self" and which hosts are
//     known; [CheckAddressed] and [CheckKnownSource] implement StarlingX's
//     rules given those answers.
package wire
