package fsm_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/fsm"
)

var (
	flagSeed = flag.Uint64("fsm.seed", 0, "seed of TestPropertyRandom (0: from the clock)")
	flagRuns = flag.Int("fsm.runs", 0, "machines run by TestPropertyRandom (0: 400, 60 with -short)")
)

// TestPropertyRandom builds random machines (states, guarded groups,
// internal and self transitions, failing actions, raises from actions,
// exits and entries, deadlines of 0 to 5 s, re-arming and disarming) and
// drives each with a random sequence of Fire, Post (with current, stale or
// no epoch) and virtual-time sleeps, in its own synctest bubble. A naive
// reference model (a linear scan of the transition list, no goroutines, no
// timers: it advances a clock and rings the armed deadline itself) runs the
// same sequence, and the test checks that
//
//   - the machine's records (kind, source, event, from, to, epoch, time,
//     error) equal the model's, and so do Fire's results and the
//     snapshots after each operation: in particular no deadline rings at a
//     time or in an occupancy the model did not arm it for;
//   - every transition taken is one of the definition (no illegal
//     transition), internal ones keep the epoch and external ones add one;
//   - Close joins the machine.
//
// Replay a failure with -fsm.seed=N -fsm.runs=1.
func TestPropertyRandom(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	runs := *flagRuns
	if runs == 0 {
		runs = 400
		if testing.Short() {
			runs = 60
		}
	}
	cov := map[string]int{}
	t.Logf("seed %d, %d runs (replay one with -fsm.seed=N -fsm.runs=1)", seed, runs)
	for i := range runs {
		s := seed + uint64(i)
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runProperty(t, s, cov) })
		})
		if t.Failed() {
			return
		}
	}
	t.Logf("exercised: %v", cov)
	if runs < 50 {
		return
	}
	for _, what := range coverage {
		if cov[what] == 0 {
			t.Errorf("%d random runs never exercised %q: the generator is too weak", runs, what)
		}
	}
}

// FuzzRandomMachine is TestPropertyRandom driven by the fuzzer's seeds.
func FuzzRandomMachine(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		synctest.Test(t, func(t *testing.T) { runProperty(t, seed, map[string]int{}) })
	})
}

// coverage lists what enough random runs must exercise.
var coverage = []string{"timer deadline rang", "zero deadline rang", "stale deadline", "stale epoch",
	"current epoch", "no transition", "guard rejected", "action failed", "failed action raised",
	"internal", "internal re-arm or disarm", "external", "left with deadline armed", "chain limit", "raised"}

var propDurations = []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second}

type propTrans struct {
	from, ev, to      string
	internal, guarded bool
	action            bool
}

type propState struct {
	entry, exit bool
	deadline    *fsm.Deadline[string]
}

// propDef is a random machine and the pure functions that decide what its
// callbacks do, shared by the machine's callbacks and the model.
type propDef struct {
	seed     uint64
	states   []string
	events   []string
	trans    []propTrans
	st       map[string]propState
	maxChain int
}

type plan struct {
	fail   bool
	raise  []string
	armSet bool
	arm    *fsm.Deadline[string] // nil with armSet: Disarm
}

func mix(xs ...uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, x := range xs {
		h ^= x + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h ^= h >> 31
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 29
	}
	return h
}

func (d *propDef) makePlan(kind, idx uint64, data int, epoch uint64, canFail bool) plan {
	h := mix(d.seed, kind, idx, uint64(data), epoch)
	var p plan
	p.fail = canFail && h%5 == 0
	if (h>>8)%3 == 0 {
		p.raise = append(p.raise, d.events[(h>>12)%uint64(len(d.events))])
		if (h>>16)%4 == 0 {
			p.raise = append(p.raise, d.events[(h>>20)%uint64(len(d.events))])
		}
	}
	switch (h >> 24) % 6 {
	case 0:
		p.armSet = true
		p.arm = &fsm.Deadline[string]{After: propDurations[(h>>28)%uint64(len(propDurations))], Event: d.events[(h>>36)%uint64(len(d.events))]}
	case 1:
		p.armSet = true
	}
	return p
}

