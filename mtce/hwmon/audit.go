package hwmon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/mtce/sysinv"
)

// records is what the monitor knows of a host's SysInv sensor records,
// by name. Loaded once, kept up to date by the monitor's own writes, and
// dropped after any SysInv error (reloaded at the next audit).
type records struct {
	groups  map[string]sysinv.SensorGroup
	sensors map[string]sysinv.Sensor
}

type auditInput struct {
	host       Host
	driver     bmc.Driver // opened at an earlier audit, or nil
	driverHost Host
	cache      *records
}

type auditOutput struct {
	audit      Audit
	driver     bmc.Driver // to keep (nil: none, or closed already)
	cache      *records   // nil: reload next time
	reachedBMC bool       // the BMC answered Sensors (wholly or partly)
}

// Shorthands for the calls' types.
type (
	groupsCall  = sysinv.Call[[]sysinv.SensorGroup]
	sensorsCall = sysinv.Call[[]sysinv.Sensor]
	groupCall   = sysinv.Call[sysinv.SensorGroup]
	sensorCall  = sysinv.Call[sysinv.Sensor]
	deleteCall  = sysinv.Call[struct{}]
)

// wait awaits a queued SysInv call with the audit's context; a call still
// pending when the context ends is cancelled (taken off the lane).
func wait[T any](ctx context.Context, submit func() (*sysinv.Call[T], error)) (T, error) {
	var zero T
	call, err := submit()
	if err != nil {
		return zero, err
	}
	v, err := call.Wait(ctx)
	if err != nil && ctx.Err() != nil {
		select {
		case <-call.Done():
		default:
			call.Cancel()
		}
	}
	return v, err
}

// audit runs one host's audit: open the driver if needed, read sensors,
// reconcile SysInv. It never panics on BMC or SysInv errors and always
// returns the driver to keep (or nil) and the records to keep (or nil).
func (m *Monitor) audit(actx context.Context, in auditInput) (out auditOutput) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(actx, m.cfg.HostTimeout)
	defer cancel()
	a := &out.audit
	a.Host, a.Start = in.host.Name, start
	defer func() { a.Duration = time.Since(start) }()

	fail := func(o Outcome, err error) auditOutput {
		switch {
		case actx.Err() != nil:
			o = OutcomeCanceled
		case ctx.Err() != nil:
			o = OutcomeTimeout
			err = fmt.Errorf("hwmon: audit exceeded %v: %w", m.cfg.HostTimeout, err)
		}
		a.Outcome, a.Err = o, err
		return out
	}

	// bmcFail ends an audit the BMC failed: a whole failure may be a dead
	// session, so the driver is re-opened next time; hwmond marks the
	// host's groups failed when monitoring fails.
	bmcFail := func(d bmc.Driver, err error) auditOutput {
		if d != nil {
			m.closeDriver(in.host.Name, d)
		}
		out.cache = in.cache
		if in.cache != nil && ctx.Err() == nil {
			n, serr := m.setGroupsState(ctx, in.host, in.cache, stateFailed)
			a.Changed += n
			if serr != nil {
				out.cache = nil
			}
		}
		return fail(OutcomeBMC, err)
	}

	d := in.driver
	if d != nil && !sameBMC(in.driverHost, in.host) {
		m.closeDriver(in.host.Name, d)
		d = nil
	}
	if d == nil {
		pw, err := m.cfg.Password(ctx, in.host)
		if err == nil && pw.IsZero() {
			err = ErrNoPassword
		}
		if err != nil {
			out.cache = in.cache
			return fail(OutcomePassword, fmt.Errorf("hwmon: BMC password: %w", err))
		}
		if d, err = m.cfg.NewDriver(ctx, in.host, pw); err != nil {
			return bmcFail(nil, fmt.Errorf("hwmon: BMC driver: %w", err))
		}
		if err := d.Open(ctx); err != nil {
			return bmcFail(d, err)
		}
	}

	read, err := d.Sensors(ctx)
	partial := err != nil && errors.Is(err, bmc.ErrPartial)
	if err != nil && !partial {
		return bmcFail(d, err)
	}
	out.driver, out.reachedBMC = d, true
	a.Read = len(read)

	cache := in.cache
	if cache == nil {
		var lerr error
		if cache, lerr = m.load(ctx, in.host); lerr != nil {
			return fail(OutcomeSysInv, lerr)
		}
	}
	n, rerr := m.reconcile(ctx, in.host, cache, read, !partial)
	a.Changed += n
	if rerr != nil {
		return fail(OutcomeSysInv, rerr) // cache dropped: reload next time
	}
	out.cache = cache
	if partial {
		a.Outcome, a.Err = OutcomePartial, err
	}
	return out
}

func ref(h Host) sysinv.Ref { return sysinv.Ref{Name: h.Name, UUID: h.UUID} }

// load reads the host's groups and sensors from SysInv
// (hwmonHttp_load_groups, hwmonHttp_load_sensors).
func (m *Monitor) load(ctx context.Context, h Host) (*records, error) {
	si, r := m.cfg.SysInv, ref(h)
	groups, err := wait(ctx, func() (*groupsCall, error) { return si.SensorGroups(r) })
	if err != nil {
		return nil, fmt.Errorf("hwmon: load sensor groups: %w", err)
	}
	sensors, err := wait(ctx, func() (*sensorsCall, error) { return si.Sensors(r) })
	if err != nil {
		return nil, fmt.Errorf("hwmon: load sensors: %w", err)
	}
	rec := &records{groups: make(map[string]sysinv.SensorGroup, len(groups)), sensors: make(map[string]sysinv.Sensor, len(sensors))}
	for _, g := range groups {
		if _, dup := rec.groups[g.Name]; !dup {
			rec.groups[g.Name] = g
		}
	}
	for _, s := range sensors {
		if _, dup := rec.sensors[s.Name]; !dup {
			rec.sensors[s.Name] = s
		}
	}
	return rec, nil
}

