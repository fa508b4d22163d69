// Command mtcclient is the StarlingX maintenance client daemon: a thin main
// around opendev.org/starlingx/metal-go/mtce/client, run on every host.
//
// It reads /etc/mtc.conf and /etc/mtc.ini (client role) and
// /etc/platform/platform.conf under -root, waits (every 5 s, as mtcClient
// does) until platform.conf names the subfunction and the management
// interface, takes the management address and MAC from that interface
// (and the cluster-host address from cluster_host_interface) unless flags
// give them, resolves the controller names, binds its UDP sockets and
// serves: mtcAlive every 5 s, the goenabled tests, the host-services
// auto-start and the agent's commands.
//
// # Safety
//
// By default (-actions refuse) reboot, reset, wipedisk and lazy reboot are
// ACKed, logged and counted, and nothing is done to the machine. Only
// -actions system runs "systemctl reboot", "systemctl reboot --force" and
// "wipedisk --force", each executed directly without a shell.
//
// # Operation
//
//   - Logs: go-hclog text on stderr (--log-json for JSON lines,
//     --log-level trace|debug|info|warn|error).
//   - Metrics: Prometheus text on http://-metrics/metrics (loopback or a
//     unix socket only; "" disables) — mtcclient_mtcalive_sent_total,
//     mtcclient_commands_total, mtcclient_script_sets_total,
//     mtcclient_results_sent_total and more — and /healthz (200 once
//     ready).
//   - systemd: Type=notify; READY=1 once serving, STOPPING=1 at shutdown,
//     the watchdog fed when WatchdogSec= is set. Use
//     RestartPreventExitStatus=78.
//   - SIGTERM or SIGINT drains: receiving stops, a running script set may
//     finish for up to -drain (its result is still sent), then its process
//     groups are killed; the process exits 0 (1 if the drain itself
//     overran).
//   - Exit statuses: 0 clean, 1 failure, 2 bad flags, 78 bad configuration
//     (one line on stderr naming the file and key, or the flag).
//
// Flags: run mtcclient --help.
package main
