package sysinv

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform/simtest"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

func simClient(t *testing.T, env *simtest.Env, mod func(*Config)) *Client {
	cfg := DefaultConfig()
	cfg.BaseURL, cfg.HTTPClient, cfg.Queue = env.EP.SysInv, env.Token, env.Queue
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSimInventoryAndUpdates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := simtest.Start(t, nil, nil)
		c := simClient(t, env, nil)
		ctx := t.Context()

		me, err := c.LoadHostRetry(ctx, "controller-0")
		if err != nil {
			t.Fatal(err)
		}
		if me.Personality != mtce.PersonalityController || me.Admin != mtce.AdminUnlocked {
			t.Errorf("controller-0: %+v", me)
		}
		all, err := c.ListHosts(ctx)
		if err != nil || len(all) != 4 {
			t.Fatalf("ListHosts: %d %v", len(all), err)
		}
		w1 := all[3]
		ref := Ref{Name: w1.Name, UUID: w1.UUID}
		task, _ := c.UpdateTask(ref, mtce.TaskEnabling, 120)
		states, _ := c.ForceStates(ref, mtce.AdminUnlocked, mtce.OperDisabled, mtce.AvailInTest)
		info, _ := c.UpdateMtceInfo(ref, `{"bmc_protocol":"redfish"}`)
		h, err := info.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := task.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := states.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if h.Task != mtce.TaskEnabling || h.Avail != mtce.AvailInTest || h.Uptime != 120 || h.MtceInfo != `{"bmc_protocol":"redfish"}` {
			t.Errorf("record after updates: %+v", h)
		}
		if got := env.Sim.Task(w1.Name); got != string(mtce.TaskEnabling) {
			t.Errorf("sim task %q", got)
		}
		clear, _ := c.UpdateTask(ref, mtce.TaskNone, 121)
		if h, err = clear.Wait(ctx); err != nil || h.Task != mtce.TaskNone {
			t.Errorf("clear task: %+v %v", h.Task, err)
		}
	})
}

// TestSimReprovisionedHost: the simulator gives a host a new UUID; an
// update sent to the old one gets 404, reloads the host by name and lands
// on the new record.
func TestSimReprovisionedHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := simtest.Start(t, nil, nil)
		var mu sync.Mutex
		var moved []string
		c := simClient(t, env, func(cfg *Config) {
			cfg.OnUUIDChange = func(name, old, new string) {
				mu.Lock()
				defer mu.Unlock()
				moved = append(moved, new)
			}
		})
		ctx := t.Context()
		old, _ := env.Sim.Host("worker-0")
		const fresh = "11111111-2222-4333-8444-555555555555"
		if err := env.Sim.SetUUID("worker-0", fresh); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		call, _ := c.ForceTask(Ref{Name: "worker-0", UUID: old.UUID}, mtce.TaskTesting, 5)
		h, err := call.Wait(ctx)
		if err != nil || h.UUID != fresh || h.Task != mtce.TaskTesting {
			t.Fatalf("%+v %v", h, err)
		}
		if call.Handle().Attempts() != 2 || time.Since(start) != 5*time.Second {
			t.Errorf("%d attempts in %v, want 2 in 5 s", call.Handle().Attempts(), time.Since(start))
		}
		mu.Lock()
		if len(moved) != 1 || moved[0] != fresh {
			t.Errorf("OnUUIDChange %v", moved)
		}
		mu.Unlock()
		// Deleted host: the update ends with ErrNotFound after one attempt.
		if err := env.Sim.DeleteHost("worker-1"); err != nil {
			t.Fatal(err)
		}
		w1 := sim.NameUUID("worker-1")
		call, _ = c.ForceTask(Ref{Name: "worker-1", UUID: w1}, mtce.TaskTesting, 5)
		if _, err := call.Wait(ctx); !errors.Is(err, ErrNotFound) || call.Handle().Attempts() != 1 {
			t.Errorf("deleted host: %v after %d attempts", err, call.Handle().Attempts())
		}
	})
}