// wanted is a sensor read from the BMC that hwmond monitors.
type wanted struct {
	s bmc.Sensor
	g canned
}

// reconcile brings SysInv in line with what was read, hwmond's way: add
// missing canned groups, add missing sensors, write status/state changes
// only, group sensors not yet in their group, enable the groups, and, on a
// complete non-empty read, delete the records of sensors the BMC no longer
// has. It updates r as each write succeeds; the caller drops r on error.
func (m *Monitor) reconcile(ctx context.Context, h Host, r *records, read []bmc.Sensor, complete bool) (changed int, err error) {
	si, rf := m.cfg.SysInv, ref(h)
	interval := int(m.cfg.Interval / time.Second)

	var want []wanted
	var groups []canned
	seen := map[string]bool{}
	for _, s := range read {
		g, ok := groupOf(s)
		if !ok || s.Name == "" || seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		want = append(want, wanted{s, g})
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}

	for _, g := range groups {
		if _, ok := r.groups[g.name]; ok {
			continue
		}
		rec, err := wait(ctx, func() (*groupCall, error) {
			return si.AddSensorGroup(rf, groupRecord(g, interval, m.cfg.Simplex))
		})
		if err != nil {
			return changed, fmt.Errorf("hwmon: add sensor group %q: %w", g.name, err)
		}
		r.groups[g.name] = rec
		changed++
	}

	for _, w := range want {
		rec := sensorRecord(w.s, w.g, interval)
		cur, ok := r.sensors[w.s.Name]
		if !ok {
			got, err := wait(ctx, func() (*sensorCall, error) { return si.AddSensor(rf, rec) })
			if err != nil {
				return changed, fmt.Errorf("hwmon: add sensor %q: %w", w.s.Name, err)
			}
			r.sensors[w.s.Name] = got
			changed++
			continue
		}
		var fields []sysinv.Field
		if cur.Status != rec.Status {
			fields = append(fields, sysinv.Field{Key: "status", Value: rec.Status})
		}
		if cur.State != rec.State {
			fields = append(fields, sysinv.Field{Key: "state", Value: rec.State})
		}
		if len(fields) == 0 {
			continue
		}
		if _, err := wait(ctx, func() (*sensorCall, error) { return si.ModifySensor(rf, cur.UUID, fields...) }); err != nil {
			return changed, fmt.Errorf("hwmon: modify sensor %q: %w", w.s.Name, err)
		}
		cur.Status, cur.State = rec.Status, rec.State
		r.sensors[w.s.Name] = cur
		changed++
	}

	for _, g := range groups {
		grp := r.groups[g.name]
		var members []string
		need := false
		for _, w := range want {
			if w.g != g {
				continue
			}
			s := r.sensors[w.s.Name]
			members = append(members, s.UUID)
			need = need || s.GroupUUID != grp.UUID
		}
		if !need {
			continue
		}
		// The patch sets the group's whole membership: keep the members
		// a partial read did not return.
		for _, name := range sortedKeys(r.sensors) {
			if s := r.sensors[name]; !seen[name] && s.GroupUUID == grp.UUID {
				members = append(members, s.UUID)
			}
		}
		if _, err := wait(ctx, func() (*groupCall, error) { return si.GroupSensors(rf, grp.UUID, members) }); err != nil {
			return changed, fmt.Errorf("hwmon: group sensors in %q: %w", g.name, err)
		}
		for _, w := range want {
			if w.g == g {
				s := r.sensors[w.s.Name]
				s.GroupUUID = grp.UUID
				r.sensors[w.s.Name] = s
			}
		}
		changed++
	}

	for _, g := range groups {
		grp := r.groups[g.name]
		if grp.State == stateEnabled {
			continue
		}
		if _, err := wait(ctx, func() (*groupCall, error) {
			return si.ModifySensorGroup(rf, grp.UUID, sysinv.Field{Key: "state", Value: stateEnabled})
		}); err != nil {
			return changed, fmt.Errorf("hwmon: enable sensor group %q: %w", g.name, err)
		}
		grp.State = stateEnabled
		r.groups[g.name] = grp
		changed++
	}

	if !complete || len(want) == 0 {
		return changed, nil
	}
	for _, name := range sortedKeys(r.sensors) {
		if seen[name] {
			continue
		}
		_, err := wait(ctx, func() (*deleteCall, error) { return si.DeleteSensor(rf, r.sensors[name].UUID) })
		if err != nil && !errors.Is(err, sysinv.ErrNotFound) {
			return changed, fmt.Errorf("hwmon: delete sensor %q: %w", name, err)
		}
		delete(r.sensors, name)
		changed++
	}
	return changed, nil
}

// setGroupsState writes state to every known group of the host whose
// state differs.
func (m *Monitor) setGroupsState(ctx context.Context, h Host, r *records, state string) (changed int, err error) {
	for _, name := range sortedKeys(r.groups) {
		grp := r.groups[name]
		if grp.State == state {
			continue
		}
		if _, err := wait(ctx, func() (*groupCall, error) {
			return m.cfg.SysInv.ModifySensorGroup(ref(h), grp.UUID, sysinv.Field{Key: "state", Value: state})
		}); err != nil {
			return changed, fmt.Errorf("hwmon: set sensor group %q %s: %w", name, state, err)
		}
		grp.State = state
		r.groups[name] = grp
		changed++
	}
	return changed, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
