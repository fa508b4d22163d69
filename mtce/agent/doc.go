// Package agent is the maintenance agent (StarlingX's mtcAgent) as a
// library: it composes the packages of this module into the process that
// runs on the active controller. cmd/mtcagent is a thin main around it;
// tests and demos can run several agents in one process.
//
// # Usage
//
//	cfg, err := agent.Load(agent.Paths{Root: "/"}, logger) // mtc.conf, mtc.ini, platform.conf, endpoint files
//	a, err := agent.New(cfg)
//	go a.Run(ctx)                                          // start-up, then serve until ctx ends
//	<-a.Ready()
//	reg.MustRegister(a.Collector())
//	http.Serve(adminListener, a.AdminHandler())
//	...
//	a.Reload(newMtc)                                       // SIGHUP
//	a.Close()                                              // or cancel ctx
//
// # Composition
//
// One keystone.Manager gets and renews the token; its keystone.Transport
// carries every SysInv, SM and Barbican call (the VIM takes no token). One
// workqueue.Queue, gated by the Manager, is shared by the SysInv, SM, VIM
// and Barbican clients (Barbican on "<host>/barbican" lanes). The
// swact.Controller runs swacts; its mutex refuses every other action while
// held (C.1). The eventapi.Handler serves SysInv, VIM and SM on the event
// port; the Agent is its Backend. UDP goes through a [PacketConn]
// (*wire.Transport by default). BMC power goes through
// bmc.PowerController with a Redfish or IPMI driver chosen by bm_type
// ("dynamic" is detected with bmc.Detect), or Config.NewBMC. The
// hardware-monitor role (package mtce/hwmon, StarlingX's hwmond) runs in
// the agent (Config.HardwareMonitor, default on): a sensor audit of every
// host with a provisioned BMC every 2 minutes, with its own work queue and
// its own SysInv client (User-Agent hwmon/1.0), so that sensor writes never
// sit ahead of SM, VIM and SysInv state calls on a host's lane; it shares
// the agent's one token manager — a deliberate deviation from spec B.6,
// where hwmond has a token of its own. Component lifetimes are owned by an
// errgroup in Run.
//
// # Start-up (Run)
//
//  1. The first token: Run blocks until Keystone gives one (the Manager
//     retries with capped spacing), logging every 30 s what it waits for,
//     "Keystone unreachable" and "Keystone rejects the credentials"
//     distinctly.
//  2. The inventory (B.7): the agent's own record (Config.Hostname), then
//     the whole host list, Config.InventoryAttempts (api_retries + 10)
//     times, 15 s apart; a 401 that the transport's one renewal did not
//     cure forces another renewal inside the loop. After the last failure
//     Run returns an error wrapping [ErrInventory] and the last error.
//  3. The sockets (event API on 127.0.0.1:inv_event_port, UDP on
//     mtc_agent_port) unless injected, then Ready is closed. BMC passwords
//     are fetched afterwards, in the background.
//
// Cancelling Run's context (SIGTERM) or Close at any point ends Run
// promptly; it returns nil then.
//
// # Guarantees
//
//   - Every goroutine Run starts (event server, receive loop, offline
//     audit, host actions, password fetches, and those of the Manager,
//     queue, swact controller and transport) has ended when Run returns.
//     Close is idempotent and returns within Config.CloseTimeout + 1 s.
//   - Admission is the event API's: [Agent.Transact] runs each decision
//     with the host records locked, so prechecks and acceptance are one
//     step; the accepting methods record and return at once and the
//     action runs afterwards on the host's own goroutine (J.10). A new
//     action on a host cancels the running one and starts when it has
//     ended. [Agent.Request] (the admin API) sends a SysInv-style modify
//     through the same handler in process, so it gets exactly the same
//     checks, the swact mutex included.
//   - An add is unfinished (Host.Adding, VIM's host list 202) until the
//     host's first mtcAlive or, at the latest, host_add_delay plus the
//     offline threshold after the request.
//   - Offline rule: a host is offline when no mtcAlive arrived for
//     offline_period × offline_threshold, raised to at least
//     [MinOfflineAfter] (11 s: two 5 s mtcAlive intervals and a second,
//     so one lost datagram never does it) and capped at [MaxOfflineAfter]
//     (10 min); checked every second. StarlingX's 100 ms × 90 is raised
//     to 11 s. A host is online at its first mtcAlive. At start the
//     inventory's availability is believed for one threshold. The
//     agent's own host is never made offline by this rule.
//   - Reboot detection: an mtcAlive whose uptime is below the last one's,
//     or, on the mgmt network from the mgmt IP, whose sequence did not
//     advance while its uptime did, by at least 2 s less than the clock
//     (a new client process on a new boot: a reboot faster than one
//     mtcAlive period that the uptime alone misses; never a reordered or
//     late datagram, never a client restart without a reboot — see
//     mgmtRestartLocked). Only mtcAlive's binary parameters are read for
//     a known source; the identity JSON only for an unknown one.
//   - UDP: the sender is found by source address (mgmt, cluster-host or
//     pxeboot IP). An mtcAlive from an unknown source is taken by its
//     identity JSON's hostname and its source becomes that host's pxeboot
//     address (K.2). Everything else from an unknown source, unsupported
//     kinds (collectd JSON, goEnabled messages), ACKs and results nobody
//     waits for, and host-services results from locked hosts (E.2) are
//     dropped and counted by reason ([Status].UDP.Dropped, with the
//     transport's own reasons prefixed "transport-"); nothing panics.
//   - Commands carry the target's inventory MAC (addressed, K.8) and go
//     to mgmt IP:mtc_rx_mgmnt_port (2118) and cluster-host
//     IP:mtc_rx_clstr_port (2115). Host services use
//     wire.RequestHostServices: ACK within 10 s, result within
//     host_services_timeout + 5 s.
//   - Actions (thin, real): lock (stop services per function — a failure
//     or timeout is logged and counted, never fails the lock, K.4 — then
//     "locked" with LOCK_PERSIST unless simplex, locked-disabled-online,
//     VIM disabled, SM locked for controllers); force-lock (the same, then
//     a client reset, or a BMC reset without ACK); unlock ("unlocked",
//     then the K.8 reboot: every network, the first ACK suffices, up to 5
//     sends 10 s apart, then, if a BMC is provisioned, a BMC reset after
//     bmc_reset_delay − 50 s (bmc_reset_delay after the first send;
//     skipped if the host goes away or comes back rebooted meanwhile: the
//     reboot ran, its ACKs were lost); when the
//     host is back with a reset uptime, configured and goenabled, plus
//     subfunction goenabled on AIO: unlocked-enabled-available to SysInv,
//     VIM and SM, the critical calls waited for up to work_queue_timeout,
//     A.5; past controller_boot_timeout/worker_boot_timeout "Boot Failed,
//     rebooting" and another reboot); swact and force-swact
//     (swact.Controller); reboot of a locked host; reset, power-on,
//     power-off, powercycle through bmc.PowerController with G.2's task
//     strings ("Reset Completed" etc. held 30 s; "Reset Failed - <host>
//     is powered off"); delete (forgotten, BMC deprovisioned); add (the
//     initial action after host_add_delay).
//   - Failures: a services or goenabled failure flag in an mtcAlive (or
//     an unsolicited failed result) of an unlocked-enabled host fails it
//     (unlocked-disabled-failed, VIM failed, SM disabled) and recovers it
//     by reboot after ar_<cause>_interval, at most ar_<cause>_threshold
//     times; the next failure leaves it failed with "... threshold
//     reached, Lock/Unlock to retry" and that cause's auto-recovery off
//     until the next lock or unlock. An unlocked-enabled host that reboots
//     on its own or goes offline is failed while away and
//     re-enabled when it returns configured and goenabled with the
//     services its own client started (E.3); nothing is counted for that.
//     SM's failed event is a counted cause (autorecovery_threshold).
//   - BMC: every provisioning change goes through bmcProvisioned and
//     bmcDeprovisioned, which tell the hardware monitor (Set, Remove) and
//     call Config.OnBMCProvisioned and OnBMCDeprovisioned. The
//     password is fetched from Barbican in the background when a BMC is
//     provisioned, retried 10–100 s apart (K.7) until it is known, and
//     on demand by [Agent.Password], whose shape is the hardware
//     monitor's Config.Password (convert hwmon.Host to [BMCHost]).
//     Power-off and reset opt in to the Redfish GracefulFallback
//     (Config.GracefulFallback, default on as StarlingX does); every
//     power-off says so in a warning, every fallback the driver uses too.
//   - Secrets (token, Keystone and BMC passwords) never appear in logs,
//     errors, Status or metrics.
//
// # Caller duties
//
//   - Call Run once; cancel its context or call Close to stop. Run owns
//     Config.EventListener and Config.Packets: it closes them however it
//     ends (also when start-up fails).
//   - Give Config.EventListener only loopback listeners (eventapi.Listen
//     refuses others) and mount AdminHandler on a unix socket or a
//     loopback listener: neither has authentication.
//   - Register [Agent.Collector] on your own prometheus registry.
//   - Keep Config.OnBMCProvisioned/OnBMCDeprovisioned quick: they run
//     with the host records locked.
//   - On SIGHUP, reload mtc.conf/mtc.ini with mtce/config and call
//     [Agent.Reload]; see there what changes without a restart.
//
// # What this reference agent does NOT do
//
// It implements the host actions above and nothing more of StarlingX's
// host FSMs. Not done: heartbeat (hbsAgent/hbsClient, heartbeat failure
// and degrade, its auto-recovery cause); goenabled test orchestration and
// in-service/out-of-service tests (it only reads the goenabled flags);
// configuration-failure (ar_config) and LUKS auto-recovery causes;
// reinstall and wipedisk; dead-office recovery (DOR mode); the offline
// search with mtcAlive requests and the pxeboot network (pxeboot
// mtcAlive requests, MTC_MSG_INFO, hbs commands); degrade handling
// (collectd, SM degraded, hwmond events are counted, not acted on);
// BMC access monitoring (ping, the BMC-access alarm); the lazy reboot of a failed active controller and
// forced swact on its failure; alarms (fm); data-port state tracking;
// patching states beyond the mtcAlive flags; uptime reporting to SysInv
// every uptime_period; the MTC_BM_* power timers and the powercycle
// recovery FSM; adminActionChange queueing (a new action cancels the
// running one instead); simplex-specific unlock (manifest apply wait);
// mtcAgent's own graceful recovery; of hwmond, what package mtce/hwmon
// leaves out (alarms, degrade and the sensor actions, relearn).
package agent
