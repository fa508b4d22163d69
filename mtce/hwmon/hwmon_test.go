package hwmon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/mtce"
)

func recordsByName(recs []map[string]any, key string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range recs {
		out[fmt.Sprint(r[key])] = r
	}
	return out
}

// TestEndToEndSim: the real sysinv client (own queue, hwmon/1.0) against
// the in-memory sim. The first audit creates hwmond's canned groups and
// the sensors and groups them; later audits write only changes, on the
// 2-minute grid; a complete read deletes a sensor the BMC dropped; a
// partial read writes what it read and deletes nothing.
func TestEndToEndSim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 4, nil)
		h := r.host(t, "worker-0")
		r.m.Set(h)
		r.start(t)

		a1 := r.next(t)
		if a1.Outcome != OutcomeOK || a1.Err != nil || a1.Read != 6 {
			t.Fatalf("first audit: %+v", a1)
		}
		// 4 groups + 5 sensors + 4 groupings ("Intrusion" is ignored).
		if a1.Changed != 13 {
			t.Errorf("first audit changed %d, want 13", a1.Changed)
		}
		groups := recordsByName(r.env.Sim.SensorGroups("worker-0"), "sensorgroupname")
		sensors := recordsByName(r.env.Sim.Sensors("worker-0"), "sensorname")
		if len(groups) != 4 || len(sensors) != 5 {
			t.Fatalf("sim holds %d groups %v, %d sensors", len(groups), groups, len(sensors))
		}
		temp := groups["server temperature"]
		if temp == nil || temp["state"] != "enabled" || temp["sensortype"] != "temperature" ||
			temp["actions_critical_choices"] != "ignore,log,alarm,reset,power-cycle" {
			t.Errorf("temperature group: %v", temp)
		}
		members := fmt.Sprint(temp["sensors"])
		for _, n := range []string{"CPU Temp", "Inlet Temp"} {
			if !strings.Contains(members, fmt.Sprint(sensors[n]["uuid"])) {
				t.Errorf("%s not grouped in %q", n, members)
			}
		}
		if power := groups["server power"]; power == nil || !strings.Contains(fmt.Sprint(power["sensors"]), fmt.Sprint(sensors["PSU1 Current"]["uuid"])) {
			t.Errorf("power group: %v", power)
		}
		cpu := sensors["CPU Temp"]
		if cpu["status"] != "ok" || cpu["state"] != "enabled" || cpu["datatype"] != "analog" ||
			cpu["t_major_upper"] != "90.000" || cpu["unit_base"] != "degrees C" {
			t.Errorf("CPU Temp record: %v", cpu)
		}

		// A status change: one modify, two minutes later.
		s := testSensors()
		s[0].Reading, s[0].Status = bmc.Float(92), bmc.StatusCritical
		r.tr.set("worker-0", s)
		a2 := r.next(t)
		if got := a2.Start.Sub(a1.Start); got != DefaultInterval {
			t.Errorf("second audit %v after the first, want %v", got, DefaultInterval)
		}
		if a2.Outcome != OutcomeOK || a2.Changed != 1 {
			t.Errorf("second audit: %+v", a2)
		}
		if st := recordsByName(r.env.Sim.Sensors("worker-0"), "sensorname")["CPU Temp"]["status"]; st != "major" {
			t.Errorf("CPU Temp status %v, want major", st)
		}
		// No change: no write.
		if a3 := r.next(t); a3.Changed != 0 || a3.Outcome != OutcomeOK {
			t.Errorf("idle audit: %+v", a3)
		}

		// A partial read that lacks FAN1 and 12V: nothing deleted, the
		// change that was read is written.
		s[1].Status = bmc.StatusNonCritical
		r.tr.set("worker-0", s)
		r.tr.mu.Lock()
		d := r.tr.drivers["worker-0"]
		r.tr.mu.Unlock()
		d.mu.Lock()
		d.partial = []string{"CPU Temp", "Inlet Temp", "PSU1 Current"}
		d.mu.Unlock()
		a4 := r.next(t)
		if a4.Outcome != OutcomePartial || !errors.Is(a4.Err, bmc.ErrPartial) || a4.Changed != 1 {
			t.Errorf("partial audit: %+v", a4)
		}
		if n := len(r.env.Sim.Sensors("worker-0")); n != 5 {
			t.Errorf("after a partial read %d sensors, want 5", n)
		}
		d.mu.Lock()
		d.partial = nil
		d.mu.Unlock()

		// A complete read without FAN1: its record is deleted.
		r.tr.set("worker-0", append(s[:2:2], s[3:]...))
		a5 := r.next(t)
		if a5.Outcome != OutcomeOK || a5.Changed != 1 {
			t.Errorf("audit after FAN1 left: %+v", a5)
		}
		if _, ok := recordsByName(r.env.Sim.Sensors("worker-0"), "sensorname")["FAN1"]; ok {
			t.Error("FAN1 record not deleted")
		}
		st := r.m.Snapshot()
		if len(st) != 1 || st[0].Sensors != 5 || st[0].Records != 4 || st[0].Audits != 5 || st[0].Failures != 0 || !st[0].DriverOpen {
			t.Errorf("snapshot %+v", st)
		}
		// One driver for all five audits.
		if n := r.tr.count(r.tr.opens, "worker-0"); n != 1 {
			t.Errorf("%d opens, want 1", n)
		}

		// Remove: the driver is closed, audits stop, SysInv keeps the records.
		r.m.Remove("worker-0")
		time.Sleep(10 * DefaultInterval)
		synctest.Wait()
		if n := r.tr.count(r.tr.closes, "worker-0"); n != 1 {
			t.Errorf("%d closes after Remove, want 1", n)
		}
		select {
		case a := <-r.audits:
			t.Errorf("audit after Remove: %+v", a)
		default:
		}
		if n := len(r.env.Sim.Sensors("worker-0")); n != 4 {
			t.Errorf("Remove left %d sensor records, want 4", n)
		}
		if len(r.m.Snapshot()) != 0 {
			t.Error("snapshot still lists the removed host")
		}
	})
}