func (d *propDef) guardPasses(idx int, data int, epoch uint64) bool {
	return mix(d.seed, 3, uint64(idx), uint64(data), epoch)%3 != 0
}

func (d *propDef) stateIndex(s string) uint64 {
	for i, x := range d.states {
		if x == s {
			return uint64(i)
		}
	}
	panic(s)
}

func dataOf(v any) int {
	if n, ok := v.(int); ok {
		return n
	}
	return 0
}

func randomDef(seed uint64) *propDef {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	d := &propDef{seed: seed, st: map[string]propState{}, maxChain: 1 + r.IntN(12)}
	for i := range 2 + r.IntN(4) {
		d.states = append(d.states, fmt.Sprintf("s%d", i))
	}
	for i := range 2 + r.IntN(3) {
		d.events = append(d.events, fmt.Sprintf("e%d", i))
	}
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	for _, from := range d.states {
		for _, ev := range d.events {
			if r.IntN(10) < 4 {
				continue
			}
			n := 1 + r.IntN(2)
			for j := range n {
				tr := propTrans{from: from, ev: ev, to: pick(d.states), action: r.IntN(2) == 0}
				tr.guarded = j < n-1 || r.IntN(3) == 0
				if tr.to == from && r.IntN(2) == 0 {
					tr.internal = true
				}
				d.trans = append(d.trans, tr)
			}
		}
	}
	for _, s := range d.states {
		ps := propState{entry: r.IntN(2) == 0, exit: r.IntN(3) == 0}
		if r.IntN(2) == 0 {
			var evs []string
			for _, tr := range d.trans {
				if tr.from == s {
					evs = append(evs, tr.ev)
				}
			}
			if len(evs) > 0 {
				ps.deadline = fsm.After(propDurations[r.IntN(len(propDurations))], pick(evs))
			}
		}
		d.st[s] = ps
	}
	return d
}

// definition builds the fsm.Definition whose callbacks carry out the plans.
func (d *propDef) definition() sdef {
	apply := func(tx *stx, p plan) {
		for _, ev := range p.raise {
			tx.Raise(ev)
		}
		if p.armSet {
			if p.arm != nil {
				tx.Arm(p.arm.After, p.arm.Event)
			} else {
				tx.Disarm()
			}
		}
	}
	def := sdef{Name: "random", Initial: d.states[0]}
	for _, s := range d.states {
		ps := d.st[s]
		fs := fsm.State[string, string]{State: s, Deadline: ps.deadline}
		if ps.entry {
			fs.Entry = func(_ context.Context, tx *stx) {
				apply(tx, d.makePlan(2, d.stateIndex(s), dataOf(tx.Data), tx.Epoch, false))
			}
		}
		if ps.exit {
			fs.Exit = func(_ context.Context, tx *stx) {
				p := d.makePlan(4, d.stateIndex(s), dataOf(tx.Data), tx.Epoch, false)
				for _, ev := range p.raise {
					tx.Raise(ev)
				}
			}
		}
		def.States = append(def.States, fs)
	}
	for i, pt := range d.trans {
		tr := fsm.Transition[string, string]{From: pt.from, Event: pt.ev, To: pt.to, Internal: pt.internal}
		if pt.guarded {
			tr.Guard = func(_ context.Context, s fsm.Step[string, string]) error {
				if d.guardPasses(i, dataOf(s.Data), s.Epoch) {
					return nil
				}
				return errors.New("no")
			}
		}
		if pt.action {
			tr.Action = func(_ context.Context, tx *stx) error {
				p := d.makePlan(1, uint64(i), dataOf(tx.Data), tx.Epoch, true)
				apply(tx, p)
				if p.fail {
					return errors.New("fail")
				}
				return nil
			}
		}
		def.Transitions = append(def.Transitions, tr)
	}
	return def
}

// mrec is a record as compared.
type mrec struct {
	at       time.Duration
	kind     fsm.Kind
	src      fsm.Source
	ev       string
	from, to string
	internal bool
	epoch    uint64
	err      error // sentinel
}

func (r mrec) String() string {
	return fmt.Sprintf("@%v %v(%v) %s -%s-> %s internal=%v epoch=%d err=%v", r.at, r.kind, r.src, r.from, r.ev, r.to, r.internal, r.epoch, r.err)
}

