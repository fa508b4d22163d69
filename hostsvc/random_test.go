package hostsvc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// traceModel replays a Scheduler trace against the specification and
// returns the first violation.
type traceModel struct {
	pending  []traceEvent // arrival order
	running  traceEvent
	busy     bool
	started  map[uint64]int
	ended    map[uint64]int
	noStops  bool // the schedule had no stop requests
	nodeAIO  bool
	starts   []Command
	problems []string
}

func (m *traceModel) fail(format string, args ...any) {
	m.problems = append(m.problems, fmt.Sprintf(format, args...))
}

func (m *traceModel) pendingIndex(id uint64) int {
	for i, p := range m.pending {
		if p.id == id {
			return i
		}
	}
	return -1
}

func (m *traceModel) pendingCmd(c Command) (traceEvent, bool) {
	for _, p := range m.pending {
		if p.cmd == c {
			return p, true
		}
	}
	return traceEvent{}, false
}

// expectedPick is the specified choice among the pending runs.
func (m *traceModel) expectedPick() uint64 {
	best := 0
	if m.pending[0].cmd.Action == Start {
		for i, p := range m.pending {
			if p.cmd.Action != Start {
				break
			}
			if p.cmd.Function.priority() < m.pending[best].cmd.Function.priority() {
				best = i
			}
		}
	}
	return m.pending[best].id
}

func (m *traceModel) step(ev traceEvent) {
	switch ev.kind {
	case traceNew:
		if p, ok := m.pendingCmd(ev.cmd); ok {
			m.fail("%s: new run %d while run %d is pending (two runs in one pending epoch)", ev.cmd, ev.id, p.id)
		}
		if m.busy && m.running.cmd == ev.cmd {
			m.fail("%s: new run %d while identical run %d is running", ev.cmd, ev.id, m.running.id)
		}
		m.pending = append(m.pending, ev)
	case traceMerged:
		if p, ok := m.pendingCmd(ev.cmd); !ok || p.id != ev.id {
			m.fail("%s: merged into %d, which is not the pending run", ev.cmd, ev.id)
		}
	case traceJoined:
		if !m.busy || m.running.id != ev.id || m.running.cmd != ev.cmd {
			m.fail("%s: joined %d, which is not running", ev.cmd, ev.id)
		}
	case traceStart:
		if m.busy {
			m.fail("run %d (%s) started while run %d (%s) runs", ev.id, ev.cmd, m.running.id, m.running.cmd)
		}
		i := m.pendingIndex(ev.id)
		if i < 0 {
			m.fail("run %d started but is not pending (run twice?)", ev.id)
			return
		}
		if want := m.expectedPick(); want != ev.id {
			m.fail("started run %d (%s), the rule picks %d", ev.id, ev.cmd, want)
		}
		if m.noStops && m.nodeAIO && ev.cmd == StartCommand(Worker) {
			if _, ok := m.pendingCmd(StartCommand(Controller)); ok {
				m.fail("AIO: worker started while a controller start was pending")
			}
		}
		m.pending = append(m.pending[:i], m.pending[i+1:]...)
		m.running, m.busy = ev, true
		m.started[ev.id]++
		m.starts = append(m.starts, ev.cmd)
	case traceEnd:
		if !m.busy || m.running.id != ev.id {
			m.fail("run %d ended but was not running", ev.id)
		}
		m.busy = false
		m.ended[ev.id]++
	case traceDropped:
		if i := m.pendingIndex(ev.id); i >= 0 {
			m.pending = append(m.pending[:i], m.pending[i+1:]...)
		} else {
			m.fail("dropped run %d was not pending", ev.id)
		}
	}
}

var allCommands = []Command{
	StartCommand(Controller), StartCommand(Worker), StartCommand(Storage),
	StopCommand(Controller), StopCommand(Worker), StopCommand(Storage),
}

