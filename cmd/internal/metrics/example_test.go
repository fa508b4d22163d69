package metrics_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"opendev.org/starlingx/metal-go/cmd/internal/metrics"
)

func ExampleNew() {
	_, err := metrics.New(metrics.Config{Addr: ":9101"})
	fmt.Println(err)

	s, err := metrics.New(metrics.Config{Addr: "127.0.0.1:9101"})
	if err != nil {
		panic(err)
	}
	s.Registry().MustRegister(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mtc_udp_dropped_total", Help: "UDP messages dropped."}))
	// Then: go s.Run(ctx), or run.Component{Name: "metrics", Run: s.Run}.
	// Output:
	// metrics: address must be loopback (127.0.0.0/8, ::1, localhost) or unix:/path: ":9101" listens on all interfaces
}
