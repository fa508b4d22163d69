//go:build linux

package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 for user space whatever the kernel's HZ.
const userHZ = 100

// controllersBase is the first source address of the two controllers'
// senders; the workers start at agenttest.DefaultSendersBase (127.1.0.1).
var controllersBase = netip.AddrFrom4([4]byte{127, 0, 1, 1})

// params is one configuration of the harness.
type params struct {
	Workers    int           // simulated workers (plus controller-0 and controller-1)
	Period     time.Duration // mtcAlive period of every sender
	Warmup     time.Duration // after every host is online, before window 1
	Window     time.Duration // length of each measurement window
	SysInvRate float64       // SysInv no-op modifies per second in window 2
	VIMRate    float64       // VIM GET /v1/systems per second in window 2
	ReadyWait  time.Duration // bound on the agent's start-up
}

// latency summarises one kind of event-API request.
type latency struct {
	N, Failed     int
	P50, P99, Max time.Duration
	FirstFail     string
}

func (l latency) String() string {
	s := fmt.Sprintf("n=%d p50=%s p99=%s max=%s", l.N, ms(l.P50), ms(l.P99), ms(l.Max))
	if l.Failed > 0 {
		s += fmt.Sprintf(" FAILED=%d (%s)", l.Failed, l.FirstFail)
	}
	return s
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

// result is what one run measured.
type result struct {
	Params  params
	Records int // hosts in the inventory (workers + 2)

	CPUAlive  float64 // agent CPU, % of one core, window 1 (mtcAlive only)
	CPUEvents float64 // agent CPU, % of one core, window 2 (mtcAlive + event API)
	GenCPU    float64 // test process CPU (senders, sim, client), % of one core, window 1
	RSSKB     uint64  // agent VmRSS after window 1
	HWMKB     uint64  // agent VmHWM after window 1
	RSSEndKB  uint64  // agent VmRSS after window 2
	HWMEndKB  uint64  // agent VmHWM after window 2
	Threads   int     // agent threads after window 2

	AlivesPerSec float64 // mtcAlive counted by the agent per second, window 1
	SentPerSec   float64 // mtcAlive sent per second, window 1

	SysInv, VIM latency

	Load1, Load2 [2]string // /proc/loadavg (1, 5, 15 min) before and after each window
}

func (r result) String() string {
	return fmt.Sprintf("workers=%d records=%d | window1 (mtcAlive only, %v): agent CPU %.2f%% of one core, "+
		"generator CPU %.1f%%, mtcAlive %.0f/s counted (%.0f/s sent), VmRSS %.1f MB, VmHWM %.1f MB, load %s -> %s | "+
		"window2 (+ event API %.0f+%.0f req/s): agent CPU %.2f%%, VmRSS %.1f MB, VmHWM %.1f MB, threads %d, "+
		"sysinv modify %s, vim systems %s, load %s -> %s",
		r.Params.Workers, r.Records, r.Params.Window, r.CPUAlive, r.GenCPU, r.AlivesPerSec, r.SentPerSec,
		mb(r.RSSKB), mb(r.HWMKB), r.Load1[0], r.Load1[1],
		r.Params.SysInvRate, r.Params.VIMRate, r.CPUEvents, mb(r.RSSEndKB), mb(r.HWMEndKB), r.Threads,
		r.SysInv, r.VIM, r.Load2[0], r.Load2[1])
}

func mb(kb uint64) float64 { return float64(kb) / 1024 }

// ---------------------------------------------------------------- build

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// buildAgent builds cmd/mtcagent once per test binary (into a directory
// TestMain removes).
func buildAgent(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "mtcagent-loadtest-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "mtcagent")
		cmd := exec.Command("go", "build", "-o", build.bin, "opendev.org/starlingx/metal-go/cmd/mtcagent")
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build cmd/mtcagent: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// ---------------------------------------------------------------- inventory

// inventory is the sim's hosts: controller-0 and -1, then the workers,
// each with the mgmt_ip its sender uses.
func inventory(workers int) ([]sim.Host, error) {
	hosts := sim.Inventory(workers + 2)
	ctl, err := agenttest.SenderAddrs(controllersBase, 2)
	if err != nil {
		return nil, err
	}
	wk, err := agenttest.SenderAddrs(agenttest.DefaultSendersBase, workers)
	if err != nil {
		return nil, err
	}
	for i := range hosts {
		if i < 2 {
			hosts[i].MgmtIP = ctl[i].String()
			continue
		}
		w := i - 2
		hosts[i].MgmtIP = wk[w].String()
		// The MAC AliveSenders gives worker w (it only matters for
		// commands, which this harness never makes the agent send).
		hosts[i].MgmtMAC = fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", byte(w>>24), byte(w>>16), byte(w>>8), byte(w))
	}
	return hosts, nil
}

// modifyBody is the body SysInv sends for a modify (spec J.11): the ihost
// record in objects/host.py field order with removekeys_nonmtce applied
// (truthy created_at, updated_at, uptime, forisystemid, config_applied
// removed; null task, false reserved, empty location kept), then
// "operation", encoded as Python's json.dumps does.
func modifyBody(h sim.Host) []byte {
	null := any(nil)
	opt := func(s string) any {
		if s == "" {
			return null
		}
		return s
	}
	kv := []struct {
		k string
		v any
	}{
		{"id", h.ID}, {"isystem_uuid", sim.NameUUID("isystem")}, {"peer_id", null},
		{"recordtype", "standard"}, {"hostname", h.Hostname}, {"personality", h.Personality},
		{"kernel_running", "standard"}, {"kernel_config_status", null}, {"subfunctions", opt(h.Subfunctions)},
		{"subfunction_oper", opt(h.SubfunctionOper)}, {"subfunction_avail", opt(h.SubfunctionAvail)},
		{"apparmor", "disabled"}, {"apparmor_config_status", null}, {"reserved", false},
		{"uuid", h.UUID}, {"invprovision", h.InvProvision}, {"mgmt_mac", opt(h.MgmtMAC)},
		{"mgmt_ip", opt(h.MgmtIP)}, {"bm_ip", null}, {"bm_mac", null}, {"bm_type", null},
		{"bm_username", null}, {"location", map[string]any{}}, {"serialid", null},
		{"administrative", h.Administrative}, {"operational", h.Operational}, {"availability", h.Availability},
		{"ihost_action", null}, {"action_state", null}, {"inv_state", "inventoried"},
		{"mtce_info", null}, {"vim_progress_status", "services-enabled"}, {"action", "none"},
		{"task", null}, {"config_status", null}, {"config_target", sim.NameUUID("config:" + h.Hostname)},
		{"capabilities", map[string]any{"is_max_cpu_configurable": "configurable"}},
		{"clock_synchronization", "ntp"}, {"boot_device", "/dev/sda"}, {"rootfs_device", "/dev/sda"},
		{"hw_settle", "0"}, {"install_output", "text"}, {"console", "ttyS0,115200"}, {"tboot", "false"},
		{"vsc_controllers", null}, {"ttys_dcd", false}, {"software_load", "24.09"}, {"target_load", "24.09"},
		{"install_state", "completed"}, {"install_state_info", null},
		{"iscsi_initiator_name", "iqn.2018-05.io.starlingx:" + strings.ReplaceAll(h.UUID, "-", "")[:12]},
		{"device_image_update", null}, {"reboot_needed", false}, {"max_cpu_mhz_configured", null},
		{"min_cpu_mhz_allowed", "800"}, {"max_cpu_mhz_allowed", "3000"}, {"cstates_available", "C1,C1E,C6,POLL"},
		{"operation", "modify"},
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range kv {
		if i > 0 {
			b.WriteString(", ")
		}
		k, _ := json.Marshal(e.k)
		v, _ := json.Marshal(e.v)
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// ---------------------------------------------------------------- config tree

// configTree copies packaging/sample to a temporary root and points it at
// the sim's loopback endpoints.
func configTree(t *testing.T, ep sim.Endpoints, password string) string {
	t.Helper()
	from, err := filepath.Abs("../../../packaging/sample")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	err = filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(root, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(root, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	write := func(rel, text string) {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ini, err := os.ReadFile(filepath.Join(root, "etc/mtc.ini"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(ini)
	for k, v := range map[string]string{
		"keystone_auth_uri":      ep.AuthURL(),
		"keystone_auth_username": "admin",
		"keystone_auth_pw":       password,
		"keystone_auth_project":  "admin",
	} {
		re := regexp.MustCompile(`(?m)^` + k + ` = .*$`)
		if !re.MatchString(text) {
			t.Fatalf("the sample mtc.ini has no %s line", k)
		}
		text = re.ReplaceAllString(text, k+" = "+v)
	}
	write("etc/mtc.ini", text)
	h, p := hostPort(t, ep.SysInv)
	write("etc/sysinv/sysinv.conf", "[DEFAULT]\nsysinv_api_bind_ip = "+h+"\nsysinv_api_port = "+p+"\n")
	h, p = hostPort(t, ep.Barbican)
	write("etc/barbican/barbican.conf", "[DEFAULT]\nbind_host = "+h+"\nbind_port = "+p+"\n")
	_, p = hostPort(t, ep.VIM)
	write("etc/nfv/nfv_plugins/nfvi_plugins/config.ini", "[infrastructure-rest-api]\nhost = 127.0.0.1\nport = "+p+"\n")
	return root
}

func hostPort(t *testing.T, raw string) (string, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// freeUDPPort reserves a loopback UDP port by binding and closing it.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return port
}

// ---------------------------------------------------------------- the agent process

// daemon is a running mtcagent process.
type daemon struct {
	cmd    *exec.Cmd
	log    *logTail
	done   chan struct{} // closed when stderr reached EOF
	waited bool
}

// logTail reads the daemon's stderr: it keeps the last lines and hands
// the first match of each watched pattern to its channel.
type logTail struct {
	mu    sync.Mutex
	lines []string
	watch []logWatch
}

type logWatch struct {
	re *regexp.Regexp
	ch chan []string
}

func (l *logTail) await(pattern string) <-chan []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan []string, 1)
	l.watch = append(l.watch, logWatch{regexp.MustCompile(pattern), ch})
	return ch
}

func (l *logTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) >= 200 {
		l.lines = slices.Delete(l.lines, 0, 100)
	}
	l.lines = append(l.lines, line)
	for i := 0; i < len(l.watch); i++ {
		if m := l.watch[i].re.FindStringSubmatch(line); m != nil {
			l.watch[i].ch <- m
			l.watch = slices.Delete(l.watch, i, i+1)
			i--
		}
	}
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startDaemon runs bin with args; stderr goes to a logTail.
func startDaemon(t *testing.T, bin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(bin, args...), log: &logTail{}, done: make(chan struct{})}
	d.cmd.Stdout = io.Discard
	// The agent dies with the test process, even a killed one.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			d.log.add(sc.Text())
		}
		_, _ = io.Copy(io.Discard, stderr) // after an over-long line
	}()
	t.Cleanup(func() { d.kill() })
	return d
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// stop sends SIGTERM and returns the exit status (-1 if it had to be
// killed after timeout).
func (d *daemon) stop(timeout time.Duration) int {
	if d.waited {
		return d.cmd.ProcessState.ExitCode()
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.done
		d.waited = true
		_ = d.cmd.Wait()
		return -1
	}
	d.waited = true
	_ = d.cmd.Wait()
	return d.cmd.ProcessState.ExitCode()
}

// kill ends the process if still running (test cleanup).
func (d *daemon) kill() {
	if d.waited {
		return
	}
	_ = d.cmd.Process.Kill()
	<-d.done
	d.waited = true
	_ = d.cmd.Wait()
}

// ---------------------------------------------------------------- /proc

// cpuTicks is utime+stime of pid, in USER_HZ ticks.
func cpuTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return u + st, nil
}

// memStatus is VmRSS and VmHWM (kB) and Threads of pid.
func memStatus(pid int) (rss, hwm uint64, threads int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseUint(f[1], 10, 64)
		case "VmHWM:":
			hwm, _ = strconv.ParseUint(f[1], 10, 64)
		case "Threads:":
			threads, _ = strconv.Atoi(f[1])
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS/VmHWM", pid)
	}
	return rss, hwm, threads, nil
}

// loadavg is the 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures a process's CPU over a wall-clock window.
type cpuMeter struct {
	pid   int
	start time.Time
	ticks uint64
	self  time.Duration
}

func startCPU(t *testing.T, pid int) cpuMeter {
	t.Helper()
	ticks, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	return cpuMeter{pid: pid, start: time.Now(), ticks: ticks, self: selfCPU()}
}

// percent is the agent's and this process's CPU as % of one core since
// startCPU.
func (m cpuMeter) percent(t *testing.T) (agent, self float64) {
	t.Helper()
	ticks, err := cpuTicks(m.pid)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(m.start).Seconds()
	agent = float64(ticks-m.ticks) / userHZ / wall * 100
	self = (selfCPU() - m.self).Seconds() / wall * 100
	return agent, self
}

// pause waits d of wall time: the measurement windows.
func pause(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ---------------------------------------------------------------- agent APIs

// adminHost is what the harness reads of the admin API's GET /v1/hosts.
type adminHost struct {
	Name      string    `json:"hostname"`
	Admin     string    `json:"administrative"`
	Oper      string    `json:"operational"`
	Avail     string    `json:"availability"`
	Online    bool      `json:"online"`
	LastAlive time.Time `json:"last_mtcalive"`
	Running   string    `json:"running_action"`
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// metrics reads the agent's Prometheus text and returns the samples
// whose line starts with one of the prefixes, by the text before the
// value.
func metrics(ctx context.Context, addr string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "mtcagent_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

const metricAlives = `mtcagent_events_total{event="mtcalive"}`

// dropped sums mtcagent_udp_dropped_total over its reasons.
func dropped(m map[string]float64) (float64, []string) {
	var n float64
	var reasons []string
	for k, v := range m {
		if strings.HasPrefix(k, "mtcagent_udp_dropped_total") && v > 0 {
			n += v
			reasons = append(reasons, fmt.Sprintf("%s=%g", k, v))
		}
	}
	return n, reasons
}

// ---------------------------------------------------------------- event-API load

// sample is one request's outcome.
type sample struct {
	d   time.Duration
	err string // "" when the reply was what the real client accepts
}

// eventClient sends requests as SysInv and the VIM do: a new TCP
// connection each time (Connection: close).
type eventClient struct {
	base    string
	tr      *http.Transport
	records int
}

func newEventClient(addr string, records int) *eventClient {
	return &eventClient{base: "http://" + addr, tr: &http.Transport{DisableKeepAlives: true}, records: records}
}

func (c *eventClient) close() { c.tr.CloseIdleConnections() }

// do sends one request and times it from the dial to the reply's last
// byte; check judges the reply.
func (c *eventClient) do(ctx context.Context, method, path string, hdr http.Header, body []byte, timeout time.Duration,
	check func(status int, body []byte) error) sample {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return sample{err: err.Error()}
	}
	req.Header = hdr
	req.Close = true
	start := time.Now()
	resp, err := c.tr.RoundTrip(req)
	if err != nil {
		return sample{d: time.Since(start), err: err.Error()}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return sample{d: d, err: err.Error()}
	}
	if err := check(resp.StatusCode, b); err != nil {
		return sample{d: d, err: err.Error()}
	}
	return sample{d: d}
}

// sysinvModify is SysInv's modify of h (spec J.11): 6 s socket timeout.
func (c *eventClient) sysinvModify(ctx context.Context, h sim.Host, body []byte) sample {
	hdr := http.Header{
		"Accept-Encoding": {"identity"},
		"Accept":          {"application/json"},
		"Content-Type":    {"application/json"},
		"User-Agent":      {"sysinv/1.0"},
		"Connection":      {"close"},
	}
	return c.do(ctx, http.MethodPatch, "/v1/hosts/"+h.UUID, hdr, body, 6*time.Second, func(status int, b []byte) error {
		var r struct{ Status, Reason string }
		if status != http.StatusOK || json.Unmarshal(b, &r) != nil || r.Status != "pass" {
			return fmt.Errorf("modify %s: %d %.200s", h.Hostname, status, b)
		}
		return nil
	})
}

// vimSystems is the VIM's host-list query: 20 s timeout.
func (c *eventClient) vimSystems(ctx context.Context) sample {
	hdr := http.Header{
		"Accept":       {"application/json"},
		"Content-Type": {"application/json"},
		"User-Agent":   {"vim/1.0"},
		"X-Auth-Token": {"gAAAAABloadtest"}, // the VIM always sends one; mtce ignores it
	}
	return c.do(ctx, http.MethodGet, "/v1/systems", hdr, nil, 20*time.Second, func(status int, b []byte) error {
		var r struct {
			Hosts []struct {
				Hostname, UUID string
				Uptime         json.Number
			}
		}
		if status != http.StatusOK || json.Unmarshal(b, &r) != nil || len(r.Hosts) != c.records {
			return fmt.Errorf("systems: %d, %d hosts (want %d)", status, len(r.Hosts), c.records)
		}
		for _, h := range r.Hosts {
			if _, err := h.Uptime.Int64(); err != nil {
				return fmt.Errorf("systems: %s uptime %q is not an integer", h.Hostname, h.Uptime)
			}
		}
		return nil
	})
}

// loadEvents sends both kinds of request at fixed rates for d, open loop
// (each request on its own goroutine, started on its tick), and returns
// the samples of each kind.
func loadEvents(ctx context.Context, c *eventClient, hosts []sim.Host, bodies [][]byte, sysinvRate, vimRate float64,
	d time.Duration) (sysinvS, vimS []sample) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	ticker := func(rate float64, fire func(i int)) {
		if rate <= 0 {
			return
		}
		wg.Go(func() {
			every := time.Duration(float64(time.Second) / rate)
			tk := time.NewTicker(every)
			defer tk.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case now := <-tk.C:
					if now.After(end) {
						return
					}
					wg.Go(func() { fire(i) })
				}
			}
		})
	}
	ticker(sysinvRate, func(i int) {
		k := i % len(hosts)
		s := c.sysinvModify(ctx, hosts[k], bodies[k])
		mu.Lock()
		sysinvS = append(sysinvS, s)
		mu.Unlock()
	})
	ticker(vimRate, func(int) {
		s := c.vimSystems(ctx)
		mu.Lock()
		vimS = append(vimS, s)
		mu.Unlock()
	})
	wg.Wait()
	return sysinvS, vimS
}

func summarise(ss []sample) latency {
	var l latency
	ds := make([]time.Duration, 0, len(ss))
	for _, s := range ss {
		if s.err != "" {
			l.Failed++
			if l.FirstFail == "" {
				l.FirstFail = s.err
			}
			continue
		}
		ds = append(ds, s.d)
	}
	l.N = len(ds)
	if len(ds) == 0 {
		return l
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	l.P50, l.P99, l.Max = q(0.50), q(0.99), ds[len(ds)-1]
	return l
}

// ---------------------------------------------------------------- one run

// run measures one configuration; it fails t when the agent does not see
// every host or a reply is not what the real client accepts.
func run(t *testing.T, p params) result {
	t.Helper()
	ctx := t.Context()
	bin := buildAgent(t)
	res := result{Params: p, Records: p.Workers + 2}

	// The sim, with the inventory the senders match.
	hosts, err := inventory(p.Workers)
	if err != nil {
		t.Fatal(err)
	}
	sc := sim.DefaultConfig()
	sc.Hosts = hosts
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	root := configTree(t, ep, string(sc.Password))

	// The agent, in its own process.
	udpPort := freeUDPPort(t)
	d := startDaemon(t, bin,
		"--root", root, "--hostname", "controller-0", "--sm-url", ep.SM,
		"--event-api", "127.0.0.1:0", "--udp-mgmt", "127.0.0.1:"+strconv.Itoa(udpPort),
		"--metrics", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--drain", "10s")
	ready := d.log.await(`agent ready.*event_api=(\S+)`)
	metricsAt := d.log.await(`metrics listening.*addr=(\S+)`)
	adminAt := d.log.await(`admin API listening.*addr=(\S+)`)
	var eventAddr, metricsAddr, adminAddr string
	deadline := time.After(p.ReadyWait)
	for eventAddr == "" || metricsAddr == "" || adminAddr == "" {
		select {
		case m := <-ready:
			eventAddr = m[1]
		case m := <-metricsAt:
			metricsAddr = m[1]
		case m := <-adminAt:
			adminAddr = m[1]
		case <-d.done:
			t.Fatalf("mtcagent exited before ready:\n%s", d.log)
		case <-deadline:
			t.Fatalf("mtcagent not ready in %v:\n%s", p.ReadyWait, d.log)
		}
	}

	// The senders: the controllers and the workers.
	agentUDP := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(udpPort))
	sendersStart := time.Now()
	ctlS, err := agenttest.AliveSenders(ctx, agenttest.SendersConfig{N: 2, Agent: agentUDP, Base: controllersBase,
		Period: p.Period, NamePrefix: "controller-", Personality: "controller", Workers: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ctlS.Close()
	wkS, err := agenttest.AliveSenders(ctx, agenttest.SendersConfig{N: p.Workers, Agent: agentUDP,
		Period: p.Period, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer wkS.Close()
	for i, h := range wkS.Hosts() {
		if r := hosts[i+2]; h.Name != r.Hostname || h.Addr.String() != r.MgmtIP || h.MAC != r.MgmtMAC {
			t.Fatalf("sender %d is %+v, the inventory says %s %s %s", i, h, r.Hostname, r.MgmtIP, r.MgmtMAC)
		}
	}
	sent := func() uint64 { return ctlS.Stats().Sent + wkS.Stats().Sent }

	// Every host online, by mtcAlive received since the senders started.
	adminURL := "http://" + adminAddr + "/v1/hosts"
	onlineBy := time.Now().Add(2*p.Period + 10*time.Second)
	for {
		var hs []adminHost
		if err := getJSON(ctx, adminURL, &hs); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, h := range hs {
			if h.Online && h.LastAlive.After(sendersStart) {
				n++
			}
		}
		if n == res.Records && len(hs) == res.Records {
			break
		}
		if time.Now().After(onlineBy) {
			t.Fatalf("%d of %d hosts online (%d records) %v after the senders started; sent %d, errors %d",
				n, res.Records, len(hs), time.Since(sendersStart), sent(), ctlS.Stats().Errors+wkS.Stats().Errors)
		}
		if err := pause(ctx, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("all %d hosts online %v after the senders started", res.Records, time.Since(sendersStart).Round(time.Millisecond))
	if err := pause(ctx, p.Warmup); err != nil {
		t.Fatal(err)
	}

	// Window 1: mtcAlive only.
	m0, err := metrics(ctx, metricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	sent0 := sent()
	res.Load1[0] = loadavg()
	cpu := startCPU(t, d.pid())
	if err := pause(ctx, p.Window); err != nil {
		t.Fatal(err)
	}
	res.CPUAlive, res.GenCPU = cpu.percent(t)
	sent1 := sent()
	res.Load1[1] = loadavg()
	wall := time.Since(cpu.start).Seconds()
	if res.RSSKB, res.HWMKB, _, err = memStatus(d.pid()); err != nil {
		t.Fatal(err)
	}
	m1, err := metrics(ctx, metricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	counted := m1[metricAlives] - m0[metricAlives]
	res.AlivesPerSec = counted / wall
	res.SentPerSec = float64(sent1-sent0) / wall
	// The readings of the counters and of the senders are not one
	// instant apart: allow 100 ms of traffic and 1 %.
	slack := 0.01*float64(sent1-sent0) + 0.1*float64(res.Records)/p.Period.Seconds() + 2
	if math.Abs(counted-float64(sent1-sent0)) > slack {
		t.Errorf("the agent counted %.0f mtcAlive in window 1, the senders sent %d", counted, sent1-sent0)
	}
	if n, reasons := dropped(m1); n > 0 {
		t.Errorf("the agent dropped %g UDP messages: %v", n, reasons)
	}

	// Window 2: mtcAlive and the event API.
	bodies := make([][]byte, 0, p.Workers)
	for _, h := range hosts[2:] {
		bodies = append(bodies, modifyBody(h))
	}
	client := newEventClient(eventAddr, res.Records)
	defer client.close()
	res.Load2[0] = loadavg()
	cpu = startCPU(t, d.pid())
	si, vi := loadEvents(ctx, client, hosts[2:], bodies, p.SysInvRate, p.VIMRate, p.Window)
	res.CPUEvents, _ = cpu.percent(t)
	res.Load2[1] = loadavg()
	if res.RSSEndKB, res.HWMEndKB, res.Threads, err = memStatus(d.pid()); err != nil {
		t.Fatal(err)
	}
	res.SysInv, res.VIM = summarise(si), summarise(vi)
	if res.SysInv.Failed > 0 || res.VIM.Failed > 0 {
		t.Errorf("event-API replies the real clients would not accept: sysinv %v; vim %v", res.SysInv, res.VIM)
	}
	if p.SysInvRate > 0 && res.SysInv.N == 0 || p.VIMRate > 0 && res.VIM.N == 0 {
		t.Errorf("no event-API samples: sysinv %v; vim %v", res.SysInv, res.VIM)
	}

	// Nothing changed: every host still unlocked-enabled-available,
	// online, no action; nothing dropped.
	var hs []adminHost
	if err := getJSON(ctx, adminURL, &hs); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if !h.Online || h.Admin != "unlocked" || h.Oper != "enabled" || h.Avail != "available" || h.Running != "" {
			t.Errorf("after the load: %+v", h)
			break
		}
	}
	m2, err := metrics(ctx, metricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range m2 {
		if strings.HasPrefix(k, "mtcagent_actions_total") && v > 0 {
			t.Errorf("an action started: %s %g", k, v)
		}
	}
	want := float64(res.SysInv.N)
	if got := m2[`mtcagent_eventapi_requests_total{client="sysinv",code="200"}`]; got != want {
		t.Errorf("the agent counted %g sysinv requests, the client got %g replies", got, want)
	}
	if n, reasons := dropped(m2); n > 0 {
		t.Errorf("the agent dropped %g UDP messages: %v", n, reasons)
	}

	// Shut down: senders first, then SIGTERM.
	ctlS.Close()
	wkS.Close()
	if st := d.stop(30 * time.Second); st != 0 {
		t.Errorf("mtcagent exit status %d after SIGTERM:\n%s", st, d.log)
	}
	return res
}
