// Package sdnotify tells systemd a daemon's state (READY=1, STOPPING=1,
// RELOADING=1, STATUS=) and keeps its watchdog fed (WATCHDOG=1), through
// github.com/coreos/go-systemd/v22/daemon.
//
// # Guarantees
//
//   - Without NOTIFY_SOCKET every call is a no-op that returns nil, and
//     Watchdog returns at once: a daemon started outside systemd, or
//     under Type=simple, behaves the same.
//   - Watchdog pings once at start and then every WATCHDOG_USEC/2 (the
//     interval systemd's sd_watchdog_enabled(3) recommends), until its
//     context is done. It is off when WATCHDOG_USEC is unset or invalid or
//     WATCHDOG_PID names another process. It runs on the caller's
//     goroutine; StartWatchdog owns one goroutine and its stop function
//     joins it.
//   - The environment is read, not changed: child processes inherit
//     NOTIFY_SOCKET.
//
// # Caller duties
//
//   - Send Ready only once the daemon serves (sockets bound, configuration
//     loaded), and Stopping when the drain begins.
//   - Run the unit with Type=notify (or notify-reload) and the default
//     NotifyAccess=main, so that messages from children (host-services
//     scripts inheriting NOTIFY_SOCKET) are ignored.
//   - Feed the watchdog from a goroutine whose liveness means something:
//     pinging from a goroutine that keeps running while the daemon's work
//     is stuck hides the hang that WatchdogSec= exists to catch.
package sdnotify
