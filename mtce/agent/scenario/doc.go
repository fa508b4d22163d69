// Package scenario holds the maintenance agent's virtual-time scenario
// suite (issue 12, "Tests and figures"). It has no non-test code.
//
// Every scenario runs inside a testing/synctest bubble with the whole
// system in memory: mtce/sim as Keystone, SysInv, SM, VIM and Barbican
// (sim.Transport as the agent's HTTP transport), SysInv handing host
// actions to the agent's event API as StarlingX's SysInv does (over an
// agenttest.Listener), and one agenttest fake mtcClient per inventory
// host on an agenttest.Network (the agent's PacketConn). Hosts boot,
// configure, goenable and start their host services on virtual timers,
// so minutes and hours of the agent's timers run in milliseconds.
//
// The scenarios: adding hosts; lock, force-lock and unlock of a worker
// and of an AIO controller through the full message exchange; swact; a
// services-failure flag → failed → auto-recovery → threshold; boot
// timeout; a spontaneous reboot of an enabled worker; 20 lock/unlock
// iterations of the standby controller (spec I.2's regression soak);
// Keystone down for a minute and back; SysInv 500s during the inventory
// load; three virtual hours of token renewal every 5 s with 50 hosts,
// live heap and goroutines flat (I.2's leak soak).
//
// Set SCENARIO_LOG=1 to see the agent's and the simulator's debug logs.
package scenario
