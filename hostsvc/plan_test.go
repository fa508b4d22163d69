package hostsvc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPlanAIOMerge(t *testing.T) {
	root := mkServices(t, allDirs())
	p := func(f Function, names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, filepath.Join(root, f.String(), n))
		}
		return out
	}
	cw := append(p(Controller, "c1", "c2"), p(Worker, "w1", "w2")...)
	cases := []struct {
		node Node
		cmd  Command
		want []string
	}{
		{aioController, StopCommand(Worker), cw},
		{aioController, StopCommand(Controller), cw},
		{aioSimplex, StopCommand(Worker), cw},
		{aioController, StartCommand(Controller), p(Controller, "c1", "c2")},
		{aioController, StartCommand(Worker), p(Worker, "w1", "w2")},
		{aioController, StopCommand(Storage), p(Storage, "s1", "s2")},
		{aioPlusWorker, StopCommand(Worker), p(Worker, "w1", "w2")},
		{Node{Functions: Functions(Controller), System: AIODuplex}, StopCommand(Controller), p(Controller, "c1", "c2")},
		{Node{Functions: Functions(Controller, Worker), System: Standard}, StopCommand(Worker), p(Worker, "w1", "w2")},
		{stdController, StopCommand(Controller), p(Controller, "c1", "c2")},
	}
	for _, c := range cases {
		r := newTestRunner(t, c.node, root, newFakeLauncher(fakeBehavior{}), time.Second)
		got, err := r.Plan(c.cmd)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%v %s on %s: got %v, %v; want %v", c.node.System, c.cmd, c.node.Functions, got, err, c.want)
		}
	}
}

func TestPlanSortedAndSymlink(t *testing.T) {
	root := mkServices(t, layout{Worker: {"b", "a", "C", "10-x", "9-y"}})
	target := filepath.Join(t.TempDir(), "real")
	writeScript(t, target, "#!/bin/sh\n")
	if err := os.Symlink(target, filepath.Join(root, "worker", "link")); err != nil {
		t.Fatal(err)
	}
	r := newTestRunner(t, stdWorker, root, newFakeLauncher(fakeBehavior{}), time.Second)
	got, err := r.Plan(StartCommand(Worker))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	if want := []string{"10-x", "9-y", "C", "a", "b", "link"}; !slices.Equal(names, want) {
		t.Fatalf("order %v want %v (byte order, as std::list::sort)", names, want)
	}
}

