package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
	"opendev.org/starlingx/metal-go/bmc/redfish"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// rig is one agent on a sim with fake clients for every host but the
// agent's own.
type rig struct {
	s     *sim.Sim
	n     *memNet
	a     *Agent
	fakes map[string]*fakeHost
	ctx   context.Context
}

func newRig(t *testing.T, sc sim.Config, edit func(*Config)) *rig {
	t.Helper()
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	n := newMemNet()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	r := &rig{s: s, n: n, fakes: map[string]*fakeHost{}, ctx: ctx}
	for _, h := range sc.Hosts[1:] {
		f := n.addHost(t, h, h.Administrative == "locked")
		r.fakes[h.Hostname] = f
		go f.run(ctx)
	}
	c := testConfig(t, s, n)
	if edit != nil {
		edit(&c)
	}
	a, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	r.a = a
	started(t, a)
	return r
}

func (r *rig) sysinv(name string) sim.Host { h, _ := r.s.Host(name); return h }

func (r *rig) states(name string) string {
	h := r.sysinv(name)
	return h.Administrative + "-" + h.Operational + "-" + h.Availability
}

func (r *rig) taskSeen(name string, task mtce.Task) bool {
	for _, c := range r.s.TaskHistory(name) {
		if c.Task == string(task) {
			return true
		}
	}
	return false
}

func count(cmds []wire.Command, c wire.Command) int {
	n := 0
	for _, x := range cmds {
		if x == c {
			n++
		}
	}
	return n
}

func lockedWorker(sc *sim.Config) {
	h := &sc.Hosts[2]
	h.Administrative, h.Operational, h.Availability = "locked", "disabled", "online"
}

// TestForceLockResets: a force-lock locks, then resets the host (cmd 4);
// it goes offline and comes back online, locked.
func TestForceLockResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, simConfig(), nil)
		w := r.fakes["worker-0"]
		if err := r.a.Request(r.ctx, "worker-0", mtce.ActionForceLock); err != nil {
			t.Fatal(err)
		}
		if err := waitUntil(time.Minute, func() bool { return count(w.commands(), wire.CmdReset) == 1 }); err != nil {
			t.Fatalf("no reset: %v", w.commands())
		}
		if !r.taskSeen("worker-0", mtce.TaskForceLocking) || !r.taskSeen("worker-0", mtce.TaskDisableForce) {
			t.Errorf("tasks %+v", r.s.TaskHistory("worker-0"))
		}
		if err := waitUntil(time.Minute, func() bool { return r.states("worker-0") == "locked-disabled-offline" }); err != nil {
			t.Errorf("not offline after the reset: %s", r.states("worker-0"))
		}
		if err := waitUntil(time.Minute, func() bool { return r.states("worker-0") == "locked-disabled-online" }); err != nil {
			t.Errorf("not back online: %s", r.states("worker-0"))
		}
		if h := hostRec(r.a, "worker-0"); h.Admin != mtce.AdminLocked || h.Running != "" {
			t.Errorf("record %+v", h)
		}
	})
}

// TestServicesFailureAutoRecovery: a services-failure flag on an enabled
// host fails it; it is rebooted after 30 s up to ar_hostservices_threshold
// (2) times; the third failure leaves it failed with auto-recovery off.
func TestServicesFailureAutoRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, simConfig(), nil)
		w := r.fakes["worker-0"]
		synctest.Wait()
		w.set(func(f *fakeHost) { f.failSvc = true })
		failedAt := time.Now() // seen at the next mtcAlive, within 5 s
		if err := waitUntil(10*time.Second, func() bool { return r.states("worker-0") == "unlocked-disabled-failed" }); err != nil {
			t.Fatalf("not failed: %s", r.states("worker-0"))
		}
		if err := waitUntil(40*time.Second, func() bool { return count(w.commands(), wire.CmdReboot) == 1 }); err != nil {
			t.Fatal("no recovery reboot")
		}
		if d := time.Since(failedAt); d < 30*time.Second || d > 35*time.Second {
			t.Errorf("recovery reboot %v after the failure, want the 30 s interval", d)
		}
		if err := waitUntil(5*time.Minute, func() bool { return r.sysinv("worker-0").Task == string(mtce.TaskARDisabledServices) }); err != nil {
			t.Fatalf("threshold never reached: task %q, reboots %d", r.sysinv("worker-0").Task, count(w.commands(), wire.CmdReboot))
		}
		if n := count(w.commands(), wire.CmdReboot); n != 2 {
			t.Errorf("%d recovery reboots, want 2 (threshold)", n)
		}
		if got := r.states("worker-0"); got != "unlocked-disabled-failed" {
			t.Errorf("left %s", got)
		}
		if h := hostRec(r.a, "worker-0"); !slices.Contains(h.ARDisabled, "hostservices") {
			t.Errorf("record %+v", h)
		}
		// Nothing more happens on its own.
		time.Sleep(5 * time.Minute)
		if n := count(w.commands(), wire.CmdReboot); n != 2 {
			t.Errorf("%d reboots after the threshold", n)
		}
	})
}

