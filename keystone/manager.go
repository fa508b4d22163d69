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

	mu         sync.Mutex
	closed     bool
	cur        Token
	ready      chan struct{} // closed when the first token is stored
	flight     *flight       // the token request in progress, nil if none
	gate       chan struct{} // non-nil while the gate is closed
	lastErr    *Error        // error of the last attempt, nil after a success
	nextTry    time.Time     // failure spacing: no request before this
	failStreak int           // consecutive failures
	refreshAt  time.Time     // proactive refresh of cur
	periodicAt time.Time     // periodic refresh of cur, zero if off
	stats      Stats
	running    int           // token-request goroutines that have not returned
	idle       chan struct{} // closed when running drops to 0; nil when nobody waits
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
	gate     chan struct{} // non-nil once a 401 made this flight hold the gate
	finished bool          // result published (completed or abandoned); guarded by Manager.mu
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
	// Abandoned counts token requests abandoned by the watchdog (stuck).
	Abandoned uint64
	// LastLatency is the duration of the last successful token request.
	LastLatency time.Duration
	// Held reports whether the gate was closed when the snapshot was taken.
	Held bool
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
	m := &Manager{cfg: &c, log: log, poke: make(chan struct{}, 1), ready: make(chan struct{})}
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

// Token returns the current token. Before the first token exists it blocks
// until it does, ctx ends or the Manager is closed; on ctx's end the error
// wraps both ctx.Err() and the last attempt's [*Error] (e.g. ErrAuthFailed).
//
// The token returned may have expired if Keystone has been unavailable past
// its expiry (the Manager keeps retrying); a service then answers 401 and
// [Manager.Renew] reports Keystone's state.
func (m *Manager) Token(ctx context.Context) (Token, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return Token{}, ErrClosed
	}
	if !m.cur.IsZero() {
		t := m.cur
		m.mu.Unlock()
		return t, nil
	}
	ready := m.ready
	m.mu.Unlock()
	select {
	case <-ready:
		m.mu.Lock()
		t := m.cur
		m.mu.Unlock()
		return t, nil
	case <-ctx.Done():
		m.mu.Lock()
		last := m.lastErr
		m.mu.Unlock()
		if last != nil {
			return Token{}, fmt.Errorf("keystone: no token yet: %w (last attempt: %w)", ctx.Err(), last)
		}
		return Token{}, ctx.Err()
	case <-m.ctx.Done():
		return Token{}, ErrClosed
	}
}

// Renew is called after a request carrying stale was answered 401. If the
// current token already differs from stale, it returns the current token at
// once. Otherwise it joins the token request in flight or starts one, and
// closes the gate (see [Manager.Held]) until that request ends.
//
// The request runs on the Manager's own context with Config.RenewTimeout:
// a caller whose ctx ends leaves at once with ctx.Err() and the request goes
// on for the others (and for the Manager, which knows its token is bad).
// After a failure, Renew answers with the last [*Error] at once, without
// asking Keystone, until its Retry time (failure spacing).
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
	if m.cur.Secret() != stale.Secret() {
		m.stats.AlreadyRenewed++
		t := m.cur
		m.mu.Unlock()
		return t, nil
	}
	f := m.flight
	if f != nil {
		m.stats.WaitersJoined++
	} else {
		now := time.Now()
		if m.lastErr != nil && now.Before(m.nextTry) {
			m.stats.Deferred++
			e := m.lastErr
			m.mu.Unlock()
			return Token{}, e
		}
		f = m.startFlightLocked(CauseUnauthorized, now)
	}
	if f.gate == nil {
		f.gate = make(chan struct{})
		m.gate = f.gate
	}
	m.mu.Unlock()

	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return Token{}, ctx.Err()
	case <-m.ctx.Done():
		return Token{}, ErrClosed
	}
}

// Held implements the work queue's Gate: nil while the gate is open; while
// it is closed (a renewal triggered by a 401 is in progress), a channel that
// is closed when the gate opens again. The gate opens when that renewal
// ends, successfully or not, or is abandoned by the watchdog, or at Close.
// Periodic and proactive refreshes never close it: the old token is still
// valid. It is open before the first token.
func (m *Manager) Held() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
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
	s.Held = m.gate != nil
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
		m.openGateLocked(m.flight)
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

