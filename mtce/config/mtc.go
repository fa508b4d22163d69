package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"time"
)

// Mtc is maintenance's configuration: /etc/mtc.conf with /etc/mtc.ini read
// after it (a key in mtc.ini wins over the same key in mtc.conf, spec K.6).
// Durations are converted from the files' seconds or milliseconds.
type Mtc struct {
	Agent     Agent
	Client    Client
	Timeouts  Timeouts
	Debug     Debug
	Keystone  Keystone  // mtc.ini [agent]
	Heartbeat Heartbeat // mtc.ini [agent]

	// Virtual is set when /var/run/virtual.host exists; it changes the
	// controller boot timeout and the heartbeat period (spec K.6).
	Virtual bool
	// Corrections lists every value changed from what the files say, in
	// the order applied; each was also logged as a warning.
	Corrections []Correction
}

// Agent is mtc.conf [agent]. Keys StarlingX never reads (inventory_port,
// barbican_port, [agent] mtc_rx_mgmnt_port and mtc_rx_clstr_port; the
// SysInv and Barbican endpoints come from their own files) are not kept.
type Agent struct {
	MtcAgentPort      int // agent receive port on mgmt and cluster-host (2101)
	MtcRxPxebootPort  int // agent receive port on pxeboot (2102)
	KeystonePort      int // 5000
	HAPort            int // SM (7777)
	InvEventPort      int // the agent's HTTP event API on 127.0.0.1 (2112)
	MtcToHbsCmdPort   int // 2104
	HbsToMtcEventPort int // 2107
	MtcToGuestCmdPort int // 2108
	HbsAgentMgmtPort  int // 2103
	HbsAgentClstrPort int // 2113

	TokenRefreshRate time.Duration // 0 = no refresh; at most 8 h
	APIRetries       int           // the startup inventory load gives up after APIRetries+10 failures
	HTTPRetryWait    time.Duration // parsed, not used by the work queue
	BMCResetDelay    time.Duration
	HostAddDelay     time.Duration
	LazyRebootDelay  time.Duration

	OfflinePeriod     time.Duration // offline audit period (milliseconds in the file), at least 10 ms
	OfflineThreshold  int
	HbsMinorThreshold int

	AutorecoveryThreshold int
	ARConfig              AutoRecovery
	ARGoEnable            AutoRecovery
	ARHostServices        AutoRecovery
	ARHeartbeat           AutoRecovery
	ARLUKS                AutoRecovery
}

// AutoRecovery is one ar_<cause>_threshold / ar_<cause>_interval pair.
type AutoRecovery struct {
	Threshold int
	Interval  time.Duration
}

// Client is mtc.conf [client].
type Client struct {
	MtcRxMgmtPort      int // 2118
	MtcRxClstrPort     int // 2115
	MtcRxPxebootPort   int // 2119
	HwmonCmdPort       int // 2114
	DaemonLogPort      int // 2121
	MtcAlarmReqPort    int // 2122
	PmonPulsePort      int // 2109
	HbsClientMgmtPort  int // 2106
	HbsClientClstrPort int // 2116
}

// Timeouts is [timeouts] of mtc.conf and mtc.ini.
type Timeouts struct {
	Swact                 time.Duration // at least 60 s
	Sysinv                time.Duration // critical sysinv requests
	SysinvNoncrit         time.Duration
	WorkQueue             time.Duration
	HostServices          time.Duration // client's script timeout; the agent waits 5 s more
	GoEnabled             time.Duration
	UptimePeriod          time.Duration
	OnlinePeriod          time.Duration
	InsvTestPeriod        time.Duration
	OosTestPeriod         time.Duration
	FailsafeShutdownDelay time.Duration // see FailsafeRebootDelay
	NodeReinstall         time.Duration
	DorModeDetect         time.Duration
	DorModeTimeout        time.Duration
	DorRecoveryTimeoutExt time.Duration
	LocRecovery           time.Duration
	ControllerBoot        time.Duration // mtc.ini; doubled on a virtual host
	WorkerBoot            time.Duration // mtc.ini
}

// FailsafeRebootDelay is how long mtcClient lets a reboot or lazy reboot
// run before forcing one.
func (t Timeouts) FailsafeRebootDelay() time.Duration { return t.FailsafeShutdownDelay }

// FailsafeResetDelay is the same for reset and wipedisk: half of it, in
// whole seconds as mtcClient computes it.
func (t Timeouts) FailsafeResetDelay() time.Duration {
	return time.Duration(int64(t.FailsafeShutdownDelay/time.Second)/2) * time.Second
}

