package bmctest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/bmc/bmctest"
)

// TestIPMISimPasswordNeverInArgv: scripts/ipmisim/ipmisim.sh must keep the
// BMC password off every command line it runs (a command line is readable
// by every user in /proc), and must accept characters that are special to
// sed or awk replacements. Every program the script runs is replaced by a
// wrapper that records its argv and execs the real one; then ipmitool logs
// in with the password (given through its environment).
func TestIPMISimPasswordNeverInArgv(t *testing.T) {
	bmctest.RequirePeer(t, "ipmi_sim", "ipmitool")
	const password = "s3/cr&t|x\\1"
	ipmitool, err := exec.LookPath("ipmitool")
	if err != nil {
		t.Fatal(err)
	}
	wrap := t.TempDir()
	argvLog := filepath.Join(t.TempDir(), "argv.log")
	wrapped := 0
	for _, prog := range []string{"dirname", "mkdir", "rm", "awk", "sed", "cp", "chmod", "setsid",
		"ipmi_sim", "cat", "readlink", "sleep", "printf", "kill", "env"} {
		real, err := exec.LookPath(prog)
		if err != nil {
			continue
		}
		script := "#!/bin/sh\nprintf '%s\\n' \"$0 $*\" >> " + argvLog + "\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(wrap, prog), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		wrapped++
	}
	t.Setenv("PATH", wrap+string(os.PathListSeparator)+os.Getenv("PATH"))

	sim := bmctest.StartIPMISim(t, bmctest.IPMISimOptions{Password: password})

	logged, err := os.ReadFile(argvLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logged), "ipmi_sim ") {
		t.Fatalf("the wrappers saw no ipmi_sim launch (%d wrapped): %q", wrapped, logged)
	}
	if strings.Contains(string(logged), password) || strings.Contains(string(logged), "s3/cr") {
		t.Fatalf("the password reached a command line:\n%s", logged)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ipmitool, "-I", "lanplus", "-C", "3", "-H", sim.Host,
		"-p", strconv.Itoa(sim.Port), "-U", sim.Username, "-E", "chassis", "power", "status")
	cmd.Env = append(os.Environ(), "IPMI_PASSWORD="+password)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Chassis Power is") {
		t.Fatalf("ipmitool with the special password: %v\n%s", err, out)
	}
}
