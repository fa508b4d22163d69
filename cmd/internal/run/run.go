package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// Errors of this package.
var (
	// ErrDrainTimeout is wrapped by *DrainError: components were still
	// running when the drain deadline passed (or a second SIGTERM/SIGINT
	// arrived).
	ErrDrainTimeout = errors.New("run: components did not stop in time")
	// ErrConfig is wrapped by Run's error for a bad Config or component
	// list; nothing was started.
	ErrConfig = errors.New("run: invalid configuration")
)

// DefaultDrain is the drain deadline when Config.Drain is zero.
const DefaultDrain = 30 * time.Second

// ReloadName is the name under which a Reload still running at the drain
// deadline is reported in DrainError.Pending.
const ReloadName = "reload"

// Component is one named long-running part of a daemon: a server, a
// loop. Run must return when ctx is done.
type Component struct {
	Name string
	Run  func(ctx context.Context) error
}

// Config configures Run. The zero value subscribes to the process's
// signals, ignores SIGHUP and drains for DefaultDrain.
type Config struct {
	// Signals, when not nil, replaces the process's signals: SIGTERM and
	// SIGINT on it start the shutdown, SIGHUP asks for a reload; other
	// values are ignored. Tests pass a channel here. When nil, Run
	// subscribes to SIGTERM, SIGINT and SIGHUP with signal.Notify and
	// unsubscribes before it returns.
	Signals <-chan os.Signal
	// Reload is called on SIGHUP with the run's context, on a goroutine
	// of its own, one call at a time: SIGHUPs arriving during a call are
	// folded into one more call after it. Its error is logged and the
	// daemon carries on. nil: SIGHUP is logged and ignored.
	Reload func(ctx context.Context) error
	// Drain bounds the time from the start of shutdown until every
	// component (and a running Reload) has returned. Zero means
	// DefaultDrain.
	Drain time.Duration
	// Stopping, if set, is called once when shutdown begins, before Run
	// cancels the components' context (send STOPPING=1, set the health
	// check to not ready). After a failure or the parent context's end
	// that context is already cancelled. It is not called when no
	// component is left running (each returned by itself or failed).
	Stopping func()
	// Logger receives the lifecycle (signals, failures, stragglers); nil
	// is silent.
	Logger *slog.Logger
}

// ComponentError is a component's failure, which stopped the others.
type ComponentError struct {
	Name string
	Err  error
}

func (e *ComponentError) Error() string { return e.Name + ": " + e.Err.Error() }

// Unwrap returns the component's error.
func (e *ComponentError) Unwrap() error { return e.Err }

// DrainError names the components still running when Run gave up on them.
// Their goroutines are still running: the caller should exit the process.
type DrainError struct {
	Pending []string      // sorted names; ReloadName for a running Reload
	Drain   time.Duration // the deadline that passed (0 after a second signal)
	Cause   error         // why shutdown began: a *ComponentError, or nil
}

func (e *DrainError) Error() string {
	var b strings.Builder
	b.WriteString("run: ")
	if e.Drain > 0 {
		fmt.Fprintf(&b, "after %v ", e.Drain)
	} else {
		b.WriteString("on a second signal ")
	}
	fmt.Fprintf(&b, "still running: %s", strings.Join(e.Pending, ", "))
	if e.Cause != nil {
		fmt.Fprintf(&b, " (shutdown began on %v)", e.Cause)
	}
	return b.String()
}

// Unwrap returns ErrDrainTimeout and the cause, if any.
func (e *DrainError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrDrainTimeout}
	}
	return []error{ErrDrainTimeout, e.Cause}
}

// shutdownErr reports whether err is only the shutdown's own context
// error: context.Canceled, or the parent's error, after shutdown began.
func shutdownErr(parent, gctx context.Context, err error) bool {
	if gctx.Err() == nil {
		return false
	}
	return errors.Is(err, context.Canceled) || (parent.Err() != nil && errors.Is(err, parent.Err()))
}

