package bmctest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
)

// ScriptEnv names the environment variable that overrides the location of
// the ipmi_sim start/stop script (scripts/ipmisim/ipmisim.sh of this
// module).
const ScriptEnv = "METALGO_IPMISIM_SCRIPT"

// RequirePeer checks that the named programs are installed. When they are
// not, the test fails under CI=true (CI must run every peer test) and is
// skipped with a message otherwise.
func RequirePeer(t testing.TB, programs ...string) {
	t.Helper()
	var missing []string
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("real-peer test needs %s in PATH (Debian packages openipmi and ipmitool)",
		strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this is a failure, not a skip", msg)
	}
	t.Skip(msg + "; skipping (set CI=true to make this a failure)")
}

// FindIPMISimScript locates scripts/ipmisim/ipmisim.sh: $METALGO_IPMISIM_SCRIPT
// if set, else by walking up from the working directory (a package
// directory under go test) to this module's go.mod.
func FindIPMISimScript() (string, error) {
	if p := os.Getenv(ScriptEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", ScriptEnv, p, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(mod, []byte("module opendev.org/starlingx/metal-go\n")) {
			p := filepath.Join(dir, "scripts", "ipmisim", "ipmisim.sh")
			if _, err := os.Stat(p); err != nil {
				return "", err
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("scripts/ipmisim/ipmisim.sh not found above the working directory; set %s", ScriptEnv)
		}
		dir = parent
	}
}

// IPMISimOptions configures StartIPMISim. Zero fields take defaults.
type IPMISimOptions struct {
	// Username and Password of the BMC's admin user (default admin/secret).
	// They must not contain '"' or a newline. The script never puts them
	// on a command line.
	Username, Password string
	// Power is the initial power state (default off).
	Power bmc.PowerState
}

// IPMISim is a running OpenIPMI ipmi_sim on 127.0.0.1, started by the
// project's script on a free UDP port in a private run directory. It is
// also a Backend: the simulated hardware is the run directory's files.
type IPMISim struct {
	Host     string
	Port     int
	Username string
	Password bmc.Password
	// RunDir holds the simulator's configuration, state and hardware files.
	RunDir string
	// Script is the ipmisim.sh in use.
	Script string

	env []string
}

var _ Backend = (*IPMISim)(nil)

// StartIPMISim starts a simulator for the test and registers its stop with
// t.Cleanup. It calls RequirePeer for ipmi_sim first.
func StartIPMISim(t testing.TB, opts IPMISimOptions) *IPMISim {
	t.Helper()
	RequirePeer(t, "ipmi_sim")
	script, err := FindIPMISimScript()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ipmi_sim script: %v", err)
		}
		t.Skipf("ipmi_sim script: %v; skipping", err)
	}
	if opts.Username == "" {
		opts.Username = "admin"
	}
	if opts.Password == "" {
		opts.Password = "secret"
	}
	power := "0"
	if opts.Power == bmc.PowerOn {
		power = "1"
	}
	s := &IPMISim{
		Host:     "127.0.0.1",
		Username: opts.Username,
		Password: bmc.NewPassword(opts.Password),
		RunDir:   t.TempDir(),
		Script:   script,
	}
	s.env = []string{
		"IPMISIM_RUNDIR=" + s.RunDir,
		"IPMISIM_ADDR=127.0.0.1",
		"IPMISIM_PORT=auto",
		"IPMISIM_USER=" + opts.Username,
		"IPMISIM_PASS=" + opts.Password,
		"IPMISIM_POWER=" + power,
	}
	out, err := s.run("start")
	if err != nil {
		t.Fatalf("%s start: %v\n%s", script, err, out)
	}
	t.Cleanup(func() {
		if out, err := s.run("stop"); err != nil {
			t.Errorf("%s stop: %v\n%s", script, err, out)
		}
	})
	b, err := os.ReadFile(filepath.Join(s.RunDir, "port"))
	if err != nil {
		t.Fatalf("ipmi_sim port file: %v", err)
	}
	if s.Port, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		t.Fatalf("ipmi_sim port file: %v", err)
	}
	t.Logf("%s", strings.TrimSpace(out))
	return s
}

