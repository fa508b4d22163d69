// Package client is StarlingX's maintenance client (mtcClient), the process
// on every host that tells the agent it is alive and runs what the agent
// asks of it (spec sections E, F, K.2–K.5, K.8). [New] builds a [Client]
// from a [Config]; [Client.Run] serves until its context ends;
// [Client.Close] releases it. cmd/mtcclient is the daemon around it.
//
// # What it does
//
//   - Identity: the host name, management address and MAC, and the
//     cluster-host and pxeboot addresses come from the Config (the daemon
//     reads them from the interfaces platform.conf names, flags override);
//     node functions, the subfunction text and the system type come from
//     platform.conf (config.LoadPlatform).
//   - mtcAlive: 1 s after start, then every 5 s, on each provisioned
//     network: mgmt to the floating controller address, cluster-host to
//     every controller-N-cluster-host address, pxeboot to the learned
//     controller pxeboot addresses (never on AIO simplex). Each carries
//     the uptime, the health (.config_pass/.config_fail), the flags of spec
//     F.4 read from the real flag files under Config.Root (configured,
//     locked, goenabled and, on AIO controllers, the subfunction ones,
//     patching, SM degraded, SM unhealthy debounced over 6 messages, the
//     goenabled-failed files) and the host-services failure flags of the
//     scheduler's last results (E.2), the identity JSON of K.2, and a
//     per-network sequence number starting at 1. An mtcAlive request
//     (cmd 6) gets an immediate mtcAlive only over pxeboot, and teaches
//     the client the controllers' pxeboot addresses; over mgmt and
//     cluster-host it gets nothing, not even an ACK. The ready event
//     (K.3) goes out at start and every 60 s over mgmt and, once the
//     active controller's pxeboot address is known, over pxeboot.
//     LUKS_VOL_FAILED follows "cryptsetup status luks_encrypted_vault"
//     when Config.Cryptsetup is set (run at start and every 5 s, bounded,
//     off the mtcAlive path).
//   - GoEnabled (E.1): once /etc/platform/.initial_config_complete and
//     /var/run/.goenabled exist, the tests of /etc/goenabled.d run, if
//     /var/run/goenabled is absent, all in parallel, directly (no shell),
//     under one timeout (goenabled_timeout), and write /var/run/goenabled
//     or /var/run/goenabled_failed (holding the failure text). On an AIO
//     controller the subfunction tests follow, gated on
//     /var/run/.worker_config_complete and /var/run/.goenabled_subf, and
//     write goenabled_subf or goenabled_subf_failed.
//   - GoEnabled requests (cmds 9 main, 10 subfunction; K.8): ACKed at
//     once; the set's tests then run (a run in progress, the start-up one
//     included, is joined rather than repeated), their flag files are
//     written, and one goEnabled message answers over mgmt — 7 or 8 when
//     they passed, 11 or 12 with the failure text — consuming a mgmt
//     sequence number. Requests that arrive while one is being answered
//     share its answer. StarlingX's agent sends these requests; this
//     module's agent reads the mtcAlive flags instead.
//   - Auto-start (E.3) through hostsvc's Scheduler, for every node type:
//     nothing while /var/run/.node_locked exists; an AIO controller waits
//     for goenabled_subf and starts controller, then worker services;
//     other nodes wait for goenabled and start their main function; a
//     goenabled-failed file gives up.
//   - Reboot semantics: a reboot empties /var/run and keeps /etc/platform
//     and /var/persist. Locked (cmd 13) creates /var/run/.node_locked and,
//     with parm[0] = 1, /var/persist/mtc/.node_locked (else removes it);
//     Run recreates the first from the second at start, so a locked host
//     that rebooted does not auto-start (I.3). Unlocked (cmd 24) removes
//     both.
//   - Commands (K.8): a command whose ver ≥ 1 carries another MAC, and
//     does not come from the host's own address, is dropped silently (no
//     ACK, counted). Host-services start and stop (cmds 14–19) are ACKed
//     on receipt with the enhanced magic, then handed to the scheduler;
//     exactly one result (cmd 21) follows per executed set. A start only
//     sets the scheduler's request, so it coalesces with the auto-start
//     and other starts (E.4): one run, one result, for all of them; a
//     start of one of the auto-start's commands that comes while the
//     auto-start still waits for goenabled is held for it (it runs once,
//     after goenabled) unless the auto-start gives up, when it runs as
//     asked. Script paths in result and goenabled texts are given as the
//     host sees them, relative to Config.Root.
//     Reboot, reset, wipedisk and lazy reboot are ACKed, then the
//     configured [Actions] run. Every other command is ACKed, except 6,
//     12, 22 and 23.
//
// # Differences from StarlingX, on purpose
//
//   - An empty script set gives one PASS result at once. StarlingX's
//     client sends none since dab9c47 (and ~20 a second before it), so its
//     agent waits host_services_timeout + 5 s = 305 s and logs a timeout.
//   - A PASS result names the command that ran; StarlingX names the last
//     auto-started command (or "none"), even for a stop.
//   - The result status follows the outcome, not a search for "failed" or
//     "timeout" in the text (see wire.NewHostServicesResult).
//   - The auto-start re-checks the locked flag while it waits (hostsvc).
//   - A start request that comes before goenabled passed waits for the
//     auto-start instead of running at once and again after goenabled.
//   - A goEnabled message's buffer is the failure text alone (empty when
//     the tests passed); StarlingX appends the mtcAlive JSON tail to it
//     (wire.NewGoEnabled). A subfunction request to a host without the
//     worker subfunction is answered "failed" rather than running the
//     main tests' directory.
//   - The LUKS check is off unless Config.Cryptsetup is set (StarlingX
//     always runs it, so a host without the vault would report a
//     failure); collectd and pmon are not stopped before a reboot.
//
// # Observing it
//
// Config.OnEvent receives typed [Event]s — script sets starting and done
// (with whether the one result was sent), the auto-start's requests,
// goenabled runs and replies, machine actions — so that a caller (the
// demo, a test) need not parse logs. Collector gives the same as counters.
//
// # Safety
//
// The library does nothing to the machine unless told how: with the zero
// [Actions], reboot, reset, wipedisk, lazy reboot and the failsafe reboot
// are refused, logged at warning level and counted. [SystemActions] gives
// the real ones ("systemctl reboot", "systemctl reboot --force",
// "/usr/local/bin/wipedisk --force", each executed without a shell);
// simulators set their own functions. The test suite runs with sentinel
// executables named systemctl and wipedisk first in PATH, and fails if
// either runs.
//
// # Shutdown
//
// When Run's context ends the client stops receiving and sending
// mtcAlive, lets a running script set finish for at most Config.Drain (its
// result is still sent) without starting pending ones, then kills the
// scripts' process groups, waits for every goroutine and returns. Close
// does the same, then closes the sockets.
//
// # Time and tests
//
// Every timer (mtcAlive period, flag-file polls, lazy-reboot delay,
// failsafe, drain bound, script timeouts) uses package time, so the client
// runs in a testing/synctest bubble with an in-memory [PacketConn] and a
// fake hostsvc.Launcher.
//
// # Caller duties
//
//  1. Load mtc.conf with config.RoleClient and platform.conf, and wait for
//     Platform.Ready before New.
//  2. Give the real management MAC: the agent addresses every command.
//  3. Call Run once, and Close after it (or instead of it).
//  4. Register Collector on your own registry if you export metrics.
//  5. Set Actions explicitly to let the client reboot the machine.
package client
