package keystone

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// goleak.Cleanup replaces the final os.Exit: stop the real Keystone (if
	// a test started one) after the leak check, then exit with its code. A
	// test binary killed before this point leaves no server behind either:
	// the script's watchdog follows this process's PID.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		stopSharedKeystone()
		os.Exit(code)
	}))
}
