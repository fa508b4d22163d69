package demo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{System: "simplex"},
		{Workers: 51},
		{ScriptTime: -1},
		{ScriptTime: 2 * time.Minute},
		{Dir: "relative"},
	} {
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
	if c := (Config{System: SystemStandard}).withDefaults(); c.Workers != DefaultWorkers {
		t.Errorf("standard workers %d", c.Workers)
	}
	if c := (Config{System: SystemStandard, Workers: -1}).withDefaults(); c.Workers != 0 {
		t.Errorf("standard workers %d with -1", c.Workers)
	}
}

// processesUnder lists the processes whose command line names a file
// under dir.
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if cl := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cl, dir) {
			out = append(out, e.Name()+": "+cl)
		}
	}
	return out
}

// Close while every host runs its start scripts: no script process and no
// temporary directory are left, and Close is idempotent. Close before
// Start works too.
func TestCloseWhileScriptsRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ScriptTime = 30 * time.Second // still running at Close
	running := make(chan struct{}, 4)
	cfg.OnEvent = func(e Event) {
		if e.Kind == KindServices && strings.HasSuffix(e.Text, ": running") {
			select {
			case running <- struct{}{}:
			default:
			}
		}
	}
	d := newUnstarted(t, cfg)
	defer d.Close()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-running:
	case <-time.After(20 * time.Second):
		t.Fatal("no script set running 20 s after start")
	}
	// "running" is logged just before the scripts are launched.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.until(ctx, func() string {
		if len(processesUnder(t, filepath.Join(d.Dir(), "controller-0", "etc/services.d"))) == 0 {
			return "no script process of controller-0"
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v with scripts running", time.Since(start))
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if ps := processesUnder(t, d.Dir()); len(ps) != 0 {
		t.Errorf("processes left behind: %v", ps)
	}
	if _, err := os.Stat(d.Dir()); !os.IsNotExist(err) {
		t.Errorf("temporary directory left: %v", err)
	}
	if err := d.Action(context.Background(), "controller-0", "lock"); !errors.Is(err, ErrClosed) {
		t.Errorf("Action after Close: %v", err)
	}

	d2 := newUnstarted(t, DefaultConfig())
	if err := d2.Action(context.Background(), "controller-0", "lock"); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Action before Start: %v", err)
	}
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d2.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

// The host-services script fails a start while the host's fail flag
// exists, and never a stop.
func TestFailScripts(t *testing.T) {
	d := newUnstarted(t, Config{ScriptTime: time.Millisecond})
	defer d.Close()
	h := d.byName["controller-1"]
	if err := writeHostTree(d, h); err != nil {
		t.Fatal(err)
	}
	sh := filepath.Join(h.root, "etc/services.d/worker/demo-worker-services.sh")
	run := func(arg string) error { return exec.Command(sh, arg).Run() }
	if err := run("start"); err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := d.FailScripts("controller-1", true); err != nil {
		t.Fatal(err)
	}
	if err := run("start"); err == nil {
		t.Error("start passed with fail-scripts on")
	}
	if err := run("stop"); err != nil {
		t.Errorf("stop failed with fail-scripts on: %v", err)
	}
	if err := d.FailScripts("controller-1", false); err != nil {
		t.Fatal(err)
	}
	if err := run("start"); err != nil {
		t.Errorf("start after fail-scripts off: %v", err)
	}
	if err := d.FailScripts("nohost", true); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("unknown host: %v", err)
	}
}

// Close while Start runs: Start returns, nothing is left behind.
func TestCloseDuringStart(t *testing.T) {
	d := newUnstarted(t, DefaultConfig())
	started := make(chan error, 1)
	go func() { started <- d.Start(context.Background()) }()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-started:
		t.Logf("Start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return after Close")
	}
	if _, err := os.Stat(d.Dir()); !os.IsNotExist(err) {
		t.Errorf("temporary directory left: %v", err)
	}
}