// TestSysInvErrorReloads: a SysInv failure drops the monitor's view of the
// host's records; the next audit reloads them and adds nothing twice.
func TestSysInvErrorReloads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 4, nil)
		h := r.host(t, "worker-0")
		r.m.Set(h)
		r.start(t)
		if a := r.next(t); a.Outcome != OutcomeOK {
			t.Fatalf("first audit: %+v", a)
		}
		// Someone deletes CPU Temp behind the monitor's back, and the
		// status changes: the modify gets 404 → reload → re-add.
		for _, rec := range r.env.Sim.Sensors("worker-0") {
			if rec["sensorname"] == "CPU Temp" {
				call, err := r.m.cfg.SysInv.DeleteSensor(ref(h), fmt.Sprint(rec["uuid"]))
				if err == nil {
					_, err = call.Wait(context.Background())
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		synctest.Wait()
		s := testSensors()
		s[0].Status = bmc.StatusNonRecoverable
		r.tr.set("worker-0", s)
		a := r.next(t)
		if a.Outcome != OutcomeSysInv || a.Err == nil {
			t.Fatalf("audit after the delete: %+v", a)
		}
		if st := r.m.Snapshot()[0]; st.Records != -1 || st.LastOutcome != OutcomeSysInv {
			t.Errorf("snapshot after a SysInv error: %+v", st)
		}
		a = r.next(t)
		if a.Outcome != OutcomeOK {
			t.Fatalf("audit after reload: %+v", a)
		}
		sensors := recordsByName(r.env.Sim.Sensors("worker-0"), "sensorname")
		if len(sensors) != 5 || sensors["CPU Temp"]["status"] != "critical" || len(r.env.Sim.SensorGroups("worker-0")) != 4 {
			t.Errorf("after reload: %d sensors %v, %d groups", len(sensors), sensors["CPU Temp"], len(r.env.Sim.SensorGroups("worker-0")))
		}

		// The host comes back with another UUID (deleted and re-added):
		// the old view is dropped and the model created for the new UUID.
		// (worker-1's record stands in for the re-added host.)
		h.UUID = r.host(t, "worker-1").UUID
		r.m.Set(h)
		if st := r.m.Snapshot()[0]; st.Records != -1 {
			t.Errorf("records kept across a UUID change: %+v", st)
		}
		if a := r.next(t); a.Outcome != OutcomeOK || a.Changed != 13 {
			t.Errorf("audit after the UUID change: %+v", a)
		}
		if n := len(r.env.Sim.Sensors("worker-1")); n != 5 {
			t.Errorf("%d sensors under the new UUID, want 5", n)
		}
	})
}

