//go:build unix

package ipmitool

import (
	"os/exec"
	"syscall"
)

// inOwnGroup starts the command as the leader of a new process group, and
// makes cancellation kill the whole group (ipmitool and anything it
// started), not just the direct child.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
