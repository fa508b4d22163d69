package sysinv

import (
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"opendev.org/starlingx/metal-go/mtce/internal/platform"
	"opendev.org/starlingx/metal-go/mtce/internal/platform/platformtest"
	"opendev.org/starlingx/metal-go/workqueue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a client on a fresh queue and an in-memory transport.
type rig struct {
	q   *workqueue.Queue
	c   *Client
	tr  *platformtest.Transport
	obs *platformtest.Events
}

func newRig(t *testing.T, h func(platformtest.Request) platformtest.Reply, mod func(*Config)) *rig {
	t.Helper()
	obs := &platformtest.Events{}
	q := platformtest.Queue(t, obs)
	tr := platformtest.New(h)
	cfg := DefaultConfig()
	cfg.BaseURL = "http://192.168.204.2:6385"
	cfg.HTTPClient = tr.Client()
	cfg.Queue = q
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{q: q, c: c, tr: tr, obs: obs}
}

// withHeader rebuilds c's endpoint with a transport that adds X-Test-Token.
func withHeader(c *Client, val func() string) *platform.Endpoint {
	base := c.cfg.HTTPClient.Transport
	return platform.NewEndpoint(platform.EndpointConfig{Service: "sysinv", BaseURL: c.cfg.BaseURL,
		Client:    &http.Client{Transport: headerTransport{base: base, val: val}},
		UserAgent: c.cfg.UserAgent, ProjectID: c.cfg.ProjectID})
}
