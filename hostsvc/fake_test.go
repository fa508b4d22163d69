package hostsvc

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeBehavior is what a fake script does.
type fakeBehavior struct {
	Duration  time.Duration // run time (virtual inside synctest)
	Code      int           // exit code after Duration
	Output    string        // written at launch
	LaunchErr error         // Launch fails
	Hang      bool          // never exits unless killed
}

type fakeLaunch struct {
	Spec LaunchSpec
	At   time.Time
}

// fakeLauncher is the in-memory Launcher used inside testing/synctest: a
// "process" is a timer, Kill ends it at once with 128+SIGKILL.
type fakeLauncher struct {
	mu        sync.Mutex
	behaviors map[string]fakeBehavior // by script base name
	def       fakeBehavior
	launches  []fakeLaunch
	kills     []string
	live      int
	maxLive   int
}

func newFakeLauncher(def fakeBehavior) *fakeLauncher {
	return &fakeLauncher{behaviors: map[string]fakeBehavior{}, def: def}
}

func (f *fakeLauncher) set(name string, b fakeBehavior) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.behaviors[name] = b
}

func (f *fakeLauncher) Launch(spec LaunchSpec) (Process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.behaviors[filepath.Base(spec.Path)]
	if !ok {
		b = f.def
	}
	spec.Args = append([]string(nil), spec.Args...)
	spec.Env = append([]string(nil), spec.Env...)
	f.launches = append(f.launches, fakeLaunch{Spec: spec, At: time.Now()})
	if b.LaunchErr != nil {
		return nil, b.LaunchErr
	}
	if b.Output != "" && spec.Output != nil {
		_, _ = spec.Output.Write([]byte(b.Output))
	}
	f.live++
	f.maxLive = max(f.maxLive, f.live)
	return &fakeProcess{f: f, b: b, path: spec.Path, killed: make(chan struct{})}, nil
}

// paths returns the launched script paths in launch order.
func (f *fakeLauncher) paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.launches {
		out = append(out, l.Spec.Path)
	}
	return out
}

func (f *fakeLauncher) liveCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

type fakeProcess struct {
	f      *fakeLauncher
	b      fakeBehavior
	path   string
	once   sync.Once
	killed chan struct{}
}

func (p *fakeProcess) Wait() (int, error) {
	var done <-chan time.Time
	if !p.b.Hang {
		t := time.NewTimer(p.b.Duration)
		defer t.Stop()
		done = t.C
	}
	code := p.b.Code
	select {
	case <-done:
	case <-p.killed:
		code = 128 + 9
	}
	p.f.mu.Lock()
	p.f.live--
	p.f.mu.Unlock()
	return code, nil
}

func (p *fakeProcess) Kill() error {
	p.once.Do(func() {
		p.f.mu.Lock()
		p.f.kills = append(p.f.kills, p.path)
		p.f.mu.Unlock()
		close(p.killed)
	})
	return nil
}

var errFakeExec = errors.New("fake exec format error")

// layout is the content of a services root: script names per function. A
// function absent from the map gets no directory at all.
type layout map[Function][]string

// mkServices creates a services root with executable scripts (mode 0755),
// owned by the running user.
func mkServices(t testing.TB, l layout) string {
	t.Helper()
	root := t.TempDir()
	for f, names := range l {
		dir := filepath.Join(root, f.String())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			writeScript(t, filepath.Join(dir, n), "#!/bin/sh\nexit 0\n")
		}
	}
	return root
}

func writeScript(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o755); err != nil { // umask-proof
		t.Fatal(err)
	}
}

// allDirs is a layout with two scripts per function.
func allDirs() layout {
	return layout{
		Controller: {"c1", "c2"},
		Worker:     {"w1", "w2"},
		Storage:    {"s1", "s2"},
	}
}

// newTestRunner builds a Runner over root with a fake launcher.
func newTestRunner(t testing.TB, n Node, root string, fl Launcher, timeout time.Duration) *Runner {
	t.Helper()
	cfg := DefaultConfig(n)
	cfg.ServicesRoot = root
	cfg.Timeout = timeout
	cfg.TrustCurrentUser = true
	cfg.Launcher = fl
	r, err := NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var (
	stdController = Node{Functions: Functions(Controller), System: Standard}
	stdWorker     = Node{Functions: Functions(Worker), System: Standard}
	stdStorage    = Node{Functions: Functions(Storage), System: Standard}
	aioController = Node{Functions: Functions(Controller, Worker), System: AIODuplex}
	aioSimplex    = Node{Functions: Functions(Controller, Worker), System: AIOSimplex}
	aioPlusWorker = Node{Functions: Functions(Worker), System: AIODuplex}
	aioPlusStor   = Node{Functions: Functions(Storage), System: AIODuplexDirect}
)
