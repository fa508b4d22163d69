package ipmitool_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The test binary doubles as a fake ipmitool (see fake_test.go).
	if filepath.Base(os.Args[0]) == fakeName {
		// syscall.Exit, not os.Exit: under -race, os.Exit lets the race
		// runtime sleep 1 s at exit, which would make every fake ipmitool
		// call take a second.
		syscall.Exit(fakeIPMITool())
	}
	goleak.VerifyTestMain(m)
}