// TestHostTimeoutAndConcurrency: 6 hosts, 2 audit slots, one dead BMC
// (its driver hangs until the context ends). The five live hosts are all
// audited through the other slot within 5 s of virtual time (1 s each);
// the dead one ends at HostTimeout with OutcomeTimeout; never more than 2
// reads at once.
func TestHostTimeoutAndConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 8, func(c *Config) { c.Concurrency = 2 })
		r.tr.delay = time.Second
		r.tr.hung["worker-0"] = true
		start := time.Now()
		for i := range 6 {
			r.m.Set(r.host(t, fmt.Sprintf("worker-%d", i)))
		}
		r.start(t)
		var live []Audit
		for len(live) < 5 {
			a := r.next(t)
			if a.Host == "worker-0" {
				t.Fatalf("dead host finished before the live ones: %+v", a)
			}
			if a.Outcome != OutcomeOK {
				t.Errorf("live host audit: %+v", a)
			}
			live = append(live, a)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("live hosts took %v with a dead BMC, want <= 5s", el)
		}
		dead := r.next(t)
		if dead.Host != "worker-0" || dead.Outcome != OutcomeTimeout || !errors.Is(dead.Err, context.DeadlineExceeded) {
			t.Errorf("dead host audit: %+v", dead)
		}
		if dead.Duration != DefaultHostTimeout {
			t.Errorf("dead host audit took %v, want %v", dead.Duration, DefaultHostTimeout)
		}
		if all, per := r.tr.max(); all > 2 || per > 1 {
			t.Errorf("max %d concurrent reads (%d per host), want <= 2 (1)", all, per)
		}
		// The dead host's driver was closed; the next tick re-opens it.
		if n := r.tr.count(r.tr.closes, "worker-0"); n != 1 {
			t.Errorf("dead driver closed %d times", n)
		}
	})
}

// TestOverrunNotStartedTwice: an audit longer than the interval (a
// HostTimeout above it) is never run twice at once for a host; the ticks
// it overlaps are skipped and counted.
func TestOverrunNotStartedTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 4, func(c *Config) { c.Interval, c.HostTimeout = time.Minute, 150*time.Second })
		r.tr.hung["worker-0"] = true
		r.m.Set(r.host(t, "worker-0"))
		r.start(t)
		a1 := r.next(t)
		a2 := r.next(t)
		if a1.Outcome != OutcomeTimeout || a2.Outcome != OutcomeTimeout {
			t.Errorf("audits: %+v %+v", a1, a2)
		}
		// Ticks every minute: the first audit runs 0–2.5 min, the ticks at
		// 1 and 2 are skipped, the next runs 3–5.5 min (ticks at 4 and 5
		// skipped).
		if got := a2.Start.Sub(a1.Start); got != 3*time.Minute {
			t.Errorf("second audit %v after the first, want 3m", got)
		}
		if _, per := r.tr.max(); per != 1 {
			t.Errorf("%d concurrent reads of one host", per)
		}
		if st := r.m.Snapshot()[0]; st.Skipped != 4 || st.Failures != 2 {
			t.Errorf("snapshot %+v", st)
		}
	})
}

// TestPasswordRetry: a Barbican failure (and then an empty password) ends
// the audit without touching the BMC or SysInv; the next tick retries
// and succeeds.
func TestPasswordRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		r := newRig(t, 4, nil)
		r.pwErr["worker-0"] = 1
		base := r.m.cfg.Password
		r.m.cfg.Password = func(ctx context.Context, h Host) (bmc.Password, error) {
			calls++
			if calls == 2 {
				return bmc.Password{}, nil
			}
			return base(ctx, h)
		}
		r.m.Set(r.host(t, "worker-0"))
		r.start(t)
		a1 := r.next(t)
		if a1.Outcome != OutcomePassword || !strings.Contains(a1.Err.Error(), "secret not found") {
			t.Errorf("first audit: %+v", a1)
		}
		a2 := r.next(t)
		if a2.Outcome != OutcomePassword || !errors.Is(a2.Err, ErrNoPassword) {
			t.Errorf("second audit: %+v", a2)
		}
		if n := r.tr.count(r.tr.opens, "worker-0"); n != 0 || len(r.env.Sim.Sensors("worker-0")) != 0 {
			t.Errorf("BMC opened %d times / SysInv written without a password", n)
		}
		a3 := r.next(t)
		if a3.Outcome != OutcomeOK || a3.Start.Sub(a1.Start) != 2*DefaultInterval {
			t.Errorf("third audit: %+v", a3)
		}
		if st := r.m.Snapshot()[0]; st.Failures != 2 || st.Audits != 3 {
			t.Errorf("snapshot %+v", st)
		}
	})
}

