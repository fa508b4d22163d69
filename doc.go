// Package metal is the root of metal-go, a Go SDK with thin reference
// daemons for StarlingX bare-metal maintenance ("mtce").
//
// StarlingX's maintenance agent (mtcAgent) drives hosts through lock, unlock,
// enable and swact by calling platform REST APIs (Service Management "SM",
// the VIM and SysInv) with a Keystone token; a per-host maintenance client
// (mtcClient) starts and stops host services after reboots. This module
// re-implements those mechanisms as small, embeddable, tested packages.
//
// # Packages
//
// The leaves know nothing of each other:
//
//   - [opendev.org/starlingx/metal-go/workqueue]: per-key (per-host) FIFO
//     lanes of attempts with one attempt in flight per key, admission control
//     before enqueue, attempt budgets and waits, and a Gate that holds
//     dispatch while a token is being renewed.
//   - [opendev.org/starlingx/metal-go/keystone]: a Keystone v3 token manager
//     (on gophercloud v2) that renews before expiry, renews exactly once for
//     any burst of 401s, closes its gate while it does, and cannot get stuck;
//     plus an [net/http.RoundTripper] that injects and repairs the token.
//   - [opendev.org/starlingx/metal-go/fsm]: a generic typed state machine
//     with state deadlines, run-to-completion events from any goroutine, an
//     observer and Mermaid/DOT diagrams, for the swact controller.
//   - [opendev.org/starlingx/metal-go/hostsvc]: the host-services runner and
//     the auto-start scheduler of the maintenance client.
//   - [opendev.org/starlingx/metal-go/bmc]: power, boot device and sensors
//     over IPMI and Redfish.
//
// Above them, mtce holds the StarlingX domain types, the agent↔client wire
// protocol (mtce/wire), StarlingX's configuration files (mtce/config), the
// platform clients (mtce/sm, mtce/vim, mtce/sysinv, mtce/barbican) and an
// embeddable platform simulator (mtce/sim), the swact controller on fsm
// (mtce/swact), the agent's inbound event API (mtce/eventapi), the
// hardware-monitor role (mtce/hwmon) and the maintenance agent itself as a
// library (mtce/agent, with test fakes in mtce/agent/agenttest). The
// daemon cmd/mtcagent is a thin main over mtce/agent; examples/ holds
// runnable programs.
//
// # How they combine
//
// In the agent, every SM, VIM and SysInv request for a host is submitted to
// that host's lane of a workqueue.Queue; the request's HTTP client uses the
// keystone Transport, so each attempt carries the current token. When an
// attempt sees a 401 the Transport asks the keystone Manager to renew; the
// Manager renews once, however many requests saw the 401, and its gate
// (which the queue consults before each dispatch) holds every other lane's
// queued work until the new token is there, so no retry budget is burnt on a
// token that is known to be bad.
//
// In the client, hostsvc runs the node's service scripts through a single
// scheduler, so that start-up auto-start and the agent's requests cannot
// interleave, and reports exactly one result per run over mtce/wire.
package metal
