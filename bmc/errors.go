package bmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
)

// Sentinel errors. Drivers return *Error values whose Kind is one of these,
// so callers test with errors.Is.
var (
	// ErrNotSupported: the BMC (or the driver) has no equivalent of the
	// requested operation. Nothing was done.
	ErrNotSupported = errors.New("bmc: operation not supported")
	// ErrPoweredOff: a reset was requested for a host that is powered off
	// (StarlingX task "Reset Failed - <host> is powered off"). Nothing was done.
	ErrPoweredOff = errors.New("bmc: host is powered off")
	// ErrTimeout: the BMC did not answer in time (hung, overloaded, or gone).
	ErrTimeout = errors.New("bmc: timed out waiting for the BMC")
	// ErrUnreachable: the BMC actively refused or could not be routed to
	// (connection refused, ICMP unreachable, name resolution failure).
	ErrUnreachable = errors.New("bmc: BMC unreachable")
	// ErrAuth: the BMC rejected the credentials (HTTP 401/403, RAKP failure).
	ErrAuth = errors.New("bmc: authentication failed")
	// ErrTLS: the TLS handshake or certificate verification failed.
	ErrTLS = errors.New("bmc: TLS handshake or certificate verification failed")
	// ErrProtocol: the BMC answered, but not with what the protocol requires
	// (malformed JSON, unexpected HTTP status, unparsable tool output).
	ErrProtocol = errors.New("bmc: unexpected response from the BMC")
	// ErrNotOpen: a method was called before a successful Open.
	ErrNotOpen = errors.New("bmc: driver not open")
	// ErrClosed: a method was called after Close.
	ErrClosed = errors.New("bmc: driver closed")
	// ErrAttemptsExhausted: PowerController used its attempt budget without
	// seeing the host reach the target state.
	ErrAttemptsExhausted = errors.New("bmc: power action not confirmed within the attempt budget")
	// ErrInvalidConfig: a Config failed validation (see *ConfigError).
	ErrInvalidConfig = errors.New("bmc: invalid configuration")
)

// Error is the error type returned by drivers.
type Error struct {
	// Op is the operation, e.g. "power-status", "power-on", "open".
	Op string
	// Driver is the driver name ("ipmi", "ipmitool", "redfish").
	Driver string
	// Host is the BMC address (never credentials).
	Host string
	// Kind is one of the package sentinels, or nil if unclassified.
	Kind error
	// Err is the underlying cause (may be nil).
	Err error
}

// NewError builds an *Error. If err already is (or wraps) an *Error, its
// Kind is kept unless kind is non-nil.
func NewError(op, driver, host string, kind, err error) *Error {
	if kind == nil {
		var inner *Error
		if errors.As(err, &inner) {
			kind = inner.Kind
		}
	}
	return &Error{Op: op, Driver: driver, Host: host, Kind: kind, Err: err}
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("bmc")
	if e.Driver != "" {
		b.WriteString(" " + e.Driver)
	}
	if e.Host != "" {
		b.WriteString(" " + e.Host)
	}
	if e.Op != "" {
		b.WriteString(" " + e.Op)
	}
	if e.Kind != nil {
		b.WriteString(": " + strings.TrimPrefix(e.Kind.Error(), "bmc: "))
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Kind and Err, so errors.Is matches both the classification
// and the underlying cause (e.g. context.DeadlineExceeded).
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// ConfigError reports an invalid configuration field. It matches
// ErrInvalidConfig.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return "bmc: invalid config: " + e.Field + ": " + e.Reason
}

// Is makes ConfigError match ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// ClassifyTransport returns the sentinel that describes a network-level
// error from net, net/http or crypto/tls: ErrTimeout, ErrTLS or
// ErrUnreachable, or nil if err is none of these. A cancelled context is
// not classified (the caller gave up; the BMC did nothing wrong). It is
// exported for driver implementations.
func ClassifyTransport(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	if isTLSError(err) {
		return ErrTLS
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrTimeout
	}
	var dnsErr *net.DNSError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.As(err, &dnsErr) {
		return ErrUnreachable
	}
	return nil
}

func isTLSError(err error) bool {
	var (
		unknownAuth   x509.UnknownAuthorityError
		hostErr       x509.HostnameError
		invalidErr    x509.CertificateInvalidError
		verifyErr     *tls.CertificateVerificationError
		recordErr     tls.RecordHeaderError
		alertErr      tls.AlertError
		constraintErr x509.ConstraintViolationError
	)
	return errors.As(err, &unknownAuth) || errors.As(err, &hostErr) ||
		errors.As(err, &invalidErr) || errors.As(err, &verifyErr) ||
		errors.As(err, &recordErr) || errors.As(err, &alertErr) ||
		errors.As(err, &constraintErr)
}