// TestSetBMCChange: a changed bm_ip closes the old driver and re-opens at
// once with a fresh password; a BMC failure marks the groups failed and
// the next success enables them again; unprovisioning stops audits.
func TestSetBMCChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 4, nil)
		h := r.host(t, "worker-1")
		r.m.Set(h)
		r.m.Set(h) // no change: nothing happens
		r.start(t)
		a1 := r.next(t)
		if a1.Outcome != OutcomeOK {
			t.Fatalf("first audit: %+v", a1)
		}
		time.Sleep(30 * time.Second)
		h.BMIP = "10.10.10.99"
		r.m.Set(h)
		a2 := r.next(t)
		if a2.Outcome != OutcomeOK || a2.Start.Sub(a1.Start) != 30*time.Second || a2.Changed != 0 {
			t.Errorf("audit after the BMC change: %+v (%v after the first)", a2, a2.Start.Sub(a1.Start))
		}
		synctest.Wait() // the old driver is closed on a goroutine of its own
		if o, c := r.tr.count(r.tr.opens, "worker-1"), r.tr.count(r.tr.closes, "worker-1"); o != 2 || c != 1 {
			t.Errorf("opens %d closes %d, want 2 and 1", o, c)
		}
		r.pwMu.Lock()
		pw := r.pwCall["worker-1"]
		r.pwMu.Unlock()
		if pw != 2 {
			t.Errorf("password fetched %d times, want 2", pw)
		}

		// The BMC stops answering: the groups are marked failed, then
		// enabled again when it is back.
		r.tr.mu.Lock()
		d := r.tr.drivers["worker-1"]
		r.tr.mu.Unlock()
		d.mu.Lock()
		d.readErr = bmc.NewError("sensors", "fake", "worker-1", bmc.ErrUnreachable, nil)
		d.mu.Unlock()
		a3 := r.next(t)
		if a3.Outcome != OutcomeBMC || a3.Changed != 4 || !errors.Is(a3.Err, bmc.ErrUnreachable) {
			t.Errorf("failed audit: %+v", a3)
		}
		for _, g := range r.env.Sim.SensorGroups("worker-1") {
			if g["state"] != "failed" {
				t.Errorf("group %v state %v after a BMC failure", g["sensorgroupname"], g["state"])
			}
		}
		a4 := r.next(t)
		if a4.Outcome != OutcomeOK || a4.Changed != 4 {
			t.Errorf("recovered audit: %+v", a4)
		}
		for _, g := range r.env.Sim.SensorGroups("worker-1") {
			if g["state"] != "enabled" {
				t.Errorf("group %v state %v after recovery", g["sensorgroupname"], g["state"])
			}
		}

		// Deprovision: bm_type none stops the audits and closes the driver.
		h.BMType = mtce.BMCNone
		r.m.Set(h)
		time.Sleep(5 * DefaultInterval)
		synctest.Wait()
		select {
		case a := <-r.audits:
			t.Errorf("audit of an unprovisioned BMC: %+v", a)
		default:
		}
		if st := r.m.Snapshot()[0]; st.Provisioned || st.DriverOpen {
			t.Errorf("snapshot after deprovision: %+v", st)
		}
		if c := r.tr.count(r.tr.closes, "worker-1"); c != 3 {
			t.Errorf("closes %d, want 3", c)
		}
	})
}

