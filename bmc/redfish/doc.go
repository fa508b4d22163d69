// Package redfish is a bmc.Driver for Redfish BMCs, written on net/http
// (gofish and bmclib do not resolve through this project's module proxy).
//
// # What it does
//
//   - Open reads the service root (GET /redfish/v1/, unauthenticated),
//     logs in when Auth is AuthSession, picks the system (Config.SystemID or
//     the first member of Systems) and learns: the ComputerSystem.Reset
//     target and its ResetType@Redfish.AllowableValues (inline, or through
//     @Redfish.ActionInfo), whether the Boot override exists and accepts
//     Pxe, the chassis' Thermal and Power resources, and the manager.
//     Capabilities follow from what the BMC advertised.
//   - PowerSet maps actions onto the advertised ResetType values, in
//     StarlingX's order of preference: on → On, ForceOn; off → ForceOff,
//     GracefulShutdown; soft → GracefulShutdown; reset → ForceRestart,
//     GracefulRestart; cycle → PowerCycle, else ForceOff, wait for Off
//     (CycleOffTimeout, polled every CyclePollInterval), then On/ForceOn.
//   - BootDeviceSet PATCHes the system's Boot object
//     (BootSourceOverrideTarget Pxe, BootSourceOverrideEnabled Once) with
//     the system's current ETag in If-Match, retrying once on 412.
//   - Sensors reads Thermal (Temperatures, Fans) and Power (Voltages,
//     PowerSupplies, PowerControl) with their thresholds; the status is the
//     worse of the threshold classification and the BMC's Status.Health.
//   - RestartCause is ErrNotSupported: Redfish has no standard equivalent.
//
// # Guarantees
//
//   - TLS certificates are verified by default (system roots, or RootCAs /
//     CAFile). InsecureSkipVerify must be set explicitly and is logged at
//     Warn level by New and by every Open.
//   - Every request has a deadline (Timeout, default 30 s): a hung BMC is
//     bmc.ErrTimeout; the caller's own cancellation is reported as such.
//   - Errors are classified: 401/403 → bmc.ErrAuth, TLS → bmc.ErrTLS,
//     malformed JSON and unexpected statuses → bmc.ErrProtocol, 405/501 →
//     bmc.ErrNotSupported, network failures → bmc.ErrUnreachable.
//   - Links found in documents are followed only if they are plain
//     /redfish/ paths on the same BMC, and redirects are not followed, so a
//     BMC cannot send the credentials elsewhere. No proxy from the
//     environment is used.
//   - In session mode a 401 triggers exactly one new login; Close deletes
//     the session (bounded by min(Timeout, 5 s)). Basic auth (the default)
//     holds no server-side session at all.
//   - A Driver is safe for concurrent use.
//
// The decoders are fuzzed (go test -fuzz FuzzDecode... ./bmc/redfish).
package redfish
