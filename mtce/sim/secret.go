package sim

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret is a password, application-credential secret, token or Barbican
// payload. It never prints its value: String, GoString, Format (every verb),
// LogValue and MarshalText all give "[REDACTED]". Use [Secret.Reveal] (or a
// plain string conversion) where the value itself is needed.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements [fmt.Stringer] and redacts.
func (Secret) String() string { return redacted }

// GoString implements [fmt.GoStringer] and redacts.
func (Secret) GoString() string { return `sim.Secret("` + redacted + `")` }

// Format implements [fmt.Formatter] and redacts for every verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue implements [slog.LogValuer] and redacts.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements [encoding.TextMarshaler] and redacts, so that a
// Config encoded as JSON does not leak its password.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
