package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// TestMain puts sentinel executables named systemctl and wipedisk first
// in PATH: the demo must never run them (CI runs as root). Each one
// records that it ran; the suite fails if either did.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demo-sentinel-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ran := filepath.Join(dir, "ran")
	for _, name := range []string{"systemctl", "wipedisk"} {
		script := "#!/bin/sh\necho " + name + " \"$@\" >> '" + ran + "'\nexit 1\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if b, err := os.ReadFile(ran); err == nil {
			fmt.Fprintf(os.Stderr, "FAIL: a machine action ran: %s", b)
			code = 1
		}
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}
