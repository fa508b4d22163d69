package ipmitool_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/ipmitool"
)

const testPassword = "pw-Zq9!x"

// fakeDriver returns a driver whose "ipmitool" is this test binary in
// fake mode, and the fake's directory (see fakeName).
func fakeDriver(t *testing.T, mode string, via ipmitool.PasswordVia) (*ipmitool.Driver, string) {
	return fakeDriverTimeout(t, mode, via, 0)
}

func fakeDriverTimeout(t *testing.T, mode string, via ipmitool.PasswordVia, timeout time.Duration) (*ipmitool.Driver, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(dir, fakeName)); err != nil {
		t.Fatal(err)
	}
	setMode(t, dir, mode)
	cfg := ipmitool.DefaultConfig()
	cfg.Host = "192.0.2.10"
	cfg.Username = "root"
	cfg.Password = bmc.NewPassword(testPassword)
	cfg.Path = filepath.Join(dir, fakeName)
	cfg.PasswordVia = via
	cfg.TempDir = t.TempDir()
	cfg.CommandTimeout = 20 * time.Second // the fake is the (race-instrumented) test binary
	if timeout != 0 {
		cfg.CommandTimeout = timeout
	}
	cfg.WaitDelay = 200 * time.Millisecond
	d, err := ipmitool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(t.Context()) })
	return d, dir
}

func setMode(t *testing.T, dir, mode string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "mode"), []byte(mode), 0o600); err != nil {
		t.Fatal(err)
	}
}

func parseRecords(t *testing.T, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, block := range strings.Split(string(b), "--\n") {
		if strings.TrimSpace(block) == "" {
			continue
		}
		m := map[string]string{}
		for _, line := range strings.Split(block, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				m[k] = v
			}
		}
		out = append(out, m)
	}
	return out
}

func TestPasswordNeverOnCommandLine(t *testing.T) {
	for _, via := range []ipmitool.PasswordVia{ipmitool.PasswordFile, ipmitool.PasswordEnv} {
		t.Run(string(via), func(t *testing.T) {
			d, dir := fakeDriver(t, "ok", via)
			record := filepath.Join(dir, "record")
			if err := d.Open(t.Context()); err != nil {
				t.Fatal(err)
			}
			st, err := d.PowerStateGet(t.Context())
			if err != nil || st != bmc.PowerOn {
				t.Fatalf("PowerStateGet = %s, %v", st, err)
			}
			recs := parseRecords(t, record)
			if len(recs) != 3 { // mc info, restart_cause probe, power status
				t.Fatalf("%d ipmitool runs recorded, want 3", len(recs))
			}
			for _, r := range recs {
				argv := r["argv"]
				if strings.Contains(argv, testPassword) {
					t.Errorf("password on the command line: %s", argv)
				}
				for _, want := range []string{"-I lanplus", "-H 192.0.2.10", "-p 623", "-U root", "-C 3", "-N 1", "-R 1"} {
					if !strings.Contains(argv, want) {
						t.Errorf("argv %q lacks %q", argv, want)
					}
				}
				switch via {
				case ipmitool.PasswordFile:
					if r["file_content"] != testPassword || r["file_mode"] != "600" || r["dir_mode"] != "700" {
						t.Errorf("password file: content ok=%v mode %s dir %s", r["file_content"] == testPassword,
							r["file_mode"], r["dir_mode"])
					}
					if r["env_password"] != "" || strings.Contains(argv, " -E") {
						t.Errorf("file mode also used the environment")
					}
					if _, err := os.Stat(r["file_path"]); !os.IsNotExist(err) {
						t.Errorf("password file %s not removed: %v", r["file_path"], err)
					}
				case ipmitool.PasswordEnv:
					if r["env_password"] != testPassword || !strings.Contains(argv, " -E") || strings.Contains(argv, " -f ") {
						t.Errorf("env mode: argv %q, env password ok=%v", argv, r["env_password"] == testPassword)
					}
				}
			}
			info, err := d.BMCInfo(t.Context())
			if err != nil || info.FirmwareVersion != "1.02" || info.Manufacturer != "DELL Inc" || info.ManufacturerID != 674 {
				t.Errorf("BMCInfo = %+v, %v", info, err)
			}
			rc, err := d.RestartCause(t.Context())
			if err != nil || rc != bmc.RestartPowerButton {
				t.Errorf("RestartCause = %q, %v", rc, err)
			}
			if err := d.BootDeviceSet(t.Context(), bmc.BootPXE, bmc.BootOptions{Persistent: true, EFI: true}); err != nil {
				t.Fatal(err)
			}
			recs = parseRecords(t, record)
			if last := recs[len(recs)-1]["argv"]; !strings.HasSuffix(last, "chassis bootdev pxe options=persistent,efiboot") {
				t.Errorf("bootdev argv = %q", last)
			}
		})
	}
}

