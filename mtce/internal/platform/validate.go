package platform

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/workqueue"
)

// Checker accumulates configuration errors for one service.
type Checker struct {
	Service string
	errs    []error
}

// Base checks a base URL field.
func (c *Checker) Base(field, raw string) {
	if err := ValidateBaseURL(c.Service, field, raw); err != nil {
		c.errs = append(c.errs, err)
	}
}

// Queue checks that a work queue is set.
func (c *Checker) Queue(field string, q *workqueue.Queue) {
	if q == nil {
		c.errs = append(c.errs, InvalidConfig(c.Service, field, "is nil (the client submits its requests to it)"))
	}
}

// Duration checks that d is positive.
func (c *Checker) Duration(field string, d time.Duration) {
	if d <= 0 {
		c.errs = append(c.errs, InvalidConfig(c.Service, field, "must be positive, got %v", d))
	}
}

// NonNegDuration checks that d is not negative.
func (c *Checker) NonNegDuration(field string, d time.Duration) {
	if d < 0 {
		c.errs = append(c.errs, InvalidConfig(c.Service, field, "must not be negative, got %v", d))
	}
}

// Attempts checks an attempt budget (at least 1).
func (c *Checker) Attempts(field string, n int) {
	if n < 1 {
		c.errs = append(c.errs, InvalidConfig(c.Service, field, "must be at least 1, got %d", n))
	}
}

// Header checks a header value: no control characters.
func (c *Checker) Header(field, v string) {
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		c.errs = append(c.errs, InvalidConfig(c.Service, field, "contains control characters"))
	}
}

// Err returns every error found, joined, or nil.
func (c *Checker) Err() error { return errors.Join(c.errs...) }

// CheckName checks a host name used as a lane key and a path segment: not
// empty, not "none", no '/', no control characters or blanks, at most 255
// bytes.
func CheckName(service, what, s string) error {
	switch {
	case s == "" || s == "none":
		return Invalid(service, "%s is empty", what)
	case len(s) > 255:
		return Invalid(service, "%s is longer than 255 bytes", what)
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }):
		return Invalid(service, "%s %q contains '/', a blank or a control character", what, s)
	}
	return nil
}

// ValidUUID reports whether s is a canonical UUID text
// (8-4-4-4-12 hexadecimal digits), as SysInv writes them.
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// CheckUUID returns an ErrInvalidArgument error unless s is a canonical UUID.
func CheckUUID(service, what, s string) error {
	if !ValidUUID(s) {
		return Invalid(service, "%s %q is not a UUID", what, s)
	}
	return nil
}

// HTTPURL returns "http://host:port", bracketing an IPv6 address.
func HTTPURL(host string, port int) string {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return "http://" + net.JoinHostPort(h, strconv.Itoa(port))
}