// run executes the script with the simulator's environment (no shell is
// involved: the script is exec'd directly).
func (s *IPMISim) run(arg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Script, arg)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Addr is "127.0.0.1:port".
func (s *IPMISim) Addr() string { return s.Host + ":" + strconv.Itoa(s.Port) }

// Pause stops the simulator with SIGSTOP: the socket stays open, nothing
// answers (a hung BMC).
func (s *IPMISim) Pause(t testing.TB) {
	t.Helper()
	if out, err := s.run("pause"); err != nil {
		t.Fatalf("ipmisim pause: %v\n%s", err, out)
	}
}

// Resume undoes Pause.
func (s *IPMISim) Resume(t testing.TB) {
	t.Helper()
	if out, err := s.run("resume"); err != nil {
		t.Fatalf("ipmisim resume: %v\n%s", err, out)
	}
}

// Hang is Pause with Resume as the undo function, for Harness.Hang.
func (s *IPMISim) Hang(t *testing.T) func() {
	s.Pause(t)
	return func() { s.Resume(t) }
}

// Stop stops the simulator (the port then refuses: ICMP port unreachable).
func (s *IPMISim) Stop(t testing.TB) {
	t.Helper()
	if out, err := s.run("stop"); err != nil {
		t.Fatalf("ipmisim stop: %v\n%s", err, out)
	}
}

// Alive reports whether the simulator process is running and listening
// (ipmi_sim can crash, e.g. on cipher suite 2).
func (s *IPMISim) Alive() bool {
	_, err := s.run("status")
	return err == nil
}

func (s *IPMISim) file(name string) string { return filepath.Join(s.RunDir, name) }

func readTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// writeAtomic replaces a hardware file without a window where it is empty.
func writeAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Power implements Backend (the run dir's power file).
func (s *IPMISim) Power() (bmc.PowerState, error) {
	v, err := readTrim(s.file("power"))
	switch {
	case err != nil:
		return bmc.PowerUnknown, err
	case v == "1":
		return bmc.PowerOn, nil
	case v == "0":
		return bmc.PowerOff, nil
	}
	return bmc.PowerUnknown, fmt.Errorf("ipmisim power file holds %q", v)
}

// SetPower implements Backend.
func (s *IPMISim) SetPower(st bmc.PowerState) error {
	v := "0\n"
	if st == bmc.PowerOn {
		v = "1\n"
	}
	return writeAtomic(s.file("power"), v)
}

// BootDevice implements Backend: the device recorded by the simulator's
// chassis-control script ("" for "default"/"none"). The simulator itself
// reads boot flags back as invalid after a PXE request, so this file is
// the only trustworthy record.
func (s *IPMISim) BootDevice() (bmc.BootDevice, error) {
	v, err := readTrim(s.file("boot"))
	if err != nil {
		return "", err
	}
	switch v {
	case "", "default", "none":
		return "", nil
	case "cdrom":
		return bmc.BootCDROM, nil
	}
	return bmc.BootDevice(v), nil
}

// Resets implements Backend (lines of the resets file).
func (s *IPMISim) Resets() (int, error) { return countLines(s.file("resets")) }

// Shutdowns counts soft (ACPI) power-offs.
func (s *IPMISim) Shutdowns() (int, error) { return countLines(s.file("shutdowns")) }

// ChassisLog returns every chassis-control call the simulator made.
func (s *IPMISim) ChassisLog() ([]string, error) {
	b, err := os.ReadFile(s.file("chassis.log"))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n"), nil
}

// SetSensor writes a sensor input file ("cpu_temp", "inlet_temp" in °C,
// "fan1" in RPM, "12v" in mV); ipmi_sim polls them every second.
func (s *IPMISim) SetSensor(name string, value int) error {
	switch name {
	case "cpu_temp", "inlet_temp", "fan1", "12v":
	default:
		return errors.New("bmctest: unknown ipmisim sensor " + name)
	}
	return writeAtomic(s.file(name+".val"), strconv.Itoa(value)+"\n")
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			n++
		}
	}
	return n, sc.Err()
}
