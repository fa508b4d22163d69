//go:build !linux

package client

import "time"

// monotonicUptime approximates CLOCK_MONOTONIC by the process's own age.
func monotonicUptime() time.Duration { return time.Since(processStart) }
