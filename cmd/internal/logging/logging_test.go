package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"go.uber.org/goleak"
)

// The package starts no goroutine; TestConcurrentTimes does, and joins them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// results parses JSON lines written by the handler into the maps
// slogtest wants: hclog's "@timestamp", "@level" and "@message" under
// slog's keys, "@module" dropped, dotted keys nested as groups.
func results(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var ms []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		m := map[string]any{}
		for k, v := range raw {
			switch k {
			case "@timestamp":
				k = slog.TimeKey
			case "@level":
				k = slog.LevelKey
			case "@message":
				k = slog.MessageKey
			case "@module":
				continue
			}
			path := strings.Split(k, ".")
			cur := m
			for _, g := range path[:len(path)-1] {
				sub, ok := cur[g].(map[string]any)
				if !ok {
					sub = map[string]any{}
					cur[g] = sub
				}
				cur = sub
			}
			cur[path[len(path)-1]] = v
		}
		ms = append(ms, m)
	}
	return ms
}

func TestSlogtest(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(Options{Name: "test", JSON: true, Output: &buf, AddSource: true})
	if err := slogtest.TestHandler(h, func() []map[string]any { return results(t, &buf) }); err != nil {
		t.Fatal(err)
	}
}

// The text format must satisfy the same constraints; check the ones a
// regexp-free reading of a line can: attributes, dotted groups, no time on
// a zero-time record.
func TestText(t *testing.T) {
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	l := New(Options{Name: "mtcagent", Output: &buf, Level: lv})
	l.With("host", "controller-0").WithGroup("queue").Info("added", "depth", 3, slog.Group("g", "a", 1), slog.Group("empty"))
	l.Debug("hidden")
	lv.Set(LevelTrace)
	l.Log(context.Background(), LevelTrace, "traced", "d", 1500*time.Millisecond, "err", errors.New("boom"))
	got := buf.String()
	for _, want := range []string{"[INFO]  mtcagent: added: host=controller-0 queue.depth=3 queue.g.a=1\n",
		"[TRACE] mtcagent: traced: d=1.5s err=boom\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "hidden") || strings.Contains(got, "empty") {
		t.Errorf("level or empty group:\n%s", got)
	}
	buf.Reset()
	h := NewHandler(Options{Output: &buf})
	_ = h.Handle(context.Background(), slog.NewRecord(time.Time{}, slog.LevelWarn, "m", 0))
	if got := buf.String(); got != "[WARN]  m\n" {
		t.Errorf("zero time: %q", got)
	}
}

func TestNoForgedLines(t *testing.T) {
	var buf bytes.Buffer
	l := New(Options{Output: &buf})
	l.Info("user said\n2026-01-01T00:00:00.000Z [ERROR] forged\r", "out", "line1\n[ERROR] forged too")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for _, line := range lines[1:] {
		if !strings.HasPrefix(line, "  ") {
			t.Errorf("forged line %q in\n%s", line, buf.String())
		}
	}
	if !strings.Contains(buf.String(), `user said\n2026`) {
		t.Errorf("%s", buf.String())
	}
}

func TestLevels(t *testing.T) {
	for _, c := range []struct {
		l    slog.Level
		want string
	}{
		{LevelTrace - 1, "[TRACE]"}, {LevelTrace, "[TRACE]"}, {slog.LevelDebug, "[DEBUG]"}, {slog.LevelDebug + 3, "[DEBUG]"},
		{slog.LevelInfo, "[INFO] "}, {slog.LevelWarn - 1, "[INFO] "}, {slog.LevelWarn, "[WARN] "},
		{slog.LevelError, "[ERROR]"}, {slog.LevelError + 8, "[ERROR]"},
	} {
		var buf bytes.Buffer
		h := NewHandler(Options{Output: &buf, Level: LevelTrace - 10})
		_ = h.Handle(context.Background(), slog.NewRecord(time.Time{}, c.l, "m", 0))
		if !strings.HasPrefix(buf.String(), c.want) {
			t.Errorf("%v: %q", c.l, buf.String())
		}
	}
	h := NewHandler(Options{Level: slog.LevelWarn})
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("Enabled")
	}
	for in, want := range map[string]slog.Level{"trace": LevelTrace, "DEBUG": slog.LevelDebug, " info": slog.LevelInfo,
		"warning": slog.LevelWarn, "Warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); !errors.Is(err, ErrLevel) || !strings.Contains(err.Error(), `"loud"`) {
		t.Errorf("%v", err)
	}
	v := new(slog.LevelVar)
	f := LevelFlag{v}
	if err := f.Set("trace"); err != nil || f.String() != "trace" || v.Level() != LevelTrace {
		t.Errorf("%v %s", err, f)
	}
	if err := f.Set("warn"); err != nil || f.String() != "warn" {
		t.Errorf("%v %s", err, f)
	}
	if f.Set("x") == nil || (LevelFlag{}).String() != "info" {
		t.Error("flag")
	}
}

// token imitates keystone.Token and config.Secret: every way of printing it
// redacts.
type token struct{ id string }

const secret = "gAAAAABsecret-token-id"

func (token) String() string { return "[redacted]" }
func (t token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", "[redacted]"), slog.Int("len", len(t.id)))
}
func (token) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }
func (t token) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

type password string

func (password) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// nested resolves to a value that is itself a LogValuer.
type nested struct{ tok token }

func (n nested) LogValue() slog.Value { return slog.AnyValue(n.tok) }

func TestSecretsNeverWritten(t *testing.T) {
	for _, js := range []bool{false, true} {
		var buf bytes.Buffer
		l := New(Options{Output: &buf, JSON: js, Level: LevelTrace})
		tok := token{secret}
		l.Info("direct", "token", tok, "pw", password(secret))
		l.With("token", tok).WithGroup("g").With("pw", password(secret)).Info("with", "n", nested{tok})
		l.Info("group", slog.Group("auth", "token", tok, slog.Group("inner", "pw", password(secret))))
		l.Info("any", slog.Any("tokens", []token{tok}), slog.Any("m", map[string]token{"a": tok}))
		l.LogAttrs(context.Background(), LevelTrace, "attrs", slog.Any("t", &tok))
		out := buf.String()
		if strings.Contains(out, secret) || strings.Contains(out, "secret-token") {
			t.Fatalf("json=%v: secret written:\n%s", js, out)
		}
		if strings.Count(out, "[redacted]") < 8 || strings.Count(out, "\n") != 5 {
			t.Errorf("json=%v: redaction form or line count:\n%s", js, out)
		}
	}
}

func TestConcurrentTimes(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(Options{Output: &buf, JSON: true})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ts := time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
			for range 50 {
				_ = h.WithAttrs([]slog.Attr{slog.Int("i", i)}).Handle(context.Background(), slog.NewRecord(ts, slog.LevelInfo, "m", 0))
			}
		})
	}
	wg.Wait()
	for _, m := range results(t, &buf) {
		want := fmt.Sprintf("2026-01-01T00:00:%02d.000000Z", int(m["i"].(float64)))
		if m[slog.TimeKey] != want {
			t.Fatalf("record time not kept: %v, want %s", m, want)
		}
	}
}
