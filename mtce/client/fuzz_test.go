package client

import (
	"context"
	"testing"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/wire"
)

// FuzzHandle feeds arbitrary datagrams through the decoder into the
// command handler: nothing panics, and no action is ever carried out with
// the default (refusing) Actions.
func FuzzHandle(f *testing.F) {
	for _, m := range []func() (wire.Message, error){
		func() (wire.Message, error) { return wire.NewReboot(target(mtce.NetworkMgmt)) },
		func() (wire.Message, error) { return wire.NewLocked(target(mtce.NetworkMgmt), true) },
		func() (wire.Message, error) {
			return wire.NewHostServicesRequest(mtce.FunctionWorker, true, target(mtce.NetworkMgmt))
		},
		func() (wire.Message, error) {
			return wire.NewPxebootMtcAliveRequest(target(mtce.NetworkPxeboot), wire.PxebootInfo{Controller0: "10.0.0.1"})
		},
	} {
		msg, err := m()
		if err != nil {
			f.Fatal(err)
		}
		b, _ := msg.MarshalBinary()
		f.Add(uint8(0), b)
		f.Add(uint8(2), b)
	}
	f.Add(uint8(1), []byte(`{"service":"collectd_notifier"}`))

	root := writeRoot(f, standardController())
	conn := newFakeConn()
	cfg := testConfig(f, root, conn, newFakeLauncher())
	cfg.Logger = nil
	c, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		c.actions.Wait()
		_ = c.Close()
		checkSentinel(f)
	})
	f.Fuzz(func(t *testing.T, n uint8, b []byte) {
		d, err := wire.Decode(b)
		if err != nil {
			return
		}
		c.handle(context.Background(), wire.Packet{Network: mtce.Network(1 + n%3), From: agentFrom, Datagram: d})
		conn.take()
	})
}
