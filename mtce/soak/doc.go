// Package soak holds the soak test of the platform clients: the SysInv, VIM
// and SM clients on one work queue gated by the Keystone token manager,
// driven for hours of virtual time against the simulator (mtce/sim) while
// the token is corrupted every 20–30 s, as StarlingX's 87b4a69 test plan
// does (spec I.2 item 3). The package has no API: everything is in its
// tests.
//
// # What runs
//
// Inside one testing/synctest bubble, with the simulator's in-memory
// transport:
//
//   - a standard system of 2 controllers and N−2 workers (sim.Inventory);
//   - one keystone.Manager (token_refresh_rate 1200 s as RefreshPeriod,
//     the default proactive refresh at 2/3 of the token's lifetime less up
//     to 10 % jitter); it is the queue's Gate, and keystone.Transport is the
//     HTTP transport of the SysInv and SM clients; the VIM client uses a
//     plain client (no token), as StarlingX does;
//   - one workqueue.Queue with one worker per host, StarlingX's budgets
//     and timeouts (the clients' defaults);
//   - per host, a load generator that calls the real clients at random
//     intervals (uniform in [0.5, 1.5] times the configured mean): SysInv
//     task, uptime, states and forced-task updates, VIM state changes and,
//     on the controllers, SM queries and state PATCHes (enabled, disabled,
//     locked, unlocked) on the controller's own lane. Every call is
//     non-blocking; the generator keeps its handles and collects them.
//   - FIT-style faults: every token request takes 300 ms (Keystone's
//     latency, so renewals take time and hold the queue), 2 % of SysInv,
//     SM and VIM requests get a 503, 0.1 % of SysInv updates are dropped
//     (the attempt times out) and 0.5 % of VIM requests are reset.
//
// Time is cut into cycles. Each cycle begins with a storm (the simulator
// corrupts the newest token at random every 20–30 s, sim.CorruptTokenEvery)
// and ends with a calm in which tokens live long enough to be refreshed (a
// token corrupted every 20–30 s never lives long enough for either
// refresh). The simulator's token lifetime alternates from cycle to cycle
// between 25 min and 1 h, so that both refresh causes occur with
// token_refresh_rate 1200 s: with 1 h tokens the periodic refresh comes
// first (20 min < 36 min), with 25 min tokens the refresh before expiry
// does (15–16.7 min < 20 min). Two probes make the "causes none" cases
// certain: in every storm, one corruption is made while a 401 renewal is
// running (it is absorbed: the newest token is already the bad one), and
// in every calm with 1 h tokens, one corruption is made 1 µs before the
// periodic refresh is due (it is overtaken: the refresh replaces the token,
// and a request that meets the bad token during the refresh's 300 ms
// joins that refresh instead of starting a renewal).
//
// # Sizes
//
// The short size runs in plain go test: 10 hosts, 1 virtual hour (two
// 30-minute cycles: 6-minute storm, 24-minute calm, so that both refresh
// causes occur), one call every 5 s per host on average. It takes about
// 4 s of wall time under -race on a busy 2-core machine.
//
//	go test -race -count=1 ./mtce/soak/
//
// The full size runs when METAL_SOAK=full: 50 hosts, 8 virtual hours
// (eight 1-hour cycles: 36-minute storm, 24-minute calm), one call every
// 5 s per host on average (about 290,000 calls). It takes about 35 s of
// wall time without -race:
//
//	METAL_SOAK=full go test -count=1 -run TestSoak -v -timeout 60m ./mtce/soak/
//
// METAL_SOAK_INTERVAL (a Go duration, e.g. 2s) overrides the mean time
// between two calls of one host, for either size (a rate that overloads
// the lanes fails the soak, which requires every submission to be
// admitted). The figures are printed with t.Logf (use -v to see them):
// calls by operation and outcome, HTTP requests by service and status,
// faults fired, queue attempts, retries, holds and the deepest lane,
// Keystone calls by cause (Manager and wire side by side), corruptions by
// fate, 401s, goroutines, the live heap, and wall and virtual time.
// .notes/bench-soak.md in the repository records measured runs.
//
// # What it asserts
//
//   - No lost request. Every call submitted is counted by the generator,
//     by the queue's Observer (admitted, done: exactly once each) and by
//     the queue's Stats (Admitted = Succeeded + Failed, nothing pending,
//     purged, cancelled or abandoned). Every call ends: it succeeds (and
//     its value names the right host), or it fails with a typed error — a
//     *workqueue.Error whose cause is a platform *Error of a known kind —
//     after its whole attempt budget, or earlier only when the cause is
//     permanent. Every failure was logged by the queue (Error for critical
//     items, Warn for the others), and each host's first critical failure
//     is the one Queue.WaitLane reports. No submission is refused.
//   - Keystone calls accounted for by cause. The soak observes the wire
//     below the Manager (every token request, its start, its end and the
//     token it got) and below keystone.Transport (the token each request
//     carried, and every 401), and derives the cause of every token request
//     independently of the Manager: the first one; a 401 renewal (started at
//     the very instant a request carrying the previous token was answered
//     401); a periodic refresh (exactly RefreshPeriod after the previous
//     token arrived); a refresh before expiry (between 60 % and 66.7 % of
//     the previous token's lifetime after it was requested). Any other
//     token request fails the test (a second renewal for one corruption
//     would be one). The counts per cause must equal the Manager's Stats,
//     and their sum the simulator's recorded token requests, whose arrival
//     times must be those the soak saw.
//   - Every corruption is accounted for: an effective one either caused
//     exactly one 401 renewal, or was overtaken by a refresh (no Keystone
//     call of its own; its 401s, if any, joined the refresh), or is the
//     token still current at the end; an ineffective one happened while a
//     renewal was running (absorbed, no Keystone call) or before the
//     previous bad token was used. The probes have the fate they were made
//     for. Every 401 was answered to a corrupted token: no token was ever
//     used past its expiry. The number of 401s the clients saw equals the
//     simulator's count. No token request failed, none was abandoned,
//     and the queue never had to bypass the gate.
//   - Goroutines back to baseline: the count inside the bubble after
//     everything is closed is not above the count before anything started,
//     nor is the process count after the bubble above the one before it
//     (runtime.NumGoroutine, after letting exiting goroutines finish), and
//     goleak.VerifyTestMain checks the package at exit.
//   - Live heap bounded: after a GC at regular intervals of virtual time,
//     the live heap stays under a generous bound (64 MiB), and its peak in
//     the second half of the run is at most twice its peak in the first
//     half plus 4 MiB (no growth with time: the simulator's record logs
//     are bounded rings, limited to 4096 entries here so that they fill
//     up early).
//   - Coverage: one first token, and at least one refresh before expiry,
//     one periodic refresh, one 401 renewal, one corruption renewed, one
//     absorbed and one overtaken.
//
// TestAccount checks the accounting itself on hand-made histories: it
// explains a correct one exactly, and reports a second Keystone call for
// one corruption, a refresh at the wrong time, a failed token request, a
// 401 on a token that was never corrupted and a 401 never renewed.
package soak
