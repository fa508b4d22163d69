package platform

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors shared by the platform clients, which re-export them. Test
// them with errors.Is.
var (
	// ErrUnauthorized: the service answered 401 (the token was missing,
	// expired or revoked), or the transport gave up after renewing it once.
	ErrUnauthorized = errors.New("unauthorized (HTTP 401)")

	// ErrNotFound: the service answered 404.
	ErrNotFound = errors.New("not found (HTTP 404)")

	// ErrStatus: the service answered a status outside 200–204 other than
	// 401 and 404; Error.Status says which.
	ErrStatus = errors.New("unexpected HTTP status")

	// ErrBadResponse: the answer passed but its body is empty, malformed,
	// too large, or lacks or mistypes a field that is needed. The error
	// chain holds a *DecodeError.
	ErrBadResponse = errors.New("bad response")

	// ErrTransport: no complete answer was received (connection refused or
	// reset, DNS, TLS, timeout, body cut short). The cause is wrapped, so
	// errors.Is(err, context.DeadlineExceeded) works for timeouts.
	ErrTransport = errors.New("request failed")

	// ErrInvalidArgument: a call was refused before anything was queued or
	// sent (empty host name, malformed UUID, nothing to update, ...).
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrInvalidConfig: Config.Validate found a field it cannot use; the
	// message names the field.
	ErrInvalidConfig = errors.New("invalid config")

	// ErrPending: Call.Result was called before the call finished.
	ErrPending = errors.New("call not finished")
)

// Error is the error of one HTTP exchange with a platform service. It
// unwraps to its Kind (one of the sentinels) and to its cause, so both
// errors.Is(err, ErrNotFound) and errors.As(err, &decodeErr) work. It never
// holds a token, a password or a secret payload.
type Error struct {
	Service string // "sm", "vim", "sysinv", "barbican"
	Op      string // the operation, e.g. "update task"
	Host    string // the host the request was about
	Method  string // HTTP method
	URL     string // request URL without user info, query or fragment
	Status  int    // HTTP status; 0 when no answer was received
	Kind    error  // ErrUnauthorized, ErrNotFound, ErrStatus, ErrBadResponse, ErrTransport, or a client's own
	Detail  string // a short excerpt of an error body (SysInv's faultstring when present); "" for secrets
	Err     error  // the cause, if any
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Service)
	if e.Op != "" {
		b.WriteString(" " + e.Op)
	}
	if e.Host != "" {
		b.WriteString(" " + e.Host)
	}
	if e.Method != "" {
		fmt.Fprintf(&b, " (%s %s)", e.Method, e.URL)
	}
	b.WriteString(": ")
	statusKind := e.Kind == ErrStatus || e.Kind == ErrNotFound || e.Kind == ErrUnauthorized
	switch {
	case e.Status != 0 && statusKind:
		fmt.Fprintf(&b, "HTTP %d %s", e.Status, http.StatusText(e.Status))
	case e.Status != 0:
		fmt.Fprintf(&b, "HTTP %d: %v", e.Status, e.Kind)
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	default:
		b.WriteString("error")
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %q", e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the Kind and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// DecodeError says what is wrong with a response body. It wraps
// ErrBadResponse, and Err when a further cause is known (a JSON syntax
// error, an mtce.ParseError for a state text, a client's own sentinel).
type DecodeError struct {
	What   string // what was being decoded, e.g. "service node", "host record"
	Field  string // the offending key, "" for the body as a whole
	Reason string // what is wrong
	Err    error  // optional cause
}

// Error implements error.
func (e *DecodeError) Error() string {
	s := "decoding " + e.What
	if e.Field != "" {
		s += ": " + e.Field
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrBadResponse and the cause.
func (e *DecodeError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrBadResponse, e.Err}
	}
	return []error{ErrBadResponse}
}

// Permanent reports whether a failed exchange must not be repeated: a 4xx
// answer other than 401, 404, 408 and 429 (the request is wrong and will be
// refused again), or a refused argument. Everything else (5xx, 401, 404,
// 408, 429, no answer, a bad body) may succeed on a later attempt.
func Permanent(err error) bool {
	if errors.Is(err, ErrInvalidArgument) {
		return true
	}
	var e *Error
	if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 {
		return false
	}
	switch e.Status {
	case http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return true
}

// invalid builds an ErrInvalidArgument error for service.
func Invalid(service, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", service, ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// InvalidConfig builds an ErrInvalidConfig error naming a field.
func InvalidConfig(service, field, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s: %s", service, ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}
