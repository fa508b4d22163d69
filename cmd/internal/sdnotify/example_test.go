package sdnotify_test

import (
	"context"
	"fmt"

	"opendev.org/starlingx/metal-go/cmd/internal/sdnotify"
)

func ExampleNotifier() {
	// The zero Notifier (like FromEnv without NOTIFY_SOCKET) does nothing.
	var n sdnotify.Notifier
	fmt.Println(n.Ready(), n.Watchdog(context.Background()), n.Stopping())
	// Output:
	// <nil> <nil> <nil>
}

func ExampleFromEnv() {
	n := sdnotify.FromEnv(nil)
	ctx, cancel := context.WithCancel(context.Background())
	stop := n.StartWatchdog(ctx) // WATCHDOG=1 every WATCHDOG_USEC/2, if set
	_ = n.Ready()
	// ... serve until asked to stop ...
	_ = n.Stopping()
	cancel()
	stop()
}
