package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends service-manager notifications. The zero value is a valid
// Notifier that does nothing; FromEnv returns one configured from the
// environment systemd sets.
type Notifier struct {
	enabled  bool          // NOTIFY_SOCKET was set
	interval time.Duration // WATCHDOG_USEC; 0 when the watchdog is off
	log      *slog.Logger
	// send writes one state; daemon.SdNotify, replaced in tests.
	send func(state string) error
}

// FromEnv reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (through
// go-systemd, leaving them set for later calls). A WATCHDOG_USEC that is
// not a positive integer, or a WATCHDOG_PID that is not this process,
// turns the watchdog off; the first is logged as a warning. log may be nil.
func FromEnv(log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{log: log, send: sdNotify}
	n.enabled = os.Getenv("NOTIFY_SOCKET") != ""
	iv, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog disabled", "err", err)
	}
	n.interval = iv
	return n
}

func sdNotify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// Enabled reports whether NOTIFY_SOCKET was set.
func (n *Notifier) Enabled() bool { return n != nil && n.enabled }

// WatchdogInterval returns WATCHDOG_USEC as a duration, 0 when the
// watchdog is off. Watchdog pings at half of it.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil || !n.enabled {
		return 0
	}
	return n.interval
}

func (n *Notifier) notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	if err := n.send(state); err != nil {
		return fmt.Errorf("sdnotify: %s: %w", state, err)
	}
	return nil
}

// Ready sends READY=1: start-up is finished.
func (n *Notifier) Ready() error { return n.notify(daemon.SdNotifyReady) }

// Stopping sends STOPPING=1: shutdown has begun.
func (n *Notifier) Stopping() error { return n.notify(daemon.SdNotifyStopping) }

// Reloading sends RELOADING=1 with MONOTONIC_USEC, as systemd's
// Type=notify-reload requires; send Ready when the reload is done.
func (n *Notifier) Reloading() error {
	return n.notify(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
}

// Status sends STATUS=text, shown by systemctl status.
func (n *Notifier) Status(text string) error { return n.notify("STATUS=" + text) }

// Watchdog sends WATCHDOG=1 at once and then every half of
// WatchdogInterval until ctx is done, and returns nil then. A failed ping
// is logged and the pings go on. When the watchdog is off it returns nil
// at once, so it can always be run as a component. It starts no
// goroutine: the caller's goroutine is the pinger.
func (n *Notifier) Watchdog(ctx context.Context) error {
	iv := n.WatchdogInterval() / 2
	if iv <= 0 {
		return nil
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		if err := n.notify(daemon.SdNotifyWatchdog); err != nil {
			n.log.Warn("systemd watchdog ping failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// StartWatchdog runs Watchdog on a goroutine of its own and returns a stop
// function that ends it and waits for it to return; stop may be called
// more than once.
func (n *Notifier) StartWatchdog(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.Watchdog(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
