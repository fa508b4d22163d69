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
// The flag -sim is reserved for the embedded demo (a whole simulated
// StarlingX system in one process); it is not built yet and exits 2.
package main
