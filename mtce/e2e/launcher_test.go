package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/hostsvc"
)

// launch is one script a host's client launched.
type launch struct {
	Boot   int       // the host's boot number (1 = the test's start)
	Path   string    // path under the host's root
	Dir    string    // "controller", "worker", "storage" or "goenabled.d"
	Name   string    // base name
	Action string    // "start", "stop", or "" for a goenabled test
	At     time.Time // virtual launch time
	Code   int       // the exit code it was given
}

// fakeLauncher is a hostsvc.Launcher whose scripts end after a virtual
// duration with an exit code chosen by the test, per boot and script. It
// records every launch. It is safe for concurrent use.
type fakeLauncher struct {
	mu       sync.Mutex
	boot     int
	launches []launch
	live     int
	// dur is a script's run time; code its exit code (nil = 0);
	// onLaunch, if set, is told of every launch (it must not block).
	dur      func(l launch) time.Duration
	code     func(l launch) int
	onLaunch func(l launch)
}

func newFakeLauncher() *fakeLauncher {
	return &fakeLauncher{dur: func(l launch) time.Duration {
		if l.Action == "" {
			return time.Second // a goenabled test
		}
		return 3 * time.Second
	}}
}

// setBoot tells the launcher which boot its launches belong to.
func (f *fakeLauncher) setBoot(n int) {
	f.mu.Lock()
	f.boot = n
	f.mu.Unlock()
}

// setCode sets the exit code function (nil: every script passes).
func (f *fakeLauncher) setCode(code func(l launch) int) {
	f.mu.Lock()
	f.code = code
	f.mu.Unlock()
}

func (f *fakeLauncher) setOnLaunch(fn func(l launch)) {
	f.mu.Lock()
	f.onLaunch = fn
	f.mu.Unlock()
}

func (f *fakeLauncher) Launch(spec hostsvc.LaunchSpec) (hostsvc.Process, error) {
	f.mu.Lock()
	l := launch{Boot: f.boot, Path: spec.Path, Dir: filepath.Base(filepath.Dir(spec.Path)), Name: filepath.Base(spec.Path), At: time.Now()}
	if len(spec.Args) > 0 {
		l.Action = spec.Args[0]
	}
	if f.code != nil {
		l.Code = f.code(l)
	}
	d := f.dur(l)
	f.launches = append(f.launches, l)
	f.live++
	on := f.onLaunch
	f.mu.Unlock()
	if on != nil {
		on(l)
	}
	return &fakeProcess{f: f, d: d, code: l.Code, killed: make(chan struct{})}, nil
}

// all returns every launch so far, in order.
func (f *fakeLauncher) all() []launch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.launches)
}

// liveCount is how many launched scripts have not ended.
func (f *fakeLauncher) liveCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

// of returns the launches of boot n (0: every boot) that match action
// ("start", "stop", "" for goenabled tests, "*" for any).
func (f *fakeLauncher) of(n int, action string) []launch {
	var out []launch
	for _, l := range f.all() {
		if (n == 0 || l.Boot == n) && (action == "*" || l.Action == action) {
			out = append(out, l)
		}
	}
	return out
}

// names lists "dir/name" of ls.
func names(ls []launch) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Dir + "/" + l.Name
	}
	return out
}

func joined(ls []launch) string { return strings.Join(names(ls), " ") }

type fakeProcess struct {
	f      *fakeLauncher
	d      time.Duration
	code   int
	once   sync.Once
	killed chan struct{}
}

func (p *fakeProcess) Wait() (int, error) {
	t := time.NewTimer(p.d)
	defer t.Stop()
	code := p.code
	select {
	case <-t.C:
	case <-p.killed:
		code = 128 + 9
	}
	p.f.mu.Lock()
	p.f.live--
	p.f.mu.Unlock()
	return code, nil
}

func (p *fakeProcess) Kill() error {
	p.once.Do(func() { close(p.killed) })
	return nil
}
