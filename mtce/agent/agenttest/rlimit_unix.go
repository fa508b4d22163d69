//go:build unix

package agenttest

import (
	"fmt"
	"syscall"
)

// raiseNoFile raises the soft RLIMIT_NOFILE to at least need, up to the
// hard limit, and fails if the hard limit is below need.
func raiseNoFile(need uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("agenttest: getrlimit: %w", err)
	}
	if l.Cur >= need {
		return nil
	}
	if l.Max < need {
		return fmt.Errorf("agenttest: RLIMIT_NOFILE hard limit %d is below the %d descriptors needed", l.Max, need)
	}
	l.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("agenttest: setrlimit(RLIMIT_NOFILE, %d): %w", need, err)
	}
	return nil
}
