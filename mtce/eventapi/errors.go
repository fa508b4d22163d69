package eventapi

import "errors"

// Errors of this package.
var (
	// ErrInvalidConfig wraps every error of [Config.Validate] and [New].
	ErrInvalidConfig = errors.New("eventapi: invalid config")
	// ErrBadBody wraps every error of [ParseBody]: the body is not one
	// JSON object.
	ErrBadBody = errors.New("eventapi: request body is not a JSON object")
	// ErrNotLoopback: [Listen] was given an address that is not a
	// loopback address (the event API has no authentication, spec J.1).
	ErrNotLoopback = errors.New("eventapi: not a loopback address")
)
