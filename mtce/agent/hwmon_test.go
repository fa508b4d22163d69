package agent

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
	"opendev.org/starlingx/metal-go/bmc/redfish"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

// uaRecorder records the User-Agent of every platform request by path.
type uaRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	ua   map[string]map[string]int // path kind → user agent → count
}

func (u *uaRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	kind := "other"
	switch {
	case strings.Contains(r.URL.Path, "isensor"):
		kind = "sensors"
	case strings.Contains(r.URL.Path, "/ihosts"):
		kind = "hosts"
	}
	u.mu.Lock()
	if u.ua[kind] == nil {
		u.ua[kind] = map[string]int{}
	}
	u.ua[kind][r.Header.Get("User-Agent")]++
	u.mu.Unlock()
	return u.base.RoundTrip(r)
}

func (u *uaRecorder) agents(kind string) map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := map[string]int{}
	for k, v := range u.ua[kind] {
		out[k] = v
	}
	return out
}

// TestHardwareMonitorWired: a host whose BMC is provisioned gets sensor
// audits every 2 minutes through the agent's hardware monitor: sensors and
// groups reach SysInv with User-Agent hwmon/1.0 only (the agent's own host
// calls keep mtce/1.0), with the password from the agent's Barbican
// store, and the audits are counted in the agent's metrics.
func TestHardwareMonitorWired(t *testing.T) {
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
		var rec *uaRecorder
		r := newRig(t, sc, func(c *Config) {
			rec = &uaRecorder{base: c.HTTPTransport, ua: map[string]map[string]int{}}
			c.HTTPTransport = rec
			c.NewBMC = func(ctx context.Context, h BMCHost, pw bmc.Password) (bmc.Driver, error) {
				rc := redfish.DefaultConfig()
				rc.Endpoint, rc.Username, rc.Password, rc.Transport = "https://"+h.BMIP, h.BMUsername, pw, bs.Transport()
				return redfish.New(rc)
			}
		})
		if err := waitUntil(time.Minute, func() bool { return len(r.s.Sensors("worker-0")) > 0 }); err != nil {
			t.Fatalf("no sensors reached SysInv: %v", err)
		}
		if n := len(r.s.SensorGroups("worker-0")); n == 0 {
			t.Error("no sensor groups reached SysInv")
		}
		got := rec.agents("sensors")
		if len(got) != 1 || got["hwmon/1.0"] == 0 {
			t.Errorf("sensor requests by User-Agent %v, want only hwmon/1.0", got)
		}
		if ua := rec.agents("hosts"); ua["hwmon/1.0"] != 0 {
			t.Errorf("host requests by User-Agent %v: the monitor touched host records", ua)
		}
		// The next audit two minutes later: counted, nothing duplicated.
		n := len(r.s.Sensors("worker-0"))
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		if m := len(r.s.Sensors("worker-0")); m != n {
			t.Errorf("sensors %d after the second audit, %d after the first", m, n)
		}
		r.a.met.mu.Lock()
		audits := r.a.met.audits["ok"]
		r.a.met.mu.Unlock()
		if audits < 2 {
			t.Errorf("audits counted ok: %d, want ≥ 2", audits)
		}
	})
}

// TestHardwareMonitorOff: Config.HardwareMonitor false builds no monitor.
func TestHardwareMonitorOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := simConfig()
		r := newRig(t, sc, func(c *Config) { c.HardwareMonitor = false })
		if r.a.mon != nil || r.a.hq != nil {
			t.Fatal("monitor built while HardwareMonitor is false")
		}
	})
}
