package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level rendered as hclog's TRACE: anything below
// slog.LevelDebug.
const LevelTrace = slog.LevelDebug - 4

// ErrLevel is wrapped by ParseLevel's error for an unknown level name.
var ErrLevel = errors.New("logging: unknown level")

// Options configure New. The zero value writes text at info level to
// os.Stderr, unnamed.
type Options struct {
	// Name prefixes every line (hclog's module name, "@module" in JSON);
	// the daemon's name, e.g. "mtcagent".
	Name string
	// JSON selects hclog's JSON lines instead of its text format.
	JSON bool
	// Level is the minimum level written; nil is slog.LevelInfo. Pass a
	// *slog.LevelVar to change it at run time (on SIGHUP, say).
	Level slog.Leveler
	// Output receives one Write per line; nil is os.Stderr.
	Output io.Writer
	// AddSource adds a "source" attribute, "dir/file.go:line", from the
	// record's PC.
	AddSource bool
	// TimeFormat overrides hclog's time layout.
	TimeFormat string
}

// New returns a logger whose records are rendered by go-hclog as opts say.
func New(opts Options) *slog.Logger { return slog.New(NewHandler(opts)) }

// NewHandler returns the slog.Handler bridge to go-hclog described in the
// package documentation.
func NewHandler(opts Options) *Handler {
	out := opts.Output
	if out == nil {
		out = os.Stderr
	}
	lvl := opts.Level
	if lvl == nil {
		lvl = slog.LevelInfo
	}
	c := &core{level: lvl, addSource: opts.AddSource, text: !opts.JSON}
	mk := func(noTime bool) hclog.Logger {
		return hclog.New(&hclog.LoggerOptions{
			Name:        opts.Name,
			Level:       hclog.Trace, // filtering is done by Enabled
			Output:      out,
			JSONFormat:  opts.JSON,
			TimeFormat:  opts.TimeFormat,
			TimeFn:      c.now,
			DisableTime: noTime,
			Color:       hclog.ColorOff,
		})
	}
	c.timed, c.untimed = mk(false), mk(true)
	return &Handler{c: c}
}

// core is shared by a Handler and everything derived from it.
type core struct {
	level     slog.Leveler
	addSource bool
	text      bool         // hclog writes messages raw in text: escape line breaks
	timed     hclog.Logger // records with a time
	untimed   hclog.Logger // records with a zero time (slog's contract)

	mu      sync.Mutex // serialises records so that now returns theirs
	pending time.Time  // guarded by mu
}

// now is hclog's TimeFn: hclog calls it synchronously inside Log, which
// Handle calls with mu held, so it returns the record's own time rather than
// the time hclog got round to formatting it.
func (c *core) now() time.Time { return c.pending }

// Handler is a slog.Handler that renders through go-hclog. It is safe for
// concurrent use; handlers returned by WithAttrs and WithGroup share the
// output and serialise with it.
type Handler struct {
	c *core
	// attrs are the WithAttrs attributes already flattened to hclog
	// key/value pairs, keys qualified by the groups open at the time.
	attrs []any
	// groups are the open WithGroup names, outermost first.
	groups []string
}

// Enabled reports whether level is at or above the configured level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.c.level.Level()
}

// WithAttrs returns a handler whose records carry attrs, qualified by the
// groups currently open. LogValuer values are resolved now.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := h.clone()
	prefix := strings.Join(h.groups, ".")
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, prefix, a)
	}
	return h2
}

// WithGroup returns a handler that qualifies later attributes with name;
// an empty name is ignored, as slog requires.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := h.clone()
	h2.groups = append(h2.groups, name)
	return h2
}

func (h *Handler) clone() *Handler {
	return &Handler{
		c:      h.c,
		attrs:  append([]any(nil), h.attrs...),
		groups: append([]string(nil), h.groups...),
	}
}

// Handle renders r as one line. It returns nil; hclog reports no write
// errors.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	args := make([]any, 0, len(h.attrs)+2*r.NumAttrs()+2)
	args = append(args, h.attrs...)
	if h.c.addSource && r.PC != 0 {
		fs := runtime.CallersFrames([]uintptr{r.PC})
		f, _ := fs.Next()
		if f.File != "" {
			args = append(args, slog.SourceKey,
				filepath.Base(filepath.Dir(f.File))+"/"+filepath.Base(f.File)+":"+strconv.Itoa(f.Line))
		}
	}
	prefix := strings.Join(h.groups, ".")
	r.Attrs(func(a slog.Attr) bool {
		args = appendAttr(args, prefix, a)
		return true
	})
	msg := r.Message
	if h.c.text && strings.ContainsAny(msg, "\r\n") {
		msg = strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
	}
	lg := h.c.timed
	if r.Time.IsZero() {
		lg = h.c.untimed
	}
	h.c.mu.Lock()
	h.c.pending = r.Time
	lg.Log(hclogLevel(r.Level), msg, args...)
	h.c.pending = time.Time{}
	h.c.mu.Unlock()
	return nil
}

// appendAttr appends a's key/value pairs, flattened: a group's members get
// "group." prefixed to their keys, an empty group vanishes, a group with an
// empty key is inlined, and an empty Attr is dropped.
func appendAttr(args []any, prefix string, a slog.Attr) []any {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return args
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = join(prefix, a.Key)
		}
		for _, m := range a.Value.Group() {
			args = appendAttr(args, p, m)
		}
		return args
	}
	return append(args, join(prefix, a.Key), plain(a.Value))
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// plain converts a resolved value to what hclog renders well in both
// formats: durations and times as text, errors by their message, the rest
// as Go values (hclog formats them with %v, or encoding/json).
func plain(v slog.Value) any {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		return v.Float64()
	case slog.KindBool:
		return v.Bool()
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	}
	x := v.Any()
	if err, ok := x.(error); ok {
		return err.Error()
	}
	return x
}

// hclogLevel maps slog levels onto hclog's five: below Debug is Trace,
// [Debug, Info) Debug, [Info, Warn) Info, [Warn, Error) Warn, Error and
// above Error.
func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}

// ParseLevel reads a --log-level value: trace, debug, info, warn (or
// warning) or error, in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return LevelTrace, nil
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%w %q (want trace, debug, info, warn or error)", ErrLevel, s)
}

// LevelFlag is a flag.Value over a *slog.LevelVar, so that the level can be
// set by flag and changed later (SIGHUP) through the same variable.
type LevelFlag struct{ Var *slog.LevelVar }

// String returns the level's name in lower case.
func (f LevelFlag) String() string {
	if f.Var == nil {
		return "info"
	}
	if f.Var.Level() == LevelTrace {
		return "trace"
	}
	return strings.ToLower(f.Var.Level().String())
}

// Set parses s with ParseLevel.
func (f LevelFlag) Set(s string) error {
	l, err := ParseLevel(s)
	if err != nil {
		return err
	}
	f.Var.Set(l)
	return nil
}
