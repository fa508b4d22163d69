package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
)

// recorder is a slog.Handler that keeps records for assertions.
type recorder struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{"level": rec.Level.String(), "msg": rec.Message}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	r.mu.Lock()
	r.recs = append(r.recs, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) find(key string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.recs {
		if m["key"] == key {
			return m
		}
	}
	return nil
}

func writeFile(t *testing.T, root, path, content string) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func stock(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stock", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setup writes the stock files, with extra text appended to mtc.conf and
// mtc.ini, and returns a Config for the temp root.
func setup(t *testing.T, role Role, confExtra, iniExtra string) (Config, *recorder) {
	t.Helper()
	root := t.TempDir()
	writeFile(t, root, MtcConfPath, stock(t, "mtc.conf")+confExtra)
	writeFile(t, root, MtcIniPath, stock(t, "mtc.ini")+iniExtra)
	rec := &recorder{}
	return Config{Root: root, Role: role, Logger: slog.New(rec)}, rec
}

func TestLoadMtcStock(t *testing.T) {
	cfg, rec := setup(t, RoleAgent, "", "")
	m, err := LoadMtc(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// spec H defaults as the stock files give them.
	want := Agent{
		MtcAgentPort: 2101, MtcRxPxebootPort: 2102, KeystonePort: 5000, HAPort: 7777, InvEventPort: 2112,
		MtcToHbsCmdPort: 2104, HbsToMtcEventPort: 2107, MtcToGuestCmdPort: 2108, HbsAgentMgmtPort: 2103,
		HbsAgentClstrPort: 2113, TokenRefreshRate: 1200 * time.Second, APIRetries: 10,
		HTTPRetryWait: 10 * time.Second, BMCResetDelay: 300 * time.Second, HostAddDelay: 20 * time.Second,
		LazyRebootDelay: 15 * time.Second, OfflinePeriod: 100 * time.Millisecond, OfflineThreshold: 90,
		HbsMinorThreshold: 4, AutorecoveryThreshold: 3,
		ARConfig: AutoRecovery{2, 30 * time.Second}, ARGoEnable: AutoRecovery{2, 30 * time.Second},
		ARHostServices: AutoRecovery{2, 30 * time.Second}, ARHeartbeat: AutoRecovery{2, 600 * time.Second},
		ARLUKS: AutoRecovery{2, 30 * time.Second},
	}
	if m.Agent != want {
		t.Errorf("agent\n%+v\nwant\n%+v", m.Agent, want)
	}
	wantClient := Client{2118, 2115, 2119, 2114, 2121, 2122, 2109, 2106, 2116}
	if m.Client != wantClient {
		t.Errorf("client %+v", m.Client)
	}
	s := time.Second
	wantT := Timeouts{Swact: 120 * s, Sysinv: 20 * s, SysinvNoncrit: 10 * s, WorkQueue: 200 * s,
		HostServices: 300 * s, GoEnabled: 600 * s, UptimePeriod: 60 * s, OnlinePeriod: 7 * s,
		InsvTestPeriod: 10 * s, OosTestPeriod: 300 * s, FailsafeShutdownDelay: 120 * s, NodeReinstall: 2400 * s,
		DorModeDetect: 1200 * s, DorModeTimeout: 1000 * s, DorRecoveryTimeoutExt: 1800 * s, LocRecovery: 5 * s,
		ControllerBoot: 1200 * s, WorkerBoot: 720 * s}
	if m.Timeouts != wantT {
		t.Errorf("timeouts\n%+v\nwant\n%+v", m.Timeouts, wantT)
	}
	if m.Debug != (Debug{FitHost: "none", DebugEvent: "none"}) {
		t.Errorf("debug %+v", m.Debug)
	}
	if m.Keystone.AuthHost != "localhost" || m.Keystone.AuthURI != "none" || m.Keystone.Username != "mtce" ||
		m.Keystone.Password.Reveal() != "s3cr3t;pass#word" || m.Keystone.RegionName != "RegionOne" ||
		m.Keystone.UserDomain != "Default" {
		t.Errorf("keystone %+v", m.Keystone)
	}
	if m.Heartbeat != (Heartbeat{Period: 100 * time.Millisecond, FailureThreshold: 10, DegradeThreshold: 6, FailureAction: HeartbeatFail}) {
		t.Errorf("heartbeat %+v", m.Heartbeat)
	}
	// The stock "failsafe_shutdown_delay = 120;" has no blank before ';':
	// not a comment to inih, so atoi reads "120;" as 120 — and says so.
	if len(m.Corrections) != 1 || m.Corrections[0].Key != "failsafe_shutdown_delay" || m.Corrections[0].Read != "120;" ||
		m.Corrections[0].Used != "120" {
		t.Errorf("corrections %+v", m.Corrections)
	}
	if r := rec.find("failsafe_shutdown_delay"); r == nil || r["level"] != "WARN" || r["read"] != "120;" || r["used"] != "120" {
		t.Errorf("log %v", r)
	}
	if m.Timeouts.FailsafeRebootDelay() != 120*s || m.Timeouts.FailsafeResetDelay() != 60*s {
		t.Error("failsafe delays")
	}
}

// TestCorrections is the K.6 table, one row per rule, for values read.
func TestCorrections(t *testing.T) {
	s, ms := time.Second, time.Millisecond
	cases := []struct {
		file, section, key, value string
		virtual                   bool
		get                       func(*Mtc) time.Duration
		want                      time.Duration
		corrected                 bool
	}{
		{"conf", "timeouts", "swact_timeout", "59", false, func(m *Mtc) time.Duration { return m.Timeouts.Swact }, 60 * s, true},
		{"conf", "timeouts", "swact_timeout", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.Swact }, 60 * s, true},
		{"conf", "timeouts", "swact_timeout", "10", false, func(m *Mtc) time.Duration { return m.Timeouts.Swact }, 60 * s, true},
		{"conf", "timeouts", "swact_timeout", "60", false, func(m *Mtc) time.Duration { return m.Timeouts.Swact }, 60 * s, false},
		{"conf", "timeouts", "swact_timeout", "-5", false, func(m *Mtc) time.Duration { return m.Timeouts.Swact }, 60 * s, true},
		{"conf", "timeouts", "uptime_period", "4", false, func(m *Mtc) time.Duration { return m.Timeouts.UptimePeriod }, 5 * s, true},
		{"conf", "timeouts", "uptime_period", "5", false, func(m *Mtc) time.Duration { return m.Timeouts.UptimePeriod }, 5 * s, false},
		{"conf", "agent", "token_refresh_rate", "28801", false, func(m *Mtc) time.Duration { return m.Agent.TokenRefreshRate }, 28800 * s, true},
		{"conf", "agent", "token_refresh_rate", "28800", false, func(m *Mtc) time.Duration { return m.Agent.TokenRefreshRate }, 28800 * s, false},
		{"conf", "agent", "token_refresh_rate", "300", false, func(m *Mtc) time.Duration { return m.Agent.TokenRefreshRate }, 300 * s, false},
		{"conf", "agent", "token_refresh_rate", "0", false, func(m *Mtc) time.Duration { return m.Agent.TokenRefreshRate }, 0, false},
		{"conf", "timeouts", "sysinv_timeout", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.Sysinv }, 20 * s, true},
		{"conf", "timeouts", "sysinv_timeout", "128", false, func(m *Mtc) time.Duration { return m.Timeouts.Sysinv }, 20 * s, true},
		{"conf", "timeouts", "sysinv_timeout", "127", false, func(m *Mtc) time.Duration { return m.Timeouts.Sysinv }, 127 * s, false},
		{"conf", "timeouts", "sysinv_timeout", "-3", false, func(m *Mtc) time.Duration { return m.Timeouts.Sysinv }, -3 * s, false},
		{"conf", "timeouts", "sysinv_noncrit_timeout", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.SysinvNoncrit }, 10 * s, true},
		{"conf", "timeouts", "sysinv_noncrit_timeout", "200", false, func(m *Mtc) time.Duration { return m.Timeouts.SysinvNoncrit }, 10 * s, true},
		{"conf", "timeouts", "sysinv_noncrit_timeout", "-1", false, func(m *Mtc) time.Duration { return m.Timeouts.SysinvNoncrit }, -1 * s, false},
		{"conf", "timeouts", "work_queue_timeout", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.WorkQueue }, 60 * s, true},
		{"conf", "timeouts", "work_queue_timeout", "501", false, func(m *Mtc) time.Duration { return m.Timeouts.WorkQueue }, 60 * s, true},
		{"conf", "timeouts", "work_queue_timeout", "500", false, func(m *Mtc) time.Duration { return m.Timeouts.WorkQueue }, 500 * s, false},
		{"conf", "timeouts", "online_period", "6", false, func(m *Mtc) time.Duration { return m.Timeouts.OnlinePeriod }, 7 * s, true},
		{"conf", "agent", "offline_period", "9", false, func(m *Mtc) time.Duration { return m.Agent.OfflinePeriod }, 10 * ms, true},
		{"conf", "agent", "offline_period", "10", false, func(m *Mtc) time.Duration { return m.Agent.OfflinePeriod }, 10 * ms, false},
		{"conf", "timeouts", "dor_mode_detect", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.DorModeDetect }, 1200 * s, true},
		{"conf", "timeouts", "dor_mode_detect", "-1", false, func(m *Mtc) time.Duration { return m.Timeouts.DorModeDetect }, 1200 * s, true},
		{"conf", "timeouts", "dor_mode_detect", "1", false, func(m *Mtc) time.Duration { return m.Timeouts.DorModeDetect }, 1 * s, false},
		{"conf", "timeouts", "dor_mode_timeout", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.DorModeTimeout }, 900 * s, true},
		{"conf", "timeouts", "node_reinstall_timeout", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.NodeReinstall }, 2400 * s, true},
		{"conf", "timeouts", "node_reinstall_timeout", "59", false, func(m *Mtc) time.Duration { return m.Timeouts.NodeReinstall }, 2400 * s, true},
		{"conf", "timeouts", "node_reinstall_timeout", "14401", false, func(m *Mtc) time.Duration { return m.Timeouts.NodeReinstall }, 2400 * s, true},
		{"conf", "timeouts", "node_reinstall_timeout", "60", false, func(m *Mtc) time.Duration { return m.Timeouts.NodeReinstall }, 60 * s, false},
		{"conf", "timeouts", "node_reinstall_timeout", "14400", false, func(m *Mtc) time.Duration { return m.Timeouts.NodeReinstall }, 14400 * s, false},
		{"conf", "timeouts", "goenabled_timeout", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.GoEnabled }, 300 * s, true},
		{"conf", "timeouts", "goenabled_timeout", "-1", false, func(m *Mtc) time.Duration { return m.Timeouts.GoEnabled }, -1 * s, false},
		{"ini", "timeouts", "controller_boot_timeout", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.ControllerBoot }, 1200 * s, true},
		{"ini", "timeouts", "controller_boot_timeout", "900", true, func(m *Mtc) time.Duration { return m.Timeouts.ControllerBoot }, 1800 * s, true},
		{"ini", "timeouts", "controller_boot_timeout", "0", true, func(m *Mtc) time.Duration { return m.Timeouts.ControllerBoot }, 1200 * s, true},
		{"ini", "timeouts", "worker_boot_timeout", "0", true, func(m *Mtc) time.Duration { return m.Timeouts.WorkerBoot }, 1200 * s, true},
		{"conf", "timeouts", "failsafe_shutdown_delay", "0", false, func(m *Mtc) time.Duration { return m.Timeouts.FailsafeShutdownDelay }, 2 * s, true},
		{"conf", "timeouts", "failsafe_shutdown_delay", "1", false, func(m *Mtc) time.Duration { return m.Timeouts.FailsafeShutdownDelay }, 1 * s, false},
		{"ini", "agent", "heartbeat_period", "99", false, func(m *Mtc) time.Duration { return m.Heartbeat.Period }, 100 * ms, true},
		{"ini", "agent", "heartbeat_period", "1001", false, func(m *Mtc) time.Duration { return m.Heartbeat.Period }, 100 * ms, true},
		{"ini", "agent", "heartbeat_period", "1001", true, func(m *Mtc) time.Duration { return m.Heartbeat.Period }, 1000 * ms, true},
		{"ini", "agent", "heartbeat_period", "1000", false, func(m *Mtc) time.Duration { return m.Heartbeat.Period }, 1000 * ms, false},
		// unchecked keys keep whatever they say
		{"conf", "timeouts", "host_services_timeout", "-7", false, func(m *Mtc) time.Duration { return m.Timeouts.HostServices }, -7 * s, false},
		{"conf", "agent", "bmc_reset_delay", "0", false, func(m *Mtc) time.Duration { return m.Agent.BMCResetDelay }, 0, false},
		{"conf", "agent", "lazy_reboot_delay", "100000", false, func(m *Mtc) time.Duration { return m.Agent.LazyRebootDelay }, 100000 * s, false},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/%s=%s/virtual=%v", c.file, c.key, c.value, c.virtual)
		t.Run(name, func(t *testing.T) {
			line := fmt.Sprintf("\n[%s]\n%s = %s   ; set by the test\n", c.section, c.key, c.value)
			var cfg Config
			var rec *recorder
			if c.file == "conf" {
				cfg, rec = setup(t, RoleAgent, line, "")
			} else {
				cfg, rec = setup(t, RoleAgent, "", line)
			}
			if c.virtual {
				writeFile(t, cfg.Root, VirtualHostFlagPath, "")
			}
			m, err := LoadMtc(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.get(m); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
			var corr *Correction
			for i := range m.Corrections {
				if m.Corrections[i].Key == c.key {
					corr = &m.Corrections[i]
				}
			}
			if (corr != nil) != c.corrected {
				t.Fatalf("corrected = %v, want %v (%+v)", corr != nil, c.corrected, m.Corrections)
			}
			if corr == nil {
				return
			}
			if corr.Read != c.value || corr.Section != c.section || !strings.HasSuffix(corr.File, map[string]string{"conf": "mtc.conf", "ini": "mtc.ini"}[c.file]) {
				t.Errorf("correction %+v", corr)
			}
			r := rec.find(c.key)
			if r == nil || r["level"] != "WARN" || r["read"] != c.value || r["used"] != corr.Used || r["section"] != c.section {
				t.Errorf("log record %v for %+v", r, corr)
			}
		})
	}
}

