package barbican

import (
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret holds a secret payload, here a BMC password. Every way of printing,
// logging or encoding it (fmt verbs including %#v, %x and %q, slog,
// encoding/json and encoding.TextMarshaler) gives "[REDACTED]"; only Reveal
// returns it. The text sits behind a pointer, so even printing a struct that
// holds a Secret in an unexported field shows an address, not the text.
// The zero value is the empty secret. Secrets are immutable and safe to
// copy and share.
type Secret struct {
	p *string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{p: &s} }

// Reveal returns the secret text. Hand it to the BMC driver, never to a
// log.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]" (for %#v).
func (s Secret) GoString() string { return redacted }

// Format writes "[REDACTED]" for every verb and flag.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler (encoding/json uses it).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
