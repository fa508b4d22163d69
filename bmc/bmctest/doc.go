// Package bmctest helps test code that uses bmc drivers, and drivers
// themselves.
//
//   - [Run] is the conformance suite of the bmc.Driver contract: given a
//     driver factory and the hardware behind the BMC ([Backend]), it checks
//     capability by capability that every declared operation works and has
//     its effect on the hardware, that every other one answers
//     bmc.ErrNotSupported without effect, the open/close life cycle,
//     concurrent use, cancellation, a hung BMC (bmc.ErrTimeout within a
//     budget, then recovery) and rejected credentials (bmc.ErrAuth). It runs
//     in wall time against real or emulated BMCs.
//   - [Fake] is an in-memory driver and Backend with scripted failures,
//     ignored actions and a hung mode; its waits use timers, so it works
//     in a testing/synctest bubble (the PowerController tests use it).
//   - [StartIPMISim] starts OpenIPMI's ipmi_sim (Debian package openipmi)
//     on 127.0.0.1, on a free UDP port and in the test's temporary
//     directory, through this module's scripts/ipmisim/ipmisim.sh, and
//     stops it at the end of the test. The returned [IPMISim] is a Backend
//     reading the simulator's hardware files; Hang pauses it (SIGSTOP).
//     The script is found from $METALGO_IPMISIM_SCRIPT or by walking up
//     from the test's working directory to this module's go.mod.
//   - [SimBackend] adapts a bmcsim Redfish emulator to Backend.
//
// Real peers: [RequirePeer] fails the test when ipmi_sim or ipmitool is
// missing and CI=true, and skips it with a message otherwise.
package bmctest