// TestSetWhileRunning: a BMC change during an audit cancels it, closes its
// driver and audits again at once with the new fields.
func TestSetWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 4, nil)
		r.tr.hung["worker-0"] = true
		h := r.host(t, "worker-0")
		r.m.Set(h)
		r.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		r.tr.mu.Lock()
		r.tr.hung["worker-0"] = false
		r.tr.mu.Unlock()
		h.BMUsername = "admin"
		r.m.Set(h)
		a1 := r.next(t)
		if a1.Outcome != OutcomeCanceled || a1.Duration != 10*time.Second {
			t.Errorf("cut audit: %+v", a1)
		}
		a2 := r.next(t)
		if a2.Outcome != OutcomeOK || a2.Start.Sub(a1.Start) != 10*time.Second {
			t.Errorf("audit with the new BMC: %+v", a2)
		}
		if c := r.tr.count(r.tr.closes, "worker-0"); c != 1 {
			t.Errorf("closes %d, want 1", c)
		}
	})
}

// TestCloseBounded: Close cancels a hung audit, joins it, closes every
// driver; it is idempotent; Run after Close and a second Run fail.
func TestCloseBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 4, nil)
		r.tr.hung["worker-0"] = true
		r.m.Set(r.host(t, "worker-0"))
		r.m.Set(r.host(t, "worker-1"))
		done := make(chan error, 1)
		go func() { done <- r.m.Run(context.Background()) }()
		if a := r.next(t); a.Host != "worker-1" {
			t.Fatalf("audit %+v", a)
		}
		synctest.Wait()
		if err := r.m.Run(context.Background()); !errors.Is(err, ErrRunning) {
			t.Errorf("second Run: %v", err)
		}
		start := time.Now()
		if err := r.m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if el := time.Since(start); el != 0 {
			t.Errorf("Close took %v of virtual time", el)
		}
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if a := r.next(t); a.Host != "worker-0" || a.Outcome != OutcomeCanceled {
			t.Errorf("hung audit at Close: %+v", a)
		}
		if c := r.tr.count(r.tr.closes, "worker-1"); c != 1 {
			t.Errorf("worker-1 driver closed %d times", c)
		}
		if err := r.m.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := r.m.Run(context.Background()); !errors.Is(err, ErrRunning) {
			t.Errorf("Run after Close: %v", err)
		}
		m2, _ := New(r.m.cfg)
		if err := m2.Close(); err != nil {
			t.Errorf("Close without Run: %v", err)
		}
		if err := m2.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Close: %v", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	err := Config{}.Validate()
	for _, f := range []string{"SysInv", "Password", "NewDriver", "Interval", "Concurrency", "HostTimeout", "CloseTimeout"} {
		if !strings.Contains(fmt.Sprint(err), f) {
			t.Errorf("Validate does not name %s: %v", f, err)
		}
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("not ErrInvalidConfig: %v", err)
	}
	if _, err := New(DefaultConfig()); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New: %v", err)
	}
}

func TestModel(t *testing.T) {
	cases := []struct {
		s     bmc.Sensor
		group string
		ok    bool
	}{
		{bmc.Sensor{Name: "x", Type: bmc.SensorPower}, "server power", true},
		{bmc.Sensor{Name: "Fan 3 Speed", Type: bmc.SensorOther}, "server fans", true},
		{bmc.Sensor{Name: "CPU Usage", Type: bmc.SensorOther}, "server usage", true},
		{bmc.Sensor{Name: "Intrusion", Type: bmc.SensorOther}, "", false},
	}
	for _, c := range cases {
		g, ok := groupOf(c.s)
		if ok != c.ok || g.name != c.group {
			t.Errorf("groupOf(%v) = %v %v", c.s.Name, g, ok)
		}
	}
	for st, want := range map[bmc.SensorStatus]string{bmc.StatusOK: "ok", bmc.StatusNonCritical: "minor",
		bmc.StatusCritical: "major", bmc.StatusNonRecoverable: "critical", bmc.StatusUnavailable: "offline", "": "offline"} {
		if got := statusOf(st); got != want {
			t.Errorf("statusOf(%q) = %q, want %q", st, got, want)
		}
	}
	if g := groupRecord(groupTemp, 120, true); g.ActionsCriticalChoices != "ignore,log,alarm" {
		t.Errorf("simplex choices %q", g.ActionsCriticalChoices)
	}
	if Outcome(99).String() != "unknown" || OutcomeTimeout.String() != "timeout" {
		t.Error("Outcome.String")
	}
}
