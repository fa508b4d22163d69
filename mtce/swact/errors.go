package swact

import (
	"errors"

	"opendev.org/starlingx/metal-go/mtce"
)

// Errors. Request's rejections are [*RejectError] values that unwrap to one
// of the first seven; test with errors.Is.
var (
	// ErrSwactInProgress: the swact mutex is held (a swact is running, its
	// final task string is still shown, or the mutex was set without one).
	// Every other admin action on the host must be rejected the same way
	// while [Controller.Held] reports true (spec C.1).
	ErrSwactInProgress = errors.New("swact: swact in progress")
	// ErrNodeType: the host's personality is not controller.
	ErrNodeType = errors.New("swact: not a controller")
	// ErrNoInServiceMate: the mate controller is not unlocked-enabled.
	ErrNoInServiceMate = errors.New("swact: no in-service mate controller")
	// ErrOperInProgress: the host is in an admin action other than none
	// or add.
	ErrOperInProgress = errors.New("swact: operation in progress")
	// ErrPatchInProgress: the host, or its mate, is being patched.
	ErrPatchInProgress = errors.New("swact: patching in progress")
	// ErrPatchedNoReboot: a plain swact to a mate that is patched but not
	// rebooted (force-swact skips this check).
	ErrPatchedNoReboot = errors.New("swact: mate patched, not rebooted")
	// ErrSimplex: /etc/platform/simplex exists (checked at each request).
	ErrSimplex = errors.New("swact: simplex system")

	// ErrInvalidRequest: the request lacks a host name or UUID.
	ErrInvalidRequest = errors.New("swact: invalid request")
	// ErrInvalidConfig wraps every error of Config.Validate and New.
	ErrInvalidConfig = errors.New("swact: invalid config")
	// ErrClosed: the controller is closed.
	ErrClosed = errors.New("swact: closed")
)

// InProgressReason is the exact rejection text of a request made while the
// swact mutex is held (spec C.3, from StarlingX's adb246c test plan).
const InProgressReason = "Operation Rejected: Swact operation on this host already in-progress. Wait for current operation to complete and then retry."

// RejectError is a refused swact request: the return code the agent's
// event API turns into its reply (spec J.9), the reason and hint texts,
// and the sentinel it unwraps to.
type RejectError struct {
	Code mtce.RC
	Host string
	// Reason and Hint are the reply's texts. Only InProgressReason is
	// StarlingX's exact text; the others are paraphrases of J.9's gist
	// (Paraphrased is then true), since the exact texts of
	// _create_error_response are not in the spec.
	Reason      string
	Hint        string
	Paraphrased bool

	kind error
}

func (e *RejectError) Error() string { return "swact: " + e.Host + ": " + e.Reason }

// Unwrap returns the sentinel (ErrSwactInProgress, ...).
func (e *RejectError) Unwrap() error { return e.kind }

// reject builds a RejectError. The texts of every kind but swact-in-progress
// are PARAPHRASES of spec J.9 (marked Paraphrased), not StarlingX's exact
// wording.
func reject(kind error, host string) *RejectError {
	e := &RejectError{Host: host, kind: kind, Paraphrased: true}
	switch kind {
	case ErrSwactInProgress:
		e.Code, e.Reason, e.Paraphrased = mtce.FailSwactInProgress, InProgressReason, false
		e.Hint = "Wait for current operation to complete and then retry."
	case ErrNodeType: // paraphrase
		e.Code, e.Reason, e.Hint = mtce.FailNodeType, "Swact is not supported for this host", "Swact applies to controllers only"
	case ErrNoInServiceMate: // paraphrase
		e.Code, e.Reason, e.Hint = mtce.FailSwactNoInsvMate, "No unlocked-enabled controller to take over services", "Enable the mate controller and retry"
	case ErrOperInProgress: // paraphrase
		e.Code, e.Reason, e.Hint = mtce.FailOperInProgress, "A user operation is already running on this host", "Retry when it has completed"
	case ErrPatchInProgress: // paraphrase
		e.Code, e.Reason, e.Hint = mtce.FailPatchInProgress, "Swact is not allowed while patching is in progress", "Wait for patching to complete"
	case ErrPatchedNoReboot: // paraphrase
		e.Code, e.Reason, e.Hint = mtce.FailPatchedNoReboot, "The mate controller's patches are not loaded", "Lock and unlock the mate controller, then retry"
	case ErrSimplex: // our text: StarlingX writes none (see the package documentation)
		e.Code, e.Reason, e.Hint = mtce.Fail, "Swact is not possible on a simplex system", "Add a second controller"
	}
	return e
}