// Debug is mtc.conf [debug] (only the keys this module uses).
type Debug struct {
	TestMode   int    // must be 1 for fault insertion
	FitCode    int    // fit_code
	FitHost    string // fit_host, "none" by default
	DebugWork  int    // work-queue trace
	DebugHTTP  int
	DebugJSON  int
	DebugEvent string // name of an HTTP API to trace, "none" by default
}

// Keystone is the keystone part of mtc.ini [agent].
type Keystone struct {
	AuthHost      string // keystone_auth_host, "localhost" by default
	AuthURI       string
	Username      string
	Password      Secret
	Project       string
	UserDomain    string
	ProjectDomain string
	RegionName    string // "none" by default
}

// Heartbeat is the heartbeat part of mtc.ini [agent].
type Heartbeat struct {
	Period           time.Duration // 100 ms..1 s
	FailureThreshold int
	DegradeThreshold int
	FailureAction    HeartbeatAction
}

// HeartbeatAction is what mtcAgent does when a host's heartbeat fails
// (mtc.ini heartbeat_failure_action).
type HeartbeatAction uint8

// Heartbeat failure actions. Any text other than "none", "alarm" and
// "degrade" means fail.
const (
	HeartbeatFail    HeartbeatAction = iota // "fail": fail the host (default)
	HeartbeatDegrade                        // "degrade": degrade and alarm
	HeartbeatAlarm                          // "alarm": alarm only
	HeartbeatNone                           // "none": nothing
)

// String returns the mtc.ini text of a.
func (a HeartbeatAction) String() string {
	switch a {
	case HeartbeatFail:
		return "fail"
	case HeartbeatDegrade:
		return "degrade"
	case HeartbeatAlarm:
		return "alarm"
	case HeartbeatNone:
		return "none"
	}
	return "HeartbeatAction(" + strconv.Itoa(int(a)) + ")"
}

// ParseHeartbeatAction accepts exactly "fail", "degrade", "alarm" and
// "none". (The loader, like mtce, maps any other text to HeartbeatFail.)
func ParseHeartbeatAction(s string) (HeartbeatAction, error) {
	for a := HeartbeatFail; a <= HeartbeatNone; a++ {
		if a.String() == s {
			return a, nil
		}
	}
	return HeartbeatFail, fmt.Errorf("config: invalid heartbeat failure action %q", s)
}

// Required keys (spec K.6): missing ones make the daemon fail.
var (
	requiredAgent = [][2]string{
		{"agent", "mtc_agent_port"}, {"agent", "ha_port"}, {"agent", "keystone_port"},
		{"agent", "token_refresh_rate"}, {"agent", "inv_event_port"}, {"agent", "api_retries"},
		{"agent", "mtc_to_hbs_cmd_port"}, {"agent", "hbs_to_mtc_event_port"},
		{"client", "mtc_rx_mgmnt_port"}, {"client", "mtc_rx_clstr_port"}, {"client", "hwmon_cmd_port"},
		{"timeouts", "loc_recovery_timeout"},
	}
	requiredClient = [][2]string{
		{"agent", "mtc_agent_port"}, {"client", "mtc_rx_mgmnt_port"}, {"client", "mtc_rx_clstr_port"},
	}
)

