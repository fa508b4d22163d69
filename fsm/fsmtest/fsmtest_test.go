package fsmtest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opendev.org/starlingx/metal-go/fsm"
	"opendev.org/starlingx/metal-go/fsm/fsmtest"
)

// fakeTB records failures instead of failing the test.
type fakeTB struct {
	testing.TB
	msgs []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatal(args ...any) { f.msgs = append(f.msgs, fmt.Sprint(args...)) }

func def(to string) *fsm.Definition[string, string] {
	return &fsm.Definition[string, string]{Name: "m", Initial: "a",
		Transitions: []fsm.Transition[string, string]{{From: "a", Event: "e", To: to}}}
}

func TestCheckDiagramsDetectsStaleFile(t *testing.T) {
	if fsmtest.Updating() {
		t.Skip("-fsm.update rewrites instead of comparing")
	}
	path := filepath.Join(t.TempDir(), "DIAGRAMS.md")
	var b strings.Builder
	if err := fsm.WriteMarkdown(&b, "T", def("b")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	ok := &fakeTB{TB: t}
	fsmtest.CheckDiagrams(ok, path, "T", def("b"))
	if len(ok.msgs) != 0 {
		t.Fatalf("up-to-date file reported: %q", ok.msgs)
	}

	stale := &fakeTB{TB: t}
	fsmtest.CheckDiagrams(stale, path, "T", def("c"))
	if len(stale.msgs) != 1 || !strings.Contains(stale.msgs[0], "stale") || !strings.Contains(stale.msgs[0], "go generate") {
		t.Fatalf("stale file: %q", stale.msgs)
	}

	missing := &fakeTB{TB: t}
	fsmtest.CheckDiagrams(missing, path+".none", "T", def("b"))
	if len(missing.msgs) != 1 {
		t.Fatalf("missing file: %q", missing.msgs)
	}
}
