package eventapi

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
)

// Defaults.
const (
	// DefaultMaxBodyBytes bounds a request body. sysinv's host record is
	// about 2 KiB; 64 KiB leaves room for long capabilities objects.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultReplyTimeout bounds the wait for the Backend's transaction:
	// sysinv gives up after 6 s (spec J.10), so a decision that cannot be
	// made in 5 s is answered 503 (nothing done) instead.
	DefaultReplyTimeout = 5 * time.Second
	// DefaultWriteTimeout bounds writing a hijacked non-2xx reply.
	DefaultWriteTimeout = 5 * time.Second
	// DefaultReadTimeout is the http.Server read timeout set by
	// [Handler.NewServer] (header and body).
	DefaultReadTimeout = 10 * time.Second
	// maxPhrase bounds the reason phrase of a non-2xx status line.
	maxPhrase = 512
)

// Config configures a [Handler].
type Config struct {
	// Hostname is the name of the controller this agent runs on. Required:
	// an add of the mate controller is refused while an inactive
	// controller is recorded, and this host never counts as one (spec
	// J.11).
	Hostname string

	// MaxBodyBytes bounds a request body; larger bodies get 413 and
	// change nothing. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// ReplyTimeout bounds the wait for [Backend.Transact] to start the
	// decision; when it passes, the reply is 503 and nothing changed.
	// Default DefaultReplyTimeout; keep it under sysinv's 6 s.
	ReplyTimeout time.Duration

	// WriteTimeout bounds writing a non-2xx reply on the hijacked
	// connection. Default DefaultWriteTimeout.
	WriteTimeout time.Duration

	// ReadTimeout is the read timeout of the server [Handler.NewServer]
	// builds. Default DefaultReadTimeout.
	ReadTimeout time.Duration

	// Observer, if not nil, sees every reply (for metrics and the event
	// log). It runs on the request's goroutine and must be quick.
	Observer func(Event)

	// Logger receives one debug line per request and warnings for
	// rejections and failures; nil means silent.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; set Hostname.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes: DefaultMaxBodyBytes,
		ReplyTimeout: DefaultReplyTimeout,
		WriteTimeout: DefaultWriteTimeout,
		ReadTimeout:  DefaultReadTimeout,
	}
}

// Validate reports every unusable field, each wrapping ErrInvalidConfig.
// Zero durations and sizes are not errors: New applies the defaults.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...)))
	}
	if !given(c.Hostname) {
		bad("Hostname %q is empty or none", c.Hostname)
	}
	if c.MaxBodyBytes < 0 {
		bad("MaxBodyBytes %d is negative", c.MaxBodyBytes)
	}
	if c.ReplyTimeout < 0 {
		bad("ReplyTimeout %v is negative", c.ReplyTimeout)
	}
	if c.WriteTimeout < 0 {
		bad("WriteTimeout %v is negative", c.WriteTimeout)
	}
	if c.ReadTimeout < 0 {
		bad("ReadTimeout %v is negative", c.ReadTimeout)
	}
	return errors.Join(errs...)
}

func (c *Config) defaults() {
	d := DefaultConfig()
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.ReplyTimeout == 0 {
		c.ReplyTimeout = d.ReplyTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = d.ReadTimeout
	}
}

// Event describes one request and its reply, for [Config.Observer].
type Event struct {
	Seq      uint64        // request sequence number, from 1
	Client   Client        // ClientUnknown for a 403 or 501
	Method   string        // as received
	Path     string        // the URL path, as received
	Code     int           // HTTP status code sent
	Pass     bool          // the body's status is "pass"
	RC       mtce.RC       // the rejection's return code; Pass when accepted
	Duration time.Duration // from the handler's start to the reply written
}
