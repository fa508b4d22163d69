package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"opendev.org/starlingx/metal-go/cmd/internal/logging"
	"opendev.org/starlingx/metal-go/mtce/config"
)

// Exit statuses of the daemons.
const (
	ExitOK      = 0
	ExitFailure = 1  // a failure while running, a drain that timed out
	ExitUsage   = 2  // bad flags (the flag package's convention)
	ExitConfig  = 78 // bad or missing configuration (sysexits EX_CONFIG); use RestartPreventExitStatus=78
)

// Common holds the flags every daemon takes: --version, --log-json and
// --log-level.
type Common struct {
	ShowVersion bool
	LogJSON     bool
	// LogLevel is the level variable the logger reads, so that a reload
	// can change it.
	LogLevel slog.LevelVar
}

// Register adds the common flags to fs.
func (c *Common) Register(fs *flag.FlagSet) {
	fs.BoolVar(&c.ShowVersion, "version", false, "print the version and exit")
	fs.BoolVar(&c.LogJSON, "log-json", false, "write logs as JSON lines instead of text")
	fs.Var(logging.LevelFlag{Var: &c.LogLevel}, "log-level", "minimum log level: trace, debug, info, warn or error")
}

// Parse parses args into fs (on which Register was called) and says
// whether the program should exit now, and with which status: after
// --help or -h (ExitOK, usage printed by fs), a flag error (ExitUsage,
// printed by fs), --version (ExitOK, VersionString(fs.Name()) printed on
// stdout), or stray arguments (ExitUsage, reported on fs.Output()).
func (c *Common) Parse(fs *flag.FlagSet, args []string, stdout io.Writer) (exit bool, status int) {
	fs.Init(fs.Name(), flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, ExitOK
		}
		return true, ExitUsage
	}
	if c.ShowVersion {
		fmt.Fprintln(stdout, VersionString(fs.Name()))
		return true, ExitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return true, ExitUsage
	}
	return false, ExitOK
}

// Logger returns the daemon's logger as the flags say, writing to w
// (os.Stderr when nil).
func (c *Common) Logger(prog string, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	return logging.New(logging.Options{Name: prog, JSON: c.LogJSON, Level: &c.LogLevel, Output: w})
}

// ValueError is a configuration value the daemon cannot use. File and
// Section may be empty (a flag: Key is then the flag's name, "--x").
type ValueError struct {
	File    string
	Section string
	Key     string
	Value   string
	Reason  string // "is not a port", "must be loopback"
}

func (e *ValueError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if e.Section != "" {
		b.WriteString("[" + e.Section + "] ")
	}
	v := strconv.Quote(e.Value)
	if secretKey(e.Key) && e.Value != "" {
		v = "[redacted]"
	}
	fmt.Fprintf(&b, "%s: %s %s", e.Key, v, e.Reason)
	return b.String()
}

// secretKey is the config package's rule for keys whose values are never
// printed: …_pw, …password…, …passwd…, …secret…, in any case.
func secretKey(key string) bool {
	k := strings.ToLower(key)
	return strings.HasSuffix(k, "_pw") || strings.Contains(k, "password") ||
		strings.Contains(k, "passwd") || strings.Contains(k, "secret")
}

// ParsePort reads a TCP/UDP port (1-65535), returning a *ValueError naming
// where it came from otherwise.
func ParsePort(file, section, key, s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 1 || p > 65535 {
		return 0, &ValueError{File: file, Section: section, Key: key, Value: s, Reason: "is not a port"}
	}
	return p, nil
}

// ConfigError formats an error from loading or checking configuration as
// the one line a daemon prints before exiting with ExitConfig:
//
//	mtcagent: /etc/mtc.ini: [agent] keystone_auth_port: "abc" is not a port
//	mtcagent: /etc/mtc.conf: [agent] mtc_agent_port: required key is missing
//	mtcagent: /etc/mtc.conf: required keys missing: [agent] a, [client] b
//	mtcagent: /etc/mtc.ini:12: cannot parse "[agent": unclosed section
//	mtcagent: /etc/mtc.conf: no such file or directory
//
// It knows config's *SyntaxError and *MissingKeyError, *ValueError and
// *fs.PathError, splits joined errors (joining the parts with "; "), drops
// the "config: " prefix, and never returns a newline.
func ConfigError(prog string, err error) string {
	if err == nil {
		return prog + ": no error"
	}
	return oneLine(prog + ": " + strings.Join(format(err), "; "))
}

func format(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok && !known(err) {
		var out []string
		missing := map[string][]string{} // file → "[section] key"
		var files []string
		for _, e := range j.Unwrap() {
			if mk, ok := e.(*config.MissingKeyError); ok {
				if missing[mk.File] == nil {
					files = append(files, mk.File)
				}
				missing[mk.File] = append(missing[mk.File], "["+mk.Section+"] "+mk.Key)
				continue
			}
			out = append(out, format(e)...)
		}
		for _, f := range files {
			if ks := missing[f]; len(ks) == 1 {
				out = append(out, f+": "+ks[0]+": required key is missing")
			} else {
				out = append(out, f+": required keys missing: "+strings.Join(ks, ", "))
			}
		}
		return out
	}
	var (
		ve *ValueError
		se *config.SyntaxError
		mk *config.MissingKeyError
		pe *fs.PathError
	)
	switch {
	case errors.As(err, &ve):
		return []string{ve.Error()}
	case errors.As(err, &se):
		return []string{strings.TrimPrefix(se.Error(), "config: ")}
	case errors.As(err, &mk):
		return []string{mk.File + ": [" + mk.Section + "] " + mk.Key + ": required key is missing"}
	case errors.As(err, &pe):
		return []string{pe.Path + ": " + pe.Err.Error()}
	}
	return []string{strings.TrimPrefix(err.Error(), "config: ")}
}

// known reports types whose Unwrap() []error is not a list of problems.
func known(err error) bool {
	_, ok := err.(*config.SyntaxError)
	return ok
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", "; ").Replace(s)
}
