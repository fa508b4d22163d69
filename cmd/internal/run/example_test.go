package run_test

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"opendev.org/starlingx/metal-go/cmd/internal/cli"
	"opendev.org/starlingx/metal-go/cmd/internal/logging"
	"opendev.org/starlingx/metal-go/cmd/internal/metrics"
	"opendev.org/starlingx/metal-go/cmd/internal/run"
	"opendev.org/starlingx/metal-go/cmd/internal/sdnotify"
)

func ExampleRun() {
	sigs := make(chan os.Signal, 1) // a daemon leaves Config.Signals nil
	server := run.Component{Name: "server", Run: func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("server drained")
		return nil
	}}
	cfg := run.Config{
		Signals:  sigs,
		Drain:    10 * time.Second,
		Reload:   func(context.Context) error { fmt.Println("reloaded"); return nil },
		Stopping: func() { fmt.Println("stopping") },
	}
	sigs <- syscall.SIGTERM
	fmt.Println("Run:", run.Run(context.Background(), cfg, server))
	// Output:
	// stopping
	// server drained
	// Run: <nil>
}

// How a daemon's main puts the packages together.
func Example_daemon() {
	var flags cli.Common
	log := logging.New(logging.Options{Name: "mtcdemo", Output: os.Stdout, Level: &flags.LogLevel})
	m, err := metrics.New(metrics.Config{Addr: "127.0.0.1:0", Logger: log})
	if err != nil {
		fmt.Println(cli.ConfigError("mtcdemo", err))
		return // os.Exit(cli.ExitConfig)
	}
	if err := m.Listen(); err != nil {
		fmt.Println(err)
		return
	}
	notify := sdnotify.FromEnv(log)
	work := run.Component{Name: "work", Run: func(ctx context.Context) error {
		m.SetReady(true)
		_ = notify.Ready()
		<-ctx.Done()
		return nil
	}}
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM // for the example; a daemon leaves Signals nil
	err = run.Run(context.Background(), run.Config{
		Signals: sigs,
		Stopping: func() {
			m.SetReady(false)
			_ = notify.Stopping()
		},
	}, work, run.Component{Name: "metrics", Run: m.Run}, run.Component{Name: "watchdog", Run: notify.Watchdog})
	fmt.Println("exit status", map[bool]int{true: cli.ExitOK, false: cli.ExitFailure}[err == nil])
	// Output:
	// exit status 0
}
