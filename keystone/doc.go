// Package keystone keeps one OpenStack Keystone (v3) token valid for a whole
// process, renews it once for any number of concurrent 401s, holds queued
// work while that renewal runs, and never stays stuck.
//
// It re-implements StarlingX maintenance's token handling (mtce-common
// tokenUtil: first-token loop, periodic refresh capped at 8 h, immediate
// renewal on 401 with "renew in progress" hold-off, 31 s stuck monitor) on
// top of gophercloud v2, and fixes what that code and gophercloud leave open.
//
// # Usage
//
//	cfg := keystone.DefaultConfig()
//	cfg.AuthURL = "http://192.168.204.2:5000/v3"
//	cfg.Username, cfg.UserDomainName = "mtce", "Default"
//	cfg.Password = keystone.Secret(pw)
//	cfg.ProjectName, cfg.ProjectDomainName = "services", "Default"
//	cfg.Logger = logger
//	m, err := keystone.New(cfg)   // starts asking for the first token
//	defer m.Close()
//	client := &http.Client{Transport: &keystone.Transport{Manager: m}}
//	// ... or by hand: tok, err := m.Token(ctx); on 401: tok, err = m.Renew(ctx, tok)
//
// A work queue takes the Manager as its gate: [Manager.Held] has the
// signature of workqueue.Gate (nil while open; while closed, a channel that
// is closed when the gate opens again). This package does not import the
// work queue. If the queue bypasses a gate closed longer than its MaxHold
// (workqueue: 40 s, i.e. Keystone down that long after a 401), the requests
// it dispatches wait in [Transport] for a token until their own deadline:
// they go out the moment a new token exists, or fail at their deadline
// with an error wrapping context.DeadlineExceeded and the last [*Error]
// (with the work queue's defaults, 3 attempts of 20 s with 5 s between:
// an item fails 110 s after it was queued, having sent nothing).
//
// # Guarantees
//
//   - Authentication goes through gophercloud v2 (openstack.NewClient with
//     our HTTP client, then openstack.Authenticate), by password (user, user
//     domain, project, project domain) or application credential. TLS
//     verification is on unless Config.InsecureSkipVerify; Config.CAFile
//     sets the trusted CAs. Every reply is checked for what gophercloud
//     silently accepts: a missing X-Subject-Token ([ErrMissingToken]), a
//     missing expires_at ([ErrMissingExpiry]), a missing catalog
//     ([ErrNoCatalog]), no Config.RequiredService endpoint ([ErrNoEndpoint]);
//     an undecodable body gives [ErrMalformedResponse].
//   - One token request at a time. Any number of [Manager.Renew] calls for
//     the same stale token produce exactly one request to Keystone; a Renew
//     whose stale token is no longer current returns the current one at once.
//   - Token requests run on the Manager's context (cancelled only by Close)
//     with Config.RenewTimeout (30 s). A caller whose ctx ends leaves at once;
//     the request goes on for the other waiters. Waiters leaving never cancel
//     it: a 401 proved the token bad, so the result is wanted regardless, and
//     it is bounded by RenewTimeout and the watchdog.
//   - A token that got a 401 is never handed out again. From the moment a
//     401 on the current token is reported ([Manager.Renew]) until a new
//     token is stored, [Manager.Token] blocks (ctx-bounded; on ctx's end
//     the error wraps the last [*Error]), Renew answers the renewal's
//     [*Error] (or, within the failure spacing, the last one at once), and
//     the Manager keeps asking Keystone on its own. The same holds once
//     the current token has expired (local clock) without a replacement.
//     A token whose refresh failed is still valid and is handed out, with
//     the gate open, until its expiry.
//   - The gate ([Manager.Held]) is closed exactly while the Manager has had
//     a token but has none it may hand out: from the 401 (including a 401
//     that joins a scheduled refresh) until a new token is stored — through
//     failed attempts, the spacing between them and abandoned requests —
//     and after an unreplaced expiry. It opens only when a new token is
//     stored, or at Close. Proactive and periodic refreshes never close it
//     while the token is valid; it is open before the first token (Token
//     blocks then). So queued work spends no attempt on a token known to
//     be bad, and resumes the moment a new one exists. (In StarlingX a
//     failed launch left "renew in progress" set for a whole refresh
//     period, the low-level HTTP status mappers still requested a renewal
//     directly on every 401, around the "wave off nested renewals" guard,
//     and after a failed renewal queued requests went out with the
//     rejected token, each earning a 401; here there is one path, and the
//     gate stays closed until a renewal succeeds. Before issue 10 this
//     package too reopened the gate with a failed renewal.)
//   - Watchdog: a request still running after Config.StuckAfter (31 s) was
//     not stopped by its own timeout, so something ignores cancellation. It
//     is abandoned: forgotten, its waiters get [ErrStuck], the event is
//     logged and counted, and a fresh request starts at once if the token
//     is bad or missing (else at the next 401 or refresh); the gate opens
//     when a new token is stored. Each request arms its own watchdog timer
//     when it starts.
//     (StarlingX's stuck monitor only ran when the refresh timer rang, so
//     self-correction waited for an unrelated timer; that is fixed here.)
//     The abandoned goroutine ends whenever its call returns; its result is
//     discarded.
//   - The first token is requested at New and retried forever with the
//     failure spacing below: Keystone may start after us, a password may be
//     fixed later. Rejected credentials ([ErrAuthFailed], logged at ERROR
//     as "credentials rejected") are logged distinctly from an unreachable
//     Keystone ([ErrUnavailable] or [ErrTimeout], WARN "unreachable", at
//     most once per Config.RetryMax during an outage, the repeats at
//     DEBUG); the first token after failures is logged with their number
//     and how long they lasted.
//   - Refresh before expiry: a new token is requested after
//     Config.RefreshFraction (2/3) of the token's lifetime, brought forward by
//     up to Config.Jitter, as vault's LifetimeWatcher does. The lifetime is
//     Keystone's expires_at minus issued_at, applied to the local clock, so
//     clock skew does not matter. StarlingX only refreshed periodically; a
//     Config.RefreshPeriod (token_refresh_rate, 0 = off, capped at 8 h) is
//     also honoured, counted from each new token.
//   - Failure spacing: after a failed request, the next one waits
//     Config.RetryMin doubling to RetryMax (1 s to 30 s), lengthened by up
//     to Jitter, never shortened, counted from the end of the failure.
//     During an outage (ErrUnavailable, ErrTimeout) while no token may be
//     handed out (before the first, after a 401, after expiry: work is
//     blocked), the interval is capped at Config.OutageRetryMax (1 s). So a
//     Keystone that comes back is found within OutageRetryMax·(1+Jitter)
//     plus its answer time (1.1 s + latency by default), and a Keystone
//     that stays down gets at most one token request per second from one
//     Manager, however many callers wait (one HTTP request per token
//     request with a /v3 AuthURL, two with a versionless one). Rejected
//     credentials and invalid replies keep the doubling (a wrong password
//     asked every second could lock the account), and so does a failed
//     refresh while the token is still valid, until its expiry. Meanwhile
//     Renew answers at once with the last [*Error], whose Retry field says
//     when Keystone will be asked again. A success resets the spacing. An
//     abandoned (stuck) request does not engage it. (StarlingX retries
//     every 5 s; before issue 10 this package doubled to 30 s in an outage
//     too, and failed requests for up to ~33 s after Keystone was back.)
//   - Errors are [*Error] values wrapping one sentinel (errors.Is) and, for
//     timeouts, context.DeadlineExceeded. Neither errors nor log lines ever
//     contain a token or a password: [Token] and [Secret] redact themselves
//     under fmt, slog and encoders, and a Token's secret sits behind a pointer
//     so reflection-based printing shows an address.
//   - [Transport] sets X-Auth-Token at send time on every attempt, renews on
//     401 with the token it sent and retries once when the body is
//     replayable; a second 401 is [ErrUnauthorized], never a loop.
//   - Close is idempotent and bounded: it wakes every waiter with
//     [ErrClosed], opens the gate and returns once every goroutine the
//     Manager started has ended, or after Config.CloseTimeout with an error
//     wrapping [ErrStuck] if a token request is stuck in a transport that
//     ignores cancellation (that goroutine ends when its call returns).
//
// # Caller duties
//
//   - Create one Manager per process and share it; Close it at exit.
//   - On a 401 from a service, call Renew with the token the request carried
//     (the Transport does this), then retry that request at most once.
//   - Send the token only to endpoints you trust; never log Token.Secret.
//   - Give every call a context with a deadline: Token (and Transport)
//     blocks while no token may be handed out (before the first, after a
//     401 until a renewal succeeds, after an unreplaced expiry).
//   - Keep StuckAfter above RenewTimeout (Validate enforces it) and keep your
//     HTTP transport honouring request contexts; the watchdog is a safety net.
//
// # Concurrency
//
// All methods of Manager are safe for concurrent use. Transport is safe for
// concurrent use if its Base is. Token values are immutable.
//
// # Testing
//
// Package keystonetest is an in-memory fake of Keystone and of a protected
// service, usable inside testing/synctest bubbles (set Config.Transport to
// it). The package's own tests run every timer, retry, timeout and watchdog
// in virtual time with it, and the Keystone-facing behaviour against a real
// Keystone started by scripts/keystone/keystone.sh.
package keystone
