package hostsvc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"opendev.org/starlingx/metal-go/hostsvc"
)

// mkdirs creates <root>/<function> directories and scripts for the examples.
func mkdirs(scripts map[string]string) string {
	root, err := os.MkdirTemp("", "hostsvc-example")
	if err != nil {
		panic(err)
	}
	for _, f := range []string{"controller", "worker", "storage"} {
		if err := os.Mkdir(filepath.Join(root, f), 0o755); err != nil {
			panic(err)
		}
	}
	for rel, body := range scripts {
		p := filepath.Join(root, rel)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			panic(err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			panic(err)
		}
	}
	return root
}

// A Runner runs one script set: here two real scripts, launched in parallel
// with "<script> start both"; the first failing one (in path order) is
// reported with its exit code.
func ExampleRunner_Run() {
	root := mkdirs(map[string]string{
		"worker/10-network": "#!/bin/sh\necho \"$1 $2\"\n",
		"worker/20-storage": "#!/bin/sh\necho disk missing >&2\nexit 2\n",
	})
	defer os.RemoveAll(root)

	cfg := hostsvc.DefaultConfig(hostsvc.Node{
		Functions: hostsvc.Functions(hostsvc.Worker),
		System:    hostsvc.Standard,
	})
	cfg.ServicesRoot = root
	cfg.TrustCurrentUser = true // the temp dir is not owned by root
	r, err := hostsvc.NewRunner(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	res := r.Run(context.Background(), hostsvc.StartCommand(hostsvc.Worker))
	fmt.Println(res.Outcome, filepath.Base(res.Script), res.ExitCode)
	for _, s := range res.Scripts {
		fmt.Printf("%s rc=%d output=%q\n", filepath.Base(s.Path), s.ExitCode, s.Output)
	}
	// Output:
	// failed 20-storage 2
	// 10-network rc=0 output="start both\n"
	// 20-storage rc=2 output="disk missing\n"
}

// On an all-in-one controller the start-up auto-start starts controller,
// then worker services; an agent request for a set already requested is
// coalesced into it. Every executed set gives exactly one result.
func ExampleScheduler_AutoStart() {
	root := mkdirs(map[string]string{
		"controller/sm":   "#!/bin/sh\n",
		"worker/kubelet":  "#!/bin/sh\n",
		"worker/vswitchd": "#!/bin/sh\n",
	})
	defer os.RemoveAll(root)
	flags := filepath.Join(root, "flags")
	os.MkdirAll(filepath.Join(flags, "var/run"), 0o755)
	os.WriteFile(filepath.Join(flags, hostsvc.GoEnabledSubfFile), nil, 0o644)

	cfg := hostsvc.DefaultConfig(hostsvc.Node{
		Functions: hostsvc.Functions(hostsvc.Controller, hostsvc.Worker),
		System:    hostsvc.AIOSimplex,
	})
	cfg.ServicesRoot, cfg.TrustCurrentUser = root, true
	r, _ := hostsvc.NewRunner(cfg)

	scfg := hostsvc.DefaultSchedulerConfig(r)
	scfg.FlagRoot = flags
	scfg.OnResult = func(res hostsvc.Result) {
		// The maintenance client sends its "host services result" here.
		fmt.Printf("result of run %d: %s\n", res.Run, res.Text())
	}
	s, _ := hostsvc.NewScheduler(scfg)
	ctx, stop := context.WithCancel(context.Background())

	// Requests made before Run starts are queued, which keeps this example
	// deterministic; in a daemon Run is usually started first.
	tickets, err := s.AutoStart(ctx) // the goenabled_subf flag is already there
	if err != nil {
		fmt.Println(err)
	}
	agent, _ := s.Submit(hostsvc.StartCommand(hostsvc.Worker)) // duplicate of the pending worker start

	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	res, _ := agent.Wait(ctx)
	fmt.Println("agent answered by run", res.Run, "same as auto-start:", res.Run == tickets[1].RunID())
	fmt.Printf("flags: %+v\n", s.Flags())

	stop()
	<-done
	// Output:
	// result of run 1: start controller host services
	// result of run 2: start worker host services
	// agent answered by run 2 same as auto-start: true
	// flags: {MainServicesFailed:false SubfServicesFailed:false}
}

// An empty script directory completes at once as a pass with exactly one
// result, and nothing more is produced afterwards: StarlingX sent ~20 results
// a second here before dab9c47, and none at all after it.
func ExampleScheduler_Do_emptySet() {
	root := mkdirs(nil)
	defer os.RemoveAll(root)
	cfg := hostsvc.DefaultConfig(hostsvc.Node{Functions: hostsvc.Functions(hostsvc.Storage), System: hostsvc.Standard})
	cfg.ServicesRoot, cfg.TrustCurrentUser = root, true
	r, _ := hostsvc.NewRunner(cfg)
	results := 0
	scfg := hostsvc.DefaultSchedulerConfig(r)
	scfg.OnResult = func(hostsvc.Result) { results++ }
	s, _ := hostsvc.NewScheduler(scfg)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	res, err := s.Do(ctx, hostsvc.StartCommand(hostsvc.Storage))
	fmt.Println(res.Outcome, res.Text(), len(res.Scripts), err)
	stop()
	<-done
	fmt.Println("results:", results)
	// Output:
	// pass start storage host services 0 <nil>
	// results: 1
}

// Refused sets are typed errors naming the file.
func ExampleRunner_Plan() {
	root := mkdirs(map[string]string{"controller/open": "#!/bin/sh\n"})
	defer os.RemoveAll(root)
	os.Chmod(filepath.Join(root, "controller/open"), 0o777)

	cfg := hostsvc.DefaultConfig(hostsvc.Node{Functions: hostsvc.Functions(hostsvc.Controller), System: hostsvc.Standard})
	cfg.ServicesRoot, cfg.TrustCurrentUser = root, true
	r, _ := hostsvc.NewRunner(cfg)
	_, err := r.Plan(hostsvc.StartCommand(hostsvc.Controller))
	var fe *hostsvc.FileError
	if errors.As(err, &fe) {
		fmt.Println(filepath.Base(fe.Path), errors.Is(err, hostsvc.ErrInsecure), fe.Detail)
	}
	// Output:
	// open true world-writable, mode 0777
}
