// Package agenttest is test infrastructure for mtce/agent: an in-memory
// UDP network, fake mtcClient hosts that speak the real wire protocol,
// and a real-UDP mtcAlive load generator for benchmarks.
//
// # Network and Conn
//
// [NewNetwork] makes an in-memory network. [Network.Agent] attaches an
// agent's receive addresses (mtc_agent_port on management and
// cluster-host) and returns a [*Conn], which has the method set of
// agent.PacketConn (Recv, Send, Close) and also the Stats of a
// *wire.Transport. Every datagram is encoded to bytes and decoded by its
// receiver, so the agent sees exactly what UDP would bring, with the
// sender's address on that network as its source. Senders never block:
// a datagram to an unknown or closed address is dropped and counted in
// [Network.Stats]; one that does not decode, or finds its receiver's
// queue full, is counted in the receiver's Stats by [wire.DropReason].
// [Network.SetFault] loses or garbles chosen datagrams; [Network.Inject]
// sends raw bytes (garbage, collectd's JSON).
//
// # Hosts
//
// [Network.AddHost] attaches a simulated host described by a
// [HostConfig]; [Host.Run] runs its client until the context ends or
// [Host.Close]. The client behaves as StarlingX's mtcClient does:
//
//   - mtcAlive every 5 s (the first 1 s after the client starts) to the
//     agent on each network the host has, with per-network sequence
//     numbers, uptime since the boot started, the identity JSON (spec
//     K.2) and the flags of spec F.4: configured and healthy after
//     ConfigTime, goenabled GoEnabledTime later (on an AIO controller
//     also the subfunction's), locked, and the services-failure flags;
//   - addressed commands whose MAC is not the host's are dropped
//     silently (spec K.8); every other command is ACKed with
//     [wire.NewAck] on the network it came in on, to the agent's fixed
//     address there, except those that get no ACK (6, 12, 22, 23);
//   - host-services start/stop (14–19): the enhanced ACK at once, then
//     exactly one result (cmd 21) after ServicesTime (spec E.2, E.4,
//     E.5): posted stops run first, starts run one at a time in the
//     order controller, worker, storage;
//   - locked (13; parm[0] = 1 persists the lock over reboots) and
//     unlocked (24) keep the node-locked flag as K.8 says;
//   - reboot, reset, wipedisk and lazy reboot: ACK, go silent for
//     BootTime, come back with the uptime reset and sequence 1, configure,
//     goenable, and unless locked auto-start host services (an AIO
//     controller starts controller then worker, spec E.3), sending a
//     result for each; a failed start sets the main or subfunction
//     services-failure flag.
//
// The test drives a host with [Host.Reboot], [Host.Crash],
// [Host.PowerOn], [Host.SetFlags] and failure injection
// ([Host.FailServices], [Host.SetNoAck], [Host.SetNoResult],
// [Host.SetConfigHang]); it reads [Host.State], [Host.Received] (every
// datagram with its time and what the host did with it), [Host.Commands]
// and [Host.Sent], and waits with [Host.WaitState].
//
// What the fake client does not do: pxeboot, heartbeat, goEnabled test
// requests (9/10 are ACKed only), the client-ready event, failsafe
// timers, wipedisk's reinstall, SM health flags (inject them with
// SetFlags).
//
// # Listener
//
// [NewListener] gives an in-memory net.Listener whose connections are
// net.Pipe pairs; [Listener.Transport] dials it. Give the listener to the
// agent as its event-API listener and the transport to mtce/sim as
// MtcAgentTransport, and SysInv's calls to the agent run in virtual time.
//
// # Virtual time
//
// Network, Conn, Host and Listener use only channels and timers, so they work in a
// testing/synctest bubble with every timer virtual; blocking in Recv or
// in a host's Run is durable. Make the Network and the hosts inside the
// bubble that uses them.
//
// # AliveSenders
//
// [AliveSenders] is a load generator over real UDP: N hosts, each with
// its own socket bound to its own 127.x.y.z address (Linux routes
// 127.0.0.0/8 to the loopback interface), send mtcAlive to an agent
// address every 5 s with jitter, from a few goroutines. It raises the
// soft RLIMIT_NOFILE when needed. [Senders.Hosts] gives the names,
// addresses and MACs to provision in the inventory; [Senders.Stats]
// counts sends and errors.
//
// # Guarantees and caller duties
//
//   - Close on a Conn, a Host and Senders is idempotent; Host.Close and
//     Senders.Close return after their goroutines have ended. The caller
//     closes what it made.
//   - A host's logs keep the latest LogLimit entries, so long soaks stay
//     flat in memory.
//   - Network.Agent panics on misuse (an invalid or taken address), as
//     httptest does; AddHost returns errors.
package agenttest
