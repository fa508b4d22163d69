package keystone

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/keystone/keystonetest"
)

func TestValidate(t *testing.T) {
	valid := func() Config { return testConfig(keystonetest.New()) }
	cases := []struct {
		field  string
		mutate func(*Config)
	}{
		{"AuthURL", func(c *Config) { c.AuthURL = "" }},
		{"AuthURL", func(c *Config) { c.AuthURL = "ftp://x/v3" }},
		{"AuthURL", func(c *Config) { c.AuthURL = "http://user:pw@x/v3" }},
		{"Username", func(c *Config) { c.Username = "" }},
		{"UserID", func(c *Config) { c.UserID = "u1" }},
		{"UserDomainName", func(c *Config) { c.UserDomainName = "" }},
		{"UserDomainID", func(c *Config) { c.UserDomainID = "default" }},
		{"Password", func(c *Config) { c.Password = "" }},
		{"ProjectName", func(c *Config) { c.ProjectName = "" }},
		{"ProjectID", func(c *Config) { c.ProjectID = "p1" }},
		{"ProjectDomainName", func(c *Config) { c.ProjectDomainName = "" }},
		{"ProjectDomainID", func(c *Config) { c.ProjectDomainID = "default" }},
		{"ApplicationCredentialSecret", func(c *Config) { c.ApplicationCredentialID = "id" }},
		{"ApplicationCredentialID", func(c *Config) {
			c.ApplicationCredentialID, c.ApplicationCredentialName = "id", "name"
		}},
		{"Password", func(c *Config) { c.ApplicationCredentialID, c.ApplicationCredentialSecret = "id", "s" }},
		{"ProjectName", func(c *Config) {
			c.ApplicationCredentialID, c.ApplicationCredentialSecret, c.Password = "id", "s", ""
		}},
		{"Username", func(c *Config) {
			c.ApplicationCredentialName, c.ApplicationCredentialSecret, c.Password = "n", "s", ""
			c.ProjectName, c.Username = "", ""
		}},
		{"UserDomainName", func(c *Config) {
			c.ApplicationCredentialName, c.ApplicationCredentialSecret, c.Password = "n", "s", ""
			c.ProjectName, c.UserDomainName = "", ""
		}},
		{"RequiredInterface", func(c *Config) { c.RequiredInterface = "private" }},
		{"Transport", func(c *Config) { c.CAFile = "/x.pem" }},
		{"RenewTimeout", func(c *Config) { c.RenewTimeout = 0 }},
		{"StuckAfter", func(c *Config) { c.StuckAfter = c.RenewTimeout }},
		{"CloseTimeout", func(c *Config) { c.CloseTimeout = 0 }},
		{"CloseTimeout", func(c *Config) { c.CloseTimeout = -time.Second }},
		{"RefreshFraction", func(c *Config) { c.RefreshFraction = 1 }},
		{"RefreshFraction", func(c *Config) { c.RefreshFraction = 0 }},
		{"RefreshPeriod", func(c *Config) { c.RefreshPeriod = -time.Second }},
		{"RetryMin", func(c *Config) { c.RetryMin = 0 }},
		{"RetryMax", func(c *Config) { c.RetryMax = c.RetryMin / 2 }},
		{"OutageRetryMax", func(c *Config) { c.OutageRetryMax = 0 }},
		{"Jitter", func(c *Config) { c.Jitter = 0.6 }},
		{"Jitter", func(c *Config) { c.Jitter = -0.1 }},
	}
	for _, tc := range cases {
		c := valid()
		c.Password = "very-secret-pw"
		tc.mutate(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%s: err = %v", tc.field, err)
			continue
		}
		if strings.Contains(err.Error(), "very-secret-pw") {
			t.Errorf("%s: secret in error %v", tc.field, err)
		}
		if _, nerr := New(c); !errors.Is(nerr, ErrInvalidConfig) {
			t.Errorf("%s: New accepted an invalid config", tc.field)
		}
	}

	ok := []func(*Config){
		func(*Config) {},
		func(c *Config) { c.Username, c.UserDomainName, c.UserID = "", "", "u1" },
		func(c *Config) { c.ProjectName, c.ProjectDomainName, c.ProjectID = "", "", "p1" },
		func(c *Config) {
			c.Username, c.UserDomainName, c.Password, c.ProjectName, c.ProjectDomainName = "", "", "", "", ""
			c.ApplicationCredentialID, c.ApplicationCredentialSecret = "id", "s"
		},
		func(c *Config) { c.RequiredService = "" },
		func(c *Config) { c.Jitter = 0.5 },
	}
	for i, mutate := range ok {
		c := valid()
		mutate(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("valid config %d rejected: %v", i, err)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.RenewTimeout != 30*time.Second || c.StuckAfter != 31*time.Second || c.CloseTimeout != 5*time.Second || c.RefreshPeriod != 0 ||
		c.RetryMin != time.Second || c.RetryMax != 30*time.Second || c.OutageRetryMax != time.Second || c.RequiredService != "platform" || c.RequiredInterface != InterfaceAdmin {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Error("a config without endpoint and credentials validated")
	}
}

func TestNewDefaultTransportCAFileErrors(t *testing.T) {
	c := testConfig(keystonetest.New())
	c.Transport = nil
	c.CAFile = "/nonexistent/ca.pem"
	if _, err := New(c); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "CAFile") {
		t.Errorf("missing CA file: %v", err)
	}
	tr, err := newDefaultTransport(&Config{})
	if err != nil || tr.TLSClientConfig == nil || tr.TLSClientConfig.InsecureSkipVerify {
		t.Errorf("default transport must verify TLS: %v", err)
	}
	var _ http.RoundTripper = tr
}
