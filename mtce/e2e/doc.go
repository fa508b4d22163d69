// Package e2e holds the maintenance system's end-to-end suite in virtual
// time (issue 13, part 3, first item). It has no non-test API: everything
// is in _test.go files, and this file only documents them.
//
// Every test runs inside a testing/synctest bubble with the whole system
// in memory and the real components:
//
//   - mtce/sim as Keystone, SysInv, SM, VIM and Barbican over in-memory
//     HTTP, SysInv handing host actions to the agent's event API (over an
//     agenttest.Listener) as StarlingX's SysInv does;
//   - the real mtce/agent on controller-0, configured from
//     packaging/sample with agent.Load (no BMCs: bm_type none, so every
//     reboot goes through the client's reboot command);
//   - one real mtce/client per simulated host, with its own temporary
//     root (platform.conf, mtc.conf, host-services scripts, goenabled
//     tests, flag files), a fake hostsvc.Launcher whose scripts end after
//     a virtual duration with a chosen exit code, and its UDP on an
//     agenttest.Network at the host's mgmt:2118 and cluster-host:2115;
//   - simulated machines: the client's reboot actions (and a test's
//     "spontaneous" reboot) stop the client, empty /var/run (keeping
//     /etc/platform and /var/persist), wait a 40 s virtual boot, start a
//     fresh client and play the configuration steps a real boot does
//     (.config_pass and the .goenabled gate, then on AIO
//     .worker_config_complete and the .goenabled_subf gate), so goenabled
//     and the auto-start run for real.
//
// The agent's PacketConn is wrapped to record every message it receives,
// so the tests count results (cmd 21), ACKs and mtcAlive at the agent.
//
// What the tests prove, each with exact counts (see /work/notes/e2e.md):
//
//   - TestAIOUnlockAutoStart: an AIO controller unlocked after a lock
//     reboots, auto-starts controller then worker services, each script
//     launched once, one PASS result each at the agent; over the next
//     virtual hour no result and no launch more, and 720±2 mtcAlive per
//     network.
//   - TestStartRequestDuringAutoStart: start requests from the agent's
//     socket while the auto-start runs coalesce: nothing runs twice, one
//     result per set, one ACK per request.
//   - TestLockedRebootNoAutoStart: a host locked with LOCK_PERSIST and
//     rebooted restores its lock flag, starts nothing and reports LOCKED;
//     the agent keeps it locked-disabled-online.
//   - TestServicesFailureRecovers and TestServicesFailureThreshold: a
//     failing worker script after a reboot gives a FAIL result and the
//     subfunction services-failure flag; the agent fails the host and
//     reboots it after ar_hostservices_interval, until it passes (enabled)
//     or until ar_hostservices_threshold (left failed).
//   - TestStartRequestBeforeGate: start requests that arrive while the
//     auto-start still waits for its goenabled gate wait for it: each
//     script once, after goenabled, one result per set (this test found
//     the client running them at once and again after the gate).
//
// Run it with
//
//	go test -race -count=1 ./mtce/e2e/...
//
// and set E2E_LOG=1 to see the agent's, the clients' and the
// simulator's debug logs.
package e2e