// TestBootTimeoutReboots: an unlock whose host comes back without
// goenabled writes "Boot Failed, rebooting" at worker_boot_timeout and
// reboots it again; once it boots right it is enabled.
func TestBootTimeoutReboots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		lockedWorker(&sc)
		r := newRig(t, sc, nil)
		w := r.fakes["worker-0"]
		w.set(func(f *fakeHost) { f.flags = wire.FlagConfigured })
		start := time.Now()
		if err := r.a.Request(r.ctx, "worker-0", mtce.ActionUnlock); err != nil {
			t.Fatal(err)
		}
		if err := waitUntil(15*time.Minute, func() bool { return count(w.commands(), wire.CmdReboot) == 2 }); err != nil {
			t.Fatalf("no second reboot: %v", w.commands())
		}
		wb := r.a.mtc.Load().Timeouts.WorkerBoot
		if d := time.Since(start); d < wb || d > wb+2*time.Second {
			t.Errorf("second reboot %v after the unlock, want worker_boot_timeout %v", d, wb)
		}
		if !r.taskSeen("worker-0", mtce.TaskBootFail) {
			t.Errorf("no %q task: %+v", mtce.TaskBootFail, r.s.TaskHistory("worker-0"))
		}
		w.set(func(f *fakeHost) { f.flags = wire.FlagConfigured | wire.FlagMainGoEnabled })
		if err := waitUntil(2*time.Minute, func() bool { return r.states("worker-0") == "unlocked-enabled-available" }); err != nil {
			t.Errorf("not enabled: %s", r.states("worker-0"))
		}
	})
}

// TestSpontaneousReboot: an enabled worker that reboots on its own is
// failed while away and re-enabled when it returns configured and
// goenabled (its services started by its own client).
func TestSpontaneousReboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, simConfig(), nil)
		w := r.fakes["worker-0"]
		synctest.Wait()
		w.set(func(f *fakeHost) { f.down = true })
		time.AfterFunc(60*time.Second, func() {
			w.set(func(f *fakeHost) { f.down = false; f.bootedAt = time.Now() })
		})
		if err := waitUntil(30*time.Second, func() bool { return r.states("worker-0") == "unlocked-disabled-failed" }); err != nil {
			t.Fatalf("not failed while away: %s", r.states("worker-0"))
		}
		if err := waitUntil(2*time.Minute, func() bool { return r.states("worker-0") == "unlocked-enabled-available" }); err != nil {
			t.Fatalf("not re-enabled: %s", r.states("worker-0"))
		}
		if n := count(w.commands(), wire.CmdReboot); n != 0 {
			t.Errorf("the agent rebooted it %d times", n)
		}
		if !vimSaw(r.s, "worker-0", "unlocked", "disabled") || !vimSaw(r.s, "worker-0", "unlocked", "enabled") {
			t.Errorf("VIM changes %+v", r.s.VIMStateChanges())
		}
	})
}

