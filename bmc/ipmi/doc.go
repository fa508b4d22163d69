// Package ipmi is a bmc.Driver for IPMI 2.0 BMCs over RMCP+ ("lanplus"),
// built on github.com/bougou/go-ipmi v0.9.1.
//
// # Mapping
//
// Power state: Get Chassis Status. Power actions: Chassis Control (power
// up, power down, soft shutdown, hard reset, power cycle). Boot device: Set
// System Boot Options, boot flags (one-time unless persistent). BMC info:
// Get Device ID. Restart cause: Get System Restart Cause, probed at Open
// because it is optional (OpenIPMI's ipmi_sim answers "invalid command",
// so that capability is then not declared). Sensors: every SDR sensor,
// with reading, unit, threshold status and readable thresholds.
//
// # Guarantees
//
//   - The cipher suite is always explicit (default 3). go-ipmi would
//     otherwise first query the BMC's suites, which ipmi_sim never answers
//     (5 s lost per connect); with ipmi_sim, suite 2 crashes the simulator
//     and suites 1, 6 and 0 fail.
//   - Sessions are always closed: per call (SessionPerCall, default) or at
//     Close (SessionReuse). ipmi_sim's session table fills after about 63
//     leaked sessions. A call cut short by the caller's own deadline or
//     cancellation still logs its session out when the BMC was answering
//     (one more exchange, bounded by Timeout): such an end says nothing
//     about the BMC. Limits: a session whose BMC stopped answering cannot
//     be closed, and one cut between Open Session and RAKP message 4 is
//     half-open (ipmi_sim does not answer Close Session for it); both are
//     left to the BMC's inactivity timeout (ipmi_sim: 30-60 s).
//   - A call whose context deadline passes returns an error matching
//     context.DeadlineExceeded, even when go-ipmi's read, whose deadline it
//     clamps to the context's, gives up a moment before the context's own
//     timer fires.
//   - Every exchange has a read deadline (Timeout, default 1 s) and is
//     resent Retries times (default 1), and every call is bounded by
//     CallTimeout (default 15 s): a stopped or hung BMC is bmc.ErrTimeout
//     after about (Retries+1) × Timeout; a refused port is
//     bmc.ErrUnreachable.
//   - No goroutine outlives a call. go-ipmi leaves its exchange goroutine
//     blocked in a read until the read deadline when the caller's context
//     is cancelled; the driver hands go-ipmi its own socket wrapper, cuts
//     that read short and waits for it before returning.
//   - Calls on one Driver are serialised (one exchange in flight per BMC).
//   - Rejected credentials are bmc.ErrAuth. go-ipmi v0.9.1 flattens the
//     RAKP errors of a failed connect into text, so they are recognised by
//     the messages of go-ipmi's own error values.
//
// # Caller duties
//
// Call Open (which checks the credentials) before anything else and Close
// at the end, also in SessionReuse mode, where go-ipmi keeps the session
// alive with a goroutine until Close.
package ipmi