func (cfg Config) validate(comps []Component) error {
	if len(comps) == 0 {
		return fmt.Errorf("%w: no components", ErrConfig)
	}
	if cfg.Drain < 0 {
		return fmt.Errorf("%w: negative Drain %v", ErrConfig, cfg.Drain)
	}
	seen := map[string]bool{}
	for i, c := range comps {
		switch {
		case c.Name == "":
			return fmt.Errorf("%w: component %d has no name", ErrConfig, i)
		case c.Run == nil:
			return fmt.Errorf("%w: component %q has no Run", ErrConfig, c.Name)
		case seen[c.Name] || (c.Name == ReloadName && cfg.Reload != nil):
			return fmt.Errorf("%w: component name %q used twice", ErrConfig, c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

// Run runs comps until they have all returned, and stops them when
// asked. Shutdown begins on the first of: SIGTERM or SIGINT, ctx done, a
// component returning an error. Then Config.Stopping is called, the
// components' context is cancelled, and Run waits for them for at most
// Config.Drain.
//
// Run returns nil when shutdown was asked for (signal, ctx) and everything
// returned in time, or when every component returned nil by itself; the
// first component's *ComponentError when one failed (context.Canceled
// returned after shutdown began is not a failure); a *DrainError naming
// the stragglers when the deadline passed or a second SIGTERM/SIGINT
// arrived during the drain. Except in that last case, every goroutine Run
// started has returned when it returns.
func Run(ctx context.Context, cfg Config, comps ...Component) error {
	if err := cfg.validate(comps); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	drain := cfg.Drain
	if drain == 0 {
		drain = DefaultDrain
	}
	sigs := cfg.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		defer signal.Stop(ch)
		sigs = ch
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)

	var mu sync.Mutex
	running := map[string]bool{} // guarded by mu
	left := len(comps)           // components (not the reloader) running; guarded by mu
	start := func(name string, f func(context.Context) error) {
		running[name] = true
		g.Go(func() error {
			err := f(gctx)
			mu.Lock()
			delete(running, name)
			if name != ReloadName || cfg.Reload == nil {
				if left--; left == 0 {
					cancel() // nothing left to reload for
				}
			}
			mu.Unlock()
			if err == nil || shutdownErr(ctx, gctx, err) {
				if gctx.Err() == nil {
					log.Info("component finished", "component", name)
				}
				return nil
			}
			log.Error("component failed", "component", name, "err", err)
			return &ComponentError{Name: name, Err: err}
		})
	}
	mu.Lock()
	for _, c := range comps {
		start(c.Name, c.Run)
	}
	var reload chan struct{}
	if cfg.Reload != nil {
		reload = make(chan struct{}, 1)
		start(ReloadName, func(ctx context.Context) error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-reload:
				}
				log.Info("reloading")
				if err := cfg.Reload(ctx); err != nil {
					log.Error("reload failed", "err", err)
				} else {
					log.Info("reloaded")
				}
			}
		})
	}
	mu.Unlock()
	// The waiter outlives Run only when Run gives up on stragglers.
	waited := make(chan error, 1)
	go func() { waited <- g.Wait() }()

	isStop := func(s os.Signal) bool { return s == syscall.SIGTERM || s == syscall.SIGINT }
wait:
	for {
		select {
		case err := <-waited:
			return err // every component returned by itself
		case <-gctx.Done():
			if ctx.Err() != nil {
				log.Info("shutting down", "cause", context.Cause(ctx))
			}
			break wait // a component failed, or ctx is done
		case s := <-sigs:
			switch {
			case isStop(s):
				log.Info("shutting down", "signal", s.String())
				break wait
			case s == syscall.SIGHUP && reload != nil:
				select {
				case reload <- struct{}{}:
				default: // one is pending already
				}
			case s == syscall.SIGHUP:
				log.Info("SIGHUP ignored: nothing to reload")
			}
		}
	}

	mu.Lock()
	someLeft := left > 0
	mu.Unlock()
	if cfg.Stopping != nil && someLeft {
		cfg.Stopping()
	}
	cancel()
	timer := time.NewTimer(drain)
	defer timer.Stop()
	giveUp := func(d time.Duration) error {
		mu.Lock()
		pending := make([]string, 0, len(running))
		for n := range running {
			pending = append(pending, n)
		}
		mu.Unlock()
		slices.Sort(pending)
		var cause error
		select {
		case err := <-waited: // finished just now after all
			return err
		default:
		}
		// The first failure, if any, was recorded by errgroup but Wait
		// has not returned; report what made gctx end.
		if c := context.Cause(gctx); c != nil && !errors.Is(c, context.Canceled) {
			cause = c
		}
		log.Error("giving up on components", "pending", pending)
		return &DrainError{Pending: pending, Drain: d, Cause: cause}
	}
	for {
		select {
		case err := <-waited:
			return err
		case <-timer.C:
			return giveUp(drain)
		case s := <-sigs:
			if isStop(s) {
				return giveUp(0)
			}
		}
	}
}
