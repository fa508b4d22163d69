package keystone

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Every error returned by this package that is not a plain
// context error is an [*Error] whose Kind is one of these, so errors.Is works
// on both the *Error and anything that wraps it.
var (
	// ErrInvalidConfig is wrapped by [Config.Validate] and [New] when a
	// Config field is missing or out of range; the message names the field.
	ErrInvalidConfig = errors.New("keystone: invalid configuration")

	// ErrClosed is returned by every method of a Manager after Close.
	ErrClosed = errors.New("keystone: manager closed")

	// ErrAuthFailed means Keystone answered the token request with 401 or
	// 403: wrong or disabled credentials, or a scope the user may not have.
	// Retrying without a configuration change will not help, but the
	// Manager still retries (a password may be fixed in Keystone later).
	ErrAuthFailed = errors.New("keystone: authentication failed (credentials rejected)")

	// ErrUnavailable means Keystone could not be reached (connection refused,
	// DNS, TLS verification, reset) or answered with a status other than
	// 201, 401 or 403 (typically 5xx).
	ErrUnavailable = errors.New("keystone: unavailable")

	// ErrTimeout means a token request did not complete within
	// Config.RenewTimeout.
	ErrTimeout = errors.New("keystone: token request timed out")

	// ErrStuck means the watchdog abandoned a token request that outlived
	// Config.StuckAfter because something under it ignored its context.
	ErrStuck = errors.New("keystone: token request stuck, abandoned by watchdog")

	// ErrMissingToken means Keystone answered 201 without an X-Subject-Token
	// header (gophercloud accepts such a reply silently).
	ErrMissingToken = errors.New("keystone: reply has no X-Subject-Token header")

	// ErrMalformedResponse means the body of Keystone's 201 reply could not
	// be decoded as a v3 token (bad JSON, wrong types, truncated, too large).
	ErrMalformedResponse = errors.New("keystone: malformed token reply")

	// ErrMissingExpiry means the token in Keystone's reply has no expires_at.
	ErrMissingExpiry = errors.New("keystone: token reply has no expires_at")

	// ErrNoCatalog means the token in Keystone's reply has no catalog.
	ErrNoCatalog = errors.New("keystone: token reply has no catalog")

	// ErrNoEndpoint means the catalog has no endpoint for the requested
	// service type, interface and region (for the Manager: for
	// Config.RequiredService).
	ErrNoEndpoint = errors.New("keystone: no matching endpoint in catalog")

	// ErrAmbiguousEndpoint means several different URLs match an endpoint
	// lookup; set a Region to choose.
	ErrAmbiguousEndpoint = errors.New("keystone: several endpoints match, set a region")

	// ErrUnauthorized is returned by [Transport] when a request is still
	// answered 401 after the token was renewed once.
	ErrUnauthorized = errors.New("keystone: request unauthorized after token renewal")
)

// Error describes a failed token request (or, with Kind ErrUnauthorized, a
// request that [Transport] gave up on). It never contains a token or a
// password: the underlying error is kept only when it cannot carry one
// (transport errors with the URL's user info removed, JSON syntax errors).
type Error struct {
	// Kind is one of the package's sentinel errors.
	Kind error
	// Cause is what started the token request; zero for Transport errors.
	Cause Cause
	// Status is the HTTP status code of the reply, 0 if there was none.
	Status int
	// Retry is the earliest time the Manager will ask Keystone again after
	// this failure (failure spacing), as known when the error was returned;
	// zero when not applicable. Until then [Manager.Renew] answers with
	// this error at once. It moves earlier (the Manager then answers a copy
	// with the new Retry) when the current token becomes unusable meanwhile
	// (a 401, or its expiry), because the tighter Config.OutageRetryMax
	// applies from then on. The Manager also asks on its own at Retry while
	// it has no token it may hand out.
	Retry time.Time
	// Err is the underlying error, if any; it never holds a secret.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	kind := "keystone: error"
	if e.Kind != nil {
		kind = e.Kind.Error()
	}
	b.WriteString(kind)
	var details []string
	if e.Cause != 0 {
		details = append(details, "cause="+e.Cause.String())
	}
	if e.Status != 0 {
		details = append(details, fmt.Sprintf("HTTP %d", e.Status))
	}
	if !e.Retry.IsZero() {
		details = append(details, "next attempt "+e.Retry.Format(time.RFC3339Nano))
	}
	if len(details) > 0 {
		b.WriteString(" (" + strings.Join(details, ", ") + ")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the Kind and the underlying error, so errors.Is matches
// both the sentinel and, for example, context.DeadlineExceeded.
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

// Cause says what made the Manager request a token.
type Cause int

// Causes of a token request. The zero value means "none" (for example an
// error produced by Transport rather than by a token request).
const (
	// CauseFirst: the first token, requested at start and retried until it
	// succeeds.
	CauseFirst Cause = 1 + iota
	// CauseExpiry: a proactive refresh before the current token expires.
	CauseExpiry
	// CausePeriodic: the optional periodic refresh (Config.RefreshPeriod).
	CausePeriodic
	// CauseUnauthorized: a renewal asked for by [Manager.Renew] after a 401.
	CauseUnauthorized
)

// String returns the cause's short name: first, expiry, periodic, 401.
func (c Cause) String() string {
	switch c {
	case CauseFirst:
		return "first"
	case CauseExpiry:
		return "expiry"
	case CausePeriodic:
		return "periodic"
	case CauseUnauthorized:
		return "401"
	default:
		return fmt.Sprintf("Cause(%d)", int(c))
	}
}
