package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
	"opendev.org/starlingx/metal-go/mtce/vim"
	"opendev.org/starlingx/metal-go/workqueue"
)

// op is one kind of client call the generators make.
type op struct {
	name     string
	service  string // "sysinv", "vim", "sm"
	critical bool   // as the client queues it (spec C.4, D.1, D.2)
	budget   int    // attempt budget the client gives it
	weight   int
	ctrlOnly bool // SM requests go to controllers only
}

// ops is the mix of calls, with the clients' criticality and budgets.
var ops = []op{
	{"sysinv task", "sysinv", false, sysinv.DefaultAttempts, 15, false},
	{"sysinv uptime", "sysinv", false, sysinv.DefaultAttempts, 15, false},
	{"sysinv states", "sysinv", true, sysinv.DefaultAttempts, 10, false},
	{"sysinv force-task", "sysinv", true, sysinv.DefaultAttempts, 5, false},
	{"vim state-change", "vim", true, vim.DefaultAttempts, 25, false},
	{"sm query", "sm", true, sm.DefaultQueryAttempts, 12, true},
	{"sm enabled", "sm", true, sm.DefaultAttempts, 6, true},
	{"sm disabled", "sm", false, sm.DefaultAttempts, 3, true},
	{"sm locked", "sm", false, sm.DefaultAttempts, 2, true},
	{"sm unlocked", "sm", false, sm.DefaultAttempts, 2, true},
}

// clients are the three platform clients on one queue.
type clients struct {
	sysinv *sysinv.Client
	sm     *sm.Client
	vim    *vim.Client
}

// tracked is a submitted call: its handle and a check of its outcome.
type tracked struct {
	op *op
	h  *workqueue.Handle
	// result returns the call's error and whether a successful call's
	// value is about the right host.
	result func() (err error, valueOK bool)
}

// outcome counts the calls of one op.
type outcome struct {
	submitted, refused, ok, failed int
	critical                       bool
	byKind                         map[string]int // failures by error kind
	attempts                       int            // attempts of finished calls
	// violations
	untyped, short, badValue int
}

// loadStats gathers the generators' counts.
type loadStats struct {
	mu   sync.Mutex
	byOp map[string]*outcome
	bad  []string // first few violations, for the report
}

func newLoadStats() *loadStats {
	ls := &loadStats{byOp: map[string]*outcome{}}
	for i := range ops {
		ls.byOp[ops[i].name] = &outcome{critical: ops[i].critical, byKind: map[string]int{}}
	}
	return ls
}

func (ls *loadStats) submitted(o *op, err error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	oc := ls.byOp[o.name]
	if err != nil {
		oc.refused++
		ls.violation("%s: refused at submit: %v", o.name, err)
		return
	}
	oc.submitted++
}

func (ls *loadStats) violation(format string, args ...any) {
	if len(ls.bad) < 20 {
		ls.bad = append(ls.bad, fmt.Sprintf(format, args...))
	}
}

// finish records a finished call. A failure must be a *workqueue.Error
// whose cause is a platform *Error of a known kind, after the whole budget
// unless the cause is permanent.
func (ls *loadStats) finish(tr tracked) {
	err, valueOK := tr.result()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	oc := ls.byOp[tr.op.name]
	oc.attempts += tr.h.Attempts()
	if err == nil {
		oc.ok++
		if !valueOK {
			oc.badValue++
			ls.violation("%s seq %d: value about another host", tr.op.name, tr.h.Seq())
		}
		return
	}
	oc.failed++
	kind := errKind(err)
	oc.byKind[kind]++
	var we *workqueue.Error
	var pe *sysinv.Error
	if !errors.As(err, &we) || !errors.As(err, &pe) || strings.HasPrefix(kind, "?") {
		oc.untyped++
		ls.violation("%s seq %d: untyped failure %T: %v", tr.op.name, tr.h.Seq(), err, err)
		return
	}
	if we.Attempts != tr.op.budget && !workqueue.IsPermanent(we.Err) {
		oc.short++
		ls.violation("%s seq %d: failed after %d of %d attempts: %v", tr.op.name, tr.h.Seq(), we.Attempts, tr.op.budget, err)
	}
}

// errKind names the kind of a call's failure; "?" marks what must not
// happen in the soak (abandoned, purged, cancelled or untyped).
func errKind(err error) string {
	switch {
	case errors.Is(err, workqueue.ErrClosed), errors.Is(err, workqueue.ErrPurged), errors.Is(err, workqueue.ErrCanceled):
		return "?abandoned"
	case errors.Is(err, sysinv.ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, sysinv.ErrNotFound):
		return "not-found"
	case errors.Is(err, sysinv.ErrStatus):
		var pe *sysinv.Error
		if errors.As(err, &pe) {
			return fmt.Sprintf("status-%d", pe.Status)
		}
		return "status"
	case errors.Is(err, sysinv.ErrBadResponse):
		return "bad-response"
	case errors.Is(err, sysinv.ErrTransport):
		if errors.Is(err, context.DeadlineExceeded) {
			return "timeout"
		}
		return "transport"
	}
	return "?untyped"
}

// generator drives one host's calls.
type generator struct {
	c        clients
	host     sim.Host
	ctrl     bool
	mh       mtce.Host
	interval time.Duration
	rng      *rand.Rand
	stats    *loadStats
	pending  []tracked
	total    int // sum of the weights this host may pick
}

func newGenerator(c clients, h sim.Host, interval time.Duration, seed uint64, idx int, stats *loadStats) *generator {
	pers, _ := mtce.ParsePersonality(h.Personality)
	g := &generator{c: c, host: h, ctrl: pers == mtce.PersonalityController, interval: interval,
		rng: rand.New(rand.NewPCG(seed, uint64(idx)+1)), stats: stats,
		mh: mtce.Host{Name: h.Hostname, UUID: h.UUID, Personality: pers, Subfunctions: h.Subfunctions}}
	for i := range ops {
		if !ops[i].ctrlOnly || g.ctrl {
			g.total += ops[i].weight
		}
	}
	return g
}

