package hwmon

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSteadyAudit: one audit of a host whose SysInv records are
// already in line (the 2-minute steady state): a BMC read from the fake
// driver and no SysInv request. BenchmarkFirstAudit measures the write
// path.
func BenchmarkSteadyAudit(b *testing.B) {
	r := newRig(b, 4, nil)
	h := r.host(b, "worker-0")
	in := auditInput{host: h}
	out := r.m.audit(context.Background(), in)
	if out.audit.Outcome != OutcomeOK {
		b.Fatal(out.audit)
	}
	in = auditInput{host: h, driver: out.driver, driverHost: h, cache: out.cache}
	b.ReportAllocs()
	for b.Loop() {
		o := r.m.audit(context.Background(), in)
		if o.audit.Outcome != OutcomeOK || o.audit.Changed != 0 {
			b.Fatal(o.audit)
		}
	}
}

// BenchmarkFirstAudit: a first audit of a host's sensors against the
// in-memory sim through the real sysinv client, queue and keystone
// transport: 2 loads, 5 sensor adds and 4 groupings (11 SysInv requests;
// the groups exist after the first iteration).
func BenchmarkFirstAudit(b *testing.B) {
	r := newRig(b, 4, nil)
	h := r.host(b, "worker-0")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		h.Name = fmt.Sprintf("worker-0-%d", i) // a fresh lane; records under worker-0's UUID
		r.tr.set(h.Name, testSensors())
		b.StopTimer()
		for _, rec := range r.env.Sim.Sensors("worker-0") {
			c, _ := r.m.cfg.SysInv.DeleteSensor(ref(h), fmt.Sprint(rec["uuid"]))
			_, _ = c.Wait(context.Background())
		}
		b.StartTimer()
		o := r.m.audit(context.Background(), auditInput{host: h})
		if o.audit.Outcome != OutcomeOK {
			b.Fatal(o.audit)
		}
		if o.driver != nil {
			_ = o.driver.Close(context.Background())
		}
	}
}
