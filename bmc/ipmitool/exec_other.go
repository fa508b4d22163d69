//go:build !unix

package ipmitool

import "os/exec"

// inOwnGroup: without Unix process groups only the child itself is killed
// at the deadline (exec.Cmd's default Cancel).
func inOwnGroup(*exec.Cmd) {}