// TestPlanBadInput: every bad directory or file is a typed error naming it,
// never a panic, and Run turns it into one LaunchFailed result without
// launching anything.
func TestPlanBadInput(t *testing.T) {
	type tc struct {
		name  string
		setup func(t *testing.T, root string) string // returns the path the error must name
		is    error
		node  Node
	}
	scriptIn := func(root, name string) string { return filepath.Join(root, "controller", name) }
	cases := []tc{
		{"missing dir", func(t *testing.T, root string) string {
			os.RemoveAll(filepath.Join(root, "controller"))
			return filepath.Join(root, "controller")
		}, fs.ErrNotExist, stdController},
		{"missing merged dir", func(t *testing.T, root string) string {
			os.RemoveAll(filepath.Join(root, "worker"))
			return filepath.Join(root, "worker")
		}, fs.ErrNotExist, aioController},
		{"dir is a file", func(t *testing.T, root string) string {
			d := filepath.Join(root, "controller")
			os.RemoveAll(d)
			writeScript(t, d, "x")
			return d
		}, syscall.ENOTDIR, stdController},
		{"not executable", func(t *testing.T, root string) string {
			p := scriptIn(root, "c1")
			os.Chmod(p, 0o644)
			return p
		}, ErrNotExecutable, stdController},
		{"subdirectory", func(t *testing.T, root string) string {
			p := scriptIn(root, "sub")
			os.Mkdir(p, 0o755)
			return p
		}, ErrNotRegular, stdController},
		{"fifo", func(t *testing.T, root string) string {
			p := scriptIn(root, "fifo")
			if err := syscall.Mkfifo(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrNotRegular, stdController},
		{"dangling symlink", func(t *testing.T, root string) string {
			p := scriptIn(root, "dangling")
			os.Symlink(filepath.Join(root, "nowhere"), p)
			return p
		}, fs.ErrNotExist, stdController},
		{"group-writable script", func(t *testing.T, root string) string {
			p := scriptIn(root, "c2")
			os.Chmod(p, 0o775)
			return p
		}, ErrInsecure, stdController},
		{"world-writable script", func(t *testing.T, root string) string {
			p := scriptIn(root, "c2")
			os.Chmod(p, 0o757)
			return p
		}, ErrInsecure, stdController},
		{"world-writable symlink target", func(t *testing.T, root string) string {
			target := filepath.Join(root, "target")
			writeScript(t, target, "#!/bin/sh\n")
			os.Chmod(target, 0o777)
			p := scriptIn(root, "link")
			os.Symlink(target, p)
			return p
		}, ErrInsecure, stdController},
		{"group-writable dir", func(t *testing.T, root string) string {
			d := filepath.Join(root, "controller")
			os.Chmod(d, 0o775)
			return d
		}, ErrInsecure, stdController},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := mkServices(t, allDirs())
			want := c.setup(t, root)
			fl := newFakeLauncher(fakeBehavior{})
			r := newTestRunner(t, c.node, root, fl, time.Second)
			cmd := StartCommand(Controller)
			if c.node.AIOController() {
				cmd = StopCommand(Controller)
			}
			_, err := r.Plan(cmd)
			var fe *FileError
			if !errors.As(err, &fe) || !errors.Is(err, c.is) || fe.Path != want {
				t.Fatalf("Plan error %v (%T); want *FileError for %s matching %v", err, err, want, c.is)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error text %q does not name %s", err, want)
			}
			res := r.Run(t.Context(), cmd)
			if res.Outcome != LaunchFailed || res.Script != want || !errors.Is(res.Err, c.is) {
				t.Fatalf("Run: %v %s %v", res.Outcome, res.Script, res.Err)
			}
			if len(fl.paths()) != 0 {
				t.Fatalf("launched %v despite a refused set", fl.paths())
			}
		})
	}
}

func TestPlanOwner(t *testing.T) {
	root := mkServices(t, layout{Controller: {"a"}})
	p := filepath.Join(root, "controller", "a")
	cfg := DefaultConfig(stdController)
	cfg.ServicesRoot, cfg.Launcher = root, newFakeLauncher(fakeBehavior{})
	if os.Geteuid() == 0 {
		// Root-owned files pass without TrustCurrentUser; another owner does not.
		r, _ := NewRunner(cfg)
		if _, err := r.Plan(StartCommand(Controller)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cfg.TrustCurrentUser = true // the current user is root, still not 65534
	}
	r, _ := NewRunner(cfg)
	_, err := r.Plan(StartCommand(Controller))
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, ErrInsecure) || fe.Path != p || !strings.Contains(fe.Detail, "owner uid") {
		t.Fatalf("got %v", err)
	}
	if os.Geteuid() != 0 {
		cfg.TrustCurrentUser = true
		r, _ := NewRunner(cfg)
		if _, err := r.Plan(StartCommand(Controller)); err != nil {
			t.Fatalf("TrustCurrentUser: %v", err)
		}
	}
}

// TestPlanUnreadableDir: a function directory that cannot be read is a
// *FileError naming it, wrapping fs.ErrPermission. Root reads any
// directory (CAP_DAC_OVERRIDE), so as root (CI) the test runs itself again
// as uid/gid 65534, where the permission bits bind.
func TestPlanUnreadableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		if os.Getenv(unprivilegedEnv) != "" {
			t.Fatal("the unprivileged re-run still runs as root")
		}
		runUnprivileged(t, "TestPlanUnreadableDir")
		return
	}
	root := mkServices(t, layout{Controller: {"a"}})
	d := filepath.Join(root, "controller")
	os.Chmod(d, 0o311) // searchable but not readable (and not writable by others)
	t.Cleanup(func() { os.Chmod(d, 0o755) })
	r := newTestRunner(t, stdController, root, newFakeLauncher(fakeBehavior{}), time.Second)
	_, err := r.Plan(StartCommand(Controller))
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, fs.ErrPermission) || fe.Path != d {
		t.Fatalf("got %v", err)
	}
}

