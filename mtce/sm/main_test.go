package sm

import (
	"testing"

	"go.uber.org/goleak"

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
	cfg.BaseURL = "http://controller-0:7777"
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
