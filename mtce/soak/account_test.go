package soak

import (
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

// TestAccount checks the soak's ledger on hand-made histories: it must
// explain a correct one exactly and refuse the Keystone calls and 401s a
// broken token manager would cause.
func TestAccount(t *testing.T) {
	t0 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const lat = 300 * time.Millisecond
	req := func(start time.Duration, fp string, life time.Duration) tokenReq {
		return tokenReq{start: at(start), done: at(start + lat), status: 201, fp: fp, lifetime: life}
	}
	pol := refreshPolicy{period: 20 * time.Minute, fraction: 2.0 / 3, jitter: 0.1}
	periodicAt := 21*time.Second + lat + pol.period // B arrived at 21.3 s
	expiryAt := periodicAt + 16*time.Minute         // 64 % of C's 25 min

	good := func() ([]tokenReq, map[string]tokenUse, []sim.Corruption) {
		reqs := []tokenReq{
			req(0, "A", time.Hour),
			req(21*time.Second, "B", time.Hour), // 401 renewal
			req(periodicAt, "C", 25*time.Minute),
			req(expiryAt, "D", 25*time.Minute),
		}
		uses := map[string]tokenUse{
			"A": {sent: 9, unauth: []time.Time{at(21 * time.Second), at(21*time.Second + time.Millisecond)}},
			"B": {sent: 5}, "C": {sent: 5}, "D": {sent: 1},
		}
		corr := []sim.Corruption{
			{Time: at(20 * time.Second), Fingerprint: "A", Effective: true},
			{Time: at(21*time.Second + 100*time.Millisecond)},                            // during B's request
			{Time: at(periodicAt - time.Microsecond), Fingerprint: "B", Effective: true}, // before the refresh
			{Time: at(expiryAt + time.Minute), Fingerprint: "D", Effective: true},
			{Time: at(expiryAt + 2*time.Minute)}, // D not used yet
		}
		return reqs, uses, corr
	}

	t.Run("correct", func(t *testing.T) {
		reqs, uses, corr := good()
		l := account(reqs, uses, corr, pol)
		if len(l.problems) != 0 {
			t.Fatalf("problems: %q", l.problems)
		}
		want := keystone.Counts{First: 1, Expiry: 1, Periodic: 1, Unauthorized: 1}
		if l.counts != want || l.n401 != 2 {
			t.Errorf("counts %+v, 401s %d", l.counts, l.n401)
		}
		wantF := map[fate]int{fateRenewed: 1, fateAbsorbed: 1, fateOvertaken: 1, fatePending: 1, fateStale: 1}
		for f, n := range wantF {
			if l.fates[f] != n {
				t.Errorf("fates %v, want %v", l.fates, wantF)
				break
			}
		}
	})

	bad := []struct {
		name string
		edit func(reqs []tokenReq, uses map[string]tokenUse, corr []sim.Corruption) ([]tokenReq, map[string]tokenUse, []sim.Corruption)
		want string
	}{
		{"second renewal for one corruption", func(r []tokenReq, u map[string]tokenUse, c []sim.Corruption) ([]tokenReq, map[string]tokenUse, []sim.Corruption) {
			extra := req(21*time.Second+lat, "B2", time.Hour)
			r = append(r[:2], append([]tokenReq{extra}, r[2:]...)...)
			return r, u, c
		}, "unexplained"},
		{"401 on a token never corrupted", func(r []tokenReq, u map[string]tokenUse, c []sim.Corruption) ([]tokenReq, map[string]tokenUse, []sim.Corruption) {
			u["C"] = tokenUse{sent: 5, unauth: []time.Time{at(periodicAt + time.Minute)}}
			return r, u, c
		}, "never corrupted"},
		{"refresh too early", func(r []tokenReq, u map[string]tokenUse, c []sim.Corruption) ([]tokenReq, map[string]tokenUse, []sim.Corruption) {
			r[3] = req(periodicAt+10*time.Minute, "D", 25*time.Minute)
			return r, u, c
		}, "unexplained"},
		{"failed token request", func(r []tokenReq, u map[string]tokenUse, c []sim.Corruption) ([]tokenReq, map[string]tokenUse, []sim.Corruption) {
			r[3].status = 503
			return r, u, c
		}, "failed"},
		{"401 never renewed", func(r []tokenReq, u map[string]tokenUse, c []sim.Corruption) ([]tokenReq, map[string]tokenUse, []sim.Corruption) {
			u["D"] = tokenUse{sent: 2, unauth: []time.Time{at(expiryAt + 90*time.Second)}}
			return r, u, c
		}, "never renewed"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			reqs, uses, corr := tc.edit(good())
			l := account(reqs, uses, corr, pol)
			if !strings.Contains(strings.Join(l.problems, "\n"), tc.want) {
				t.Errorf("problems %q, want one saying %q", l.problems, tc.want)
			}
		})
	}
}
