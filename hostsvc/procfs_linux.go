//go:build linux

package hostsvc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setSubreaper makes the calling process a child subreaper.
func setSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("hostsvc: prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// procStat is the part of /proc/<pid>/stat the launcher needs.
type procStat struct {
	pid, ppid, pgid int
	state           byte
	start           uint64 // start time in clock ticks since boot; tells pid reuse apart
}

func (s procStat) dead() bool { return s.state == 'Z' || s.state == 'X' || s.state == 'x' }

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(pid, b)
}

// parseStat parses a /proc/<pid>/stat line. The command name is in
// parentheses and may itself hold blanks and parentheses, so fields are
// counted from the last ')'.
func parseStat(pid int, b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return procStat{}, errors.New("hostsvc: malformed /proc stat")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] state (field 3), f[1] ppid, f[2] pgrp, ... f[19] starttime (field 22).
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("hostsvc: short /proc stat")
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgid, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, errors.New("hostsvc: bad /proc stat number")
	}
	return procStat{pid: pid, ppid: ppid, pgid: pgid, state: f[0][0], start: start}, nil
}

// scanProcs returns the stat of every process; entries that vanish while
// scanning are skipped.
func scanProcs() []procStat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]procStat, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if st, err := readStat(pid); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// hasMarker reports whether the process's initial environment holds the
// exact entry marker ("NAME=value").
func hasMarker(pid int, marker string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || len(b) == 0 {
		return false
	}
	m := []byte(marker)
	for len(b) > 0 {
		var entry []byte
		if i := bytes.IndexByte(b, 0); i >= 0 {
			entry, b = b[:i], b[i+1:]
		} else {
			entry, b = b, nil
		}
		if bytes.Equal(entry, m) {
			return true
		}
	}
	return false
}

// killMarked kills every live process carrying marker, and the process group
// it leads (unless that is our own group). Subreaper mode only.
func (l *ExecLauncher) killMarked(marker string) bool {
	self, selfpg := os.Getpid(), syscall.Getpgrp()
	found := false
	for _, p := range scanProcs() {
		if p.pid == self || p.dead() || !hasMarker(p.pid, marker) {
			continue
		}
		found = true
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
		if p.pgid == p.pid && p.pgid != selfpg {
			_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
		}
		l.remember(p)
	}
	return found
}

// adoptMarked records the live processes a passing script left behind
// (daemons), so that their zombies can be reaped once they are reparented to
// this subreaper and exit.
func (l *ExecLauncher) adoptMarked(marker string) {
	self := os.Getpid()
	for _, p := range scanProcs() {
		if p.pid != self && !p.dead() && hasMarker(p.pid, marker) {
			l.remember(p)
		}
	}
}

func (l *ExecLauncher) remember(p procStat) {
	if !l.subreaper {
		return
	}
	l.mu.Lock()
	l.adopted[p.pid] = p.start
	l.mu.Unlock()
}

// reapAdopted reaps the remembered processes that are now zombie children of
// this process, and forgets those that are gone or belong to someone else.
// A (pid, start time) pair names one process for good, so a reused pid is
// never reaped by mistake.
func (l *ExecLauncher) reapAdopted() {
	self := os.Getpid()
	l.mu.Lock()
	defer l.mu.Unlock()
	for pid, start := range l.adopted {
		st, err := readStat(pid)
		if err != nil || st.start != start {
			delete(l.adopted, pid)
			continue
		}
		if !st.dead() {
			continue // still running; maybe reparented to us later
		}
		if st.ppid == self {
			var ws unix.WaitStatus
			if n, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); n == pid || err != nil {
				delete(l.adopted, pid)
			}
			continue
		}
		delete(l.adopted, pid) // a zombie of another parent: not ours to reap
	}
}

// sweep runs after a killed script has been reaped. It kills what is left of
// the script's process group (and, in subreaper mode, marked escapees and
// their groups) and returns once none of them is alive or at deadline.
// Zombies are ignored: whoever is their parent reaps them (this process, in
// subreaper mode, through the adopted set).
func (l *ExecLauncher) sweep(pgid int, marker string, deadline time.Time) {
	self := os.Getpid()
	const pause = 2 * time.Millisecond
	for {
		alive := false
		for _, p := range scanProcs() {
			if p.pid == self || p.pgid != pgid {
				continue
			}
			if p.dead() {
				if l.subreaper && p.ppid == self {
					l.remember(p) // grandchild reparented to us: reap below
				}
				continue
			}
			alive = true
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			l.remember(p)
		}
		if l.subreaper && l.killMarked(marker) {
			alive = true
		}
		if l.subreaper {
			l.reapAdopted()
		}
		if !alive || !time.Now().Before(deadline) {
			return
		}
		t := time.NewTimer(pause)
		<-t.C
	}
}
