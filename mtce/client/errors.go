package client

import (
	"errors"
	"fmt"
)

// Errors of this package. Match them with errors.Is.
var (
	// ErrConfig is wrapped by every error Config.Validate and New return
	// for a bad configuration; the message names the field.
	ErrConfig = errors.New("client: invalid configuration")

	// ErrRunning is returned by Run when Run is already running or has
	// already returned.
	ErrRunning = errors.New("client: already run")

	// ErrClosed is returned by Run after Close.
	ErrClosed = errors.New("client: closed")

	// ErrRefused is returned by an action that is not configured: the
	// library does nothing to the machine unless Config.Actions says how.
	ErrRefused = errors.New("client: action not configured; refused")
)

func configErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
}
