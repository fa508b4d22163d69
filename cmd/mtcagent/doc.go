// Command mtcagent is the maintenance agent of a StarlingX controller,
// built on the metal-go SDK: a thin main around package mtce/agent, which
// holds everything the agent does (start-up, the port-2112 event API, host
// actions over UDP and the BMC, the hardware-monitor role). Read that
// package's documentation for what the reference agent does and what of
// StarlingX's mtcAgent it does not do.
//
// Usage:
//
//	mtcagent [--root DIR] [--hostname NAME] [--metrics ADDR] [--admin ADDR]
//	         [--drain DURATION] [--log-json] [--log-level LEVEL] [--version]
//
// Configuration is StarlingX's own files, read under --root (default "/"):
// /etc/mtc.conf, /etc/mtc.ini, /etc/platform/platform.conf,
// /etc/sysinv/sysinv.conf, /etc/barbican/barbican.conf and the VIM's
// /etc/nfv/nfv_plugins/nfvi_plugins/config.ini. packaging/sample holds a
// complete tree; packaging/systemd/mtcagent.service a unit file.
//
// # Operation
//
//   - Logs go to stderr, rendered by go-hclog (text; JSON with --log-json).
//     Tokens and passwords never appear in a line.
//   - Prometheus metrics and /healthz are served on --metrics, a loopback
//     address or a unix socket only (127.0.0.1:9102 by default); /healthz
//     answers 200 once the agent is ready.
//   - The admin API (--admin, unix:/run/mtc/mtcagent.sock by default, the
//     socket created mode 0600; a loopback host:port is accepted) answers
//     GET /v1/hosts and GET /v1/status with JSON, and takes
//     POST /v1/hosts/{name}/{action} through the same admission as the event
//     API. Nothing is served on a non-loopback address.
//   - systemd: READY=1 once the inventory is loaded and the event API
//     serves, STOPPING=1 when the drain starts, WATCHDOG=1 when WatchdogSec=
//     is set, RELOADING=1 around a reload.
//   - SIGTERM or SIGINT starts a graceful drain bounded by --drain; a second
//     one, or the deadline, ends it with exit status 1.
//   - SIGHUP re-reads /etc/mtc.conf and /etc/mtc.ini and applies what the
//     agent can change while running (agent.Agent.Reload says what); a file
//     that no longer parses changes nothing and is logged.
//   - Exit status: 0 after a clean shutdown; 1 on a failure while running
//     (among them the start-up inventory load giving up) or a drain that
//     timed out; 2 on bad flags; 78 (EX_CONFIG) on bad or missing
//     configuration, with one line on stderr naming the file and key. The
//     unit file's RestartPreventExitStatus=78 keeps systemd from restarting
//     a daemon whose configuration is wrong.
//
// # The embedded demo: -sim
//
//	mtcagent -sim [-system aio-duplex|standard] [-workers N] [-tour] [--log-level LEVEL] [--admin ADDR]
//
// runs a whole simulated StarlingX system in this one process, over
// loopback, with nothing installed (package mtce/demo): Keystone, SysInv,
// SM, VIM and Barbican from mtce/sim; per host a real mtcClient
// (mtce/client) bound to its own 127.x.y.z address, with real host-services
// scripts of about a second and goenabled tests in a temporary directory,
// and a Redfish BMC emulator (bmc/bmcsim); the agent on the active
// controller, bound to the floating controller address. AIO duplex (two
// controller+worker hosts) by default; -system standard -workers N gives two
// controllers and N workers. --log-level sends the components' own logs to
// stderr (not with the table); --admin, when given, serves the demo's admin
// API there (GET /v1/hosts and /v1/status of the running agent, GET
// /v1/demo, POST /v1/hosts/HOST/ACTION through the simulated SysInv). Every
// other flag is ignored with -sim. It runs on Linux (all of 127/8 is on
// lo); elsewhere it exits 1 saying so.
//
// When stdout is a terminal a table is redrawn in place (hosts, their
// states, task, uptime, last mtcAlive, host-services state, the agent's
// action; the token's age and renewals by cause; the work queue; the
// swact's stage and elapsed time) with the last events under it; otherwise
// one plain line per event. When stdin is a terminal it reads commands:
// swact, lock HOST, unlock HOST, reboot HOST, reset HOST, power-off HOST,
// power-on HOST, force-lock HOST, corrupt-token, fail-scripts HOST [off],
// status, help, quit. Actions go in as "system host-<action>" does: to the
// simulated SysInv, which hands them to the agent's event API. Nothing is
// done to the machine: the clients' reboot, reset and wipedisk are
// simulated reboots. A swact moves the agent: SM stops it (it drains) and a
// new one starts on the other controller.
//
// -tour runs a scripted tour without a prompt and with plain lines: lock
// controller-1 → its services stopped → unlock → its reboot → controller
// then worker services, one result each → enabled → swact to controller-1
// with the agent's token corrupted as it starts → activity on
// controller-1. Each step has a stated wall-time bound; the exit status is
// 0 when every step reached its expected state within it, else 1 with a
// line naming the step.
//
// Ctrl-C (SIGINT) or SIGTERM stops everything at any moment, exit status
// 0: no process and no temporary directory is left behind.
package main
