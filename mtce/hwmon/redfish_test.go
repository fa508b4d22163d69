package hwmon

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
	"opendev.org/starlingx/metal-go/bmc/redfish"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRedfishLoopback (wall time, short): two Redfish BMC emulators over
// TLS on loopback, one of them hung. The live one is audited through the
// real Redfish driver into the sim's SysInv well before the hung one's
// HostTimeout ends; a reading crossing its critical threshold becomes a
// "major" status at the next audit; the password never reaches the log.
func TestRedfishLoopback(t *testing.T) {
	const secret = "S3cret-BMC!pw"
	var sims []*bmcsim.Server
	urls := map[string]string{}
	pool := x509.NewCertPool()
	for _, name := range []string{"worker-0", "worker-1"} {
		s, err := bmcsim.New(bmcsim.Config{Username: "root", Password: secret})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(s)
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		t.Cleanup(s.Close) // runs first: releases hung requests
		pool.AddCert(srv.Certificate())
		urls[name] = srv.URL
		sims = append(sims, s)
	}
	sims[1].InjectFault(bmcsim.Fault{Kind: bmcsim.FaultHang})

	logs := &syncBuffer{}
	r := newRig(t, 4, func(c *Config) {
		c.Interval, c.HostTimeout, c.CloseTimeout = 300*time.Millisecond, 2*time.Second, 2*time.Second
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Password = func(context.Context, Host) (bmc.Password, error) { return bmc.NewPassword(secret), nil }
		c.NewDriver = func(_ context.Context, h Host, pw bmc.Password) (bmc.Driver, error) {
			cfg := redfish.DefaultConfig()
			cfg.Endpoint, cfg.Username, cfg.Password = urls[h.Name], h.BMUsername, pw
			cfg.RootCAs, cfg.Timeout = pool, 5*time.Second
			return redfish.New(cfg)
		}
	})
	start := time.Now()
	r.m.Set(r.host(t, "worker-0"))
	r.m.Set(r.host(t, "worker-1"))
	r.start(t)

	wait := func() Audit {
		t.Helper()
		tm := time.NewTimer(10 * time.Second)
		defer tm.Stop()
		for {
			select {
			case a := <-r.audits:
				if a.Host == "worker-0" {
					return a
				}
				if a.Outcome != OutcomeTimeout {
					t.Errorf("hung BMC audit: %+v", a)
				}
			case <-tm.C:
				t.Fatal("no audit of worker-0 within 10 s")
			}
		}
	}
	a := wait()
	if a.Outcome != OutcomeOK || a.Read < 5 {
		t.Fatalf("first audit: %+v", a)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("live BMC audited after %v: the hung one delayed it", el)
	}
	groups := recordsByName(r.env.Sim.SensorGroups("worker-0"), "sensorgroupname")
	sensors := recordsByName(r.env.Sim.Sensors("worker-0"), "sensorname")
	if groups["server temperature"] == nil || sensors["CPU Temp"] == nil || sensors["CPU Temp"]["status"] != "ok" {
		t.Fatalf("SysInv after the first audit: groups %v sensors %v", groups, sensors)
	}

	if err := sims[0].SetReading("CPU Temp", 95); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		a = wait()
		st := recordsByName(r.env.Sim.Sensors("worker-0"), "sensorname")["CPU Temp"]["status"]
		if st == "major" {
			break
		}
		if i == 5 {
			t.Fatalf("CPU Temp status %v after %d audits, want major (last %+v)", st, i+1, a)
		}
	}
	r.stop()
	if strings.Contains(logs.String(), secret) {
		t.Error("the BMC password reached the log")
	}
	if !strings.Contains(logs.String(), "sensor audit done") {
		t.Errorf("no audit log: %s", logs.String())
	}
}
