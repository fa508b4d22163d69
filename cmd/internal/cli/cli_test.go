package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"opendev.org/starlingx/metal-go/mtce/config"
)

func root(t *testing.T, files map[string]string) string {
	t.Helper()
	r := t.TempDir()
	for p, c := range files {
		full := filepath.Join(r, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func checkLine(t *testing.T, got string, wants ...string) {
	t.Helper()
	if strings.ContainsAny(got, "\r\n") || !strings.HasPrefix(got, "mtcagent: ") || strings.Contains(got, "config: ") {
		t.Errorf("not one clean line: %q", got)
	}
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%q lacks %q", got, w)
		}
	}
}

// The errors the config package really returns.
func TestConfigErrorFromLoader(t *testing.T) {
	r := root(t, map[string]string{"etc/mtc.conf": "[agent]\nmtc_agent_port = 2101\n"})
	_, err := config.LoadMtc(config.Config{Root: r, Role: config.RoleAgent})
	if err == nil {
		t.Fatal("loaded")
	}
	conf := filepath.Join(r, "etc/mtc.conf")
	got := ConfigError("mtcagent", err)
	checkLine(t, got, "mtcagent: "+conf+": required keys missing: [", "] ")
	if strings.Contains(got, "mtc_agent_port") || strings.Count(got, conf) != 1 {
		t.Errorf("%q", got)
	}

	r = root(t, map[string]string{"etc/mtc.conf": "[agent]\nmtc_agent_port = 2101\n[agent\nx=1\n"})
	_, err = config.LoadMtc(config.Config{Root: r, Role: config.RoleAgent})
	checkLine(t, ConfigError("mtcagent", err), filepath.Join(r, "etc/mtc.conf")+":3: cannot parse")

	r = root(t, map[string]string{"etc/mtc.conf": "[agent]\nkeystone_auth_pw hunter2 oops\n"})
	_, err = config.LoadMtc(config.Config{Root: r, Role: config.RoleAgent})
	got = ConfigError("mtcagent", err)
	checkLine(t, got, "keystone_auth_pw")
	if strings.Contains(got, "hunter2") {
		t.Errorf("secret printed: %q", got)
	}

	_, err = config.LoadMtc(config.Config{Root: t.TempDir(), Role: config.RoleAgent})
	checkLine(t, ConfigError("mtcagent", err), "/etc/mtc.conf: no such file or directory")

	p, err := config.LoadPlatform(config.Config{Root: t.TempDir(), Role: config.RoleClient})
	if err != nil {
		t.Fatal(err)
	}
	checkLine(t, ConfigError("mtcagent", p.Ready()), "platform.conf does not exist")
}

func TestConfigErrorShapes(t *testing.T) {
	one := &config.MissingKeyError{File: "/etc/mtc.conf", Section: "agent", Key: "a"}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&ValueError{File: "/etc/mtc.ini", Section: "agent", Key: "keystone_auth_port", Value: "abc", Reason: "is not a port"},
			`mtcagent: /etc/mtc.ini: [agent] keystone_auth_port: "abc" is not a port`},
		{fmt.Errorf("loading: %w", &ValueError{Key: "--metrics-addr", Value: ":9101", Reason: "is not loopback"}),
			`mtcagent: --metrics-addr: ":9101" is not loopback`},
		{&ValueError{File: "/etc/mtc.ini", Section: "agent", Key: "keystone_auth_pw", Value: "hunter2", Reason: "is too long"},
			`mtcagent: /etc/mtc.ini: [agent] keystone_auth_pw: [redacted] is too long`},
		{one, "mtcagent: /etc/mtc.conf: [agent] a: required key is missing"},
		{errors.Join(one), "mtcagent: /etc/mtc.conf: [agent] a: required key is missing"},
		{errors.Join(one, &config.MissingKeyError{File: "/etc/mtc.conf", Section: "client", Key: "b"},
			&config.MissingKeyError{File: "/etc/x.conf", Section: "s", Key: "k"}),
			"mtcagent: /etc/mtc.conf: required keys missing: [agent] a, [client] b; /etc/x.conf: [s] k: required key is missing"},
		{errors.Join(errors.New("config: first\nsecond"), one), "mtcagent: first; second; /etc/mtc.conf: [agent] a: required key is missing"},
		{&config.SyntaxError{File: "/etc/mtc.ini", Line: 4, Text: "[agent", Err: errors.New("unclosed section")},
			`mtcagent: /etc/mtc.ini:4: cannot parse "[agent": unclosed section`},
		{fmt.Errorf("config: %w", &os.PathError{Op: "open", Path: "/etc/mtc.conf", Err: errors.New("permission denied")}),
			"mtcagent: /etc/mtc.conf: permission denied"},
		{nil, "mtcagent: no error"},
	} {
		if got := ConfigError("mtcagent", c.err); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
	if p, err := ParsePort("/etc/mtc.ini", "agent", "keystone_auth_port", " 5000"); p != 5000 || err != nil {
		t.Error(p, err)
	}
	for _, bad := range []string{"abc", "0", "65536", "-1", ""} {
		_, err := ParsePort("/f", "s", "k", bad)
		var ve *ValueError
		if !errors.As(err, &ve) || !strings.HasSuffix(err.Error(), " is not a port") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestVersionString(t *testing.T) {
	plat := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		ld   string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"v1.2.3", nil, false, "mtcagent v1.2.3 (" + plat + ")"},
		{"v1.2.3", bi, true, "mtcagent v1.2.3 (rev 0123456789ab, modified, " + plat + ")"},
		{"", bi, true, "mtcagent v0.4.0 (rev 0123456789ab, modified, " + plat + ")"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "mtcagent devel (" + plat + ")"},
		{"", nil, false, "mtcagent devel (" + plat + ")"},
	} {
		if got := versionString("mtcagent", c.ld, c.bi, c.ok); got != c.want {
			t.Errorf("got %q want %q", got, c.want)
		}
	}
	if !strings.HasPrefix(VersionString("x"), "x ") {
		t.Error(VersionString("x"))
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		args   []string
		exit   bool
		status int
		out    string // on stdout
		errOut string // on the flag set's output
	}{
		{[]string{"--version"}, true, ExitOK, "mtcagent ", ""},
		{[]string{"-h"}, true, ExitOK, "", "-log-level"},
		{[]string{"--help"}, true, ExitOK, "", "print the version"},
		{[]string{"--nope"}, true, ExitUsage, "", "flag provided but not defined: -nope"},
		{[]string{"--log-level=loud"}, true, ExitUsage, "", `logging: unknown level "loud"`},
		{[]string{"stray"}, true, ExitUsage, "", `mtcagent: unexpected argument "stray"`},
		{[]string{"--log-level", "debug", "--log-json"}, false, ExitOK, "", ""},
	} {
		var c2 Common
		fs := flag.NewFlagSet("mtcagent", flag.ExitOnError)
		var stdout, stderr bytes.Buffer
		fs.SetOutput(&stderr)
		c2.Register(fs)
		exit, status := c2.Parse(fs, c.args, &stdout)
		if exit != c.exit || status != c.status || !strings.Contains(stdout.String(), c.out) ||
			!strings.Contains(stderr.String(), c.errOut) || (c.out == "" && stdout.Len() > 0) {
			t.Errorf("%v: %v %d %q %q", c.args, exit, status, stdout.String(), stderr.String())
		}
		if !exit && (!c2.LogJSON || c2.LogLevel.Level() != slog.LevelDebug) {
			t.Errorf("%v: json=%v level=%v", c.args, c2.LogJSON, c2.LogLevel.Level())
		}
	}
}

func TestLogger(t *testing.T) {
	var c Common
	var buf bytes.Buffer
	c.LogJSON = true
	l := c.Logger("mtcclient", &buf)
	l.Debug("hidden")
	c.LogLevel.Set(slog.LevelDebug) // as a reload would
	l.Debug("shown")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"@message":"shown"`) || !strings.Contains(s, `"@module":"mtcclient"`) {
		t.Errorf("%s", s)
	}
}