// TestAbsentKeys: what each K.6 key becomes when no file sets it.
func TestAbsentKeys(t *testing.T) {
	conf := `[agent]
mtc_agent_port = 2101
ha_port = 7777
keystone_port = 5000
token_refresh_rate = 1200
inv_event_port = 2112
api_retries = 10
mtc_to_hbs_cmd_port = 2104
hbs_to_mtc_event_port = 2107
[client]
mtc_rx_mgmnt_port = 2118
mtc_rx_clstr_port = 2115
hwmon_cmd_port = 2114
[timeouts]
loc_recovery_timeout = 5
`
	for _, virtual := range []bool{false, true} {
		root := t.TempDir()
		writeFile(t, root, MtcConfPath, conf)
		if virtual {
			writeFile(t, root, VirtualHostFlagPath, "")
		}
		rec := &recorder{}
		m, err := LoadMtc(Config{Root: root, Role: RoleAgent, Logger: slog.New(rec)})
		if err != nil {
			t.Fatal(err)
		}
		s := time.Second
		tt := m.Timeouts
		checks := map[string][2]time.Duration{
			"swact":          {tt.Swact, 120 * s},
			"uptime":         {tt.UptimePeriod, 0},
			"sysinv":         {tt.Sysinv, 20 * s},
			"noncrit":        {tt.SysinvNoncrit, 10 * s},
			"workqueue":      {tt.WorkQueue, 60 * s},
			"online":         {tt.OnlinePeriod, 7 * s},
			"dor detect":     {tt.DorModeDetect, 1200 * s},
			"dor timeout":    {tt.DorModeTimeout, 900 * s},
			"reinstall":      {tt.NodeReinstall, 2400 * s},
			"goenabled":      {tt.GoEnabled, 300 * s},
			"controllerboot": {tt.ControllerBoot, 1200 * s},
			"workerboot":     {tt.WorkerBoot, 1200 * s},
			"failsafe":       {tt.FailsafeShutdownDelay, 2 * s},
			"hostservices":   {tt.HostServices, 300 * s},
			"offline":        {m.Agent.OfflinePeriod, 10 * time.Millisecond},
		}
		if virtual {
			checks["hbperiod"] = [2]time.Duration{m.Heartbeat.Period, time.Second}
		} else {
			checks["hbperiod"] = [2]time.Duration{m.Heartbeat.Period, 100 * time.Millisecond}
		}
		for name, c := range checks {
			if c[0] != c[1] {
				t.Errorf("virtual=%v %s: %v, want %v", virtual, name, c[0], c[1])
			}
		}
		if len(m.Corrections) != 0 || len(rec.recs) != 0 {
			t.Errorf("absent keys reported as corrections: %+v %v", m.Corrections, rec.recs)
		}
		if m.Heartbeat.FailureAction != HeartbeatFail || m.Keystone.AuthHost != "localhost" || m.Keystone.RegionName != "none" || m.Virtual != virtual {
			t.Errorf("%+v %+v", m.Heartbeat, m.Keystone)
		}
	}
}