// waitOpen blocks while the gate is closed.
func (m *Manager) waitOpen(ctx context.Context) error {
	h := m.Held()
	if h == nil {
		return nil
	}
	select {
	case <-h:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-m.ctx.Done():
		return ErrClosed
	}
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
func (m *Manager) dueLocked(now time.Time) (time.Time, Cause) {
	if m.cur.IsZero() {
		if m.nextTry.IsZero() {
			return now, CauseFirst
		}
		return m.nextTry, CauseFirst
	}
	due, cause := m.refreshAt, CauseExpiry
	if !m.periodicAt.IsZero() && m.periodicAt.Before(due) {
		due, cause = m.periodicAt, CausePeriodic
	}
	if m.nextTry.After(due) {
		due = m.nextTry
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
		prevZero := m.cur.IsZero()
		m.cur = tok
		m.stats.Tokens++
		m.stats.LastLatency = now.Sub(f.start)
		m.failStreak, m.lastErr, m.nextTry = 0, nil, time.Time{}
		m.scheduleLocked(tok, now)
		if prevZero {
			close(m.ready)
		}
		f.tok = tok
		m.log.Info("keystone: token obtained", "cause", f.cause, "token", tok,
			"latency", m.stats.LastLatency, "refresh_at", m.refreshAt)
	} else {
		if m.closed || errors.Is(e.Kind, ErrClosed) {
			e = &Error{Kind: ErrClosed, Cause: f.cause}
		} else {
			m.failStreak++
			m.nextTry = now.Add(m.retryInterval(m.failStreak))
			e.Retry = m.nextTry
			m.lastErr = e
			m.stats.Failures.add(f.cause)
			m.logFailure(f, e, now)
		}
		f.err = e
	}
	close(f.done)
	m.openGateLocked(f)
	m.wake()
}

// abandon is the watchdog: the request outlived StuckAfter (its context
// expired at RenewTimeout, so something under it ignores cancellation). It
// is forgotten, its waiters get ErrStuck, the gate reopens, and the next
// 401 (or the loop) starts a fresh request. The goroutine running it ends
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
	m.openGateLocked(f)
	m.wake()
}

// openGateLocked reopens the gate held by f, if any.
func (m *Manager) openGateLocked(f *flight) {
	if f == nil || f.gate == nil {
		return
	}
	select {
	case <-f.gate:
	default:
		close(f.gate)
	}
	if m.gate == f.gate {
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
// RetryMin doubling up to RetryMax, then lengthened by up to Jitter (never
// shortened, so Keystone is never asked faster than the nominal interval).
func (m *Manager) retryInterval(n int) time.Duration {
	d := m.cfg.RetryMin
	for i := 1; i < n && d < m.cfg.RetryMax; i++ {
		d *= 2
	}
	if d > m.cfg.RetryMax {
		d = m.cfg.RetryMax
	}
	if j := m.cfg.Jitter; j > 0 {
		d += time.Duration(rand.Float64() * j * float64(d))
	}
	return d
}

func (m *Manager) logFailure(f *flight, e *Error, now time.Time) {
	attrs := []any{"cause", f.cause, "err", e.Error(), "next_attempt", m.nextTry,
		"consecutive_failures", m.failStreak}
	if !m.cur.IsZero() {
		attrs = append(attrs, "token_expired", m.cur.Expired(now))
	}
	switch {
	case errors.Is(e.Kind, ErrAuthFailed):
		attrs = append(attrs, "user", m.cfg.Username, "user_id", m.cfg.UserID,
			"project", m.cfg.ProjectName, "application_credential", m.cfg.ApplicationCredentialID+m.cfg.ApplicationCredentialName)
		m.log.Error("keystone: credentials rejected", attrs...)
	case errors.Is(e.Kind, ErrUnavailable), errors.Is(e.Kind, ErrTimeout):
		m.log.Warn("keystone: unreachable", attrs...)
	default:
		m.log.Error("keystone: invalid token reply", attrs...)
	}
}
