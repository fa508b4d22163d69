package sysinv

import (
	"errors"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	err := Config{TimeoutStep: -1, LoadWait: -1}.Validate()
	for _, f := range []string{"BaseURL", "Queue", "Timeout", "TimeoutStep", "NoncriticalTimeout", "SensorTimeout",
		"Attempts", "LoadAttempts", "LoadWait", "ListLimit"} {
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), f+":") {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
	cfg := DefaultConfig()
	cfg.UserAgent = "mtce/1.0\r\nX-Evil: 1"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "UserAgent") {
		t.Errorf("header injection accepted: %v", err)
	}
	d := DefaultConfig()
	if d.Timeout.Seconds() != 20 || d.TimeoutStep.Seconds() != 20 || d.NoncriticalTimeout.Seconds() != 10 ||
		d.SensorTimeout.Seconds() != 8 || d.Attempts != 3 || d.LoadAttempts != 20 || d.LoadWait.Seconds() != 15 {
		t.Errorf("defaults %+v", d)
	}
	if got := Endpoint("192.168.204.2", DefaultPort); got != "http://192.168.204.2:6385" {
		t.Errorf("Endpoint = %q", got)
	}
	for in, want := range map[string]string{"http://x:6385/v1": "http://x:6385", "http://x:6385/v1/": "http://x:6385",
		"http://x:6385": "http://x:6385", "http://x/api/v1": "http://x/api"} {
		if got := trimV1(in); got != want {
			t.Errorf("trimV1(%q) = %q", in, got)
		}
	}
}