// LoadMtc reads /etc/mtc.conf (required) and /etc/mtc.ini (optional) under
// cfg.Root and applies StarlingX's defaults and corrections:
//
//   - swact_timeout below 60 s (0 included) becomes 60 s; absent, 120 s.
//   - uptime_period below 5 s becomes 5 s; absent, 0.
//   - token_refresh_rate above 28800 s becomes 28800 s (no minimum).
//   - sysinv_timeout / sysinv_noncrit_timeout of 0 or above 127 s become
//     20 s / 10 s (negative values are kept); absent counts as 0.
//   - work_queue_timeout of 0 or above 500 s becomes 60 s, not the
//     file's 200; absent counts as 0.
//   - online_period below 7 s becomes 7 s; offline_period below 10 ms
//     becomes 10 ms; dor_mode_detect ≤ 0 becomes 1200 s; dor_mode_timeout
//     ≤ 0 becomes 900 s; absent counts as 0.
//   - node_reinstall_timeout outside 60..14400 s becomes 2400 s.
//   - goenabled_timeout 0 becomes 300 s; controller_ and
//     worker_boot_timeout 0 become 1200 s (absent counts as 0); a present
//     controller_boot_timeout is doubled on a virtual host.
//   - failsafe_shutdown_delay below 1 s becomes 2 s (absent counts as 0).
//   - heartbeat_period outside 100..1000 ms becomes 100 ms (1000 ms on a
//     virtual host); heartbeat_failure_action other than none, alarm or
//     degrade means fail.
//
// Every other absent key takes the value of StarlingX's stock file (spec
// H). Integers are read as C's atoi reads them ("120;" is 120, "abc" is
// 0). Each change of a value that was read is logged as a warning naming
// the key, the value read and the value used, and listed in
// Mtc.Corrections. Unknown keys are ignored.
//
// Errors: a missing or unparseable file (*SyntaxError naming the file and
// the offending line), and *MissingKeyError for each key cfg.Role
// requires that neither file has (joined).
func LoadMtc(cfg Config) (*Mtc, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conf, err := readINI(cfg.Path(MtcConfPath))
	if err != nil {
		return nil, err
	}
	ini, err := readINI(cfg.Path(MtcIniPath))
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	_, statErr := os.Stat(cfg.Path(VirtualHostFlagPath))
	return buildMtc(cfg.Role, cfg.logger(), conf, ini, statErr == nil)
}

// loader reads keys from mtc.conf then mtc.ini, the later file winning.
type loader struct {
	log         *slog.Logger
	files       []*iniFile
	corrections []Correction
}

func (l *loader) lookup(section, key string) (val, file string, ok bool) {
	for i := len(l.files) - 1; i >= 0; i-- {
		if v, found := l.files[i].get(section, key); found {
			return v, l.files[i].path, true
		}
	}
	return "", "", false
}

func (l *loader) correct(file, section, key, read, used, reason string) {
	l.corrections = append(l.corrections, Correction{File: file, Section: section, Key: key, Read: read, Used: used, Reason: reason})
	l.log.Warn("config value corrected", "file", file, "section", section, "key", key,
		"read", read, "used", used, "reason", reason)
}

// intKey is one integer key as read: its value (0 when absent, as mtce's
// zeroed config struct has it), whether it was present, and where from.
type intKey struct {
	section, key string
	v            int
	present      bool
	read, file   string
}

// get reads an integer key with atoi semantics, recording a correction
// when the text is not a clean integer.
func (l *loader) get(section, key string) intKey {
	k := intKey{section: section, key: key}
	s, file, ok := l.lookup(section, key)
	if !ok {
		return k
	}
	k.present, k.read, k.file = true, s, file
	v, clean := atoi(s)
	k.v = v
	if !clean {
		l.correct(file, section, key, s, strconv.Itoa(v), "not a clean integer; read as C atoi does")
	}
	return k
}

// or returns the value if present, def otherwise.
func (k intKey) or(def int) int {
	if k.present {
		return k.v
	}
	return def
}

// fix replaces the value with to when bad says so, recording a correction
// if the key was read.
func (l *loader) fix(k intKey, bad bool, to int, reason string) int {
	if !bad {
		return k.v
	}
	if k.present {
		l.correct(k.file, k.section, k.key, k.read, strconv.Itoa(to), reason)
	}
	return to
}

