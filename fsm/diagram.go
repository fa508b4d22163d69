package fsm

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Diagram is a machine definition that can draw itself. [*Definition]
// implements it for every S and E, so [WriteMarkdown] can put machines of
// different types in one file.
type Diagram interface {
	DiagramName() string
	Mermaid() string
	DOT() string
}

var _ Diagram = (*Definition[string, string])(nil)

// DiagramName returns the definition's Name ("fsm" if empty).
func (d *Definition[S, E]) DiagramName() string { return d.name() }

// edge is one transition, as drawn.
type edge struct {
	from, to, label string
	order           int
}

// layout returns the states (sorted by name, as fmt.Sprint prints them)
// and the edges, sorted by (from, event) with the declaration order kept
// within a (from, event) group, since that order decides which guard is
// tried first. Names are what fmt.Sprint prints for S and E.
func (d *Definition[S, E]) layout() (states []string, edges []edge, notes map[string]string) {
	name := func(v any) string { return fmt.Sprint(v) }
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			states = append(states, s)
		}
	}
	add(name(d.Initial))
	deadlines := map[string]map[string]time.Duration{}
	notes = map[string]string{}
	for _, st := range d.States {
		n := name(st.State)
		add(n)
		if st.Note != "" {
			notes[n] = st.Note
		}
		if st.Deadline != nil {
			deadlines[n] = map[string]time.Duration{name(st.Deadline.Event): st.Deadline.After}
		}
	}
	type keyed struct {
		edge
		event string
	}
	var ks []keyed
	for i, tr := range d.Transitions {
		from, to, ev := name(tr.From), name(tr.To), name(tr.Event)
		add(from)
		add(to)
		label := ev
		if tr.GuardName != "" {
			label += " [" + tr.GuardName + "]"
		} else if tr.Guard != nil {
			label += " [guard]"
		}
		if after, ok := deadlines[from][ev]; ok {
			label += " (after " + after.String() + ")"
		}
		if tr.Internal {
			label += " (internal)"
		}
		ks = append(ks, keyed{edge{from, to, label, i}, ev})
	}
	slices.Sort(states)
	slices.SortStableFunc(ks, func(a, b keyed) int {
		return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.event, b.event))
	})
	for _, k := range ks {
		edges = append(edges, k.edge)
	}
	return states, edges, notes
}

// Mermaid returns the transition table as a Mermaid stateDiagram-v2. The
// output is deterministic: states and transitions are sorted by name (see
// [Definition.DOT] for the order within a (From, Event) group). Deadline
// transitions are labelled "(after D)", guards "[GuardName]".
func (d *Definition[S, E]) Mermaid() string {
	states, edges, notes := d.layout()
	ids := map[string]string{}
	used := map[string]bool{}
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	for _, s := range states {
		id := mermaidID(s)
		for base, i := id, 2; used[id]; i++ {
			id = fmt.Sprintf("%s_%d", base, i)
		}
		used[id] = true
		ids[s] = id
		if id == s {
			fmt.Fprintf(&b, "    %s\n", id)
		} else {
			fmt.Fprintf(&b, "    state \"%s\" as %s\n", mermaidName(s), id)
		}
	}
	fmt.Fprintf(&b, "    [*] --> %s\n", ids[fmt.Sprint(d.Initial)])
	for _, e := range edges {
		fmt.Fprintf(&b, "    %s --> %s: %s\n", ids[e.from], ids[e.to], mermaidText(e.label))
	}
	for _, s := range states {
		if n, ok := notes[s]; ok {
			fmt.Fprintf(&b, "    note right of %s: %s\n", ids[s], mermaidText(n))
		}
	}
	return b.String()
}

func mermaidID(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	id := b.String()
	if id == "" || (id[0] >= '0' && id[0] <= '9') || id == "end" || id == "state" || id == "note" {
		id = "s_" + id
	}
	return id
}

// mermaidText escapes Mermaid's entity character and statement separator
// (in one pass, so the escapes are not escaped again).
var mermaidText = strings.NewReplacer("#", "#35;", ";", "#59;", "\n", " ").Replace

// mermaidName also escapes the double quote, for a quoted state label.
var mermaidName = strings.NewReplacer("#", "#35;", ";", "#59;", "\n", " ", `"`, "#quot;").Replace

// DOT returns the transition table as a Graphviz digraph. The output is
// deterministic: states are sorted by name, transitions by (From, Event),
// and transitions that share both keep their declaration order (the order
// their guards are tried in).
func (d *Definition[S, E]) DOT() string {
	states, edges, notes := d.layout()
	q := func(s string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", q(d.name()))
	b.WriteString("    rankdir=LR;\n")
	b.WriteString("    node [shape=box, style=rounded];\n")
	b.WriteString("    \"[*]\" [shape=point];\n")
	for _, s := range states {
		if n, ok := notes[s]; ok {
			fmt.Fprintf(&b, "    %s [tooltip=%s];\n", q(s), q(n))
		} else {
			fmt.Fprintf(&b, "    %s;\n", q(s))
		}
	}
	fmt.Fprintf(&b, "    \"[*]\" -> %s;\n", q(fmt.Sprint(d.Initial)))
	for _, e := range edges {
		fmt.Fprintf(&b, "    %s -> %s [label=%s];\n", q(e.from), q(e.to), q(e.label))
	}
	b.WriteString("}\n")
	return b.String()
}

// MarkdownHeader is the first line [WriteMarkdown] writes.
const MarkdownHeader = "<!-- Code generated by go generate; DO NOT EDIT. -->"

// WriteMarkdown writes a Markdown document titled title with, for each
// diagram, a section holding its Mermaid diagram and its DOT source. Its
// output is deterministic, so it can be checked in beside a package's
// doc.go and compared by a test (see package fsmtest).
func WriteMarkdown(w io.Writer, title string, ds ...Diagram) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s\n\n# %s\n", MarkdownHeader, title)
	for _, d := range ds {
		fmt.Fprintf(bw, "\n## %s\n\n```mermaid\n%s```\n\n<details><summary>DOT</summary>\n\n```dot\n%s```\n\n</details>\n",
			d.DiagramName(), d.Mermaid(), d.DOT())
	}
	return bw.Flush()
}