func TestSimSensors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := simtest.Start(t, nil, nil)
		c := simClient(t, env, func(cfg *Config) { cfg.UserAgent = "hwmon/1.0" })
		ctx := t.Context()
		w0, _ := env.Sim.Host("worker-0")
		ref := Ref{Name: "worker-0", UUID: w0.UUID}
		gc, _ := c.AddSensorGroup(ref, SensorGroup{Name: "server temperature", Type: "temperature", DataType: "analog",
			State: "enabled", Status: "ok", ActionsCriticalChoices: "ignore,log,alarm", ActionsMinor: "log",
			ActionsMajor: "log", ActionsCritical: "alarm", Algorithm: "debounce-1", AuditInterval: 120})
		g, err := gc.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sensors []string
		for _, name := range []string{"Inlet Temp", "Exhaust Temp"} {
			sc, _ := c.AddSensor(ref, Sensor{Name: name, Type: "temperature", DataType: "analog", State: "enabled",
				Status: "ok", Thresholds: Thresholds{MajorUpper: 45, CriticalUpper: 50}, Units: Units{Base: "degrees C"}})
			s, err := sc.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.HostUUID != w0.UUID || s.Thresholds.CriticalUpper != 50 {
				t.Errorf("created %+v", s)
			}
			sensors = append(sensors, s.UUID)
		}
		grp, _ := c.GroupSensors(ref, g.UUID, sensors)
		if _, err := grp.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		mod, _ := c.ModifySensor(ref, sensors[0], Field{"state", "disabled"}, Field{"status", "offline"})
		if s, err := mod.Wait(ctx); err != nil || s.State != "disabled" || s.Status != "offline" {
			t.Errorf("modify: %+v %v", s, err)
		}
		lc, _ := c.Sensors(ref)
		list, err := lc.Wait(ctx)
		if err != nil || len(list) != 2 || list[1].Name != "Exhaust Temp" {
			t.Errorf("Sensors: %+v %v", list, err)
		}
		glc, _ := c.SensorGroups(ref)
		if gl, err := glc.Wait(ctx); err != nil || len(gl) != 1 || gl[0].AuditInterval != 120 {
			t.Errorf("SensorGroups: %+v %v", gl, err)
		}
		dc, _ := c.DeleteSensor(ref, sensors[1])
		if _, err := dc.Wait(ctx); err != nil {
			t.Error(err)
		}
		if n := len(env.Sim.Sensors("worker-0")); n != 1 {
			t.Errorf("%d sensors left", n)
		}
		// A second add of the same sensor is refused (409): not retried.
		dup, _ := c.AddSensor(ref, Sensor{Name: "Inlet Temp", Type: "temperature", DataType: "discrete"})
		if _, err := dup.Wait(ctx); !errors.Is(err, ErrStatus) || dup.Handle().Attempts() != 1 {
			t.Errorf("duplicate: %v", err)
		}
	})
}

// TestSimCatalogEndpoint: SysInv's address may come from the token's
// catalog (spec K.7, the "platform" admin endpoint, which ends in /v1)
// instead of sysinv.conf; requests then go to /v1/ihosts/..., not
// /v1/v1/ihosts/....
func TestSimCatalogEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := simtest.Start(t, nil, nil)
		ctx := t.Context()
		tok, err := env.Keystone.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u, err := tok.Endpoint(keystone.EndpointOpts{Type: "platform", Interface: keystone.InterfaceAdmin})
		if err != nil || !strings.HasSuffix(u, "/v1") {
			t.Fatalf("catalog platform admin endpoint %q, %v", u, err)
		}
		c := simClient(t, env, func(c *Config) { c.BaseURL = u })
		me, err := c.LoadHost(ctx, "controller-1")
		if err != nil {
			t.Fatal(err)
		}
		call, err := c.UpdateTask(Ref{Name: me.Name, UUID: me.UUID}, mtce.TaskEnabling, 7)
		if err != nil {
			t.Fatal(err)
		}
		if h, err := call.Wait(ctx); err != nil || h.Task != mtce.TaskEnabling {
			t.Fatalf("update through the catalog endpoint: %+v %v", h.Task, err)
		}
		got := env.Sim.RequestsMatching(func(r sim.Record) bool { return r.Service == sim.SysInv })
		want := []string{"GET /v1/ihosts/controller-1", "PATCH /v1/ihosts/" + me.UUID}
		if len(got) != len(want) {
			t.Fatalf("%d SysInv requests: %+v", len(got), got)
		}
		for i, r := range got {
			if s := r.Method + " " + r.Path; s != want[i] || r.Status != 200 {
				t.Errorf("request %d: %s (%d), want %s (200)", i, s, r.Status, want[i])
			}
		}
	})
}

// TestSimStartupLoadRenews is I.2 item 4 (spec B.7) against the simulator
// with a real keystone.Manager: SysInv refuses the token of the start-up
// load (FIT corrupt_token "first") and then the token keystone.Transport
// renews, so the transport's own renewal is not enough: the load loop
// forces a fresh token through Config.Renew and loads the record at once,
// without its 15 s wait.
func TestSimStartupLoadRenews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := simtest.Start(t, nil, nil)
		ctx := t.Context()
		renews := 0
		c := simClient(t, env, func(c *Config) {
			c.Renew = func(ctx context.Context) error {
				renews++
				tok, err := env.Keystone.Token(ctx)
				if err == nil {
					_, err = env.Keystone.Renew(ctx, tok)
				}
				return err
			}
		})
		if _, err := env.Sim.Inject(sim.Fault{Service: sim.SysInv, Method: "GET", Kind: sim.FaultStatus, Code: 401, Hits: 2,
			Name: "refuse the first token and the transport's renewal"}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		me, err := c.LoadHostRetry(ctx, "controller-0")
		if err != nil || me.Name != "controller-0" {
			t.Fatalf("start-up load: %+v %v", me.Name, err)
		}
		if el := time.Since(start); el != 0 || renews != 1 {
			t.Errorf("loaded after %v with %d forced renewals; want at once, 1", el, renews)
		}
		// The first token, the transport's 401 renewal, the forced one.
		if st := env.Sim.Stats(); st.TokenRequests != 3 || st.FaultsByKind[sim.FaultStatus] != 2 {
			t.Errorf("token requests %d, injected 401s %d; want 3 and 2", st.TokenRequests, st.FaultsByKind[sim.FaultStatus])
		}
		if n := len(env.Sim.RequestsMatching(func(r sim.Record) bool { return r.Service == sim.SysInv })); n != 3 {
			t.Errorf("%d SysInv requests, want 3 (refused, refused after the transport's renewal, loaded)", n)
		}
	})
}