func secs(n int) time.Duration   { return time.Duration(n) * time.Second }
func millis(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func buildMtc(role Role, log *slog.Logger, conf, ini *iniFile, virtual bool) (*Mtc, error) {
	l := &loader{log: log, files: []*iniFile{conf}}
	if ini != nil {
		l.files = append(l.files, ini)
	}
	var missing []error
	required := requiredAgent
	if role == RoleClient {
		required = requiredClient
	}
	for _, r := range required {
		if _, _, ok := l.lookup(r[0], r[1]); !ok {
			missing = append(missing, &MissingKeyError{File: conf.path, Section: r[0], Key: r[1]})
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}

	m := &Mtc{Virtual: virtual}
	a := &m.Agent
	a.MtcAgentPort = l.get("agent", "mtc_agent_port").or(2101)
	a.MtcRxPxebootPort = l.get("agent", "mtc_rx_pxeboot_port").or(2102)
	a.KeystonePort = l.get("agent", "keystone_port").or(5000)
	a.HAPort = l.get("agent", "ha_port").or(7777)
	a.InvEventPort = l.get("agent", "inv_event_port").or(2112)
	a.MtcToHbsCmdPort = l.get("agent", "mtc_to_hbs_cmd_port").or(2104)
	a.HbsToMtcEventPort = l.get("agent", "hbs_to_mtc_event_port").or(2107)
	a.MtcToGuestCmdPort = l.get("agent", "mtc_to_guest_cmd_port").or(2108)
	a.HbsAgentMgmtPort = l.get("agent", "hbs_agent_mgmnt_port").or(2103)
	a.HbsAgentClstrPort = l.get("agent", "hbs_agent_clstr_port").or(2113)

	if k := l.get("agent", "token_refresh_rate"); k.present {
		a.TokenRefreshRate = secs(l.fix(k, k.v > 28800, 28800, "above the 28800 s maximum"))
	} else {
		a.TokenRefreshRate = secs(1200)
	}
	a.APIRetries = l.get("agent", "api_retries").or(10)
	a.HTTPRetryWait = secs(l.get("agent", "http_retry_wait").or(10))
	a.BMCResetDelay = secs(l.get("agent", "bmc_reset_delay").or(300))
	a.HostAddDelay = secs(l.get("agent", "host_add_delay").or(20))
	a.LazyRebootDelay = secs(l.get("agent", "lazy_reboot_delay").or(15))
	k := l.get("agent", "offline_period")
	a.OfflinePeriod = millis(l.fix(k, k.v < 10, 10, "below the 10 ms minimum"))
	a.OfflineThreshold = l.get("agent", "offline_threshold").or(90)
	a.HbsMinorThreshold = l.get("agent", "hbs_minor_threshold").or(4)
	a.AutorecoveryThreshold = l.get("agent", "autorecovery_threshold").or(3)
	ar := func(cause string, interval int) AutoRecovery {
		return AutoRecovery{
			Threshold: l.get("agent", "ar_"+cause+"_threshold").or(2),
			Interval:  secs(l.get("agent", "ar_"+cause+"_interval").or(interval)),
		}
	}
	a.ARConfig = ar("config", 30)
	a.ARGoEnable = ar("goenable", 30)
	a.ARHostServices = ar("hostservices", 30)
	a.ARHeartbeat = ar("heartbeat", 600)
	a.ARLUKS = ar("luks", 30)

	c := &m.Client
	c.MtcRxMgmtPort = l.get("client", "mtc_rx_mgmnt_port").or(2118)
	c.MtcRxClstrPort = l.get("client", "mtc_rx_clstr_port").or(2115)
	c.MtcRxPxebootPort = l.get("client", "mtc_rx_pxeboot_port").or(2119)
	c.HwmonCmdPort = l.get("client", "hwmon_cmd_port").or(2114)
	c.DaemonLogPort = l.get("client", "daemon_log_port").or(2121)
	c.MtcAlarmReqPort = l.get("client", "mtcalarm_req_port").or(2122)
	c.PmonPulsePort = l.get("client", "pmon_pulse_port").or(2109)
	c.HbsClientMgmtPort = l.get("client", "hbs_client_mgmnt_port").or(2106)
	c.HbsClientClstrPort = l.get("client", "hbs_client_clstr_port").or(2116)

	t := &m.Timeouts
	if k := l.get("timeouts", "swact_timeout"); k.present {
		t.Swact = secs(l.fix(k, k.v < 60, 60, "(override) below the 60 s minimum"))
	} else {
		t.Swact = secs(120)
	}
	if k := l.get("timeouts", "uptime_period"); k.present {
		t.UptimePeriod = secs(l.fix(k, k.v < 5, 5, "below the 5 s minimum"))
	}
	k = l.get("timeouts", "sysinv_timeout")
	t.Sysinv = secs(l.fix(k, k.v == 0 || k.v > 127, 20, "0 or above 127 s"))
	k = l.get("timeouts", "sysinv_noncrit_timeout")
	t.SysinvNoncrit = secs(l.fix(k, k.v == 0 || k.v > 127, 10, "0 or above 127 s"))
	k = l.get("timeouts", "work_queue_timeout")
	t.WorkQueue = secs(l.fix(k, k.v == 0 || k.v > 500, 60, "0 or above 500 s; mtce uses MTC_WORKQUEUE_TIMEOUT"))
	t.HostServices = secs(l.get("timeouts", "host_services_timeout").or(300))
	k = l.get("timeouts", "goenabled_timeout")
	t.GoEnabled = secs(l.fix(k, k.v == 0, 300, "0"))
	k = l.get("timeouts", "online_period")
	t.OnlinePeriod = secs(l.fix(k, k.v < 7, 7, "below the 7 s minimum"))
	t.InsvTestPeriod = secs(l.get("timeouts", "insv_test_period").or(10))
	t.OosTestPeriod = secs(l.get("timeouts", "oos_test_period").or(300))
	k = l.get("timeouts", "failsafe_shutdown_delay")
	t.FailsafeShutdownDelay = secs(l.fix(k, k.v < 1, 2, "below 1 s"))
	if k := l.get("timeouts", "node_reinstall_timeout"); k.present {
		t.NodeReinstall = secs(l.fix(k, k.v < 60 || k.v > 14400, 2400, "outside 60..14400 s"))
	} else {
		t.NodeReinstall = secs(2400)
	}
	k = l.get("timeouts", "dor_mode_detect")
	t.DorModeDetect = secs(l.fix(k, k.v <= 0, 1200, "not positive"))
	k = l.get("timeouts", "dor_mode_timeout")
	t.DorModeTimeout = secs(l.fix(k, k.v <= 0, 900, "not positive"))
	t.DorRecoveryTimeoutExt = secs(l.get("timeouts", "dor_recovery_timeout_ext").or(1800))
	t.LocRecovery = secs(l.get("timeouts", "loc_recovery_timeout").or(5))
	k = l.get("timeouts", "controller_boot_timeout")
	if k.present && virtual && k.v != 0 {
		doubled := k.v * 2
		l.correct(k.file, k.section, k.key, k.read, strconv.Itoa(doubled), "doubled on a virtual host")
		k.v = doubled
	}
	t.ControllerBoot = secs(l.fix(k, k.v == 0, 1200, "0"))
	k = l.get("timeouts", "worker_boot_timeout")
	t.WorkerBoot = secs(l.fix(k, k.v == 0, 1200, "0"))

	d := &m.Debug
	d.TestMode = l.get("debug", "testmode").or(0)
	d.FitCode = l.get("debug", "fit_code").or(0)
	d.FitHost = l.str("debug", "fit_host", "none")
	d.DebugWork = l.get("debug", "debug_work").or(0)
	d.DebugHTTP = l.get("debug", "debug_http").or(0)
	d.DebugJSON = l.get("debug", "debug_json").or(0)
	d.DebugEvent = l.str("debug", "debug_event", "none")

	ks := &m.Keystone
	ks.AuthHost = l.str("agent", "keystone_auth_host", "localhost")
	ks.AuthURI = l.str("agent", "keystone_auth_uri", "")
	ks.Username = l.str("agent", "keystone_auth_username", "")
	ks.Password = Secret(l.str("agent", "keystone_auth_pw", ""))
	ks.Project = l.str("agent", "keystone_auth_project", "")
	ks.UserDomain = l.str("agent", "keystone_user_domain", "")
	ks.ProjectDomain = l.str("agent", "keystone_project_domain", "")
	ks.RegionName = l.str("agent", "keystone_region_name", "none")

	h := &m.Heartbeat
	period := 100
	if virtual {
		period = 1000
	}
	k = l.get("agent", "heartbeat_period")
	h.Period = millis(l.fix(k, k.v < 100 || k.v > 1000, period, "outside 100..1000 ms"))
	h.FailureThreshold = l.get("agent", "heartbeat_failure_threshold").or(10)
	h.DegradeThreshold = l.get("agent", "heartbeat_degrade_threshold").or(6)
	if s, file, ok := l.lookup("agent", "heartbeat_failure_action"); ok {
		act, err := ParseHeartbeatAction(s)
		if err != nil {
			l.correct(file, "agent", "heartbeat_failure_action", s, act.String(), "not none, alarm or degrade")
		}
		h.FailureAction = act
	}

	m.Corrections = l.corrections
	return m, nil
}

// str returns a string key's value, or def when absent.
func (l *loader) str(section, key, def string) string {
	if v, _, ok := l.lookup(section, key); ok {
		return v
	}
	return def
}

// atoi reads s as C's atoi does — leading blanks, an optional sign, then
// digits up to the first non-digit, 0 if there are none — saturating at
// the int32 range. clean reports whether s was exactly a decimal integer
// in that range.
func atoi(s string) (v int, clean bool) {
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return int(n), true
	}
	i := 0
	for i < len(s) && cSpace(rune(s[i])) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var n int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
		if n > math.MaxInt32+1 {
			n = math.MaxInt32 + 1
		}
	}
	if neg {
		n = -n
	}
	n = max(min(n, math.MaxInt32), math.MinInt32)
	return int(n), false
}