// TestRandomInterleavings races the start-up auto-start against agent
// requests and duplicates, over thousands of random schedules in virtual
// time, and checks every trace against the model: at most one run per
// pending epoch, never two sets at once, the pick rule (controller before
// worker on AIO), exactly one result per run, every requester answered with
// its run's result. HOSTSVC_SEED replays a seed, HOSTSVC_SCHEDULES sets the
// number of schedules.
func TestRandomInterleavings(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HOSTSVC_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	schedules := 3000
	if s := os.Getenv("HOSTSVC_SCHEDULES"); s != "" {
		schedules, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		schedules = 300
	}
	t.Logf("seed %d (HOSTSVC_SEED=%d to replay), %d schedules", seed, seed, schedules)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	nodes := []Node{aioController, aioController, aioSimplex, stdController, stdWorker, stdStorage, aioPlusWorker, aioPlusStor}
	layouts := []string{
		mkServices(t, allDirs()),
		mkServices(t, layout{Controller: {"c1", "c2", "c3"}, Worker: nil, Storage: {"s1"}}),
		mkServices(t, layout{Controller: nil, Worker: {"w1"}, Storage: nil}),
	}
	// One flag root, emptied before each schedule (creating directories per
	// schedule dominated the run time).
	flagBase := t.TempDir()
	if err := os.MkdirAll(flagBase+"/var/run", 0o755); err != nil {
		t.Fatal(err)
	}

	var totalRuns, totalRequests int
	synctest.Test(t, func(t *testing.T) {
		for i := range schedules {
			runs, reqs, problems := runSchedule(t, rng, i, nodes, layouts, flagBase)
			totalRuns += runs
			totalRequests += reqs
			if len(problems) > 0 {
				t.Fatalf("seed %d schedule %d:\n%v", seed, i, problems)
			}
		}
	})
	t.Logf("%d requests, %d runs executed", totalRequests, totalRuns)
	if totalRuns == 0 || totalRuns >= totalRequests {
		t.Fatalf("implausible coalescing: %d runs for %d requests", totalRuns, totalRequests)
	}
}

