// Package metrics serves a daemon's Prometheus registry, and a readiness
// flag, to the local machine only.
//
// # Guarantees
//
//   - The registry is the server's own (prometheus.NewRegistry), never
//     prometheus.DefaultRegisterer, and holds the Go runtime and process
//     collectors; the /metrics handler also counts its own requests and
//     errors (promhttp_metric_handler_*).
//   - Only loopback is served: Config.Validate refuses any address whose
//     host is not an IP in 127.0.0.0/8 or ::1 or "localhost" (so ":9101",
//     "0.0.0.0:9101" and a host name are errors wrapping ErrNotLoopback),
//     and Listen checks that "localhost" bound a loopback address. A unix
//     socket ("unix:/run/mtc/metrics.sock") is accepted; a stale socket
//     file is replaced, a live one or a non-socket file is an error.
//   - GET /metrics is the text exposition; GET /healthz is 200 "ok" after
//     SetReady(true), 503 "not ready" before it or after SetReady(false).
//   - Shutdown is bounded by its context; Run bounds it by
//     Config.ShutdownTimeout and returns only after its serving goroutine
//     has.
//
// # Caller duties
//
//   - Register the daemon's collectors on Registry() before serving, and
//     only there.
//   - Set readiness when the daemon is ready (with systemd's READY=1).
//   - For a unix socket, create its directory with the permissions that
//     decide who may read the metrics; the socket itself is created with
//     the process umask.
package metrics