func TestHeartbeatAction(t *testing.T) {
	for in, want := range map[string]HeartbeatAction{"none": HeartbeatNone, "alarm": HeartbeatAlarm, "degrade": HeartbeatDegrade,
		"fail": HeartbeatFail, "Degrade": HeartbeatFail, "reboot": HeartbeatFail, "": HeartbeatFail} {
		cfg, rec := setup(t, RoleAgent, "", "\n[agent]\nheartbeat_failure_action = "+in+"\n")
		m, err := LoadMtc(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if m.Heartbeat.FailureAction != want {
			t.Errorf("%q: %v", in, m.Heartbeat.FailureAction)
		}
		corrected := rec.find("heartbeat_failure_action") != nil
		if _, err := ParseHeartbeatAction(in); corrected != (err != nil) {
			t.Errorf("%q: corrected=%v", in, corrected)
		}
	}
}

func TestIniOverridesConf(t *testing.T) {
	cfg, _ := setup(t, RoleAgent, "", "\n[timeouts]\nswact_timeout = 300\nhost_services_timeout = 100\n[agent]\napi_retries = 3\n")
	m, err := LoadMtc(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Timeouts.Swact != 300*time.Second || m.Timeouts.HostServices != 100*time.Second || m.Agent.APIRetries != 3 {
		t.Errorf("%+v %+v", m.Timeouts, m.Agent)
	}
	// Without mtc.ini the conf values stand.
	os.Remove(cfg.Path(MtcIniPath))
	m, err = LoadMtc(cfg)
	if err != nil || m.Timeouts.Swact != 120*time.Second || m.Keystone.Username != "" {
		t.Errorf("%v %+v", err, m)
	}
}

func TestAtoiAndCleanliness(t *testing.T) {
	cases := []struct {
		in    string
		v     int
		clean bool
	}{
		{"120", 120, true}, {"-5", -5, true}, {"+7", 7, true}, {"120;", 120, false}, {"abc", 0, false}, {"", 0, false},
		{" 12x", 12, false}, {"0x10", 0, false}, {"99999999999", 2147483647, false}, {"-99999999999", -2147483648, false},
		{"2147483647", 2147483647, true}, {"1e3", 1, false}, {"--1", 0, false},
	}
	for _, c := range cases {
		if v, clean := atoi(c.in); v != c.v || clean != c.clean {
			t.Errorf("atoi(%q) = %d, %v; want %d, %v", c.in, v, clean, c.v, c.clean)
		}
	}
	cfg, rec := setup(t, RoleAgent, "\n[timeouts]\nhost_services_timeout = abc\n", "")
	m, err := LoadMtc(cfg)
	if err != nil || m.Timeouts.HostServices != 0 {
		t.Fatalf("%v %v", err, m.Timeouts.HostServices)
	}
	if r := rec.find("host_services_timeout"); r == nil || r["read"] != "abc" || r["used"] != "0" {
		t.Errorf("%v", r)
	}
}

func TestRequiredKeys(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, MtcConfPath, "[agent]\nmtc_agent_port = 2101\n[client]\nmtc_rx_mgmnt_port = 2118\n")
	_, err := LoadMtc(Config{Root: root, Role: RoleAgent})
	if !errors.Is(err, ErrMissingKey) {
		t.Fatalf("%v", err)
	}
	for _, k := range []string{"ha_port", "keystone_port", "token_refresh_rate", "inv_event_port", "api_retries",
		"mtc_to_hbs_cmd_port", "hbs_to_mtc_event_port", "[client] mtc_rx_clstr_port", "hwmon_cmd_port", "loc_recovery_timeout"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error does not name %s: %v", k, err)
		}
	}
	if strings.Contains(err.Error(), "mtc_agent_port") {
		t.Errorf("present key reported: %v", err)
	}
	var mk *MissingKeyError
	if !errors.As(err, &mk) || !strings.HasSuffix(mk.File, "mtc.conf") {
		t.Errorf("%#v", mk)
	}
	// The client needs only three keys, and finds two here.
	_, err = LoadMtc(Config{Root: root, Role: RoleClient})
	if !errors.Is(err, ErrMissingKey) || !strings.Contains(err.Error(), "mtc_rx_clstr_port") || strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("%v", err)
	}
	writeFile(t, root, MtcConfPath, "[agent]\nmtc_agent_port = 2101\n[client]\nmtc_rx_mgmnt_port = 2118\nmtc_rx_clstr_port = 2115\n")
	m, err := LoadMtc(Config{Root: root, Role: RoleClient})
	if err != nil || m.Agent.TokenRefreshRate != 1200*time.Second || m.Agent.KeystonePort != 5000 {
		t.Fatalf("%v %+v", err, m)
	}
	// A required key in mtc.ini counts.
	writeFile(t, root, MtcConfPath, "[agent]\nmtc_agent_port = 2101\n[client]\nmtc_rx_mgmnt_port = 2118\n")
	writeFile(t, root, MtcIniPath, "[client]\nmtc_rx_clstr_port = 2115\n")
	if _, err := LoadMtc(Config{Root: root, Role: RoleClient}); err != nil {
		t.Fatal(err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		name, content string
		line          int
		text          string
	}{
		{"no delimiter", "[agent]\nmtc_agent_port = 2101\nthis line has no equals sign\n", 3, "this line has no equals sign"},
		{"unclosed section", "[agent]\nkeystone_port = 5000\n[timeouts\nswact_timeout = 100\n", 3, "[timeouts"},
		{"empty key", "[agent]\n= 5\n", 2, "= 5"},
	}
	for _, c := range cases {
		root := t.TempDir()
		writeFile(t, root, MtcConfPath, c.content)
		_, err := LoadMtc(Config{Root: root, Role: RoleClient})
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if se.File != filepath.Join(root, MtcConfPath) || se.Line != c.line || se.Text != c.text {
			t.Errorf("%s: %+v", c.name, se)
		}
		if !strings.Contains(err.Error(), se.File) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: message %q does not name file and line", c.name, err)
		}
	}
	// mtc.ini is parsed too.
	cfg, _ := setup(t, RoleAgent, "", "\nbroken\n")
	if _, err := LoadMtc(cfg); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "mtc.ini") {
		t.Errorf("%v", err)
	}
	// A missing mtc.conf is an error naming it.
	if _, err := LoadMtc(Config{Root: t.TempDir(), Role: RoleAgent}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "mtc.conf") {
		t.Errorf("%v", err)
	}
}

