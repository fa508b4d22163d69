package logging_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"opendev.org/starlingx/metal-go/cmd/internal/logging"
)

type token string

func (token) LogValue() slog.Value { return slog.StringValue("[redacted]") }

func Example() {
	h := logging.NewHandler(logging.Options{Name: "mtcagent", Output: os.Stdout})
	log := slog.New(h).With("host", "controller-0").WithGroup("keystone")
	// Records made by a slog.Logger carry the current time; this one has a
	// fixed time so that the output is deterministic.
	r := slog.NewRecord(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), slog.LevelInfo, "token renewed", 0)
	r.AddAttrs(slog.Any("token", token("gAAAA-secret")), slog.Duration("age", 90*time.Second))
	_ = log.Handler().Handle(context.Background(), r)
	// Output:
	// 2026-05-01T12:00:00.000Z [INFO]  mtcagent: token renewed: host=controller-0 keystone.token=[redacted] keystone.age=1m30s
}

func Example_json() {
	h := logging.NewHandler(logging.Options{Name: "mtcclient", JSON: true, Output: os.Stdout})
	r := slog.NewRecord(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), slog.LevelWarn, "script failed", 0)
	r.AddAttrs(slog.Group("set", "name", "worker", "rc", 1))
	_ = h.Handle(context.Background(), r)
	// Output:
	// {"@level":"warn","@message":"script failed","@module":"mtcclient","@timestamp":"2026-05-01T12:00:00.000000Z","set.name":"worker","set.rc":1}
}
