package keystone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Manager owns one Keystone token for a process and keeps it valid. It is
// safe for any number of goroutines; see the package documentation for its
// guarantees. Create it with [New], stop it with [Manager.Close].
type Manager struct {
	cfg       *Config // a private copy; a pointer so reflection never prints secrets
	log       *slog.Logger
	transport http.RoundTripper
	own       *http.Transport // non-nil when we built the transport (idle conns closed at Close)

	ctx    context.Context // cancelled by Close; parent of every token request
	cancel context.CancelFunc
	wg     sync.WaitGroup // loop + every armed watchdog (joined by Close)
	poke   chan struct{}  // buffered(1): wakes the loop after a state change
	once   sync.Once

	mu     sync.Mutex
	closed bool
	cur    Token
	// bad: cur was answered 401 (reported through Renew). It is never
	// handed out again; only a new token clears it.
	bad bool
	// avail is closed when a token that may be handed out is stored; nil
	// when nobody waits for one (created by the first waiter).
	avail  chan struct{}
	flight *flight       // the token request in progress, nil if none
	gate   chan struct{} // non-nil while the gate is closed
	// Failure spacing: the last attempt's error (nil after a success), the
	// number of consecutive failures, when the last one ended, when the
	// streak began and the jitter fraction drawn for the next interval.
	// The next try is computed from these when it is needed (nextTryLocked)
	// because its spacing depends on whether callers are waiting.
	lastErr     *Error
	failStreak  int
	failedAt    time.Time
	streakStart time.Time
	jit         float64
	warnedAt    time.Time // last WARN "unreachable" line of this streak
	quiet       int       // "unreachable" failures logged at DEBUG since warnedAt
	refreshAt   time.Time // proactive refresh of cur
	periodicAt  time.Time // periodic refresh of cur, zero if off
	stats       Stats
	running     int           // token-request goroutines that have not returned
	idle        chan struct{} // closed when running drops to 0; nil when nobody waits
}

// flight is one token request. Waiters select on done; the fields below
// done are written once, before done is closed.
type flight struct {
	cause    Cause
	start    time.Time
	ctx      context.Context
	cancel   context.CancelFunc
	watchdog *time.Timer
	done     chan struct{}
	finished bool // result published (completed or abandoned); guarded by Manager.mu
	tok      Token
	err      error
}

// Stats is a snapshot of the Manager's counters.
type Stats struct {
	// Renewals counts token requests started, by cause (each is one
	// authentication request to Keystone).
	Renewals Counts
	// Failures counts token requests that ended in an error, by cause
	// (abandoned requests are counted in Abandoned instead).
	Failures Counts
	// Tokens counts tokens obtained.
	Tokens uint64
	// WaitersJoined counts Renew calls that joined a request already in
	// flight instead of starting one.
	WaitersJoined uint64
	// AlreadyRenewed counts Renew calls answered at once because the
	// current token already differed from the stale one.
	AlreadyRenewed uint64
	// Deferred counts Renew calls answered at once with the last error
	// because of failure spacing.
	Deferred uint64
	// Rejected counts tokens reported bad by a 401 (Renew called with the
	// current token): each is never handed out again.
	Rejected uint64
	// Abandoned counts token requests abandoned by the watchdog (stuck).
	Abandoned uint64
	// LastLatency is the duration of the last successful token request.
	LastLatency time.Duration
	// Held reports whether the gate was closed when the snapshot was taken.
	Held bool
	// ConsecutiveFailures is the number of token requests that failed since
	// the last success (0 while Keystone answers).
	ConsecutiveFailures int
}

// Counts holds one counter per Cause.
type Counts struct {
	First, Expiry, Periodic, Unauthorized uint64
}

// Total returns the sum of all causes.
func (c Counts) Total() uint64 { return c.First + c.Expiry + c.Periodic + c.Unauthorized }

func (c *Counts) add(cause Cause) {
	switch cause {
	case CauseFirst:
		c.First++
	case CauseExpiry:
		c.Expiry++
	case CausePeriodic:
		c.Periodic++
	case CauseUnauthorized:
		c.Unauthorized++
	}
}

