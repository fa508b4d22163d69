package ipmitool_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fakeName is the name of a symlink to the test binary that makes it act
// as ipmitool (the driver gives ipmitool a minimal environment, so the
// switch cannot be an environment variable). The fake reads its mode from
// the file "mode" beside the symlink, appends what it was given (argv,
// IPMI_PASSWORD, the password file's mode and content) to "record", and in
// "hang" mode writes its and its child's pids to "pids".
const fakeName = "fake-ipmitool"

func fakeIPMITool() int {
	dir := filepath.Dir(os.Args[0])
	b, _ := os.ReadFile(filepath.Join(dir, "mode"))
	mode := strings.TrimSpace(string(b))
	args := os.Args[1:]
	var rec strings.Builder
	fmt.Fprintf(&rec, "argv=%s\n", strings.Join(args, " "))
	fmt.Fprintf(&rec, "env_password=%s\n", os.Getenv("IPMI_PASSWORD"))
	for i, a := range args {
		if a == "-f" && i+1 < len(args) {
			fi, err := os.Stat(args[i+1])
			if err == nil {
				b, _ := os.ReadFile(args[i+1])
				dir, _ := os.Stat(args[i+1][:strings.LastIndex(args[i+1], "/")])
				fmt.Fprintf(&rec, "file_mode=%o\nfile_content=%s\ndir_mode=%o\nfile_path=%s\n",
					fi.Mode().Perm(), b, dir.Mode().Perm(), args[i+1])
			}
		}
	}
	if f, err := os.OpenFile(filepath.Join(dir, "record"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		_, _ = f.WriteString(rec.String() + "--\n")
		_ = f.Close()
	}
	cmd := strings.Join(args[len(args)-min(3, len(args)):], " ")
	switch mode {
	case "ok":
		switch {
		case strings.HasSuffix(cmd, "mc info"):
			fmt.Print("Device ID                 : 32\nFirmware Revision         : 1.02\nIPMI Version              : 2.0\n" +
				"Manufacturer ID           : 674\nManufacturer Name         : DELL Inc\nProduct ID                : 256 (0x0100)\n" +
				"Additional Device Support :\n    Sensor Device\n    Chassis Device\n")
		case strings.HasSuffix(cmd, "restart_cause"):
			fmt.Println("System restart cause: power-up via pushbutton")
		case strings.HasSuffix(cmd, "power status"):
			fmt.Println("Chassis Power is on")
		default:
			fmt.Println("ok")
		}
		return 0
	case "auth":
		fmt.Fprintln(os.Stderr, "Error: Unable to establish IPMI v2 / RMCP+ session")
		return 1
	case "garbage":
		fmt.Println("Chassis Power is sideways")
		return 0
	case "hang":
		// Start a grandchild in our process group that would outlive us,
		// then hang: the driver must kill the whole group at its timeout.
		child := exec.Command("/bin/sleep", "300")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		_ = os.WriteFile(filepath.Join(dir, "pids"),
			[]byte(strconv.Itoa(os.Getpid())+" "+strconv.Itoa(child.Process.Pid)+"\n"), 0o600)
		time.Sleep(time.Hour)
		return 0
	}
	fmt.Fprintln(os.Stderr, "fake ipmitool: unknown mode", mode)
	return 2
}

// alive reports whether pid exists (and is not a zombie).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}
