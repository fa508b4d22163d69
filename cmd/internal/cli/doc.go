// Package cli holds what the daemons' mains share on their command line:
// the common flags (--version, --log-json, --log-level), the version
// string, exit statuses, and the one-line message for a configuration
// error.
//
// # Guarantees
//
//   - VersionString uses Version when it was set with -ldflags -X, and
//     otherwise the module's build information (runtime/debug), so that
//     "go install …@v1.2.3" reports v1.2.3; it always names the Go
//     version and platform.
//   - ConfigError returns exactly one line, starting with the program's
//     name and naming the file and, when known, the section and key:
//     `mtcagent: /etc/mtc.ini: [agent] keystone_auth_port: "abc" is not a
//     port`. Values of secret-looking keys (…_pw, …password…, …passwd…,
//     …secret…) are printed as [redacted].
//   - Parse never calls os.Exit: it returns whether to exit and the status.
//
// # Caller duties
//
//   - Print ConfigError's line on stderr and exit with ExitConfig; in the
//     unit file, RestartPreventExitStatus=78 keeps systemd from restarting
//     a daemon whose configuration is wrong.
//   - Values the daemon checks itself (ports, addresses) should be
//     reported as *ValueError so that they name their file and key.
package cli