func TestPlanTooManyScripts(t *testing.T) {
	names := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s%02d", prefix, i))
		}
		return out
	}
	root := mkServices(t, layout{Controller: names("c", MaxScripts), Worker: names("w", MaxScripts+1), Storage: names("s", 1)})
	r := newTestRunner(t, aioController, root, newFakeLauncher(fakeBehavior{}), time.Second)
	if got, err := r.Plan(StartCommand(Controller)); err != nil || len(got) != MaxScripts {
		t.Fatalf("20 scripts: %d, %v", len(got), err)
	}
	for _, cmd := range []Command{StartCommand(Worker), StopCommand(Controller)} {
		_, err := r.Plan(cmd)
		var tm *TooManyScriptsError
		if !errors.Is(err, ErrTooManyScripts) || !errors.As(err, &tm) || tm.Limit != MaxScripts || tm.Count <= MaxScripts {
			t.Fatalf("%s: %v", cmd, err)
		}
		if res := r.Run(t.Context(), cmd); res.Outcome != LaunchFailed || !errors.Is(res.Err, ErrTooManyScripts) {
			t.Fatalf("Run %s: %v", cmd, res)
		}
	}
}

func TestInvalidCommand(t *testing.T) {
	root := mkServices(t, allDirs())
	fl := newFakeLauncher(fakeBehavior{})
	r := newTestRunner(t, stdController, root, fl, time.Second)
	for _, cmd := range []Command{{}, {Function: 3, Action: Start}, {Function: Controller, Action: 9}, {Function: 0x80, Action: Stop}} {
		if _, err := r.Plan(cmd); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("Plan(%v) = %v", cmd, err)
		}
		if res := r.Run(t.Context(), cmd); res.Outcome != LaunchFailed || !errors.Is(res.Err, ErrInvalidCommand) {
			t.Errorf("Run(%v) = %v", cmd, res)
		}
		_ = cmd.String()
	}
	if len(fl.paths()) != 0 {
		t.Fatal("launched on an invalid command")
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig(stdController)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		field string
		mod   func(*Config)
	}{
		{"Node.Functions", func(c *Config) { c.Node.Functions = 0 }},
		{"Node.Functions", func(c *Config) { c.Node.Functions = 0x18 }},
		{"Node.System", func(c *Config) { c.Node.System = 0 }},
		{"Node.System", func(c *Config) { c.Node.System = 9 }},
		{"ServicesRoot", func(c *Config) { c.ServicesRoot = "relative/dir" }},
		{"ServicesRoot", func(c *Config) { c.ServicesRoot = "/a\x00b" }},
		{"Timeout", func(c *Config) { c.Timeout = -time.Second }},
		{"WaitDelay", func(c *Config) { c.WaitDelay = -1 }},
		{"Env[1]", func(c *Config) { c.Env = []string{"A=1", "novalue"} }},
		{"Env[0]", func(c *Config) { c.Env = []string{"=x"} }},
		{"Env[0]", func(c *Config) { c.Env = []string{MarkerEnv + "=x"} }},
		{"Subreaper", func(c *Config) { c.Subreaper, c.Launcher = true, newFakeLauncher(fakeBehavior{}) }},
	}
	for _, c := range cases {
		cfg := DefaultConfig(stdController)
		c.mod(&cfg)
		err := cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("want ConfigError on %s, got %v", c.field, err)
			continue
		}
		if _, err := NewRunner(cfg); !errors.As(err, &ce) {
			t.Errorf("NewRunner accepted bad %s", c.field)
		}
	}
	// Zero values take defaults.
	r, err := NewRunner(Config{Node: stdController, Launcher: newFakeLauncher(fakeBehavior{})})
	if err != nil {
		t.Fatal(err)
	}
	if r.cfg.ServicesRoot != DefaultServicesRoot || r.cfg.Timeout != DefaultTimeout || !slices.Equal(r.cfg.Env, DefaultEnv()) ||
		r.cfg.OutputTail != DefaultOutputTail || r.Dir(Worker) != "/etc/services.d/worker" {
		t.Fatalf("defaults not applied: %+v", r.cfg)
	}
	// An explicit empty environment stays empty.
	r, _ = NewRunner(Config{Node: stdController, Env: []string{}, Launcher: newFakeLauncher(fakeBehavior{})})
	if r.cfg.Env == nil || len(r.cfg.Env) != 0 {
		t.Fatalf("empty env became %q", r.cfg.Env)
	}

	var ce *ConfigError
	if _, err := NewScheduler(SchedulerConfig{}); !errors.As(err, &ce) || ce.Field != "Runner" {
		t.Fatalf("nil runner: %v", err)
	}
	if _, err := NewScheduler(SchedulerConfig{Runner: r, PollInterval: -1}); !errors.As(err, &ce) || ce.Field != "PollInterval" {
		t.Fatalf("negative poll: %v", err)
	}
	if _, err := NewExecLauncher(-1, false); !errors.As(err, &ce) {
		t.Fatalf("negative wait delay: %v", err)
	}
}

