package wire

import (
	"errors"
	"fmt"

	"opendev.org/starlingx/metal-go/mtce"
)

// Errors of this package. Decoding errors come wrapped in a *DecodeError
// that also gives the datagram length; test them with errors.Is.
var (
	// ErrShort: a binary datagram of fewer than FixedSize (100) bytes.
	ErrShort = errors.New("wire: datagram shorter than 100 bytes")
	// ErrLong: a datagram of more than MaxSize (1060) bytes.
	ErrLong = errors.New("wire: datagram longer than 1060 bytes")
	// ErrSignature: the first 17 bytes are not a known signature.
	ErrSignature = errors.New("wire: unknown signature")
	// ErrNum: the num field is larger than 5.
	ErrNum = errors.New("wire: num larger than 5")
	// ErrJSON: a datagram or buffer that should hold a JSON object does not.
	ErrJSON = errors.New("wire: malformed JSON")
	// ErrNotBinary: UnmarshalBinary was given a JSON datagram; use Decode.
	ErrNotBinary = errors.New("wire: JSON datagram, not the binary layout")
	// ErrWrongMessage: an accessor was called on a message of another kind
	// (signature or command).
	ErrWrongMessage = errors.New("wire: message is not of the expected kind")
	// ErrClosed: the transport or pipe end is closed.
	ErrClosed = errors.New("wire: closed")
	// ErrRejected: a received datagram failed the per-source sanity check.
	ErrRejected = errors.New("wire: rejected by source check")

	// ErrNoAck: no ACK within AckTimeout. It wraps an *mtce.RCError, so
	// mtce.RCOf gives mtce.FailNoCmdAck, mtcAgent's code for it.
	ErrNoAck error = &rcSentinel{"wire: no ACK within 10s", mtce.FailNoCmdAck}
	// ErrNoResult: no host-services result before the umbrella timeout. It
	// wraps an *mtce.RCError with mtce.FailTimeout; a result the client sent
	// with FAIL_TIMEOUT has the same code but is not ErrNoResult.
	ErrNoResult error = &rcSentinel{"wire: no host-services result before timeout", mtce.FailTimeout}
)

// rcSentinel is a sentinel error that carries a return code.
type rcSentinel struct {
	msg string
	rc  mtce.RC
}

func (e *rcSentinel) Error() string { return e.msg }
func (e *rcSentinel) Unwrap() error { return &mtce.RCError{RC: e.rc} }

// DecodeError describes a datagram that could not be decoded.
type DecodeError struct {
	Err    error // one of ErrShort, ErrLong, ErrSignature, ErrNum, ErrJSON, ErrNotBinary
	Len    int   // datagram length in bytes
	Detail string
}

func (e *DecodeError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%v (%d bytes)", e.Err, e.Len)
	}
	return fmt.Sprintf("%v (%d bytes): %s", e.Err, e.Len, e.Detail)
}

// Unwrap returns the sentinel error.
func (e *DecodeError) Unwrap() error { return e.Err }

// InvalidError reports a message that cannot be encoded, or an argument a
// constructor refuses. It names the offending part and value.
type InvalidError struct {
	What  string // e.g. "buffer", "MAC"
	Value string
	Why   string
}

func (e *InvalidError) Error() string {
	if e.Why == "" {
		return fmt.Sprintf("wire: invalid %s %q", e.What, e.Value)
	}
	return fmt.Sprintf("wire: invalid %s %q: %s", e.What, e.Value, e.Why)
}
