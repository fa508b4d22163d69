package client

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// sentinelDir holds executables named systemctl and wipedisk, first in
// PATH for the whole test binary: if anything runs either, it leaves a
// mark and the run fails. (CI runs as root: a real systemctl reboot would
// take the machine down.)
var sentinelDir string

const sentinelMark = "SENTINEL-RAN"

type sentinelM struct{ m *testing.M }

func (s sentinelM) Run() int {
	code := s.m.Run()
	if b, err := os.ReadFile(filepath.Join(sentinelDir, sentinelMark)); err == nil {
		fmt.Fprintf(os.Stderr, "FAIL: a sentinel executable was run by the tests:\n%s", b)
		code = 1
	}
	_ = os.RemoveAll(sentinelDir)
	return code
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mtcclient-sentinel-")
	if err != nil {
		panic(err)
	}
	sentinelDir = dir
	for _, name := range []string{"systemctl", "wipedisk"} {
		script := fmt.Sprintf("#!/bin/sh\necho \"%s $*\" >> '%s'\nexit 1\n", name, filepath.Join(dir, sentinelMark))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			panic(err)
		}
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	goleak.VerifyTestMain(sentinelM{m})
}

// checkSentinel fails t if a sentinel has run so far.
func checkSentinel(t testing.TB) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(sentinelDir, sentinelMark)); err == nil {
		t.Fatalf("a sentinel executable was run: %s", b)
	}
}
