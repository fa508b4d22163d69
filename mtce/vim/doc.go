// Package vim is a client of the StarlingX VIM's infrastructure REST API as
// the maintenance agent uses it: report a host's state change with
// PATCH /nfvi-plugins/v1/hosts/<uuid> (spec D.1), through a work queue on
// the host's lane.
//
// # Usage
//
//	cfg := vim.DefaultConfig()
//	cfg.BaseURL = vim.Endpoint(port)      // K.7: localhost, config.ini [infrastructure-rest-api] port
//	cfg.HTTPClient = &http.Client{}       // NO keystone transport: the VIM takes no token
//	cfg.Queue = q
//	c, err := vim.New(cfg)
//	call, err := c.StateChange(vim.HostEnabled, host, nil)
//	_, err = call.Wait(ctx)
//
// # Guarantees
//
//   - StateChange returns at once: a [*Call] on the host's lane, or an error
//     with nothing queued (ErrInvalidArgument for a bad name, UUID or
//     event; the queue's ErrOverloaded or ErrClosed).
//   - The body is StarlingX's ([Body]): the host's states, data-port states
//     only when known, host name, UUID, subfunctions and personality.
//   - Every request is critical with Config.Attempts (3) attempts of
//     Config.Timeout (20 s) each (bug 2135130 fix).
//   - No X-Auth-Token is ever set by this package; the other headers are
//     those of StarlingX's queued requests (A.8).
//   - Failures are typed as in the other platform clients (an [*Error]
//     inside the queue's *workqueue.Error); the VIM's answer body is not
//     read beyond its status, as in StarlingX.
//   - The client starts no goroutine; it is safe for concurrent use.
//
// # Caller's duties
//
//   - Give the client an HTTP client WITHOUT a token-adding transport, and
//     a work queue that you close.
//   - Pass the host's current states; collect the outcome of each call
//     (the enable action fails when its VIM "enabled" call fails).
//
// # Differences from StarlingX
//
//   - A 404 is an error (ErrNotFound, retried), not a success: StarlingX's
//     status mapping passes it, silently losing a state change the VIM never
//     recorded.
package vim
