package wire

import (
	"testing"

	"opendev.org/starlingx/metal-go/mtce"
)

// MtcAliveParams returns what MtcAlive returns, without the identity,
// whatever num says, with a good, a bad and no identity buffer; and
// refuses what is not an mtcAlive.
func TestMtcAliveParams(t *testing.T) {
	base, err := NewMtcAlive(Alive{Uptime: 3600, Health: HealthHealthy, Flags: FlagConfigured | FlagLocked,
		Sequence: 145, Identity: Identity{Hostname: "worker-0", Interface: mtce.NetworkMgmt}})
	if err != nil {
		t.Fatal(err)
	}
	for _, buf := range []string{base.Buf, "{not json", ""} {
		for num := uint32(0); num <= NumParms+1; num++ {
			m := base
			m.Buf, m.Num = buf, num
			want, _ := m.MtcAlive()
			want.Identity = Identity{}
			if got, err := m.MtcAliveParams(); err != nil || got != want {
				t.Errorf("num %d buf %q: %+v (%v), want %+v", num, buf, got, err, want)
			}
		}
	}
	g, _ := NewGoEnabled(GoEnabled{Passed: true})
	if _, err := g.MtcAliveParams(); err == nil {
		t.Error("a goEnabled message read as mtcAlive parameters")
	}
}