func TestTypesStrings(t *testing.T) {
	checks := map[string]string{
		Functions(Controller, Worker).String():        "controller,worker",
		Functions(Storage).String():                   "storage",
		FunctionSet(0x0c).String():                    "storage,0x08",
		Function(8).String():                          "function(8)",
		Action(0).String():                            "action(0)",
		StopCommand(Worker).String():                  "stop worker host services",
		StartCommand(Storage).String():                "start storage host services",
		AIODuplexDirect.String():                      "aio-duplex-direct",
		SystemType(0).String():                        "system(0)",
		Outcome(0).String():                           "outcome(0)",
		TimedOut.String():                             "timed out",
		Result{Outcome: Canceled}.Text():              "action(0) function(0) host services failed ; canceled",
		Result{Outcome: Canceled, Script: "x"}.Text(): "x failed ; canceled",
	}
	for got, want := range checks {
		if got != want {
			t.Errorf("got %q want %q", got, want)
		}
	}
	if Functions(Controller, Worker).Primary() != Controller || Functions(Worker, Storage).Primary() != Worker ||
		Functions(Storage).Primary() != Storage || FunctionSet(0).Primary() != 0 {
		t.Error("Primary")
	}
	if FunctionSet(0xff).Has(Function(0x08)) || !aioController.AIOController() || aioPlusWorker.AIOController() ||
		Standard.AIO() || !AIOSimplex.AIO() || SystemType(7).AIO() {
		t.Error("predicates")
	}
}

// unprivilegedEnv marks a test binary that runUnprivileged started.
const unprivilegedEnv = "HOSTSVC_TEST_UNPRIVILEGED"

// runUnprivileged runs the test name of this test binary again as uid and
// gid 65534 (nobody) with no supplementary groups, and fails unless it
// passes there. The binary is copied into a directory nobody owns, which
// is also the child's TMPDIR and working directory. It skips only when
// this process may not switch credentials (no CAP_SETUID/CAP_SETGID).
func runUnprivileged(t *testing.T, name string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "hostsvc-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "hostsvc.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "TMPDIR" && k != "GOCOVERDIR" && k != unprivilegedEnv {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TMPDIR="+dir, unprivilegedEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if _, exited := errors.AsType[*exec.ExitError](err); err != nil && !exited && errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot start a process as uid 65534 here: %v", err)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name+" ") {
		t.Fatalf("%s as uid 65534: %v\n%s", name, err, out)
	}
	t.Logf("%s passed as uid 65534", name)
}