// TestAIOUnlockWaitsForSubfunction: an AIO controller is enabled only
// with subfunction goenabled, and its worker subfunction too.
func TestAIOUnlockWaitsForSubfunction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		c1 := &sc.Hosts[1]
		c1.Subfunctions = "controller,worker"
		c1.Administrative, c1.Operational, c1.Availability = "locked", "disabled", "online"
		r := newRig(t, sc, nil)
		f := r.fakes["controller-1"]
		if err := r.a.Request(r.ctx, "controller-1", mtce.ActionUnlock); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		if got := r.states("controller-1"); got == "unlocked-enabled-available" {
			t.Fatalf("enabled without subfunction goenabled")
		}
		f.set(func(f *fakeHost) { f.flags |= wire.FlagSubfGoEnabled })
		if err := waitUntil(time.Minute, func() bool { return r.states("controller-1") == "unlocked-enabled-available" }); err != nil {
			t.Fatalf("not enabled: %s", r.states("controller-1"))
		}
		if h := r.sysinv("controller-1"); h.SubfunctionOper != "enabled" || h.SubfunctionAvail != "available" {
			t.Errorf("subfunction states %s-%s", h.SubfunctionOper, h.SubfunctionAvail)
		}
	})
}

// TestBMCResetRedfish: reset of a locked host through the Redfish
// emulator, the password fetched from Barbican in the background when
// the BMC is provisioned.
func TestBMCResetRedfish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		lockedWorker(&sc)
		w := &sc.Hosts[2]
		w.BMType, w.BMIP, w.BMUsername = "redfish", "10.10.10.5", "admin"
		sc.Secrets = map[string]sim.Secret{w.UUID: "secret"}
		bs, err := bmcsim.New(bmcsim.Config{PowerState: "On"})
		if err != nil {
			t.Fatal(err)
		}
		defer bs.Close()
		var mu sync.Mutex
		var provisioned []string
		r := newRig(t, sc, func(c *Config) {
			c.NewBMC = func(ctx context.Context, h BMCHost, pw bmc.Password) (bmc.Driver, error) {
				rc := redfish.DefaultConfig()
				rc.Endpoint, rc.Username, rc.Password, rc.Transport = "https://"+h.BMIP, h.BMUsername, pw, bs.Transport()
				return redfish.New(rc)
			}
			c.OnBMCProvisioned = func(h BMCHost) { mu.Lock(); provisioned = append(provisioned, h.Name); mu.Unlock() }
			c.OnBMCDeprovisioned = func(name string) { mu.Lock(); provisioned = append(provisioned, "-"+name); mu.Unlock() }
		})
		synctest.Wait()
		if h := hostRec(r.a, "worker-0"); !h.BMCPassword {
			t.Errorf("password not fetched at provisioning: %+v", h)
		}
		if err := r.a.Request(r.ctx, "worker-0", mtce.ActionReset); err != nil {
			t.Fatal(err)
		}
		if err := waitUntil(time.Minute, func() bool { return r.sysinv("worker-0").Task == string(mtce.TaskResetCompleted) }); err != nil {
			t.Fatalf("task %q; tasks %+v", r.sysinv("worker-0").Task, r.s.TaskHistory("worker-0"))
		}
		if got := bs.ResetLog(); len(got) != 1 || !strings.Contains(got[0], "Restart") {
			t.Errorf("BMC resets %v", got)
		}
		if err := waitUntil(time.Minute, func() bool { return r.sysinv("worker-0").Task == "" }); err != nil {
			t.Errorf("completion task not cleared after 30 s")
		}
		pw, err := r.a.Password(r.ctx, BMCHost{Name: "worker-0", UUID: w.UUID, BMIP: w.BMIP, BMUsername: "admin", BMType: mtce.BMCRedfish})
		if err != nil || pw.Reveal() != "secret" {
			t.Errorf("Password: %v", err)
		}
		// Delete through the event API: forgotten, BMC deprovisioned.
		req := httptest.NewRequest(http.MethodDelete, "/v1/hosts/"+w.UUID, strings.NewReader("null"))
		req.Header.Set("User-Agent", "sysinv/1.0")
		rec := httptest.NewRecorder()
		r.a.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || hostRec(r.a, "worker-0").Name != "" {
			t.Errorf("delete: %d %s", rec.Code, rec.Body)
		}
		mu.Lock()
		if !slices.Equal(provisioned, []string{"worker-0", "-worker-0"}) {
			t.Errorf("provisioning hooks %v", provisioned)
		}
		mu.Unlock()
	})
}

