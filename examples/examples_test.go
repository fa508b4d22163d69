// Package examples_test runs every program under examples/ as a user would
// (built with the go command, run as a child process in wall time) and checks
// that it exits 0 within a bound and prints what it claims, so the README's
// programs cannot rot unnoticed.
package examples_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// want lists, per program, lines its output must contain. A program added
// under examples/ without an entry here fails TestExamplesCovered.
var want = map[string][]string{
	"workqueue": {
		"refused before enqueue: workqueue: overloaded",
		"is not affected by compute-2's full lane",
		"gate opens",
		"attempt 3 ok",
		"== stats: admitted 17, rejected 2",
		"failed 0",
	},
	"platform": {
		"simulated platform: keystone http://127.0.0.1:",
		"loaded controller-0 controller unlocked/enabled/available",
		"FIT: token corrupted",
		"renewals after 401: 1",
		"failed 0",
	},
}

// bound is how long one program may run (they take ~10 s on 2 loaded cores).
const bound = 90 * time.Second

func programs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "testdata" {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestExamplesCovered(t *testing.T) {
	for _, p := range programs(t) {
		if _, ok := want[p]; !ok {
			t.Errorf("examples/%s has no expected output in examples_test.go", p)
		}
	}
	for p := range want {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("expected program examples/%s: %v", p, err)
		}
	}
}

func TestExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every example (about 10 s each): not in -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := t.TempDir()
	for _, p := range programs(t) {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			exe := filepath.Join(bin, p)
			build := exec.CommandContext(t.Context(), gobin, "build", "-o", exe, "./"+p)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build ./examples/%s: %v\n%s", p, err, out)
			}
			ctx, cancel := context.WithTimeout(t.Context(), bound)
			defer cancel()
			start := time.Now()
			out, err := exec.CommandContext(ctx, exe).CombinedOutput()
			took := time.Since(start)
			if ctx.Err() != nil {
				t.Fatalf("examples/%s still running after %v; output so far:\n%s", p, bound, out)
			}
			if err != nil {
				t.Fatalf("examples/%s: %v after %v\n%s", p, err, took, out)
			}
			for _, w := range want[p] {
				if !strings.Contains(string(out), w) {
					t.Errorf("examples/%s output lacks %q; output:\n%s", p, w, out)
				}
			}
			t.Logf("examples/%s: exit 0 in %v", p, took.Round(time.Millisecond))
		})
	}
}
