package keystone

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Token is a Keystone token with its metadata. It is an immutable value,
// safe to copy and share between goroutines; the zero Token holds nothing.
//
// A Token never prints its secret: String, GoString, Format (every fmt verb,
// including %v, %+v, %#v, %s, %q, %x), LogValue and MarshalText (which
// encoding/json also uses: a Token encodes as a JSON string) show a short
// fingerprint (the first 8 hex digits of the SHA-256 of the
// secret) and the expiry instead. The secret sits behind a pointer, so even
// reflection-based printing of a struct that holds a Token in an unexported
// field shows an address, not the secret. Use [Token.Secret] to send it.
type Token struct {
	p *tokenData
}

type tokenData struct {
	// secret is a pointer so that no fmt path (not even a bad verb on a
	// struct reached through unexported fields) can print it: fmt shows
	// nested pointers to strings as addresses.
	secret      *string
	fingerprint string
	expiresAt   time.Time // as sent by Keystone
	issuedAt    time.Time // as sent by Keystone; zero if absent
	obtained    time.Time // local time the request that produced it was sent
	localExpiry time.Time // local estimate of expiry (obtained + lifetime)
	catalog     []Service
}

// Service is one entry of the token's catalog.
type Service struct {
	ID        string
	Type      string
	Name      string
	Endpoints []Endpoint
}

// Endpoint is one endpoint of a catalog entry.
type Endpoint struct {
	ID        string
	Interface Interface
	Region    string // region name (or ID when Keystone sends no name)
	RegionID  string
	URL       string
}

// Interface is an endpoint interface: admin, internal or public.
type Interface string

// Endpoint interfaces.
const (
	InterfaceAdmin    Interface = "admin"
	InterfaceInternal Interface = "internal"
	InterfacePublic   Interface = "public"
)

// EndpointOpts selects an endpoint from the catalog.
type EndpointOpts struct {
	// Type is the service type, e.g. "platform" (StarlingX SysInv) or
	// "identity". Required.
	Type string
	// Interface defaults to InterfacePublic when empty.
	Interface Interface
	// Region matches an endpoint's region name or region ID; empty matches
	// any region.
	Region string
}

func newToken(secret string, expiresAt, issuedAt, obtained time.Time, catalog []Service) Token {
	sum := sha256.Sum256([]byte(secret))
	lifetime := expiresAt.Sub(obtained)
	if !issuedAt.IsZero() && issuedAt.Before(expiresAt) {
		// Keystone's own view of the lifetime does not depend on the
		// two clocks agreeing; expires_at is truncated to whole seconds,
		// so this is never longer than the real lifetime.
		lifetime = expiresAt.Sub(issuedAt)
	}
	return Token{p: &tokenData{
		secret:      &secret,
		fingerprint: hex.EncodeToString(sum[:4]),
		expiresAt:   expiresAt,
		issuedAt:    issuedAt,
		obtained:    obtained,
		localExpiry: obtained.Add(lifetime),
		catalog:     catalog,
	}}
}

// IsZero reports whether t holds no token.
func (t Token) IsZero() bool { return t.p == nil }

// Secret returns the token itself, the value of the X-Auth-Token header.
// Never log it.
func (t Token) Secret() string {
	if t.p == nil {
		return ""
	}
	return *t.p.secret
}

// Fingerprint returns 8 hex digits of the SHA-256 of the secret: enough to
// tell tokens apart in logs, useless to an attacker.
func (t Token) Fingerprint() string {
	if t.p == nil {
		return ""
	}
	return t.p.fingerprint
}

// ExpiresAt returns the token's expires_at as sent by Keystone.
func (t Token) ExpiresAt() time.Time {
	if t.p == nil {
		return time.Time{}
	}
	return t.p.expiresAt
}

// IssuedAt returns the token's issued_at as sent by Keystone (zero if the
// reply had none).
func (t Token) IssuedAt() time.Time {
	if t.p == nil {
		return time.Time{}
	}
	return t.p.issuedAt
}

// Obtained returns the local time at which the request that produced the
// token was sent.
func (t Token) Obtained() time.Time {
	if t.p == nil {
		return time.Time{}
	}
	return t.p.obtained
}