// New validates cfg and starts a Manager: its loop immediately asks for the
// first token and retries failures, with spacing, until it gets one or the
// Manager is closed. New itself does not block on Keystone.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.RequiredInterface == "" {
		c.RequiredInterface = InterfaceAdmin
	}
	if c.RefreshPeriod > MaxRefreshPeriod {
		log.Warn("keystone: RefreshPeriod capped", "requested", c.RefreshPeriod, "cap", MaxRefreshPeriod)
		c.RefreshPeriod = MaxRefreshPeriod
	}
	m := &Manager{cfg: &c, log: log, poke: make(chan struct{}, 1), avail: make(chan struct{})}
	if c.Transport != nil {
		m.transport = c.Transport
	} else {
		t, err := newDefaultTransport(&c)
		if err != nil {
			return nil, err
		}
		m.transport, m.own = t, t
	}
	if c.InsecureSkipVerify {
		log.Warn("keystone: TLS certificate verification is DISABLED (InsecureSkipVerify)")
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(1)
	go m.loop()
	return m, nil
}

// Token returns the current token. While the Manager has no token it may
// hand out — before the first one, after a 401 on the current one until a
// renewal succeeds, after the current one's expiry until a refresh
// succeeds — it blocks until it has one, ctx ends or the Manager is closed;
// on ctx's end the error wraps both ctx.Err() and the last attempt's
// [*Error] (e.g. ErrUnavailable, ErrAuthFailed). Meanwhile the Manager keeps
// asking Keystone on its own, with failure spacing.
//
// A token whose refresh failed (Keystone down) is still valid and is
// returned until its expiry (by the local clock: Obtained + Lifetime). A
// token reported bad through [Manager.Renew] is never returned again.
func (m *Manager) Token(ctx context.Context) (Token, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return Token{}, ErrClosed
		}
		now := time.Now()
		if m.usableLocked(now) {
			t := m.cur
			m.mu.Unlock()
			return t, nil
		}
		m.holdLocked(now)
		if m.avail == nil {
			m.avail = make(chan struct{})
		}
		avail := m.avail
		m.mu.Unlock()
		select {
		case <-avail:
		case <-ctx.Done():
			return Token{}, m.noToken(ctx)
		case <-m.ctx.Done():
			return Token{}, ErrClosed
		}
	}
}

// noToken is the error of a caller whose ctx ended while it waited for a
// token: ctx.Err() joined with the last attempt's error, if any.
func (m *Manager) noToken(ctx context.Context) error {
	m.mu.Lock()
	last := m.lastErrLocked(time.Now())
	m.mu.Unlock()
	if last != nil {
		return fmt.Errorf("keystone: no valid token: %w (last attempt: %w)", ctx.Err(), last)
	}
	return ctx.Err()
}

// Renew is called after a request carrying stale was answered 401. If the
// current token already differs from stale (and may be handed out), it
// returns the current token at once. Otherwise the current token is bad: it
// is never handed out again ([Manager.Token] blocks, the gate closes until a
// new token is stored), and Renew joins the token request in flight or
// starts one.
//
// The request runs on the Manager's own context with Config.RenewTimeout:
// a caller whose ctx ends leaves at once with ctx.Err() and the request goes
// on for the others (and for the Manager, which knows its token is bad).
// If it fails, Renew returns its [*Error]; the Manager then keeps asking
// Keystone on its own. Within the failure spacing, Renew answers with the
// last [*Error] at once, without asking Keystone; its Retry field says when
// the Manager will ask again.
//
// Before the first token exists, Renew behaves like [Manager.Token].
func (m *Manager) Renew(ctx context.Context, stale Token) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return Token{}, ErrClosed
	}
	if m.cur.IsZero() {
		m.mu.Unlock()
		return m.Token(ctx)
	}
	now := time.Now()
	if m.cur.Secret() != stale.Secret() && m.usableLocked(now) {
		m.stats.AlreadyRenewed++
		t := m.cur
		m.mu.Unlock()
		return t, nil
	}
	if m.cur.Secret() == stale.Secret() && !m.bad {
		m.bad = true
		m.stats.Rejected++
		m.wake() // the loop retries on its own now, with the tighter spacing
	}
	m.holdLocked(now)
	f := m.flight
	if f != nil {
		m.stats.WaitersJoined++
	} else {
		if m.lastErr != nil && now.Before(m.nextTryLocked(true)) {
			m.stats.Deferred++
			e := m.lastErrLocked(now)
			m.mu.Unlock()
			return Token{}, e
		}
		f = m.startFlightLocked(CauseUnauthorized, now)
	}
	m.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			return Token{}, f.err
		}
		return f.tok, nil
	case <-ctx.Done():
		return Token{}, ctx.Err()
	case <-m.ctx.Done():
		return Token{}, ErrClosed
	}
}

// Held implements the work queue's Gate: nil while the gate is open; while
// it is closed, a channel that is closed when the gate opens again.
//
// The gate is closed while the Manager has had a token but has none it may
// hand out: from the moment a 401 on the current token is reported
// ([Manager.Renew]) until a new token is stored — through failed attempts,
// the failure spacing between them (the Manager keeps asking on its own)
// and requests abandoned by the watchdog — and while the current token has
// expired without a replacement. It opens only when a new token is stored,
// or at Close. So no queued request is sent with a token known to be bad.
// Periodic and proactive refreshes never close it while the token is valid,
// even when they fail. It is open before the first token ([Manager.Token]
// blocks then).
//
// A queue that bypasses a gate closed too long (workqueue's MaxHold, 40 s)
// dispatches requests that block in [Transport] until a token arrives or
// their own context ends; they are never sent with the bad token.
func (m *Manager) Held() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.holdLocked(time.Now())
	if m.gate == nil {
		return nil
	}
	return m.gate
}

// Stats returns a snapshot of the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Held = m.gate != nil || (!m.closed && !m.cur.IsZero() && !m.usableLocked(time.Now()))
	s.ConsecutiveFailures = m.failStreak
	return s
}

// Close stops the Manager: it cancels the token request in flight, wakes
// every waiter with ErrClosed, opens the gate, and returns once every
// goroutine the Manager started has ended — except a token request stuck in
// a transport that ignores cancellation: Close waits for such a request at
// most Config.CloseTimeout, then leaves it behind (it ends whenever its call
// returns; its result is discarded) and returns an error wrapping ErrStuck.
// Close is thus bounded whatever the transport does. It is idempotent;
// later calls return nil at once (concurrent calls wait for the first).
func (m *Manager) Close() error {
	var err error
	m.once.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.openGateLocked()
		if f := m.flight; f != nil {
			if f.watchdog.Stop() {
				m.wg.Done() // Close takes over the watchdog's bound
			}
			// Its waiters get ErrClosed; a late result is discarded.
			f.finished = true
			f.err = &Error{Kind: ErrClosed, Cause: f.cause}
			close(f.done)
			m.flight = nil
		}
		var idle chan struct{}
		if m.running > 0 {
			idle = make(chan struct{})
			m.idle = idle
		}
		running := m.running
		m.mu.Unlock()
		m.cancel()
		m.wg.Wait()
		if idle != nil {
			t := time.NewTimer(m.cfg.CloseTimeout)
			select {
			case <-idle:
			case <-t.C:
				m.log.Error("keystone: closed with a token request still running (its transport ignores cancellation)",
					"close_timeout", m.cfg.CloseTimeout)
				err = &Error{Kind: ErrStuck, Err: fmt.Errorf("%d token request(s) still running %v after Close cancelled them", running, m.cfg.CloseTimeout)}
			}
			t.Stop()
		}
		if m.own != nil {
			m.own.CloseIdleConnections()
		}
	})
	return err
}

// String describes the Manager without any secret.
func (m *Manager) String() string {
	return "keystone.Manager(" + m.cfg.AuthURL + ")"
}

// GoString is String: the Manager holds credentials and never prints them.
func (m *Manager) GoString() string { return m.String() }

// Format implements fmt.Formatter so that no verb prints the Manager's
// fields (which include the credentials).
func (m *Manager) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(m.String())) }

// waitOpen blocks while the gate is closed. If ctx ends first, the error
// wraps ctx.Err() and the last attempt's error.
func (m *Manager) waitOpen(ctx context.Context) error {
	h := m.Held()
	if h == nil {
		return nil
	}
	select {
	case <-h:
		return nil
	case <-ctx.Done():
		return m.noToken(ctx)
	case <-m.ctx.Done():
		return ErrClosed
	}
}

// usableLocked reports whether cur may be handed out at now: it exists, no
// 401 was reported for it, and it has not expired by the local clock.
func (m *Manager) usableLocked(now time.Time) bool {
	return !m.cur.IsZero() && !m.bad && !m.cur.Expired(now)
}

// holdLocked closes the gate if the Manager has a token it may not hand
// out (bad or expired). Expiry is noticed lazily, by whoever looks.
func (m *Manager) holdLocked(now time.Time) {
	if m.gate == nil && !m.closed && !m.cur.IsZero() && !m.usableLocked(now) {
		m.gate = make(chan struct{})
	}
}

// outage reports whether e means Keystone could not be reached or did not
// answer in time (as opposed to answering with a rejection or a bad reply).
func outage(e *Error) bool {
	return errors.Is(e.Kind, ErrUnavailable) || errors.Is(e.Kind, ErrTimeout)
}

// nextTryLocked is the earliest time of the next token request under the
// failure spacing (zero after a success). urgent: callers wait for a token
// (none may be handed out), so an outage is spaced by OutageRetryMax.
func (m *Manager) nextTryLocked(urgent bool) time.Time {
	if m.lastErr == nil {
		return time.Time{}
	}
	return m.failedAt.Add(m.retryInterval(m.failStreak, urgent && outage(m.lastErr)))
}

// lastErrLocked returns the last attempt's error with Retry up to date: the
// next try moves earlier when the token becomes unusable meanwhile (a 401
// or its expiry during an outage). The same *Error is returned while Retry
// does not change.
func (m *Manager) lastErrLocked(now time.Time) *Error {
	e := m.lastErr
	if e == nil {
		return nil
	}
	if nt := m.nextTryLocked(!m.usableLocked(now)); !nt.Equal(e.Retry) {
		c := *e
		c.Retry = nt
		m.lastErr = &c
	}
	return m.lastErr
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// loop starts the first-token requests and the scheduled refreshes. It
// never waits on a token request itself: a finished request pokes it.
func (m *Manager) loop() {
	defer m.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		m.mu.Lock()
		wait := time.Duration(-1)
		if !m.closed && m.flight == nil {
			now := time.Now()
			due, cause := m.dueLocked(now)
			if !due.After(now) {
				m.startFlightLocked(cause, now)
			} else {
				wait = due.Sub(now)
			}
		}
		m.mu.Unlock()
		if wait >= 0 {
			timer.Reset(wait)
		} else {
			timer.Stop()
		}
		select {
		case <-m.ctx.Done():
			return
		case <-m.poke:
		case <-timer.C:
		}
	}
}

// dueLocked returns when the loop should next ask for a token, and why.
// Without a token it may hand out, the Manager asks as soon as the failure
// spacing allows: callers are blocked.
func (m *Manager) dueLocked(now time.Time) (time.Time, Cause) {
	switch {
	case m.cur.IsZero():
		return later(now, m.nextTryLocked(true)), CauseFirst
	case m.bad:
		return later(now, m.nextTryLocked(true)), CauseUnauthorized
	}
	due, cause := m.refreshAt, CauseExpiry
	if !m.periodicAt.IsZero() && m.periodicAt.Before(due) {
		due, cause = m.periodicAt, CausePeriodic
	}
	if m.cur.Expired(now) {
		return later(due, m.nextTryLocked(true)), cause
	}
	due = later(due, m.nextTryLocked(false))
	if m.lastErr != nil {
		// Refreshes are failing while the token is still valid: from its
		// expiry on, callers wait and the tighter spacing applies.
		if alt := later(m.cur.p.localExpiry, m.nextTryLocked(true)); alt.Before(due) {
			due = alt
		}
	}
	return due, cause
}

func (m *Manager) wake() {
	select {
	case m.poke <- struct{}{}:
	default:
	}
}

// startFlightLocked starts a token request with its own timeout and its own
// watchdog timer. The watchdog does not depend on any other timer.
func (m *Manager) startFlightLocked(cause Cause, now time.Time) *flight {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.RenewTimeout)
	f := &flight{cause: cause, start: now, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	m.flight = f
	m.stats.Renewals.add(cause)
	m.running++
	m.wg.Add(1)
	f.watchdog = time.AfterFunc(m.cfg.StuckAfter, func() {
		defer m.wg.Done()
		m.abandon(f)
	})
	go m.run(f)
	return f
}

func (m *Manager) run(f *flight) {
	tok, err := requestToken(f.ctx, m.cfg, m.transport, f.cause)
	f.cancel()
	m.complete(f, tok, err)
	m.mu.Lock()
	m.running--
	if m.running == 0 && m.idle != nil {
		close(m.idle)
		m.idle = nil
	}
	m.mu.Unlock()
}

// complete publishes a finished request's result, unless the watchdog
// abandoned it first.
func (m *Manager) complete(f *flight, tok Token, e *Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f.finished {
		m.log.Debug("keystone: abandoned token request returned; result discarded",
			"cause", f.cause, "after", time.Since(f.start), "ok", e == nil)
		return
	}
	if f.watchdog.Stop() {
		m.wg.Done() // the watchdog will not run
	}
	f.finished = true
	m.flight = nil
	now := time.Now()
	if e == nil {
		failures, since := m.failStreak, m.streakStart
		m.cur, m.bad = tok, false
		m.stats.Tokens++
		m.stats.LastLatency = now.Sub(f.start)
		m.failStreak, m.lastErr, m.failedAt, m.streakStart = 0, nil, time.Time{}, time.Time{}
		m.warnedAt, m.quiet = time.Time{}, 0
		m.scheduleLocked(tok, now)
		if m.avail != nil {
			close(m.avail)
			m.avail = nil
		}
		m.openGateLocked()
		f.tok = tok
		attrs := []any{"cause", f.cause, "token", tok, "latency", m.stats.LastLatency, "refresh_at", m.refreshAt}
		if failures > 0 {
			attrs = append(attrs, "after_failures", failures, "failing_for", now.Sub(since))
		}
		m.log.Info("keystone: token obtained", attrs...)
	} else {
		if m.closed || errors.Is(e.Kind, ErrClosed) {
			e = &Error{Kind: ErrClosed, Cause: f.cause}
		} else {
			m.failStreak++
			if m.failStreak == 1 {
				m.streakStart = now
			}
			m.failedAt, m.jit, m.lastErr = now, rand.Float64()*m.cfg.Jitter, e
			e.Retry = m.nextTryLocked(!m.usableLocked(now))
			m.stats.Failures.add(f.cause)
			m.logFailure(f, e, now)
		}
		// The gate stays as it is: a bad token stays bad until a new one
		// is stored, and the loop asks again after the spacing.
		f.err = e
	}
	close(f.done)
	m.wake()
}

// abandon is the watchdog: the request outlived StuckAfter (its context
// expired at RenewTimeout, so something under it ignores cancellation). It
// is forgotten, its waiters get ErrStuck, and the loop (if the token is bad
// or missing) or the next 401 starts a fresh request at once: no failure
// spacing after an abandoned request. The gate stays closed if the token
// is bad: it opens when a new token is stored. The goroutine running it ends
// whenever its call returns; its result is discarded.
func (m *Manager) abandon(f *flight) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f.finished {
		return
	}
	f.finished = true
	f.cancel()
	if m.flight == f {
		m.flight = nil
	}
	m.stats.Abandoned++
	e := &Error{Kind: ErrStuck, Cause: f.cause,
		Err: fmt.Errorf("no answer %v after the request started (RenewTimeout %v)", m.cfg.StuckAfter, m.cfg.RenewTimeout)}
	m.log.Error("keystone: token request stuck, abandoned by watchdog",
		"cause", f.cause, "stuck_after", m.cfg.StuckAfter, "renew_timeout", m.cfg.RenewTimeout)
	f.err = e
	close(f.done)
	m.wake()
}

// openGateLocked opens the gate if it is closed.
func (m *Manager) openGateLocked() {
	if m.gate != nil {
		close(m.gate)
		m.gate = nil
	}
}

// scheduleLocked sets the proactive and periodic refresh times for tok.
func (m *Manager) scheduleLocked(tok Token, now time.Time) {
	life := tok.Lifetime()
	frac := m.cfg.RefreshFraction * (1 - m.cfg.Jitter*rand.Float64())
	delay := time.Duration(float64(life) * frac)
	if delay < m.cfg.RetryMin {
		// A token with an absurdly short lifetime must not make the loop
		// hammer Keystone.
		delay = m.cfg.RetryMin
	}
	m.refreshAt = tok.Obtained().Add(delay)
	m.periodicAt = time.Time{}
	if m.cfg.RefreshPeriod > 0 {
		m.periodicAt = now.Add(m.cfg.RefreshPeriod)
	}
}

// retryInterval is the failure spacing after n consecutive failures:
// RetryMin doubling up to RetryMax, capped at OutageRetryMax when fast (an
// outage while callers wait), then lengthened by the jitter fraction drawn
// at the last failure (up to Jitter; never shortened, so Keystone is never
// asked faster than the nominal interval).
func (m *Manager) retryInterval(n int, fast bool) time.Duration {
	d := m.cfg.RetryMin
	for i := 1; i < n && d < m.cfg.RetryMax; i++ {
		d *= 2
	}
	if d > m.cfg.RetryMax {
		d = m.cfg.RetryMax
	}
	if fast && d > m.cfg.OutageRetryMax {
		d = m.cfg.OutageRetryMax
	}
	return d + time.Duration(m.jit*float64(d))
}

// logFailure logs a failed request. Outage failures (which repeat every
// OutageRetryMax while callers wait) are logged at WARN at most once per
// RetryMax, with the number of failures logged at DEBUG since; every
// failure is counted in Stats.
func (m *Manager) logFailure(f *flight, e *Error, now time.Time) {
	attrs := []any{"cause", f.cause, "err", e.Error(), "next_attempt", e.Retry,
		"consecutive_failures", m.failStreak}
	if !m.cur.IsZero() {
		attrs = append(attrs, "token_expired", m.cur.Expired(now))
	}
	switch {
	case errors.Is(e.Kind, ErrAuthFailed):
		attrs = append(attrs, "user", m.cfg.Username, "user_id", m.cfg.UserID,
			"project", m.cfg.ProjectName, "application_credential", m.cfg.ApplicationCredentialID+m.cfg.ApplicationCredentialName)
		m.log.Error("keystone: credentials rejected", attrs...)
	case outage(e):
		if !m.warnedAt.IsZero() && now.Sub(m.warnedAt) < m.cfg.RetryMax {
			m.quiet++
			m.log.Debug("keystone: unreachable", attrs...)
			return
		}
		if m.quiet > 0 {
			attrs = append(attrs, "not_logged_at_warn", m.quiet)
		}
		m.warnedAt, m.quiet = now, 0
		m.log.Warn("keystone: unreachable", attrs...)
	default:
		m.log.Error("keystone: invalid token reply", attrs...)
	}
}