// TestAddBound: an added host is "adding" (VIM's host list 202) until its
// first mtcAlive; its initial action runs after host_add_delay.
func TestAddBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, simConfig(), nil)
		body := `{"uuid":"6a9f8e1c-5c53-4f5e-9d0a-1b2c3d4e5f60","hostname":"worker-1","personality":"worker","subfunctions":"worker",` +
			`"mgmt_ip":"192.168.204.9","mgmt_mac":"08:00:27:00:00:09","administrative":"locked","operational":"disabled",` +
			`"availability":"offline","action":"none","operation":"add","invprovision":"unprovisioned"}`
		req := httptest.NewRequest(http.MethodPost, "/v1/hosts/", strings.NewReader(body))
		req.Header.Set("User-Agent", "sysinv/1.0")
		rec := httptest.NewRecorder()
		r.a.handler.ServeHTTP(rec, req)
		if !strings.Contains(rec.Body.String(), `"pass"`) {
			t.Fatalf("add: %d %s", rec.Code, rec.Body)
		}
		if h := hostRec(r.a, "worker-1"); !h.Adding {
			t.Errorf("not adding: %+v", h)
		}
		vimList := func() int {
			req := httptest.NewRequest(http.MethodGet, "/v1/systems", nil)
			req.Header.Set("User-Agent", "vim/1.0")
			rec := httptest.NewRecorder()
			r.a.handler.ServeHTTP(rec, req)
			return rec.Code
		}
		if c := vimList(); c != http.StatusAccepted {
			t.Errorf("VIM list while adding: %d", c)
		}
		al, _ := wire.NewMtcAlive(wire.Alive{Uptime: 40, Identity: wire.Identity{Hostname: "worker-1", Interface: mtce.NetworkMgmt}})
		r.n.deliver(mustAddrPort("192.168.204.9:2118"), al)
		synctest.Wait()
		if h := hostRec(r.a, "worker-1"); h.Adding || !h.Online {
			t.Errorf("after mtcAlive: %+v", h)
		}
		if c := vimList(); c != http.StatusOK {
			t.Errorf("VIM list after the add: %d", c)
		}
	})
}

// TestAdminHandlerAndCollector: the admin API's JSON and the collector's
// metric families.
func TestAdminHandlerAndCollector(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, simConfig(), nil)
		h := r.a.AdminHandler()
		do := func(method, path string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			return rec
		}
		var hosts []HostStatus
		if rec := do("GET", "/v1/hosts"); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &hosts) != nil || len(hosts) != 3 {
			t.Errorf("GET /v1/hosts: %d %s", rec.Code, rec.Body)
		}
		var st Status
		if rec := do("GET", "/v1/status"); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &st) != nil || !st.Token.Valid || !st.Ready {
			t.Errorf("GET /v1/status: %d %s", rec.Code, rec.Body)
		}
		if rec := do("GET", "/v1/status"); bytes.Contains(rec.Body.Bytes(), []byte("gAAAA")) {
			t.Errorf("status leaks a token")
		}
		if rec := do("POST", "/v1/hosts/worker-0/bogus"); rec.Code != 400 {
			t.Errorf("bogus action: %d", rec.Code)
		}
		if rec := do("POST", "/v1/hosts/worker-0/swact"); rec.Code != 409 || !strings.Contains(rec.Body.String(), "reason") {
			t.Errorf("swact of a worker: %d %s", rec.Code, rec.Body)
		}
		if rec := do("POST", "/v1/hosts/nobody/lock"); rec.Code != 404 {
			t.Errorf("unknown host: %d", rec.Code)
		}
		if rec := do("POST", "/v1/hosts/worker-0/lock"); rec.Code != 202 {
			t.Errorf("lock: %d %s", rec.Code, rec.Body)
		}
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(r.a.Collector()); err != nil {
			t.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
		for _, want := range []string{"mtcagent_queue_pending", "mtcagent_token_renewals_total", "mtcagent_token_age_seconds",
			"mtcagent_swact_in_progress", "mtcagent_hosts", "mtcagent_udp_messages_total", "mtcagent_actions_total"} {
			if !slices.Contains(names, want) {
				t.Errorf("metric %s missing from %v", want, names)
			}
		}
	})
}
