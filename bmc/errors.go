package bmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strconv"
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
	// ErrPartial: an operation that reads several resources (Sensors)
	// read some of them but not all. What it returned alongside the error
	// is valid and complete for the resources that answered; the error
	// wraps a *PartialError naming each resource that failed.
	ErrPartial = errors.New("bmc: partial result, some resources failed")
)

// PartialError lists the resources an operation could not read while it
// read the others (a drivers' Sensors reading a chassis whose Thermal
// resource answers 404 while Power answers). Drivers return it inside an
// *Error whose Kind is ErrPartial, together with the results they did get:
//
//	sensors, err := d.Sensors(ctx)
//	var pe *bmc.PartialError
//	if errors.As(err, &pe) { /* use sensors; log pe.Failures */ }
//
// It deliberately does not unwrap to the failures' own errors, so that a
// partial result never matches ErrTimeout, ErrAuth, ... and is not
// mistaken for a failed call; inspect Failures for those.
type PartialError struct {
	// Failures has one entry per resource that could not be read, in the
	// order they were attempted.
	Failures []ResourceFailure
}

// ResourceFailure is one resource a partial operation could not read.
type ResourceFailure struct {
	// Resource names what failed (for Redfish, the resource path).
	Resource string
	// Err is the failure, usually an *Error with its Kind.
	Err error
}

func (e *PartialError) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(e.Failures)))
	if len(e.Failures) == 1 {
		b.WriteString(" resource failed")
	} else {
		b.WriteString(" resources failed")
	}
	for i, f := range e.Failures {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Resource)
		if f.Err != nil {
			b.WriteString(": " + f.Err.Error())
		}
	}
	return b.String()
}

// Is makes a PartialError match ErrPartial.
func (e *PartialError) Is(target error) bool { return target == ErrPartial }

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
