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
//     Pxe, the chassis' sensor resources (and, for a blade, those of the
//     enclosure in its Links.ContainedBy), and the manager. Capabilities
//     follow from what the BMC advertised. A Reset @Redfish.ActionInfo
//     that answers 404 counts as no list: every ResetType may be tried.
//   - PowerSet maps actions onto the advertised ResetType values: on → On,
//     ForceOn; off → ForceOff; soft → GracefulShutdown; reset →
//     ForceRestart; cycle → PowerCycle, else ForceOff, wait for Off
//     (CycleOffTimeout, polled every CyclePollInterval), then On/ForceOn.
//     A forced action is never replaced by a graceful one: without
//     ForceOff (ForceRestart) among the AllowableValues, off (reset) is
//     bmc.ErrNotSupported and not a declared capability.
//     Config.GracefulFallback opts in to StarlingX's fallback
//     (mtcBmcUtil): off → GracefulShutdown, reset → GracefulRestart when
//     the forced value is missing, logged at Warn level each time. StarlingX does this
//     silently and reports success; a graceful shutdown that the host OS
//     ignores then leaves an "off" host running.
//   - BootDeviceSet PATCHes the system's Boot object
//     (BootSourceOverrideTarget Pxe, BootSourceOverrideEnabled Once) with
//     the system's current ETag in If-Match, retrying once on 412.
//   - Sensors reads both Redfish sensor models. The newer one (Redfish
//     2020.4 on): Chassis/{id}/Sensors (every member by ReadingType:
//     Temperature, Voltage, Current, Power, Rotational → fan, Percent → fan
//     when PhysicalContext is Fan, energy and others → "other"; Reading,
//     ReadingUnits, Status, Thresholds), ThermalSubsystem → Fans (each
//     fan's SpeedPercent.Reading in Percent, else SpeedRPM) and
//     PowerSubsystem → PowerSupplies → Metrics (PowerSupplyMetrics: output
//     power as "<supply>", "<supply> Input Voltage", "<supply> Input
//     Power"). The older one: Thermal (Temperatures, Fans) and Power
//     (Voltages, PowerSupplies, PowerControl). Units are named the same
//     either way ("degrees C", "Volts", "Amps", "Watts", "RPM", "Percent").
//     The status is the worse of the threshold classification and the
//     BMC's Status.Health.
//   - No sensor is counted twice. Where the chassis has a Sensors
//     collection (and it can be read), Thermal and Power are not read (they
//     are deprecated views of the same sensors), and fans and power supply
//     metrics whose DataSourceUri points into the collection are skipped.
//     Otherwise a subsystem fan or supply whose Id, @odata.id or
//     DataSourceUri matches an older-model entry's MemberId or @odata.id is
//     skipped. An entry without any such link that repeats a reading under
//     another identity cannot be recognised and is reported.
//   - A blade's enclosure (Links.ContainedBy, followed once, not further)
//     is read too; its sensors are named "<enclosure Id>/<name>", so every
//     blade's copy of a shared fan or supply is recognisably the same.
//   - When some sensor resources fail, Sensors returns what it read and an
//     error of Kind bmc.ErrPartial wrapping a *bmc.PartialError that names
//     each failed resource. A timeout, TLS, authentication or connection
//     failure stops the walk (one Timeout, not one per resource); if
//     nothing was read at all, that error is returned alone. Collection
//     members are read with up to MaxParallelRequests requests in flight,
//     or inline with $expand=. where the service root advertises
//     ExpandQuery.NoLinks.
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
//     bmc.ErrNotSupported, network failures → bmc.ErrUnreachable. The
//     text of an error body, Redfish or not, is kept (bmc.BodyText).
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
