// Package demo runs a whole simulated StarlingX system in one process, over
// loopback, with the module's real components: what "mtcagent -sim" shows
// (issue 13, part 2). Tests drive it the same way.
//
// # Usage
//
//	d, err := demo.New(demo.DefaultConfig())   // AIO duplex; or System: demo.SystemStandard, Workers: 3
//	defer d.Close()
//	err = d.Start(ctx)                          // platform, hosts booting, agent ready
//	err = d.Action(ctx, "controller-1", "lock") // as "system host-lock controller-1"
//	d.CorruptToken()
//	steps, err := d.Tour(ctx, report)           // the scripted tour (-tour)
//	v := d.Snapshot()                           // the status table: v.Lines()
//
// # Composition
//
//   - Platform: mtce/sim (Keystone, SysInv, SM, VIM, Barbican) on
//     127.0.0.1 ports of its own (sim.Listen). SysInv hands user actions
//     to the agent's event API (sim.Config.MtcAgentURL), as StarlingX's
//     SysInv does: [Demo.Action] is sim.UserAction, the path "system
//     host-lock" takes.
//   - Addresses: each demo takes a 127.x.y.0/24 of its own (random, or
//     Config.Base): the floating "controller" address is .2, host i's
//     management address .10+i, its cluster-host address .100+i. Linux
//     routes all of 127/8 to lo, so every host really has its own UDP
//     sockets; elsewhere New fails with [ErrNoLoopbackAlias]. There is no
//     DNS: the names "controller" and "controller-N-cluster-host" are
//     resolved in the generated configuration (the clients' Controller and
//     ControllerClusterHost, the agent's endpoints; each host's etc/hosts
//     records the mapping).
//   - Hosts: per host a root directory under a temporary directory, with
//     etc/mtc.conf (StarlingX's values), etc/platform/platform.conf,
//     etc/services.d/<function>/ holding one script per function that
//     sleeps Config.ScriptTime (a start fails while [Demo.FailScripts] is
//     on), etc/goenabled.d with a passing test, var/run and var/persist.
//     A real mtce/client runs per host, bound to the host's addresses,
//     running the scripts as real processes (hostsvc's ExecLauncher).
//   - BMCs: a bmc/bmcsim Redfish emulator per host, provisioned in SysInv
//     (bm_type redfish, its password in Barbican under the host's UUID).
//     The agent reaches it with the real Redfish driver through
//     agent.Config.NewBMC, in memory; a reset or power change it accepts
//     is played on the host (reboot, down, boot).
//   - Agent: mtce/agent on the active controller, configured with
//     agent.Load from that controller's generated tree (mtc.conf, mtc.ini
//     with the simulator's Keystone, the SysInv, Barbican and VIM
//     endpoint files). It binds the floating controller address: UDP mgmt
//     and the event API (SysInv's MtcAgentURL); UDP cluster-host on its
//     controller's own cluster-host address.
//
// # Boots and reboots
//
// A boot empties var/run (etc/platform and var/persist are kept), waits
// Config.BootDelay, starts a fresh client (its uptime starts again), then
// plays the configuration steps of a real boot 200 ms apart:
// etc/platform/.initial_config_complete, var/run/.config_pass and the
// goenabled gate var/run/.goenabled; on AIO also
// var/run/.worker_config_complete and var/run/.goenabled_subf. The client
// then runs its goenabled tests and its auto-start for real: on an AIO
// controller controller then worker services, one result each. A locked
// host's client restores var/run/.node_locked from var/persist and starts
// nothing.
//
// Nothing is done to the machine the demo runs on: every client's reboot,
// reset and wipedisk action (client.Actions) is a demo hook that queues a
// simulated reboot of that host and returns; the failsafe reboot is off.
// The agent sends a reboot on every network, so one client may act twice;
// as on a real machine, a reboot already under way makes the second a
// no-op. The test suite puts sentinel systemctl and wipedisk programs first
// in PATH and fails if either runs.
//
// # Swact
//
// A swact really moves activity. When the simulated SM completes it
// (sim.Config.OnSwact, Config.SwactDelay after the agent's request) the
// demo stops the agent on the old active controller as SM stops mtcAgent
// (its context is cancelled: it drains as on SIGTERM), then starts a new
// agent on the new active controller, which binds the floating address
// again, gets a token, loads the inventory from SysInv and carries on:
// the clients' mtcAlive keep going to the floating address and reach it.
//
// The old agent is stopped in the swact's ACTION_WAIT stage (spec C.3
// step 6: SM is expected to stop it there), so it never writes the final
// "Swact: Complete"; the "Swact: In-Progress" task it wrote on the old
// controller stays in SysInv. The new agent leaves it: its swact state
// machine and mutex live in the old process and died with it; the new
// agent starts from SysInv's records, where the task is only a string,
// and its start-up writes no task. The task is replaced by the next task
// an action on that host writes (a lock's "Locking", ...). The spec does
// not say whether StarlingX's new mtcAgent clears it; clearing a "Swact:"
// task left on the other controller at inventory load would be a small
// change in mtce/agent (the demo does not paper over it).
//
// # Events and the status table
//
// Config.OnEvent receives one [Event] per state or task change in SysInv,
// SM activity move, agent start/ready/stop, swact stage, token corruption
// and renewal (by cause), boot step, goenabled run and host-services run
// or result, in order, on a goroutine of the Demo's. [Demo.Snapshot] is
// the state for a table (hosts with admin/oper/avail, task, uptime, last
// mtcAlive, host-services state, the agent's running action; the token's
// age and renewals by cause; the work queue; the swact's stage and
// elapsed time); [View.Lines] renders it.
//
// # Guarantees
//
//   - Everything the Demo starts (simulator, BMC emulators, clients and
//     their scripts, agents, the monitor, event delivery) is owned and
//     joined: Close stops the agent (it drains as on SIGTERM) and every
//     client (a running script set is let finish for 3 s, then its
//     process groups are killed) together, waits for them, then closes the
//     simulator, delivers the queued events and removes the temporary
//     directory. Close is idempotent; it must not be called
//     from Config.OnEvent.
//   - The tour ([Demo.Tour]) checks each step against a wall-time bound and
//     returns a *[TourError] naming the first step that missed it.
//
// # Time
//
// The demo runs in wall time with real sockets and processes: it is not
// meant for testing/synctest (the components it composes are tested in
// virtual time in their own packages). Its waits are bounded by contexts.
package demo
