//go:build linux

package client

import (
	"time"

	"golang.org/x/sys/unix"
)

// monotonicUptime is CLOCK_MONOTONIC, what mtcClient puts in parm[0].
func monotonicUptime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Since(processStart)
	}
	return time.Duration(ts.Nano())
}
