//go:build linux

package loadtest

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// goleak.VerifyTestMain exits, so the built binary's directory is
	// removed by a wrapper around m.Run.
	goleak.VerifyTestMain(cleanup{m})
}

// cleanup removes the directory buildAgent made once the tests have run.
type cleanup struct{ m *testing.M }

func (c cleanup) Run() int {
	code := c.m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	return code
}
