package swact

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
)

// TestSoak: 50 swacts alternating controller-0 and controller-1 (25 per
// side, spec I.2 item 7) while the simulator corrupts the newest token
// every 20–30 s; every swact completes, each in H = 60 s, and each
// corruption costs at most one Keystone call.
func TestSoak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, nil)
		defer r.close()
		if err := r.sim.CorruptTokenEvery(20*time.Second, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		ks0 := r.keystoneCalls()
		retried := 0
		for i := range 50 {
			host := r.sim.ActiveController()
			if want := []string{"controller-0", "controller-1"}[i%2]; host != want {
				t.Fatalf("swact %d: active %s, want %s", i, host, want)
			}
			if err := r.c.Request(context.Background(), request(host)); err != nil {
				t.Fatalf("swact %d: %v", i, err)
			}
			r.waitEnd()
			o := r.c.Snapshot().Last
			if o.Task != mtce.TaskSwactComplete {
				t.Fatalf("swact %d of %s: %s (%v)", i, host, o.Task, o.Err)
			}
			if o.QueryTries+o.ActionTries > 2 {
				retried++
				t.Logf("swact %d: %d query and %d action tries (%v)", i, o.QueryTries, o.ActionTries, o.Err)
			}
			if o.Duration() != hH+time.Duration(o.QueryTries-1+o.ActionTries-1)*RetryDelay {
				t.Errorf("swact %d took %v", i, o.Duration())
			}
		}
		synctest.Wait()
		st := r.sim.Stats()
		calls := r.keystoneCalls() - ks0
		t.Logf("50 swacts: %d corruptions, %d Keystone calls, %d 401s, %d swacts with a retry, %d SM swacts completed",
			st.Corruptions, calls, st.AuthFailures, retried, st.Swacts)
		if st.Swacts != 50 {
			t.Errorf("SM completed %d swacts", st.Swacts)
		}
		if calls > st.Corruptions || st.Corruptions == 0 {
			t.Errorf("%d Keystone calls for %d corruptions", calls, st.Corruptions)
		}
	})
}
