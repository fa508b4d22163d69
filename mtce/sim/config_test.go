package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	dupName := Inventory(3)
	dupName[2].Hostname = "controller-1"
	three := Inventory(3)
	three[2].Personality = "controller"
	badState := Inventory(2)
	badState[1].Availability = "sleepy"
	shortUUID := Inventory(2)
	shortUUID[0].UUID = "1234"
	cases := []struct {
		field string
		edit  func(*Config)
	}{
		{"Username", func(c *Config) { c.Username = "" }},
		{"Password", func(c *Config) { c.Password = "" }},
		{"ProjectName", func(c *Config) { c.ProjectName = "" }},
		{"AppCredentials[0]", func(c *Config) { c.AppCredentials = []AppCredential{{Secret: "x"}} }},
		{"AppCredentials[0].Secret", func(c *Config) { c.AppCredentials = []AppCredential{{ID: "x"}} }},
		{"TokenLifetime", func(c *Config) { c.TokenLifetime = time.Millisecond }},
		{"SwactDelay", func(c *Config) { c.SwactDelay = -time.Second }},
		{"Hosts[2]", func(c *Config) { c.Hosts = dupName }},
		{"Hosts", func(c *Config) { c.Hosts = three }},
		{"Hosts[1]", func(c *Config) { c.Hosts = badState }},
		{"Hosts[0]", func(c *Config) { c.Hosts = shortUUID }},
		{"ActiveController", func(c *Config) { c.ActiveController = "worker-0" }},
		{"Memory.SM", func(c *Config) { c.Memory.SM = "https://sm:7777" }},
		{"Memory.VIM", func(c *Config) { c.Memory.VIM = c.Memory.SM }},
		{"Memory.SysInv", func(c *Config) { c.Memory.SysInv = "http://sysinv" }},
		{"RecordLimit", func(c *Config) { c.RecordLimit = -1 }},
		{"MaxBodyBytes", func(c *Config) { c.MaxBodyBytes = 10 }},
		{"Secrets", func(c *Config) { c.Secrets = map[string]Secret{"": "x"} }},
	}
	for _, tc := range cases {
		cfg := DefaultConfig()
		tc.edit(&cfg)
		err := cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v", tc.field, err)
			continue
		}
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New accepted it: %v", tc.field, err)
		}
	}
	// New fills the defaults of a sparse config.
	s, err := New(Config{Username: "u", Password: "p", ProjectName: "p", Hosts: Inventory(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ActiveController() != "controller-0" || s.MemoryEndpoints() != DefaultMemoryEndpoints() {
		t.Errorf("defaults: active %q, endpoints %+v", s.ActiveController(), s.MemoryEndpoints())
	}
	if n, _ := s.ServiceNode("controller-0"); n.SwactableServices != "no" {
		t.Errorf("simplex controller is swactable: %+v", n)
	}
}

func TestSecretRedacts(t *testing.T) {
	pw := Secret("hunter2")
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "pw", pw)
	cfg := DefaultConfig()
	cfg.Password = pw
	b, _ := json.Marshal(cfg.AppCredentials)
	j, _ := json.Marshal(struct{ P Secret }{pw})
	out := strings.Join([]string{fmt.Sprint(pw), fmt.Sprintf("%s %v %q %x %#v %+v", pw, pw, pw, pw, pw, cfg), pw.String(),
		pw.GoString(), buf.String(), string(b), string(j)}, "|")
	if strings.Contains(out, "hunter2") {
		t.Fatalf("secret leaked: %s", out)
	}
	if pw.Reveal() != "hunter2" {
		t.Error("Reveal")
	}
}

func TestLoggerGetsRecords(t *testing.T) {
	var buf syncBuffer
	s := newSim(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tok := getToken(t, s.Client(), s.MemoryEndpoints())
	_ = s.Close()
	out := buf.String()
	if !strings.Contains(out, "sim: token issued") || !strings.Contains(out, "sim: request") {
		t.Errorf("log: %s", out)
	}
	if strings.Contains(out, tok) || strings.Contains(out, "Sim-Passw0rd!") {
		t.Error("token or password in the log")
	}
}
