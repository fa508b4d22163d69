// Package ipmitool is a bmc.Driver that runs the ipmitool program the way
// StarlingX does ("ipmitool -I lanplus -R 1 -H <ip> -U <user> -f <pwfile>
// <command>"), one process per operation. It is the fallback for BMCs the
// go-ipmi driver (package bmc/ipmi) cannot talk to, and the baseline of the
// benchmarks.
//
// # Guarantees
//
//   - The password never appears on a command line: it goes through a
//     fresh 0600 file in a private 0700 directory, removed after the
//     command ("-f", default), or through IPMI_PASSWORD in the child's
//     environment only ("-E").
//   - No shell is involved: ipmitool is exec'd directly with a minimal
//     environment (PATH, LANG=C, LC_ALL=C), so its output is parseable.
//   - Each process runs in its own process group; at CommandTimeout (or
//     when the caller's context ends) the whole group is killed, and Wait
//     gives up on inherited pipes after WaitDelay.
//   - "-C" is always passed (default suite 3), which also spares ipmitool
//     1.8.19's Get Channel Cipher Suites round (10 s against ipmi_sim).
//     "-R" is never 0: ipmitool reads 0 as "use my own schedule" (20 s).
//   - Capabilities come from "mc info" and a probe of "chassis
//     restart_cause" at Open. Calls on one Driver are serialised.
//   - Errors are classified from ipmitool's messages: "Invalid command"
//     → bmc.ErrNotSupported; a killed process → bmc.ErrTimeout; "Unable to
//     establish IPMI v2 / RMCP+ session", which ipmitool prints both for a
//     rejected login and for a BMC that never answered, → bmc.ErrTimeout
//     if at least one retransmission timeout (-N) elapsed, else
//     bmc.ErrAuth. Unparsable output is bmc.ErrProtocol.
//
// The output parsers are fuzzed (go test -fuzz FuzzParse... ./bmc/ipmitool).
package ipmitool