func runSchedule(t *testing.T, rng *rand.Rand, idx int, nodes []Node, layouts []string, flagBase string) (int, int, []string) {
	node := nodes[rng.IntN(len(nodes))]
	root := layouts[rng.IntN(len(layouts))]
	fl := newFakeLauncher(fakeBehavior{Duration: time.Second})
	for _, name := range []string{"c1", "c2", "c3", "w1", "w2", "s1", "s2"} {
		b := fakeBehavior{Duration: time.Duration(rng.IntN(50)) * 100 * time.Millisecond}
		switch x := rng.IntN(100); {
		case x < 10:
			b.Code = 1 + rng.IntN(5)
		case x < 12:
			b.Hang = true
		}
		fl.set(name, b)
	}
	cfg := DefaultConfig(node)
	cfg.ServicesRoot, cfg.TrustCurrentUser, cfg.Launcher, cfg.Timeout = root, true, fl, 20*time.Second
	r, err := NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	flags := flagBase
	for _, f := range []string{NodeLockedFile, GoEnabledFailedFile, GoEnabledFile, GoEnabledSubfFile} {
		os.Remove(flags + f)
	}

	noStops := rng.IntN(2) == 0
	model := &traceModel{started: map[uint64]int{}, ended: map[uint64]int{}, noStops: noStops, nodeAIO: node.AIOController()}
	var trace []traceEvent
	resultsPerRun := map[uint64]int{}
	var mu sync.Mutex
	scfg := DefaultSchedulerConfig(r)
	scfg.FlagRoot = flags
	scfg.PollInterval = time.Duration(100+rng.IntN(900)) * time.Millisecond
	scfg.OnRunStart = func(Command) {
		if fl.liveCount() != 0 {
			mu.Lock()
			model.fail("a set started with processes of the previous one alive")
			mu.Unlock()
		}
	}
	scfg.OnResult = func(res Result) {
		mu.Lock()
		resultsPerRun[res.Run]++
		mu.Unlock()
	}
	s, err := NewScheduler(scfg)
	if err != nil {
		t.Fatal(err)
	}
	s.trace = func(ev traceEvent) { trace = append(trace, ev) } // under s.mu

	ctx, cancel := context.WithCancel(t.Context())
	runDone := make(chan error, 1)
	startDelay := time.Duration(rng.IntN(3)) * time.Second
	go func() {
		time.Sleep(startDelay) // requests may precede Run
		runDone <- s.Run(ctx)
	}()

	// Auto-start: the gate appears at a random time, or the node is
	// locked, or goenabled failed.
	gate, _ := AutoStartPlan(node)
	mode := rng.IntN(10)
	switch {
	case mode == 0:
		writeFlag(t, flags, NodeLockedFile, "")
	case mode == 1:
		defer flagAt(t, flags, GoEnabledFailedFile, time.Duration(rng.IntN(20_000))*time.Millisecond).Stop()
	default:
		defer flagAt(t, flags, gate, time.Duration(rng.IntN(20_000))*time.Millisecond).Stop()
	}
	type answer struct {
		tk  *Ticket
		err error
	}
	answers := make(chan answer, 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		tickets, err := s.AutoStart(ctx)
		if err != nil && !errors.Is(err, ErrNodeLocked) && !errors.Is(err, ErrGoEnabledFailed) {
			answers <- answer{err: fmt.Errorf("AutoStart: %w", err)}
		}
		for _, tk := range tickets {
			answers <- answer{tk: tk}
		}
	})
	// Agent requests, with bursts of duplicates.
	n := rng.IntN(12)
	requests := n
	for range n {
		cmds := allCommands
		if noStops {
			cmds = allCommands[:3]
		}
		c := cmds[rng.IntN(len(cmds))]
		at := time.Duration(rng.IntN(25_000)) * time.Millisecond
		dups := 1
		if rng.IntN(4) == 0 {
			dups = 2 + rng.IntN(3)
		}
		requests += dups - 1
		for range dups {
			wg.Go(func() {
				time.Sleep(at)
				tk, err := s.Submit(c)
				answers <- answer{tk: tk, err: err}
			})
		}
	}
	wg.Wait()
	close(answers)

	var problems []string
	for a := range answers {
		if a.err != nil {
			problems = append(problems, a.err.Error())
			continue
		}
		res, err := a.tk.Wait(t.Context())
		if err != nil || res.Run != a.tk.RunID() || res.Command != a.tk.Command() {
			problems = append(problems, fmt.Sprintf("%s: answered %v / %v for run %d", a.tk.Command(), res, err, a.tk.RunID()))
		}
	}
	cancel()
	if err := <-runDone; err != nil {
		problems = append(problems, "Run: "+err.Error())
	}
	synctest.Wait()

	for _, ev := range trace {
		model.step(ev)
	}
	problems = append(problems, model.problems...)
	for id, n := range model.started {
		if n != 1 || model.ended[id] != 1 || resultsPerRun[id] != 1 {
			problems = append(problems, fmt.Sprintf("run %d: started %d, ended %d, results %d", id, n, model.ended[id], resultsPerRun[id]))
		}
	}
	for id := range resultsPerRun {
		if model.started[id] == 0 {
			problems = append(problems, fmt.Sprintf("result for run %d that never started", id))
		}
	}
	if len(model.pending) != 0 || model.busy {
		problems = append(problems, "runs left after shutdown")
	}
	if fl.liveCount() != 0 {
		problems = append(problems, "processes left after shutdown")
	}
	if len(problems) > 0 {
		problems = append(problems, fmt.Sprintf("node %v/%v poll %v trace %v", node.System, node.Functions, scfg.PollInterval, trace))
	}
	return len(model.starts), requests, problems
}
