// Package loadtest measures the mtcagent daemon under load, as issue 12
// asks: the event API's reply latency while many hosts send mtcAlive, and
// the agent's memory and CPU in its own process, for a growing number of
// hosts. The package has no code of its own; its tests are the harness.
//
// # What one run does
//
//  1. Builds cmd/mtcagent with `go build` into a temporary directory (the
//     production binary: no -race, whatever the test itself was built
//     with).
//  2. Starts mtce/sim over loopback in the test process with an inventory
//     of N workers plus controller-0 and controller-1 (sim.Inventory),
//     each host's mgmt_ip set to the loopback source address its mtcAlive
//     sender will use (agenttest.SenderAddrs): the agent identifies an
//     mtcAlive by its source address (mtce/agent/udp.go), so every sender
//     is a known host. No host has a BMC (bm_type none), so the hardware
//     monitor audits nothing and no Barbican password is fetched; the
//     figures are the agent's host tracking and event API only.
//  3. Writes a configuration tree (a copy of packaging/sample with the
//     sim's Keystone, SysInv, Barbican and VIM endpoints) and runs the
//     binary as a separate process: --root on that tree, --hostname
//     controller-0, event API, UDP, metrics and admin API on 127.0.0.1
//     (the UDP port is reserved by binding and closing port 0).
//  4. Once the agent is ready, starts agenttest.AliveSenders for the two
//     controllers and the N workers (one socket per 127.x source address,
//     mtcAlive every 5 s with ±10 % jitter, spread over the period), and
//     waits until the admin API (GET /v1/hosts) shows every host online
//     with an mtcAlive received since the senders started.
//  5. Warm-up, then window 1 (mtcAlive only): CPU as % of one core from
//     /proc/<pid>/stat utime+stime (USER_HZ = 100 on Linux) over the
//     window; VmRSS and VmHWM from /proc/<pid>/status after it. The
//     agent's own count of mtcAlive messages (metric
//     mtcagent_events_total{event="mtcalive"}) must match what the
//     senders sent in the window, and no UDP message may be dropped:
//     otherwise the run fails, because a figure for hosts the agent does
//     not see would be meaningless.
//  6. Window 2 (mtcAlive plus the event API): requests as the real
//     clients send them (spec J.11), each on a new TCP connection from
//     the test process, open loop at a fixed rate (a slow reply never
//     delays the next request):
//     - SysInv: PATCH /v1/hosts/<uuid>, User-Agent sysinv/1.0,
//     Connection: close, the ~62-key host record SysInv sends (its
//     removekeys_nonmtce applied) with operation modify and action none,
//     round-robin over the workers. This is a no-op modify: the body is
//     parsed, the agent's records are locked, mod_host's checks run
//     against every host (the duplicate and bm_ip checks read the whole
//     list), the record is re-stored and re-indexed, and the reply is
//     {"status":"pass"} — the whole admission path without starting an
//     action. A lock/unlock pair is not used: it would start actions that
//     wait for host-services ACKs the mtcAlive-only senders never send,
//     take the hosts out of unlocked-enabled and change the load being
//     measured.
//     - VIM: GET /v1/systems, User-Agent vim/1.0, which lists every host.
//     Latency is from the dial to the last byte of the reply. Every reply
//     is checked (SysInv: 200 and status pass; VIM: 200 and N+2 hosts);
//     afterwards every host must still be unlocked-enabled-available and
//     online, and no action may have started. CPU is also measured over
//     this window.
//  7. SIGTERM; the agent must exit 0.
//
// The load average (/proc/loadavg) is read before and after each window
// and reported with the figures; the test process's own CPU (senders,
// sim, client) is reported beside the agent's.
//
// # Running it
//
// TestSmoke runs in every `go test` (50 workers, mtcAlive every second,
// 2 s windows) so the harness cannot rot. The measurement runs only when
// asked, without -race:
//
//	METAL_LOAD=1 go test -run TestLoad -v -timeout 60m ./cmd/mtcagent/loadtest/
//
// Environment (all optional): METAL_LOAD_HOSTS (comma-separated worker
// counts, default "100,1000,5000"), METAL_LOAD_RUNS (runs of each,
// default 2), METAL_LOAD_WINDOW (each window, default 60s),
// METAL_LOAD_WARMUP (default 15s), METAL_LOAD_SYSINV_RATE and
// METAL_LOAD_VIM_RATE (requests per second, default 10 and 2). Each run
// logs one line of figures; the rows in /work/notes/loadtest.md come from
// those lines. The test process needs about N+260 file descriptors
// (AliveSenders raises the soft RLIMIT_NOFILE up to the hard limit); the
// agent needs only a handful.
//
// The daemon has no pprof endpoint: TestProfile (METAL_LOAD_PROFILE=dir)
// runs mtce/agent in the test process under the same load and writes CPU
// profiles of both windows to dir (alive.pprof, events.pprof), and the
// block profile of the event-API window (block.pprof: waits of 10 µs or
// more sampled, the agent's lock included).
//
// Linux only (/proc, 127.0.0.0/8 routed to loopback): on other systems the
// package has no tests.
package loadtest
