package eventapi

import (
	"testing"

	"go.uber.org/goleak"
)

// The loopback tests run servers; every goroutine must be joined.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