// run submits calls until ctx ends and returns the calls not yet finished.
func (g *generator) run(ctx context.Context) []tracked {
	for {
		d := g.interval/2 + time.Duration(g.rng.Int64N(int64(g.interval)))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return g.pending
		case <-t.C:
		}
		g.reap()
		g.submit(g.pick())
	}
}

func (g *generator) pick() *op {
	n := g.rng.IntN(g.total)
	for i := range ops {
		if ops[i].ctrlOnly && !g.ctrl {
			continue
		}
		if n < ops[i].weight {
			return &ops[i]
		}
		n -= ops[i].weight
	}
	panic("unreachable")
}

// reap records the calls that have finished.
func (g *generator) reap() {
	kept := g.pending[:0]
	for _, tr := range g.pending {
		select {
		case <-tr.h.Done():
			g.stats.finish(tr)
		default:
			kept = append(kept, tr)
		}
	}
	clear(g.pending[len(kept):])
	g.pending = kept
}

var (
	tasks  = []mtce.Task{mtce.TaskNone, mtce.TaskBooting, mtce.TaskTesting, mtce.TaskInitializing, mtce.TaskEnabling}
	states = []struct {
		a mtce.AdminState
		o mtce.OperState
		v mtce.AvailStatus
	}{
		{mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable},
		{mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailDegraded},
		{mtce.AdminUnlocked, mtce.OperDisabled, mtce.AvailFailed},
		{mtce.AdminLocked, mtce.OperDisabled, mtce.AvailOnline},
	}
	vimEvents = []vim.Event{vim.HostEnabled, vim.HostDisabled, vim.HostOffline, vim.HostFailed}
)

// hostIs checks a SysInv answer.
func hostIs(c *sysinv.Call[sysinv.Host], name string) func() (error, bool) {
	return func() (error, bool) {
		h, err := c.Result()
		return err, h.Name == name
	}
}

func (g *generator) submit(o *op) {
	ref := sysinv.Ref{Name: g.host.Hostname, UUID: g.host.UUID}
	name := g.host.Hostname
	uptime := uint32(g.rng.IntN(1 << 20))
	var tr tracked
	var err error
	switch o.name {
	case "sysinv task":
		var c *sysinv.Call[sysinv.Host]
		if c, err = g.c.sysinv.UpdateTask(ref, tasks[g.rng.IntN(len(tasks))], uptime); err == nil {
			tr = tracked{h: c.Handle(), result: hostIs(c, name)}
		}
	case "sysinv uptime":
		var c *sysinv.Call[sysinv.Host]
		if c, err = g.c.sysinv.UpdateUptime(ref, uptime); err == nil {
			tr = tracked{h: c.Handle(), result: hostIs(c, name)}
		}
	case "sysinv states":
		s := states[g.rng.IntN(len(states))]
		var c *sysinv.Call[sysinv.Host]
		if c, err = g.c.sysinv.UpdateStates(ref, s.a, s.o, s.v); err == nil {
			tr = tracked{h: c.Handle(), result: hostIs(c, name)}
		}
	case "sysinv force-task":
		var c *sysinv.Call[sysinv.Host]
		if c, err = g.c.sysinv.ForceTask(ref, tasks[g.rng.IntN(len(tasks))], uptime); err == nil {
			tr = tracked{h: c.Handle(), result: hostIs(c, name)}
		}
	case "vim state-change":
		ev := vimEvents[g.rng.IntN(len(vimEvents))]
		h := g.mh
		switch ev {
		case vim.HostEnabled:
			h.Admin, h.Oper, h.Avail = mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable
		case vim.HostOffline:
			h.Admin, h.Oper, h.Avail = mtce.AdminUnlocked, mtce.OperDisabled, mtce.AvailOffline
		default:
			h.Admin, h.Oper, h.Avail = mtce.AdminUnlocked, mtce.OperDisabled, mtce.AvailFailed
		}
		var c *vim.Call[struct{}]
		if c, err = g.c.vim.StateChange(ev, h, nil); err == nil {
			tr = tracked{h: c.Handle(), result: func() (error, bool) { _, err := c.Result(); return err, true }}
		}
	case "sm query":
		var c *sm.Call[sm.ServiceNode]
		if c, err = g.c.sm.Query(name); err == nil {
			tr = tracked{h: c.Handle(), result: func() (error, bool) {
				n, err := c.Result()
				return err, n.Hostname == name && n.Origin == "sm"
			}}
		}
	default: // SM state notifications
		var c *sm.Call[struct{}]
		switch o.name {
		case "sm enabled":
			c, err = g.c.sm.Enabled(name, mtce.ActionNone, mtce.AdminUnlocked, mtce.AvailAvailable)
		case "sm disabled":
			c, err = g.c.sm.Disabled(name, mtce.ActionNone, mtce.AdminUnlocked, mtce.AvailFailed)
		case "sm locked":
			c, err = g.c.sm.Locked(name)
		case "sm unlocked":
			c, err = g.c.sm.Unlocked(name)
		default:
			panic("unknown op " + o.name)
		}
		if err == nil {
			tr = tracked{h: c.Handle(), result: func() (error, bool) { _, err := c.Result(); return err, true }}
		}
	}
	g.stats.submitted(o, err)
	if err == nil {
		tr.op = o
		g.pending = append(g.pending, tr)
	}
}

// opNames returns the op names in a stable order.
func (ls *loadStats) opNames() []string {
	names := make([]string, 0, len(ls.byOp))
	for n := range ls.byOp {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
