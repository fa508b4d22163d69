//go:build linux

package loadtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the whole harness small and fast in every `go test`, so
// it cannot rot: 50 workers sending mtcAlive every second, 2 s windows.
// Its figures mean nothing (and may run under -race); it checks that the
// agent sees every host, answers every request as the real clients
// accept it, and exits 0.
func TestSmoke(t *testing.T) {
	r := run(t, params{
		Workers:    50,
		Period:     time.Second,
		Warmup:     500 * time.Millisecond,
		Window:     2 * time.Second,
		SysInvRate: 20,
		VIMRate:    5,
		ReadyWait:  30 * time.Second,
	})
	t.Log(r)
}

// TestLoad is the measurement (METAL_LOAD=1; see the package
// documentation for the other variables).
func TestLoad(t *testing.T) {
	if os.Getenv("METAL_LOAD") != "1" {
		t.Skip("load figures take minutes: run with METAL_LOAD=1, without -race (see doc.go)")
	}
	hosts := envInts(t, "METAL_LOAD_HOSTS", []int{100, 1000, 5000})
	runs := envInts(t, "METAL_LOAD_RUNS", []int{2})[0]
	p := params{
		Period:     5 * time.Second,
		Warmup:     envDuration(t, "METAL_LOAD_WARMUP", 15*time.Second),
		Window:     envDuration(t, "METAL_LOAD_WINDOW", 60*time.Second),
		SysInvRate: envFloat(t, "METAL_LOAD_SYSINV_RATE", 10),
		VIMRate:    envFloat(t, "METAL_LOAD_VIM_RATE", 2),
	}
	// Runs alternate over the sizes, so a change in the machine's other
	// load spreads over all of them.
	for i := 1; i <= runs; i++ {
		for _, n := range hosts {
			t.Run(fmt.Sprintf("workers=%d/run=%d", n, i), func(t *testing.T) {
				p := p
				p.Workers = n
				p.ReadyWait = 60*time.Second + time.Duration(n)*20*time.Millisecond
				r := run(t, p)
				t.Log(r)
			})
		}
	}
}

func envInts(t *testing.T, key string, def []int) []int {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want positive integers, comma-separated", key, v)
		}
		out = append(out, n)
	}
	return out
}

func envDuration(t *testing.T, key string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", key, v)
	}
	return d
}

func envFloat(t *testing.T, key string, def float64) float64 {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		t.Fatalf("%s=%q: want a non-negative number", key, v)
	}
	return f
}