var sentinels = []error{fsm.ErrNoTransition, fsm.ErrGuardRejected, fsm.ErrActionFailed, fsm.ErrStale,
	fsm.ErrChainLimit, fsm.ErrQueueFull, fsm.ErrClosed, fsm.ErrDeferred}

func sentinel(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// model is the naive reference.
type model struct {
	d       *propDef
	t0, now time.Time
	state   string
	epoch   uint64
	armID   int
	armSeq  int
	armEv   string
	armAt   time.Time
	timer   bool // the armed deadline has a positive delay
	raised  []mpending
	recs    []mrec
	cov     map[string]int // what the run exercised
}

type mpending struct {
	ev    string
	data  int
	src   fsm.Source
	arm   int
	epoch uint64
}

func (m *model) rec(r mrec) {
	r.at = m.now.Sub(m.t0)
	m.recs = append(m.recs, r)
}

func (m *model) arm(dl fsm.Deadline[string]) {
	m.armSeq++
	m.armID, m.armEv, m.armAt, m.timer = m.armSeq, dl.Event, m.now.Add(dl.After), dl.After > 0
	if dl.After == 0 {
		m.raised = append(m.raised, mpending{ev: dl.Event, src: fsm.SourceDeadline, arm: m.armID})
	}
}

func (m *model) disarm() { m.armID, m.timer = 0, false }

func (m *model) start() {
	ps := m.d.st[m.state]
	p := plan{}
	if ps.entry {
		p = m.d.makePlan(2, m.d.stateIndex(m.state), 0, 1, false)
	}
	for _, ev := range p.raise {
		m.raised = append(m.raised, mpending{ev: ev, src: fsm.SourceRaised})
	}
	switch {
	case p.armSet && p.arm != nil:
		m.arm(*p.arm)
	case !p.armSet && ps.deadline != nil:
		m.arm(*ps.deadline)
	}
	m.rec(mrec{kind: fsm.KindStarted, src: fsm.SourceStart, from: m.state, to: m.state, epoch: 1})
}

func (m *model) handle(p mpending) error {
	from := m.state
	r := mrec{src: p.src, ev: p.ev, from: from, to: from, epoch: m.epoch}
	refuse := func(k fsm.Kind, err error) error {
		r.kind, r.err = k, err
		m.rec(r)
		return err
	}
	if p.src == fsm.SourceDeadline {
		if p.arm == 0 || p.arm != m.armID {
			m.cov["stale deadline"]++
			return refuse(fsm.KindStale, fsm.ErrStale)
		}
		if m.timer {
			m.cov["timer deadline rang"]++
		} else {
			m.cov["zero deadline rang"]++
		}
		m.disarm()
	}
	if p.epoch != 0 && p.epoch != m.epoch {
		m.cov["stale epoch"]++
		return refuse(fsm.KindStale, fsm.ErrStale)
	}
	if p.epoch != 0 {
		m.cov["current epoch"]++
	}
	chosen, any := -1, false
	for i, tr := range m.d.trans {
		if tr.from != from || tr.ev != p.ev {
			continue
		}
		any = true
		if !tr.guarded || m.d.guardPasses(i, p.data, m.epoch) {
			chosen = i
			break
		}
	}
	if !any {
		m.cov["no transition"]++
		return refuse(fsm.KindRefused, fsm.ErrNoTransition)
	}
	if chosen < 0 {
		m.cov["guard rejected"]++
		return refuse(fsm.KindRefused, fsm.ErrGuardRejected)
	}
	tr := m.d.trans[chosen]
	var raise []string
	var armSet bool
	var armTo *fsm.Deadline[string]
	take := func(pl plan) {
		raise = append(raise, pl.raise...)
		if pl.armSet {
			armSet, armTo = true, pl.arm
		}
	}
	if tr.action {
		pl := m.d.makePlan(1, uint64(chosen), p.data, m.epoch, true)
		take(pl)
		if pl.fail {
			m.cov["action failed"]++
			if len(raise) > 0 {
				m.cov["failed action raised"]++
			}
			m.pushRaised(raise)
			return refuse(fsm.KindRefused, fsm.ErrActionFailed)
		}
	}
	r.kind, r.to, r.internal = fsm.KindTransitioned, tr.to, tr.internal
	if tr.internal {
		m.cov["internal"]++
		m.pushRaised(raise)
		if armSet {
			m.cov["internal re-arm or disarm"]++
			m.disarm()
			if armTo != nil {
				m.arm(*armTo)
			}
		}
		m.rec(r)
		return nil
	}
	if m.d.st[from].exit {
		pl := m.d.makePlan(4, m.d.stateIndex(from), p.data, m.epoch, false)
		raise = append(raise, pl.raise...)
	}
	m.cov["external"]++
	if m.armID != 0 {
		m.cov["left with deadline armed"]++
	}
	m.disarm()
	handledIn := m.epoch
	m.state, m.epoch = tr.to, m.epoch+1
	ps := m.d.st[tr.to]
	if ps.entry {
		take(m.d.makePlan(2, m.d.stateIndex(tr.to), p.data, handledIn, false))
	}
	m.pushRaised(raise)
	switch {
	case armSet && armTo != nil:
		m.arm(*armTo)
	case !armSet && ps.deadline != nil:
		m.arm(*ps.deadline)
	}
	m.rec(r)
	return nil
}

func (m *model) pushRaised(evs []string) {
	for _, ev := range evs {
		m.raised = append(m.raised, mpending{ev: ev, src: fsm.SourceRaised})
	}
}

func (m *model) drain() error {
	n := 0
	for len(m.raised) > 0 {
		if n >= m.d.maxChain {
			for _, p := range m.raised {
				if p.src == fsm.SourceDeadline && p.arm == m.armID {
					m.disarm()
				}
				m.rec(mrec{kind: fsm.KindDropped, src: p.src, ev: p.ev, from: m.state, to: m.state, epoch: m.epoch, err: fsm.ErrChainLimit})
			}
			m.raised = nil
			m.cov["chain limit"]++
			return fsm.ErrChainLimit
		}
		p := m.raised[0]
		m.raised = m.raised[1:]
		n++
		if p.src == fsm.SourceRaised {
			m.cov["raised"]++
		}
		m.handle(p)
	}
	return nil
}

func (m *model) external(p mpending) error {
	err := m.handle(p)
	if cerr := m.drain(); err == nil {
		err = cerr
	}
	return err
}

func (m *model) sleep(d time.Duration) {
	target := m.now.Add(d)
	for m.armID != 0 && m.timer && !m.armAt.After(target) {
		m.now = m.armAt
		m.handle(mpending{ev: m.armEv, src: fsm.SourceDeadline, arm: m.armID})
		m.drain()
	}
	m.now = target
}

func (m *model) snapshot() string {
	dl := "none"
	if m.armID != 0 {
		dl = m.armAt.Sub(m.t0).String()
	}
	return fmt.Sprintf("%s epoch=%d deadline=%s", m.state, m.epoch, dl)
}

func runProperty(t *testing.T, seed uint64, cov map[string]int) {
	d := randomDef(seed)
	def := d.definition()
	if err := def.Validate(); err != nil {
		t.Fatalf("seed %d: generated definition invalid: %v", seed, err)
	}
	rec := &recorder{}
	m := newMachine(t, def, func(c *fsm.Config[string, string]) {
		c.Observer = rec.observe
		c.MaxChain = d.maxChain
	})
	t0 := time.Now()
	ref := &model{d: d, t0: t0, now: t0, state: d.states[0], epoch: 1, cov: cov}
	ref.start()
	ref.drain()
	synctest.Wait()

	var trace []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: %s\ndefinition:\n%s\nops:\n%s", seed, fmt.Sprintf(format, args...), def.Mermaid(), strings.Join(trace, "\n"))
	}
	check := func() {
		t.Helper()
		got := rec.all()
		if len(got) != len(ref.recs) {
			fail("%d records, model has %d\nmachine:\n%s\nmodel:\n%s", len(got), len(ref.recs), recsString(toMrecs(got, t0)), recsString(ref.recs))
		}
		for i, r := range toMrecs(got, t0) {
			if r != ref.recs[i] {
				fail("record %d:\n machine %v\n model   %v\nmachine:\n%s\nmodel:\n%s", i, r, ref.recs[i], recsString(toMrecs(got, t0)), recsString(ref.recs))
			}
		}
		s := m.Snapshot()
		dl := "none"
		if !s.Deadline.IsZero() {
			dl = s.Deadline.Sub(t0).String()
		}
		if g, w := fmt.Sprintf("%s epoch=%d deadline=%s", s.State, s.Epoch, dl), ref.snapshot(); g != w {
			fail("snapshot %s, model %s", g, w)
		}
	}
	check()

	r := rand.New(rand.NewPCG(seed, 7))
	sleeps := []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second, 3 * time.Second, 7 * time.Second}
	for range 20 + r.IntN(40) {
		ev := d.events[r.IntN(len(d.events))]
		data := r.IntN(10)
		switch op := r.IntN(10); {
		case op < 4:
			trace = append(trace, fmt.Sprintf("fire %s data=%d", ev, data))
			got := m.FireMsg(t.Context(), fsm.Msg[string]{Event: ev, Data: data})
			want := ref.external(mpending{ev: ev, data: data, src: fsm.SourceExternal})
			if sentinel(got) != want {
				fail("Fire(%s) = %v, model %v", ev, got, want)
			}
		case op < 7:
			var epoch uint64
			switch r.IntN(3) {
			case 1:
				epoch = m.Snapshot().Epoch
			case 2:
				epoch = m.Snapshot().Epoch - 1
			}
			trace = append(trace, fmt.Sprintf("post %s data=%d epoch=%d", ev, data, epoch))
			if err := m.Post(fsm.Msg[string]{Event: ev, Data: data, Epoch: epoch}); err != nil {
				fail("Post: %v", err)
			}
			ref.external(mpending{ev: ev, data: data, src: fsm.SourceExternal, epoch: epoch})
			synctest.Wait()
		default:
			dur := sleeps[r.IntN(len(sleeps))]
			trace = append(trace, fmt.Sprintf("sleep %v", dur))
			time.Sleep(dur) // advances the bubble's clock; the machine's timer rings on the way
			synctest.Wait()
			ref.sleep(dur)
		}
		check()
	}
	checkInvariants(t, seed, d, rec.all())
	closeMachine(t, m)
	select {
	case <-m.Done():
	default:
		t.Fatal("Close returned before the goroutine exited")
	}
}

func toMrecs(rs []srec, t0 time.Time) []mrec {
	out := make([]mrec, len(rs))
	for i, r := range rs {
		out[i] = mrec{at: r.At.Sub(t0), kind: r.Kind, src: r.Source, ev: r.Event, from: r.From, to: r.To,
			internal: r.Internal, epoch: r.Epoch, err: sentinel(r.Err)}
	}
	return out
}

func recsString(rs []mrec) string {
	var b strings.Builder
	for i, r := range rs {
		fmt.Fprintf(&b, "  %d %v\n", i, r)
	}
	return b.String()
}

// checkInvariants checks the records on their own, without the model.
func checkInvariants(t *testing.T, seed uint64, d *propDef, rs []srec) {
	t.Helper()
	epoch := uint64(1)
	for i, r := range rs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("seed %d: record %d has Seq %d", seed, i, r.Seq)
		}
		if r.Epoch != epoch {
			t.Fatalf("seed %d: record %d in epoch %d, machine was in %d", seed, i, r.Epoch, epoch)
		}
		switch r.Kind {
		case fsm.KindTransitioned:
			legal := false
			for _, tr := range d.trans {
				if tr.from == r.From && tr.ev == r.Event && tr.to == r.To && tr.internal == r.Internal {
					legal = true
				}
			}
			if !legal {
				t.Fatalf("seed %d: illegal transition %s -%s-> %s", seed, r.From, r.Event, r.To)
			}
			if !r.Internal {
				epoch++
			}
		case fsm.KindRefused, fsm.KindStale, fsm.KindDropped:
			if r.From != r.To || r.Err == nil {
				t.Fatalf("seed %d: record %d %v moved or has no error: %+v", seed, i, r.Kind, r)
			}
		}
	}
}