// A hung ipmitool is killed at CommandTimeout with its whole process group.
func TestHungProcessGroupKilled(t *testing.T) {
	d, dir := fakeDriverTimeout(t, "ok", ipmitool.PasswordFile, 3*time.Second)
	if err := d.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	setMode(t, dir, "hang")
	pids := filepath.Join(dir, "pids")
	start := time.Now()
	_, err := d.PowerStateGet(t.Context())
	el := time.Since(start)
	if !errors.Is(err, bmc.ErrTimeout) {
		t.Fatalf("hung ipmitool = %v, want ErrTimeout", err)
	}
	if el < 3*time.Second || el > 3*time.Second+2*time.Second {
		t.Errorf("returned after %s, want CommandTimeout 3s (+ WaitDelay)", el)
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatalf("fake did not record its pids: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("pids file %q, want the fake's and its child's", b)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for _, s := range f {
		pid, _ := strconv.Atoi(s)
		// The child is reaped by exec.Cmd, the grandchild by init (or a
		// subreaper): poll for it, bounded.
		deadline := time.Now().Add(2 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			<-tick.C
		}
		if alive(pid) {
			t.Errorf("process %d survived the timeout", pid)
		}
	}
}

func TestErrorClassification(t *testing.T) {
	d, _ := fakeDriver(t, "auth", ipmitool.PasswordFile)
	if err := d.Open(t.Context()); !errors.Is(err, bmc.ErrAuth) {
		t.Errorf("quick session failure = %v, want ErrAuth", err)
	}
	d2, dir := fakeDriver(t, "ok", ipmitool.PasswordFile)
	if err := d2.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	setMode(t, dir, "garbage")
	if _, err := d2.PowerStateGet(t.Context()); !errors.Is(err, bmc.ErrProtocol) {
		t.Errorf("unparsable output = %v, want ErrProtocol", err)
	}
	cfg := ipmitool.DefaultConfig()
	cfg.Host, cfg.Username, cfg.Path = "x", "u", "/nonexistent/ipmitool"
	d3, err := ipmitool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d3.Open(t.Context()); !errors.Is(err, bmc.ErrInvalidConfig) {
		t.Errorf("missing binary = %v, want ErrInvalidConfig", err)
	}
}

func TestConfigValidate(t *testing.T) {
	base := ipmitool.DefaultConfig()
	base.Host, base.Username = "10.0.0.1", "root"
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		mod   func(*ipmitool.Config)
	}{
		{"Host", func(c *ipmitool.Config) { c.Host = "" }},
		{"Host", func(c *ipmitool.Config) { c.Host = "-oProxyCommand=x" }},
		{"Username", func(c *ipmitool.Config) { c.Username = "-x" }},
		{"Username", func(c *ipmitool.Config) { c.Username = strings.Repeat("u", 17) }},
		{"Password", func(c *ipmitool.Config) { c.Password = bmc.NewPassword("a\nb") }},
		{"Timeout", func(c *ipmitool.Config) { c.Timeout = 500 * time.Millisecond }},
		{"Retries", func(c *ipmitool.Config) { c.Retries = -1 }},
		{"PasswordVia", func(c *ipmitool.Config) { c.PasswordVia = "argv" }},
	} {
		cfg := base
		tc.mod(&cfg)
		var ce *bmc.ConfigError
		if err := cfg.Validate(); !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("bad %s: %v", tc.field, err)
		}
	}
}
