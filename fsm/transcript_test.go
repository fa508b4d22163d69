package fsm_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/fsm"
	"opendev.org/starlingx/metal-go/fsm/fsmtest"
)

// TestTranscripts runs each testdata/*.script in a synctest bubble and
// compares what happened (observer records, callback output, results, all
// stamped with virtual time) with testdata/*.golden. Rewrite the golden
// files with -fsm.update after a deliberate change, and read the diff.
//
// Script commands, one a line ('#' starts a comment):
//
//	machine NAME [maxchain=N]   build machine NAME (door, poller, chain)
//	fire EV [data=S] [epoch=N|cur]
//	post EV [data=S] [epoch=N|cur]
//	sleep DURATION              advance virtual time
//	snapshot
//	close
func TestTranscripts(t *testing.T) {
	scripts, err := filepath.Glob("testdata/*.script")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, script := range scripts {
		name := strings.TrimSuffix(filepath.Base(script), ".script")
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got := runScript(t, script)
				fsmtest.CheckGolden(t, strings.TrimSuffix(script, ".script")+".golden", []byte(got), "")
			})
		})
	}
}

// transcript collects lines from the observer, callbacks and the script.
type transcript struct {
	mu    sync.Mutex
	t0    time.Time
	lines []string
}

func (tr *transcript) add(format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.lines = append(tr.lines, fmt.Sprintf(format, args...))
}

func (tr *transcript) say(s string) { tr.add("  @%v say: %s", time.Since(tr.t0), s) }

func observe[S, E comparable](tr *transcript) func(fsm.Record[S, E]) {
	return func(r fsm.Record[S, E]) { tr.add("  %s", formatRecord(r, tr.t0)) }
}

func formatRecord[S, E comparable](r fsm.Record[S, E], t0 time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "@%v #%d %s(%s) ", r.At.Sub(t0), r.Seq, r.Kind, r.Source)
	switch r.Kind {
	case fsm.KindStarted:
		fmt.Fprintf(&b, "%v", r.To)
	case fsm.KindTransitioned:
		fmt.Fprintf(&b, "%v -%v-> %v", r.From, r.Event, r.To)
		if r.Internal {
			b.WriteString(" internal")
		}
	default:
		fmt.Fprintf(&b, "%v -%v-", r.From, r.Event)
	}
	fmt.Fprintf(&b, " epoch=%d", r.Epoch)
	if r.Err != nil {
		fmt.Fprintf(&b, ": %v", r.Err)
	}
	return b.String()
}

// driver is the untyped face of a machine under a script.
type driver interface {
	fire(ctx context.Context, ev, data string, epoch uint64) error
	post(ev, data string, epoch uint64) error
	snapshot(t0 time.Time) string
	epoch() uint64
	close(ctx context.Context) error
}

type typed[S ~string, E ~string] struct{ m *fsm.Machine[S, E] }

func msg[E ~string](ev, data string, epoch uint64) fsm.Msg[E] {
	m := fsm.Msg[E]{Event: E(ev), Epoch: epoch}
	if data != "" {
		m.Data = data
	}
	return m
}

func (d typed[S, E]) fire(ctx context.Context, ev, data string, epoch uint64) error {
	return d.m.FireMsg(ctx, msg[E](ev, data, epoch))
}
func (d typed[S, E]) post(ev, data string, epoch uint64) error {
	return d.m.Post(msg[E](ev, data, epoch))
}
func (d typed[S, E]) epoch() uint64 { return d.m.Snapshot().Epoch }
func (d typed[S, E]) close(ctx context.Context) error {
	return d.m.Close(ctx)
}
func (d typed[S, E]) snapshot(t0 time.Time) string {
	s := d.m.Snapshot()
	dl := "none"
	if !s.Deadline.IsZero() {
		dl = "@" + s.Deadline.Sub(t0).String()
	}
	return fmt.Sprintf("state=%v epoch=%d entered=@%v deadline=%s steps=%d last=%v lasterr=%v",
		s.State, s.Epoch, s.Entered.Sub(t0), dl, s.Steps, s.LastEvent, s.LastErr)
}