// Lifetime returns the token's lifetime as granted by Keystone
// (expires_at - issued_at, or expires_at - Obtained without issued_at).
// Keystone's fernet timestamps have whole-second resolution (issued_at is
// truncated, expires_at = issued_at + expiration), so the token may die up to
// 1 s earlier than Obtained + Lifetime; the Manager's refresh margin (1/3 of
// the lifetime by default) absorbs this for any lifetime above 3 s.
func (t Token) Lifetime() time.Duration {
	if t.p == nil {
		return 0
	}
	return t.p.localExpiry.Sub(t.p.obtained)
}

// Expired reports whether the token is past its expiry at time now, by the
// local clock (Obtained + Lifetime), so it does not depend on Keystone's
// clock agreeing with ours.
func (t Token) Expired(now time.Time) bool {
	return t.p == nil || !now.Before(t.p.localExpiry)
}

// Catalog returns a copy of the token's service catalog.
func (t Token) Catalog() []Service {
	if t.p == nil {
		return nil
	}
	out := make([]Service, len(t.p.catalog))
	for i, s := range t.p.catalog {
		s.Endpoints = append([]Endpoint(nil), s.Endpoints...)
		out[i] = s
	}
	return out
}

// Endpoint returns the URL of the catalog endpoint for opts.Type with the
// given interface, in opts.Region (any region if empty). It returns an
// [*Error] of kind [ErrNoEndpoint] if none matches, or
// [ErrAmbiguousEndpoint] if several different URLs match.
func (t Token) Endpoint(opts EndpointOpts) (string, error) {
	var catalog []Service
	if t.p != nil {
		catalog = t.p.catalog
	}
	return findEndpoint(catalog, opts)
}

func findEndpoint(catalog []Service, opts EndpointOpts) (string, error) {
	iface := opts.Interface
	if iface == "" {
		iface = InterfacePublic
	}
	found := ""
	for _, s := range catalog {
		if s.Type != opts.Type {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Interface != iface {
				continue
			}
			if opts.Region != "" && e.Region != opts.Region && e.RegionID != opts.Region {
				continue
			}
			if found != "" && found != e.URL {
				return "", &Error{Kind: ErrAmbiguousEndpoint, Err: fmt.Errorf(
					"service type %q interface %q region %q", opts.Type, iface, opts.Region)}
			}
			found = e.URL
		}
	}
	if found == "" {
		return "", &Error{Kind: ErrNoEndpoint, Err: fmt.Errorf(
			"service type %q interface %q region %q", opts.Type, iface, opts.Region)}
	}
	return found, nil
}

// String returns a redacted description: fingerprint and expiry.
func (t Token) String() string {
	if t.p == nil {
		return "keystone.Token(none)"
	}
	return "keystone.Token(" + t.p.fingerprint + ", expires " + t.p.expiresAt.UTC().Format(time.RFC3339) + ")"
}

// GoString returns the same redacted description as String.
func (t Token) GoString() string { return t.String() }

// Format implements fmt.Formatter so that every verb prints the redacted
// description and never the secret.
func (t Token) Format(f fmt.State, verb rune) {
	s := t.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue implements slog.LogValuer: a group with the fingerprint and the
// expiry, never the secret.
func (t Token) LogValue() slog.Value {
	if t.p == nil {
		return slog.StringValue("none")
	}
	return slog.GroupValue(
		slog.String("fingerprint", t.p.fingerprint),
		slog.Time("expires_at", t.p.expiresAt),
	)
}

// MarshalText implements encoding.TextMarshaler with the redacted
// description, so encoders (JSON, YAML, slog's JSON handler) never see the
// secret.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Secret is a string that never prints itself: a password or an
// application-credential secret. Its String, GoString, Format, LogValue and
// MarshalText all give "[REDACTED]" (or "" when empty).
type Secret string

const redacted = "[REDACTED]"

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns "[REDACTED]" (or "" for an empty Secret).
func (s Secret) String() string { return s.redacted() }

// GoString returns "[REDACTED]" (or "" for an empty Secret).
func (s Secret) GoString() string { return s.redacted() }

// Format implements fmt.Formatter: every verb prints "[REDACTED]".
func (s Secret) Format(f fmt.State, verb rune) {
	out := s.redacted()
	if verb == 'q' {
		out = strconv.Quote(out)
	}
	_, _ = f.Write([]byte(out))
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

// MarshalText implements encoding.TextMarshaler ("[REDACTED]").
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }
