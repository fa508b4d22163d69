package fsm_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/fsm"

	"opendev.org/starlingx/metal-go/fsm/fsmtest"
)

// TestDiagrams fails when DIAGRAMS.md does not match the example machine's
// definition; go generate rewrites it.
func TestDiagrams(t *testing.T) {
	def := doorDefinition(func(string) {})
	fsmtest.CheckDiagrams(t, "DIAGRAMS.md", "fsm example machines", &def)
}

// TestDiagramDeterministic: the export does not depend on the order in
// which states and (From, Event) groups are declared, keeps the order
// within a group, and escapes names Mermaid and DOT cannot take raw.
func TestDiagramDeterministic(t *testing.T) {
	g := func(context.Context, fsm.Step[string, string]) error { return nil }
	trs := []fsm.Transition[string, string]{
		{From: "b", Event: "y", To: "end"},
		{From: "a", Event: "x", To: "b", Guard: g, GuardName: "first"},
		{From: "a", Event: "x", To: "c"},
		{From: "c", Event: "t", To: "c", Internal: true},
		{From: "my state", Event: "go;#", To: `q"uote`},
		{From: "a", Event: "go", To: "my state"},
	}
	states := []fsm.State[string, string]{
		{State: "c", Deadline: fsm.After(2*time.Second, "t")},
		{State: "b", Note: "a note"},
	}
	d1 := fsm.Definition[string, string]{Name: "det", Initial: "a", States: states, Transitions: trs}
	rev := slices.Clone(trs)
	slices.Reverse(rev)
	// Reversing swaps the a/x group too; put it back in declared order.
	i := slices.IndexFunc(rev, func(tr fsm.Transition[string, string]) bool { return tr.From == "a" && tr.Event == "x" })
	rev[i], rev[i+1] = rev[i+1], rev[i]
	revStates := slices.Clone(states)
	slices.Reverse(revStates)
	d2 := fsm.Definition[string, string]{Name: "det", Initial: "a", States: revStates, Transitions: rev}
	if d1.Mermaid() != d2.Mermaid() || d1.DOT() != d2.DOT() {
		t.Fatalf("export depends on declaration order:\n%s\n%s", d1.Mermaid(), d2.Mermaid())
	}
	want := `stateDiagram-v2
    a
    b
    c
    state "end" as s_end
    state "my state" as my_state
    state "q#quot;uote" as q_uote
    [*] --> a
    a --> my_state: go
    a --> b: x [first]
    a --> c: x
    b --> s_end: y
    c --> c: t (after 2s) (internal)
    my_state --> q_uote: go#59;#35;
    note right of b: a note
`
	if got := d1.Mermaid(); got != want {
		t.Fatalf("Mermaid:\n%s\nwant:\n%s", got, want)
	}
	if dot := d1.DOT(); !strings.Contains(dot, `"my state" -> "q\"uote" [label="go;#"];`) {
		t.Fatalf("DOT:\n%s", dot)
	}
}