func newDriver(t *testing.T, tr *transcript, name string, maxChain int) driver {
	t.Helper()
	switch name {
	case "door":
		cfg := fsm.DefaultConfig[Door, DoorEvent]()
		cfg.Observer = observe[Door, DoorEvent](tr)
		if maxChain > 0 {
			cfg.MaxChain = maxChain
		}
		m, err := fsm.New(doorDefinition(tr.say), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return typed[Door, DoorEvent]{m}
	case "poller":
		return newTestMachine(t, tr, pollerDefinition(tr), maxChain)
	case "chain":
		var m *fsm.Machine[string, string]
		d := newTestMachine(t, tr, chainDefinition(tr, &m), maxChain)
		m = d.m
		return d
	}
	t.Fatalf("unknown machine %q", name)
	return nil
}

func newTestMachine(t *testing.T, tr *transcript, def fsm.Definition[string, string], maxChain int) typed[string, string] {
	t.Helper()
	cfg := fsm.DefaultConfig[string, string]()
	cfg.Observer = observe[string, string](tr)
	if maxChain > 0 {
		cfg.MaxChain = maxChain
	}
	m, err := fsm.New(def, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return typed[string, string]{m}
}

// pollerDefinition is a small model of a swact stage: send a query when
// the stage's timer rings (at once on entry, as StarlingX's freshly reset
// timer does, or after a retry delay), poll each second for the reply,
// treat the request as lost after 3 polls, give up after 2 retries.
func pollerDefinition(tr *transcript) fsm.Definition[string, string] {
	var retries, polls, sends int
	type tx = fsm.Tx[string, string]
	type step = fsm.Step[string, string]
	return fsm.Definition[string, string]{
		Name:    "poller",
		Initial: "idle",
		States: []fsm.State[string, string]{
			{State: "query", Deadline: fsm.After(0, "ring"), Note: "rings at once unless the transition armed a delay"},
			{State: "poll", Deadline: fsm.After(time.Second, "tick")},
			{State: "done", Entry: func(context.Context, *tx) { tr.say("done") }},
			{State: "failed", Entry: func(context.Context, *tx) { tr.say("failed") }},
		},
		Transitions: []fsm.Transition[string, string]{
			{From: "idle", Event: "start", To: "query", Action: func(context.Context, *tx) error {
				retries, polls = 0, 0
				return nil
			}},
			{From: "query", Event: "ring", To: "failed", GuardName: "retries >= 2",
				Guard: func(context.Context, step) error {
					if retries >= 2 {
						return nil
					}
					return errors.New("retries left")
				}},
			{From: "query", Event: "ring", To: "poll", Action: func(_ context.Context, tx *tx) error {
				sends++
				polls = 0
				tr.say(fmt.Sprintf("send query #%d for epoch %d", sends, tx.NextEpoch()))
				return nil
			}},
			{From: "poll", Event: "tick", To: "poll", Internal: true, GuardName: "polls < 2",
				Guard: func(context.Context, step) error {
					if polls < 2 {
						return nil
					}
					return errors.New("lost")
				},
				Action: func(_ context.Context, tx *tx) error {
					polls++
					tx.Arm(time.Second, "tick")
					return nil
				}},
			{From: "poll", Event: "tick", To: "query", Action: func(context.Context, *tx) error {
				retries++
				tr.say("request lost")
				return nil
			}},
			{From: "poll", Event: "reply", To: "done", GuardName: "reply ok",
				Guard: func(_ context.Context, s step) error {
					if s.Data == "ok" {
						return nil
					}
					return fmt.Errorf("reply %v", s.Data)
				}},
			{From: "poll", Event: "reply", To: "query", Action: func(_ context.Context, tx *tx) error {
				retries++
				tx.Arm(10*time.Second, "ring") // retry after 10 s, not at once
				return nil
			}},
			{From: "done", Event: "reset", To: "idle"},
			{From: "failed", Event: "reset", To: "idle"},
		},
	}
}

// chainDefinition exercises run to completion: raised events, a failing
// action that raises its way to an error state, Fire from an action, a
// raise loop cut by MaxChain.
func chainDefinition(tr *transcript, m **fsm.Machine[string, string]) fsm.Definition[string, string] {
	type tx = fsm.Tx[string, string]
	return fsm.Definition[string, string]{
		Name:    "chain",
		Initial: "a",
		States: []fsm.State[string, string]{
			{State: "a",
				Entry: func(context.Context, *tx) { tr.say("enter a") },
				Exit:  func(context.Context, *tx) { tr.say("exit a") }},
			{State: "b",
				Entry: func(_ context.Context, tx *tx) { tr.say("enter b, raise z"); tx.Raise("z") },
				Exit:  func(context.Context, *tx) { tr.say("exit b") }},
			{State: "err", Entry: func(context.Context, *tx) { tr.say("enter err") }},
		},
		Transitions: []fsm.Transition[string, string]{
			{From: "a", Event: "go", To: "b", Action: func(_ context.Context, tx *tx) error {
				tr.say("action go: raise x, y")
				tx.Raise("x")
				tx.Raise("y")
				return nil
			}},
			{From: "b", Event: "x", To: "c"},
			{From: "c", Event: "y", To: "a"},
			{From: "a", Event: "bad", To: "b", Action: func(_ context.Context, tx *tx) error {
				tr.say("action bad: raise oops, arm, fail")
				tx.Raise("oops")
				tx.Arm(time.Hour, "never")
				return errors.New("boom")
			}},
			{From: "a", Event: "oops", To: "err"},
			{From: "err", Event: "reset", To: "a"},
			{From: "a", Event: "fire", To: "c", Action: func(ctx context.Context, tx *tx) error {
				err := (*m).Fire(ctx, "y")
				tr.say(fmt.Sprintf("action fire: Fire(y) = %v", err))
				return nil
			}},
			{From: "a", Event: "spin", To: "spin"},
			{From: "spin", Event: "s", To: "spin", Internal: true, Action: func(_ context.Context, tx *tx) error {
				tx.Raise("s")
				return nil
			}},
			{From: "spin", Event: "stop", To: "a"},
		},
	}
}

func runScript(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &transcript{t0: time.Now()}
	ctx := context.Background()
	var d driver
	defer func() {
		if d != nil {
			if err := d.close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	}()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			tr.add("%s", line)
			continue
		}
		tr.add("> %s", line)
		fields := strings.Fields(line)
		args := map[string]string{}
		for _, f := range fields[1:] {
			if k, v, ok := strings.Cut(f, "="); ok {
				args[k] = v
			}
		}
		epoch := func() uint64 {
			switch e := args["epoch"]; e {
			case "":
				return 0
			case "cur":
				return d.epoch()
			default:
				n, err := strconv.ParseUint(e, 10, 64)
				if err != nil {
					t.Fatalf("%s: bad epoch %q", line, e)
				}
				return n
			}
		}
		result := func(err error) {
			if err != nil {
				tr.add("= %v", err)
			} else {
				tr.add("= ok")
			}
		}
		switch fields[0] {
		case "machine":
			n, _ := strconv.Atoi(args["maxchain"])
			d = newDriver(t, tr, fields[1], n)
			synctest.Wait()
		case "fire":
			result(d.fire(ctx, fields[1], args["data"], epoch()))
		case "post":
			result(d.post(fields[1], args["data"], epoch()))
			synctest.Wait()
		case "sleep":
			dur, err := time.ParseDuration(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(dur) // advances the bubble's virtual clock
			synctest.Wait()
		case "snapshot":
			tr.add("  %s", d.snapshot(tr.t0))
		case "close":
			result(d.close(ctx))
			result(d.post("x", "", 0))
			d = nil
		default:
			t.Fatalf("unknown command %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.lines, "\n") + "\n"
}
