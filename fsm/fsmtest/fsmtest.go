// Package fsmtest helps test packages that define [fsm] machines: it keeps
// golden files, such as a package's checked-in state diagrams, in step with
// the code.
//
// A package that defines a machine checks in a DIAGRAMS.md beside its
// doc.go, has a test
//
//	func TestDiagrams(t *testing.T) {
//		fsmtest.CheckDiagrams(t, "DIAGRAMS.md", "Title", &def)
//	}
//
// and a line in its doc.go
//
//	//go:generate go test -run=^TestDiagrams$ -fsm.update .
//
// so that go generate rewrites the file and go test fails while the file is
// stale.
package fsmtest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"opendev.org/starlingx/metal-go/fsm"
)

var update = flag.Bool("fsm.update", false, "rewrite golden files (fsmtest.CheckGolden, CheckDiagrams) instead of comparing")

// Updating reports whether the test binary runs with -fsm.update.
func Updating() bool { return *update }

// CheckGolden compares got with the file at path. With -fsm.update it
// writes got to path (creating its directory) instead. A missing or
// different file fails the test with a hint to run with -fsm.update, or
// with hint if it is not empty.
func CheckGolden(t testing.TB, path string, got []byte, hint string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if hint == "" {
		hint = "rerun the test with -fsm.update"
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (%s)", path, err, hint)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale (%s); first difference:\n%s", path, hint, firstDiff(string(want), string(got)))
	}
}

// CheckDiagrams renders ds with [fsm.WriteMarkdown] under title and checks
// the result against the Markdown file at path, as [CheckGolden] does.
func CheckDiagrams(t testing.TB, path, title string, ds ...fsm.Diagram) {
	t.Helper()
	var b bytes.Buffer
	if err := fsm.WriteMarkdown(&b, title, ds...); err != nil {
		t.Fatal(err)
	}
	CheckGolden(t, path, b.Bytes(), "run go generate in the package directory")
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return "line " + strconv.Itoa(i+1) + ":\n  file: " + wl + "\n  code: " + gl
		}
	}
	return "(none)"
}
