package mtce

import (
	"errors"
	"fmt"
)

// Errors returned by the Parse functions of this package.
var (
	// ErrInvalid is wrapped by every *ParseError: the text is not one that
	// StarlingX writes for that kind of value.
	ErrInvalid = errors.New("mtce: invalid value")
)

// ParseError reports a text that a Parse function rejected. It wraps
// [ErrInvalid], so errors.Is(err, ErrInvalid) holds, and errors.As gives
// the kind of value and the offending text.
type ParseError struct {
	Kind  string // e.g. "admin state"
	Value string // the text that was rejected, verbatim
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("mtce: invalid %s %q", e.Kind, e.Value)
}

// Unwrap returns [ErrInvalid].
func (e *ParseError) Unwrap() error { return ErrInvalid }

// enum is the string table behind the small enumerations of this package:
// names[i] is the text StarlingX writes for value i.
type enum[T ~uint8] struct {
	kind  string
	names []string
}

func (e enum[T]) str(v T) string {
	if int(v) < len(e.names) && e.names[v] != "" {
		return e.names[v]
	}
	return fmt.Sprintf("%s(%d)", e.kind, uint8(v))
}

func (e enum[T]) valid(v T) bool { return int(v) < len(e.names) && e.names[v] != "" }

func (e enum[T]) parse(s string) (T, error) {
	for i, n := range e.names {
		if n != "" && n == s {
			return T(i), nil
		}
	}
	return 0, &ParseError{Kind: e.kind, Value: s}
}

func (e enum[T]) marshal(v T) ([]byte, error) {
	if !e.valid(v) {
		return nil, fmt.Errorf("mtce: cannot marshal %s(%d)", e.kind, uint8(v))
	}
	return []byte(e.names[v]), nil
}
