package bmc

import (
	"fmt"
	"log/slog"
)

// redacted is what every rendering of a Password shows.
const redacted = "[REDACTED]"

// Password holds a BMC password. Every way of printing, logging or encoding
// it (fmt verbs including %#v and %x, slog, encoding/json, encoding.Text)
// yields "[REDACTED]"; only Reveal returns the secret. The zero value is the
// empty password.
type Password struct {
	secret string
}

// NewPassword wraps s.
func NewPassword(s string) Password { return Password{secret: s} }

// Reveal returns the secret. Call it only where the secret is handed to the
// protocol (a 0600 file, an environment variable of a child process, an
// RMCP+ or HTTP authentication exchange).
func (p Password) Reveal() string { return p.secret }

// IsZero reports whether the password is empty (a BMC that is not
// provisioned).
func (p Password) IsZero() bool { return p.secret == "" }

// String implements fmt.Stringer.
func (p Password) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (p Password) GoString() string { return "bmc.Password(" + redacted + ")" }

// Format implements fmt.Formatter so that no verb (%s %v %q %x %X %d ...)
// can reach the secret.
func (p Password) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(p.GoString()))
		return
	}
	_, _ = f.Write([]byte(redacted))
}

// LogValue implements slog.LogValuer.
func (p Password) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler (and so JSON, YAML, ...).
func (p Password) MarshalText() ([]byte, error) { return []byte(redacted), nil }
