// Package bmc talks to the baseboard management controllers (BMCs) of
// StarlingX hosts: power state and power actions, a one-time PXE boot,
// BMC information, the restart cause, and sensors.
//
// It is a leaf of metal-go: it imports no other package of this module.
//
// # Layout
//
//   - bmc (this package): the [Driver] interface, the vocabulary types,
//     typed errors, [Password], StarlingX's power semantics
//     ([PowerController]) and protocol learning ([Detect]).
//   - bmc/ipmi: IPMI 2.0 over RMCP+ ("lanplus") with github.com/bougou/go-ipmi.
//   - bmc/ipmitool: the same through the ipmitool program, as StarlingX runs
//     it today; fallback and benchmark baseline.
//   - bmc/redfish: Redfish over net/http.
//   - bmc/bmcsim: a Redfish BMC emulator (in memory or over loopback).
//   - bmc/bmctest: the driver conformance suite, an in-memory fake driver,
//     and a harness that starts OpenIPMI's ipmi_sim through
//     scripts/ipmisim/ipmisim.sh.
//
// # Drivers
//
// The [Driver] method set follows bmclib/v2's vocabulary (Open, Close,
// PowerStateGet, PowerSet with "on", "off", "soft", "reset", "cycle",
// BootDeviceSet) so that a bmclib-backed driver can be added where that
// module resolves. Every driver guarantees:
//
//   - every method takes a context and returns promptly, with an error
//     matching ctx.Err(), when the context ends, leaving no goroutine
//     behind;
//   - every method also has its own time limit, so a BMC that stops
//     answering yields an error matching [ErrTimeout] even when the
//     context never ends;
//   - [Driver.Capabilities], after Open, lists what this BMC supports
//     through this driver; every other operation returns [ErrNotSupported]
//     and does nothing (package bmctest checks this capability by
//     capability);
//   - errors are [*Error] values carrying a kind sentinel ([ErrTimeout],
//     [ErrAuth], [ErrTLS], [ErrUnreachable], [ErrProtocol], ...), usable
//     with errors.Is and errors.As;
//   - an action is never replaced by a weaker one behind the caller's
//     back: "off" cuts power (Redfish ForceOff) and "reset" is forced
//     (ForceRestart); a BMC that offers only GracefulShutdown or
//     GracefulRestart answers [ErrNotSupported] for them, and those
//     capabilities are not declared. StarlingX (mtcBmcUtil) silently sends
//     the graceful action instead; a caller that wants that behaviour opts
//     in per driver (redfish Config.GracefulFallback) and says so;
//   - sessions are always closed: Close is idempotent and bounded;
//   - credentials never appear on a command line, in a log record or in an
//     error: [Password] redacts itself everywhere.
//
// # Partial results
//
// Sensors reads several resources (on Redfish: a Sensors collection and
// its members, Thermal, Power, the fan and power supply subsystems, a
// blade's enclosure). When some answer and others fail, a driver returns
// the sensors it read together with an [*Error] of Kind [ErrPartial]
// wrapping a [*PartialError], whose Failures name each resource that
// failed and why. The returned sensors are then valid; a caller that
// cannot use an incomplete list treats ErrPartial as a failure. A partial
// error does not match the failures' own kinds (ErrTimeout, ...): a call
// that failed as a whole returns that error alone, with no sensors.
//
// # Power semantics
//
// [PowerController] implements StarlingX's rules (mtce since c18eabc): the
// power state is queried before every attempt; a host already in the
// target state is a success and nothing is sent; a reset of a powered-off
// host fails with [ErrPoweredOff]; attempts are spaced by the retry waits
// (power-off 30 s, power-on 5 s, reset 10 s) within an attempt budget.
//
// # Protocol learning
//
// [Detect] implements bm_type "dynamic": a Redfish service root with
// RedfishVersion >= 1.0 selects Redfish and is the only result to persist;
// a clean negative selects IPMI for now; TLS, authentication and timeout
// failures, and a redirect of the service root, are errors, never an IPMI
// verdict. Error bodies, Redfish or not, are kept in error texts
// ([BodyText]). StarlingX stored IPMI on any
// send/receive failure, so a Redfish BMC with a self-signed certificate
// was remembered as IPMI for good; this package deliberately does not.
//
// # Caller duties
//
//   - Call Open before anything else and Close when done.
//   - Persist a [Detection] only when Learned is true.
//   - Check Sensors errors for [ErrPartial] before treating them as a
//     failure of the BMC.
//   - Decide, and state in the agent's configuration, whether a hard
//     power-off or reset may fall back to the graceful action on BMCs that
//     do not offer the forced one (off by default).
//   - Keep TLS verification on; give a CA (RootCAs/CAFile) for BMCs with
//     private certificates. InsecureSkipVerify is logged at Warn level
//     every time it is used.
//   - Serialise power requests per host yourself if two requests could
//     race: drivers serialise their own calls, PowerController does not.
package bmc