func TestInihValueRules(t *testing.T) {
	data := "[s]\n" +
		"a = 1 ; comment\n" +
		"b = 1; not a comment\n" +
		"c = \"quoted\" ; kept quotes\n" +
		"d = x#y\n" +
		"e = ;starts with semicolon\n" +
		"f = first\n" +
		"    ; indented comment\n" +
		"    second ; continuation replaces\n" +
		"g = v\t;tab before semicolon\n" +
		"h = back\\slash\\\n" +
		"i =\n" +
		"Key = case\n" +
		"a = 2 ; last duplicate wins\n" +
		"[s2]\n" +
		"j: colon\n"
	f, err := parseINI("x.conf", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[[2]string]string{
		{"s", "a"}: "2", {"s", "b"}: "1; not a comment", {"s", "c"}: `"quoted"`, {"s", "d"}: "x#y",
		{"s", "e"}: ";starts with semicolon", {"s", "f"}: "second", {"s", "g"}: "v", {"s", "h"}: `back\slash\`,
		{"s", "i"}: "", {"s", "Key"}: "case", {"s2", "j"}: "colon",
	}
	for k, w := range want {
		if got, ok := f.get(k[0], k[1]); !ok || got != w {
			t.Errorf("[%s] %s = %q (%v), want %q", k[0], k[1], got, ok, w)
		}
	}
	if _, ok := f.get("s", "key"); ok {
		t.Error("keys are case-sensitive")
	}
	if _, ok := f.get("S", "a"); ok {
		t.Error("sections are case-sensitive")
	}
}

func TestSecretRedaction(t *testing.T) {
	cfg, rec := setup(t, RoleAgent, "", "")
	m, err := LoadMtc(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ks := m.Keystone
	outs := []string{
		fmt.Sprint(ks.Password), fmt.Sprintf("%v %s %q %x %+v %#v", ks.Password, ks.Password, ks.Password, ks.Password, ks, ks),
		ks.Password.GoString(),
	}
	b, _ := json.Marshal(ks)
	outs = append(outs, string(b))
	slog.New(rec).Info("keystone", "cfg", ks, "pw", ks.Password)
	for _, r := range rec.recs {
		for _, v := range r {
			outs = append(outs, v)
		}
	}
	for _, o := range outs {
		if strings.Contains(o, "s3cr3t") {
			t.Errorf("secret leaked: %s", o)
		}
	}
	if !strings.Contains(string(b), redacted) || Secret("").String() != "" || ks.Password.Reveal() != "s3cr3t;pass#word" {
		t.Error("redaction form")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
	for want, c := range map[string]Config{
		"Config.Root": {Root: "relative", Role: RoleAgent},
		"Config.Role": {Root: "/", Role: 0},
	} {
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
		if _, err := LoadMtc(c); err == nil {
			t.Errorf("%s: LoadMtc accepted", want)
		}
		if _, err := LoadPlatform(c); err == nil {
			t.Errorf("%s: LoadPlatform accepted", want)
		}
		if _, err := LoadSysinv(c); err == nil {
			t.Errorf("%s: LoadSysinv accepted", want)
		}
	}
	if RoleClient.String() != "client" || Role(9).String() != "Role(9)" || HeartbeatAction(9).String() != "HeartbeatAction(9)" {
		t.Error("strings")
	}
}

// TestPlatform is the K.5 table.
func TestPlatform(t *testing.T) {
	cases := []struct {
		name, content string
		typ           mtce.SystemType
		subf          string
		fn            mtce.NodeFunctions
		mgmt          string
	}{
		{"standard controller", "nodetype=controller\nsubfunction=controller\nsystem_type=Standard\nmanagement_interface=enp0s8\nsystem_mode=duplex\n",
			mtce.SystemStandard, "controller", mtce.FunctionController, "enp0s8"},
		{"aio duplex", "system_type=All-in-one\nsystem_mode=duplex\nsubfunction=controller,worker\nmanagement_interface=vlan166\n",
			mtce.SystemAIODuplex, "controller,worker", mtce.FunctionController | mtce.FunctionWorker, "vlan166"},
		{"aio duplex-direct upper case", "system_type=All-in-one\nsystem_mode=DUPLEX-DIRECT\nsubfunction=controller,worker,lowlatency\n",
			mtce.SystemAIODuplexDirect, "controller,worker,lowlatency", mtce.FunctionController | mtce.FunctionWorker, ""},
		{"aio simplex", "system_type=All-in-one\nsystem_mode=simplex\nsubfunction=controller,worker\n",
			mtce.SystemAIOSimplex, "controller,worker", mtce.FunctionController | mtce.FunctionWorker, ""},
		{"standard lower case", "system_type=standard\nsubfunction=worker\n", mtce.SystemStandard, "worker", mtce.FunctionWorker, ""},
		{"no system keys", "subfunction=storage\n", mtce.SystemAIOSimplex, "storage", mtce.FunctionStorage, ""},
		{"unknown mode", "system_type=All-in-one\nsystem_mode=triplex\n", mtce.SystemAIOSimplex, "", 0, ""},
		{"empty mode", "system_type=All-in-one\nsystem_mode=\n", mtce.SystemAIOSimplex, "", 0, ""},
		{"blank before =", "system_type =Standard\nsystem_mode = duplex\nsubfunction =worker\n", mtce.SystemAIOSimplex, "", 0, ""},
		{"blank after = is skipped by %s", "system_type= Standard\nsubfunction=  worker extra\n", mtce.SystemStandard, "worker", mtce.FunctionWorker, ""},
		{"leading blank", " system_type=Standard\n\tsubfunction=worker\n", mtce.SystemAIOSimplex, "", 0, ""},
		{"quotes kept", "system_type=\"Standard\"\nsystem_mode=\"duplex\"\nsubfunction=\"controller\"\n", mtce.SystemAIOSimplex, `"controller"`, mtce.FunctionController, ""},
		{"first parsable system_type wins", "# system_type=Standard\nsystem_type=All-in-one\nsystem_type=Standard\nsystem_mode=duplex\n",
			mtce.SystemAIODuplex, "", 0, ""},
		{"first system_mode line decides, parsable or not", "system_type=All-in-one\n# system_mode=duplex\nsystem_mode=duplex\n",
			mtce.SystemAIOSimplex, "", 0, ""},
		{"subfunctions= does not match", "subfunctions=controller,worker\nsubfunction=worker\n", mtce.SystemAIOSimplex, "worker", mtce.FunctionWorker, ""},
		{"case-sensitive functions", "subfunction=Controller,WORKER\n", mtce.SystemAIOSimplex, "Controller,WORKER", 0, ""},
		{"crlf", "system_type=Standard\r\nsubfunction=worker\r\n", mtce.SystemStandard, "worker", mtce.FunctionWorker, ""},
		{"no newline at end", "subfunction=controller", mtce.SystemAIOSimplex, "controller", mtce.FunctionController, ""},
		{"1023-byte chunks", strings.Repeat("#", 1023) + "subfunction=worker\n", mtce.SystemAIOSimplex, "worker", mtce.FunctionWorker, ""},
		{"1024-byte line", strings.Repeat("#", 1024) + "subfunction=worker\n", mtce.SystemAIOSimplex, "", 0, ""},
		{"unknown keys", "INSTALL_UUID=x\nsw_version=25.09\nsubfunction=worker\n", mtce.SystemAIOSimplex, "worker", mtce.FunctionWorker, ""},
	}
	for _, c := range cases {
		root := t.TempDir()
		writeFile(t, root, PlatformConfPath, c.content)
		p, err := LoadPlatform(Config{Root: root, Role: RoleClient})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if p.SystemType != c.typ || p.Subfunctions != c.subf || p.Functions != c.fn || p.ManagementInterface != c.mgmt || !p.Exists || p.Simplex {
			t.Errorf("%s: %+v", c.name, p)
		}
	}
}

func TestPlatformReadyAndSimplex(t *testing.T) {
	root := t.TempDir()
	cfg := Config{Root: root, Role: RoleClient}
	p, err := LoadPlatform(cfg)
	if err != nil || p.Exists || p.SystemType != mtce.SystemAIOSimplex || !errors.Is(p.Ready(), ErrIncomplete) ||
		!strings.Contains(p.Ready().Error(), "does not exist") {
		t.Fatalf("no file: %+v %v %v", p, err, p.Ready())
	}
	writeFile(t, root, PlatformConfPath, "subfunction=worker\n")
	p, _ = LoadPlatform(cfg)
	if err := p.Ready(); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "management_interface") || strings.Contains(err.Error(), "no subfunction") {
		t.Errorf("%v", err)
	}
	writeFile(t, root, PlatformConfPath, "subfunction=worker\nmanagement_interface=eth0\ncluster_host_interface=eth1\nsystem_type=Standard\n")
	writeFile(t, root, SimplexFlagPath, "")
	p, _ = LoadPlatform(cfg)
	if p.Ready() != nil || !p.Simplex || p.SystemType != mtce.SystemStandard || p.ClusterHostInterface != "eth1" {
		t.Errorf("%+v %v", p, p.Ready())
	}
	// A directory where the file should be is a read error naming it.
	root2 := t.TempDir()
	os.MkdirAll(filepath.Join(root2, PlatformConfPath), 0o755)
	if _, err := LoadPlatform(Config{Root: root2, Role: RoleClient}); err == nil || !strings.Contains(err.Error(), "platform.conf") {
		t.Errorf("%v", err)
	}
}

func TestEndpoints(t *testing.T) {
	root := t.TempDir()
	cfg := Config{Root: root, Role: RoleAgent}
	for _, load := range []func(Config) (Endpoint, error){LoadSysinv, LoadBarbican, LoadVIM} {
		if _, err := load(cfg); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing file: %v", err)
		}
	}
	writeFile(t, root, SysinvConfPath, "[DEFAULT]\nMTC_INV_LABEL=/v1/hosts/\nsysinv_api_port=6385\nsysinv_api_bind_ip=192.168.204.2\n"+
		"sql_connection=postgresql+psycopg2://admin-sysinv:pw@192.168.204.2/sysinv\n[journal]\njournal_max_size=51200\n")
	writeFile(t, root, BarbicanConfPath, "[DEFAULT]\nbind_port = 9311\nbind_host = [fd00::2]\nhost_href = http://[fd00::2]:9311\n"+
		"transport_url = rabbit://guest:guest@localhost:5672/\n[oslo_policy]\npolicy_file = /etc/barbican/policy.json\n")
	writeFile(t, root, NFVPluginConfPath, "[infrastructure-rest-api]\nhost=127.0.0.1\nport=30004\n[guest-rest-api]\nport=30003\n")
	e, err := LoadSysinv(cfg)
	if err != nil || e != (Endpoint{"192.168.204.2", 6385}) || !e.Valid() || e.HostPort() != "192.168.204.2:6385" {
		t.Errorf("sysinv %+v %v", e, err)
	}
	e, err = LoadBarbican(cfg)
	if err != nil || e != (Endpoint{"fd00::2", 9311}) || e.HostPort() != "[fd00::2]:9311" {
		t.Errorf("barbican %+v %v", e, err)
	}
	e, err = LoadVIM(cfg)
	if err != nil || e != (Endpoint{"localhost", 30004}) {
		t.Errorf("vim %+v %v", e, err)
	}
	// Absent keys: "none" and 0, not usable.
	writeFile(t, root, SysinvConfPath, "[DEFAULT]\nverbose=True\n")
	writeFile(t, root, NFVPluginConfPath, "[guest-rest-api]\nport=30003\n")
	if e, _ := LoadSysinv(cfg); e != (Endpoint{"none", 0}) || e.Valid() {
		t.Errorf("%+v", e)
	}
	if e, _ := LoadVIM(cfg); e.Port != 0 || e.Valid() {
		t.Errorf("%+v", e)
	}
	writeFile(t, root, BarbicanConfPath, "[DEFAULT]\nbind_port\n")
	if _, err := LoadBarbican(cfg); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "barbican.conf") {
		t.Errorf("%v", err)
	}
}

// FuzzLoadMtc: the loader never panics on any pair of files, and what it
// returns respects every K.6 bound.
func FuzzLoadMtc(f *testing.F) {
	f.Add([]byte("[agent]\nmtc_agent_port=2101\n[client]\nmtc_rx_mgmnt_port=1\nmtc_rx_clstr_port=2\n[timeouts]\nswact_timeout=3\n"), []byte(""), false)
	f.Add([]byte("[timeouts]\nwork_queue_timeout = 900 ; x\nsysinv_timeout=-4\n"), []byte("[agent]\nheartbeat_period=5\n[timeouts]\ncontroller_boot_timeout=9\n"), true)
	f.Add([]byte("[agent\n"), []byte("x"), false)
	f.Add([]byte("k = \"\"\"\nv\n"), []byte("[timeouts]\n  continuation\n"), false)
	f.Add([]byte("[agent]\nkeystone_auth_pw = `pw\napi_retries = 3\n"), []byte("[agent]\nkeystone_auth_pw s\n"), false)
	f.Fuzz(func(t *testing.T, conf, ini []byte, virtual bool) {
		c, err := parseINI("mtc.conf", conf)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.File != "mtc.conf" {
				t.Fatalf("%v", err)
			}
			return
		}
		i, err := parseINI("mtc.ini", ini)
		if err != nil {
			return
		}
		m, err := buildMtc(RoleClient, slog.New(slog.DiscardHandler), c, i, virtual)
		if err != nil {
			if !errors.Is(err, ErrMissingKey) {
				t.Fatalf("%v", err)
			}
			return
		}
		s := time.Second
		tt := m.Timeouts
		switch {
		case tt.Swact < 60*s:
			t.Fatalf("swact %v", tt.Swact)
		case tt.UptimePeriod != 0 && tt.UptimePeriod < 5*s:
			t.Fatalf("uptime %v", tt.UptimePeriod)
		case tt.Sysinv == 0 || tt.Sysinv > 127*s, tt.SysinvNoncrit == 0 || tt.SysinvNoncrit > 127*s:
			t.Fatalf("sysinv %v %v", tt.Sysinv, tt.SysinvNoncrit)
		case tt.WorkQueue == 0 || tt.WorkQueue > 500*s:
			t.Fatalf("workqueue %v", tt.WorkQueue)
		case tt.OnlinePeriod < 7*s, m.Agent.OfflinePeriod < 10*time.Millisecond:
			t.Fatalf("online/offline %v %v", tt.OnlinePeriod, m.Agent.OfflinePeriod)
		case tt.DorModeDetect <= 0 || tt.DorModeTimeout <= 0:
			t.Fatalf("dor %v %v", tt.DorModeDetect, tt.DorModeTimeout)
		case tt.NodeReinstall < 60*s || tt.NodeReinstall > 14400*s:
			t.Fatalf("reinstall %v", tt.NodeReinstall)
		case tt.GoEnabled == 0 || tt.ControllerBoot == 0 || tt.WorkerBoot == 0:
			t.Fatalf("zero timeout %+v", tt)
		case tt.FailsafeShutdownDelay < s:
			t.Fatalf("failsafe %v", tt.FailsafeShutdownDelay)
		case m.Heartbeat.Period < 100*time.Millisecond || m.Heartbeat.Period > time.Second:
			t.Fatalf("heartbeat %v", m.Heartbeat.Period)
		case m.Agent.TokenRefreshRate > 28800*s:
			t.Fatalf("token %v", m.Agent.TokenRefreshRate)
		}
		for _, c := range m.Corrections {
			if c.Key == "" || c.File == "" {
				t.Fatalf("%+v", c)
			}
		}
	})
}

// FuzzPlatform: any platform.conf gives a valid system type and functions
// consistent with the subfunction text.
func FuzzPlatform(f *testing.F) {
	f.Add([]byte("system_type=All-in-one\nsystem_mode=duplex\nsubfunction=controller,worker\n"))
	f.Add([]byte("system_type=Standard\r\nsubfunction=\x00worker\n"))
	f.Add([]byte(strings.Repeat("x", 1030) + "\nsubfunction=storage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := parsePlatform(data)
		if p.SystemType < mtce.SystemStandard || p.SystemType > mtce.SystemAIOSimplex {
			t.Fatalf("system type %v", p.SystemType)
		}
		if p.Functions != mtce.FunctionsOf(p.Subfunctions) {
			t.Fatalf("functions %v for %q", p.Functions, p.Subfunctions)
		}
		if strings.ContainsFunc(p.Subfunctions, cSpace) || strings.ContainsRune(p.Subfunctions, 0) {
			t.Fatalf("value with blank or NUL: %q", p.Subfunctions)
		}
	})
}

// TestInihKeepsQuoteOpeners: inih keeps a value that opens with a backtick
// or `"""` as it is; ini.v1 alone would strip the quotes, or read on over
// the following lines (swallowing keys) and fail at the end of the file
// with the value in its message.
func TestInihKeepsQuoteOpeners(t *testing.T) {
	data := "[agent]\n" +
		"keystone_auth_pw = `s3cr3t ; comment\n" +
		"keystone_auth_project = admin\n" +
		"a = `closed`\n" +
		"b = \"\"\"triple\"\"\"\n" +
		"c = \"\"\"open\n" +
		"d: `x\"\"\"y\n" +
		"e = \"\"\"\n" +
		"f = \"\"\"a\"\n" +
		"g = ``\n" +
		"h=`\n" +
		"[timeouts]\n" +
		"swact_timeout = 100\n"
	f, err := parseINI("mtc.ini", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[[2]string]string{
		{"agent", "keystone_auth_pw"}: "`s3cr3t", {"agent", "keystone_auth_project"}: "admin",
		{"agent", "a"}: "`closed`", {"agent", "b"}: `"""triple"""`, {"agent", "c"}: `"""open`,
		{"agent", "d"}: "`x\"\"\"y", {"agent", "e"}: `"""`, {"agent", "f"}: `"""a"`, {"agent", "g"}: "``",
		{"agent", "h"}: "`", {"timeouts", "swact_timeout"}: "100",
	}
	for k, w := range want {
		if got, ok := f.get(k[0], k[1]); !ok || got != w {
			t.Errorf("[%s] %s = %q (%v), want %q", k[0], k[1], got, ok, w)
		}
	}
}

// TestSyntaxErrorRedactsSecrets: the offending line is named, but a
// password on it is not.
func TestSyntaxErrorRedactsSecrets(t *testing.T) {
	for _, content := range []string{
		"[agent]\nkeystone_auth_pw s3cr3t\n",
		"[agent]\n  keystone_auth_pw\ts3cr3t\n",
		"[agent]\nKeystone_Password s3cr3t\n",
	} {
		_, err := parseINI("/etc/mtc.ini", []byte(content))
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Fatalf("%q: %v", content, err)
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(se.Text, "s3cr3t") {
			t.Errorf("%q: password in %q", content, err)
		}
		if se.Line == 0 || !strings.Contains(se.Text, redacted) {
			t.Errorf("%q: %+v", content, se)
		}
	}
	// A password that opens a backtick quote is neither swallowed with
	// the lines after it nor echoed by the error about a later line.
	_, err := parseINI("/etc/mtc.ini", []byte("[agent]\nkeystone_auth_pw=`s3cr3t\nbroken\n"))
	if se, ok := errors.AsType[*SyntaxError](err); !ok || se.Line != 3 || se.Text != "broken" || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("%v", err)
	}
	// Other lines are named verbatim.
	_, err = parseINI("/etc/mtc.ini", []byte("[agent]\nkeystone_auth_username admin\n"))
	if se, ok := errors.AsType[*SyntaxError](err); !ok || se.Text != "keystone_auth_username admin" || se.Line != 2 {
		t.Errorf("%v", err)
	}
}
