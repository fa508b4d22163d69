package agent_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"opendev.org/starlingx/metal-go/mtce/agent"
)

// A configuration without files is refused, naming every missing field.
func ExampleConfig_Validate() {
	err := agent.DefaultConfig().Validate()
	fmt.Println(errors.Is(err, agent.ErrInvalidConfig))
	// Output: true
}

// Running the agent as a daemon does: load, run until SIGTERM, metrics
// on an own registry.
func ExampleNew() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := agent.Load(agent.Paths{Root: "/"}, log)
	if err != nil {
		log.Error("configuration", "err", err) // names the file and key
		return
	}
	a, err := agent.New(cfg)
	if err != nil {
		log.Error("agent", "err", err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.Collector())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		log.Error("agent stopped", "err", err)
	}
}
