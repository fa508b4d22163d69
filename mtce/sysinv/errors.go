package sysinv

import "opendev.org/starlingx/metal-go/mtce/internal/platform"

// Errors. Every error of an HTTP exchange is an [*Error] whose Kind is one
// of the first five; test with errors.Is. They are the same values in
// mtce/sm, mtce/vim, mtce/sysinv and mtce/barbican, so one errors.Is check
// covers every client. Submit errors are the work queue's own
// (workqueue.ErrOverloaded, workqueue.ErrClosed).
var (
	// ErrUnauthorized: SysInv answered 401, or the keystone transport gave
	// up after one renewal. Retried while the budget lasts;
	// LoadHostRetry calls Config.Renew first.
	ErrUnauthorized = platform.ErrUnauthorized
	// ErrNotFound: SysInv answered 404. On an ihost update it makes the
	// client reload the host by name before the retry (see Client.Update);
	// a host that is no longer in the inventory ends the update. On a
	// sensor or group DELETE it ends the call at the first attempt, and
	// is a success on a retry (the record is gone).
	ErrNotFound = platform.ErrNotFound
	// ErrStatus: any other status outside 200–204. A 4xx other than 401,
	// 404, 408 and 429 is not retried.
	ErrStatus = platform.ErrStatus
	// ErrBadResponse: an answer that passed is empty, malformed, names
	// another host, or lacks or mistypes a field (see ParseHost and
	// ParseSensor). The chain holds a [*DecodeError]. Retried (SysInv's
	// updates are idempotent replaces).
	ErrBadResponse = platform.ErrBadResponse
	// ErrTransport: no complete answer (connection error, timeout).
	// Retried.
	ErrTransport = platform.ErrTransport
	// ErrInvalidArgument: the call was refused before anything was queued.
	ErrInvalidArgument = platform.ErrInvalidArgument
	// ErrInvalidConfig: wrapped by Config.Validate and New.
	ErrInvalidConfig = platform.ErrInvalidConfig
	// ErrPending: Call.Result before the call finished.
	ErrPending = platform.ErrPending
)

// Error is the error of one exchange with a platform service: Service,
// Op, Host, Method, URL (redacted), Status (0 without an answer), Kind (one
// of the sentinels above), Detail (an excerpt of the error body) and Err
// (the cause). It unwraps to Kind and Err.
type Error = platform.Error

// DecodeError names what is wrong in a response body: What, Field, Reason
// and an optional cause Err. It unwraps to ErrBadResponse and Err.
type DecodeError = platform.DecodeError

// Call is a queued request: a typed future over a workqueue.Handle. Its
// methods are Handle, Done, Wait(ctx) (T, error), Result() (T, error) and
// Cancel. The value is that of the attempt that succeeded; the error is the
// queue's *workqueue.Error whose cause is the last attempt's error.
type Call[T any] = platform.Call[T]
