package hostsvc

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Launch overhead per script: the Runner running a one-script set
// (listing, security checks, process group, output tail, collection) beside
// a plain exec.Command(...).Run() of the same script, in the same run.
//
//	go test -run '^$' -bench 'Launch|Set20' -benchtime 200x ./hostsvc/
func BenchmarkLaunch(b *testing.B) {
	root := mkServices(b, layout{Controller: nil})
	script := filepath.Join(root, "controller", "s")
	writeScript(b, script, "#!/bin/sh\nexit 0\n")
	b.Run("exec.Command", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command(script, "start", "both").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("runner", func(b *testing.B) {
		r := benchRunner(b, root)
		for b.Loop() {
			if res := r.Run(b.Context(), StartCommand(Controller)); !res.OK() {
				b.Fatal(res)
			}
		}
	})
}

// A set of 20 scripts end to end, beside 20 exec.Commands started together
// and then waited for.
func BenchmarkSet20(b *testing.B) {
	root := mkServices(b, layout{Controller: nil})
	var scripts []string
	for i := range MaxScripts {
		p := filepath.Join(root, "controller", fmt.Sprintf("s%02d", i))
		writeScript(b, p, "#!/bin/sh\nexit 0\n")
		scripts = append(scripts, p)
	}
	b.Run("exec.Command-parallel", func(b *testing.B) {
		for b.Loop() {
			cmds := make([]*exec.Cmd, len(scripts))
			for i, s := range scripts {
				cmds[i] = exec.Command(s, "start", "both")
				if err := cmds[i].Start(); err != nil {
					b.Fatal(err)
				}
			}
			for _, c := range cmds {
				if err := c.Wait(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("runner", func(b *testing.B) {
		r := benchRunner(b, root)
		for b.Loop() {
			if res := r.Run(b.Context(), StartCommand(Controller)); !res.OK() || len(res.Scripts) != MaxScripts {
				b.Fatal(res)
			}
		}
	})
}

func benchRunner(b *testing.B, root string) *Runner {
	cfg := DefaultConfig(stdController)
	cfg.ServicesRoot, cfg.TrustCurrentUser, cfg.Timeout = root, true, time.Minute
	r, err := NewRunner(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// The Runner's own cost per set of 20, without processes: listing and
// checking the 20 files, bookkeeping, one goroutine per script (fake
// launcher whose processes exit at once). Divide by 20 for the per-script
// overhead that the Runner adds on top of fork/exec.
func BenchmarkSet20NoProcess(b *testing.B) {
	root := mkServices(b, layout{Controller: nil})
	for i := range MaxScripts {
		writeScript(b, filepath.Join(root, "controller", fmt.Sprintf("s%02d", i)), "#!/bin/sh\n")
	}
	r := newTestRunner(b, stdController, root, newFakeLauncher(fakeBehavior{}), time.Minute)
	b.Run("plan-only", func(b *testing.B) {
		for b.Loop() {
			if s, err := r.Plan(StartCommand(Controller)); err != nil || len(s) != MaxScripts {
				b.Fatal(err)
			}
		}
	})
	b.Run("run", func(b *testing.B) {
		for b.Loop() {
			if res := r.Run(b.Context(), StartCommand(Controller)); !res.OK() {
				b.Fatal(res)
			}
		}
	})
}
