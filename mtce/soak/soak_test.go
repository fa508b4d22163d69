package soak

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/workqueue"
)

// probe is a corruption the soak made itself (see doc.go).
type probe struct {
	kind      fate // fateAbsorbed or fateOvertaken: what it is meant to be
	at        time.Time
	effective bool
}

// heapSample is the live heap after a GC at a point of virtual time.
type heapSample struct {
	at   time.Duration // since the start of the load
	live uint64
}

// outcome of one soak run, gathered inside the bubble.
type result struct {
	sz                  size
	load, drain         time.Duration // virtual time of load, then of the drain
	stats               *loadStats
	pendingAfter        int // calls not finished after the drain (must be 0)
	watch               watchFigures
	qs                  workqueue.Stats
	ks                  keystone.Stats
	ss                  sim.Stats
	reqs                []tokenReq
	krecs               []sim.Record // the simulator's records of token requests
	corr                []sim.Corruption
	led                 *ledger
	svcSent, n401, noTk int
	probes              []probe
	laneErr             map[string]error
	closeErr            error
	logs                map[string]int
	heap                []heapSample
	heapClosed          uint64
	gBase, gMax, gAfter int
}

func TestSoak(t *testing.T) {
	sz := chooseSize(t)
	before := quietGoroutines()
	wall := time.Now()
	var res *result
	synctest.Test(t, func(t *testing.T) { res = runSoak(t, sz) })
	elapsed := time.Since(wall)
	if res == nil {
		return // the bubble failed; its errors are reported
	}
	after := settledGoroutines(before)
	if after > before {
		t.Errorf("goroutines: %d before the soak, %d after:\n%s", before, after, stacks())
	}
	check(t, res)
	report(t, res)
	t.Logf("wall time %v for %v of virtual load (+ %v drain), %d hosts; goroutines in the process %d before, %d after",
		elapsed.Round(time.Millisecond), res.load, res.drain, sz.hosts, before, after)
}

// stacks returns every goroutine's stack, for a leak report.
func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// quietGoroutines returns the goroutine count once goroutines that are
// exiting (a previous test's) are gone: the least count seen while
// yielding a few times. It never sleeps.
func quietGoroutines() int {
	n := runtime.NumGoroutine()
	for range 100 {
		runtime.Gosched()
		n = min(n, runtime.NumGoroutine())
	}
	return n
}

// settledGoroutines yields (a bounded number of times, without sleeping)
// until at most want goroutines are left, and returns the count. A
// goroutine that has just returned may still be counted for a moment (the
// bubble's own, after synctest.Test returns), hence the loop.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100000 && n > want; i++ {
		runtime.Gosched()
		n = runtime.NumGoroutine()
	}
	return n
}

// runSoak runs the load, drains and closes everything, and returns what it
// saw. It runs inside the bubble.
func runSoak(t *testing.T, sz size) *result {
	res := &result{sz: sz, stats: newLoadStats(), laneErr: map[string]error{}}
	res.gBase = quietGoroutines()
	res.gMax = res.gBase
	r := newRig(t, sz)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	left := make([][]tracked, len(r.hosts))
	for i, h := range r.hosts {
		g := newGenerator(r.c, h, sz.interval, seed, i, res.stats)
		wg.Add(1)
		go func() {
			defer wg.Done()
			left[i] = g.run(ctx)
		}()
	}

	start := time.Now()
	end := start.Add(sz.duration)
	seen := map[uint64]bool{}
	pollKeystone := func() {
		res.krecs = append(res.krecs, r.sim.RequestsMatching(func(rec sim.Record) bool {
			return rec.Service == sim.Keystone && rec.Method == "POST" && !seen[rec.Seq]
		})...)
		for _, rec := range res.krecs {
			seen[rec.Seq] = true
		}
	}
	sampleHeap := func(at time.Duration) uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res.heap = append(res.heap, heapSample{at: at, live: ms.HeapAlloc})
		return ms.HeapAlloc
	}
	periodicFirst := func(k int) bool {
		return float64(sz.lifetime(k))*r.kcfg.RefreshFraction*(1-r.kcfg.Jitter) > float64(sz.period)
	}

	var (
		cycle                 = -1
		storm, armed, planned bool
		probeAt               time.Time
		probeN                int
		nextTick, nextHeap    = start, start.Add(sz.sample)
	)
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		if !now.Before(nextTick) {
			el := now.Sub(start)
			if k := int(el / sz.cycle); k != cycle {
				// A new cycle starts with a storm.
				cycle, storm, armed, planned = k, true, false, false
				if err := r.sim.SetTokenLifetime(sz.lifetime(k)); err != nil {
					t.Errorf("SetTokenLifetime: %v", err)
				}
				if err := r.sim.CorruptTokenEvery(corruptMin, corruptMax); err != nil {
					t.Errorf("CorruptTokenEvery: %v", err)
				}
			}
			off := el % sz.cycle
			if storm && !armed && off >= 2*time.Minute {
				armed = true
				r.tokens.arm() // the next renewal signals: corrupt while it runs
			}
			if storm && off >= sz.storm {
				storm = false
				r.tokens.disarm()
				if err := r.sim.CorruptTokenEvery(0, 0); err != nil {
					t.Errorf("stopping corruption: %v", err)
				}
			}
			if !storm && !planned && off >= sz.storm+time.Minute && periodicFirst(cycle) {
				// Corrupt 1 µs before the periodic refresh is due, so that the
				// refresh overtakes the corruption.
				planned = true
				last, n := r.tokens.last()
				at := last.done.Add(sz.period - time.Microsecond)
				if at.After(now) && at.Before(start.Add(time.Duration(cycle+1)*sz.cycle)) {
					probeAt, probeN = at, n
				}
			}
			pollKeystone()
			res.gMax = max(res.gMax, runtime.NumGoroutine())
			nextTick = nextTick.Add(time.Minute)
		}
		if !now.Before(nextHeap) {
			sampleHeap(now.Sub(start))
			nextHeap = nextHeap.Add(sz.sample)
		}
		if !probeAt.IsZero() && !now.Before(probeAt) {
			if _, n := r.tokens.last(); n == probeN {
				res.probes = append(res.probes, probe{kind: fateOvertaken, at: now, effective: r.sim.CorruptToken()})
			}
			probeAt = time.Time{}
		}
		wake := end
		for _, at := range []time.Time{nextTick, nextHeap, probeAt} {
			if !at.IsZero() && at.Before(wake) {
				wake = at
			}
		}
		timer := time.NewTimer(wake.Sub(now))
		select {
		case <-timer.C:
		case <-r.tokens.probe:
			timer.Stop()
			// A renewal has just started and takes keystoneLatency: the
			// newest token is the bad one it replaces.
			res.probes = append(res.probes, probe{kind: fateAbsorbed, at: time.Now(), effective: r.sim.CorruptToken()})
		}
	}

	// Stop the load, then let every lane drain.
	stop()
	wg.Wait()
	r.tokens.disarm()
	if err := r.sim.CorruptTokenEvery(0, 0); err != nil {
		t.Errorf("stopping corruption: %v", err)
	}
	res.load = time.Since(start)
	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Minute)
	for _, h := range r.hosts {
		res.laneErr[h.Hostname] = r.q.WaitLane(dctx, h.Hostname, 0)
	}
	dcancel()
	res.drain = time.Since(start) - res.load
	for _, l := range left {
		for _, tr := range l {
			select {
			case <-tr.h.Done():
				res.stats.finish(tr)
			default:
				res.pendingAfter++
			}
		}
	}
	pollKeystone()

	res.closeErr = r.q.Close(context.Background()) // empty by now: returns at once
	res.qs = r.q.Stats()
	res.ks = r.ks.Stats()
	res.ss = r.sim.Stats()
	res.reqs = r.tokens.requests()
	res.corr = r.sim.Corruptions()
	uses := r.svc.uses()
	res.svcSent, res.n401, res.noTk = r.svc.counts()
	res.watch = r.watch.figures()
	res.logs = r.logs.all()
	res.led = account(res.reqs, uses, res.corr, refreshPolicy{period: sz.period, fraction: r.kcfg.RefreshFraction, jitter: r.kcfg.Jitter})
	sort.Slice(res.krecs, func(i, j int) bool { return res.krecs[i].Seq < res.krecs[j].Seq })

	if err := r.close(t); err != nil {
		t.Errorf("closing: %v", err)
	}
	synctest.Wait()
	res.gAfter = settledGoroutines(res.gBase)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.heapClosed = ms.HeapAlloc
	return res
}

// check makes the soak's assertions (see doc.go).
func check(t *testing.T, res *result) {
	t.Helper()
	sz, st, w, qs, ks, ss, led := res.sz, res.stats, res.watch, res.qs, res.ks, res.ss, res.led

	// No lost request.
	var sub, refused, ok, failed, crit, noncrit int
	for _, o := range st.byOp {
		sub += o.submitted
		refused += o.refused
		ok += o.ok
		failed += o.failed
		if o.critical {
			crit += o.failed
		} else {
			noncrit += o.failed
		}
	}
	for _, v := range st.bad {
		t.Errorf("call: %s", v)
	}
	if res.pendingAfter != 0 || ok+failed != sub {
		t.Errorf("calls: %d submitted, %d succeeded + %d failed, %d still pending after the drain", sub, ok, failed, res.pendingAfter)
	}
	if refused != 0 {
		t.Errorf("%d calls refused at submission", refused)
	}
	if w.admitted != uint64(sub) || w.done != w.admitted || w.twice != 0 || w.live != 0 {
		t.Errorf("queue events: %d admitted, %d done, %d seen twice, %d incomplete; generators submitted %d",
			w.admitted, w.done, w.twice, w.live, sub)
	}
	if qs.Admitted != uint64(sub) || qs.Succeeded != uint64(ok) || qs.Failed != uint64(failed) || w.failed != uint64(failed) ||
		qs.Pending != 0 || qs.Purged+qs.Canceled+qs.Abandoned != 0 || qs.Rejected != 0 {
		t.Errorf("queue stats %+v; generators: %d submitted, %d ok, %d failed", qs, sub, ok, failed)
	}
	if n := res.logs["ERROR work queue critical item failed"]; n != crit || uint64(crit) != w.critFail {
		t.Errorf("%d critical failures, %d seen by the observer, %d logged at ERROR", crit, w.critFail, n)
	}
	if n := res.logs["WARN work queue noncritical item failed, dropped"]; n != noncrit {
		t.Errorf("%d noncritical failures, %d logged at WARN", noncrit, n)
	}
	for host, err := range res.laneErr {
		seq, failedOn := w.firstCrit[host]
		var we *workqueue.Error
		switch {
		case !failedOn && err != nil:
			t.Errorf("WaitLane(%s) = %v, no critical failure on it", host, err)
		case failedOn && (!errors.As(err, &we) || we.Seq != seq):
			t.Errorf("WaitLane(%s) = %v, want the failure of seq %d", host, err, seq)
		}
	}
	if res.closeErr != nil {
		t.Errorf("queue Close: %v", res.closeErr)
	}

	// Keystone calls accounted for by cause.
	for _, p := range led.problems {
		t.Errorf("ledger: %s", p)
	}
	if ks.Renewals != led.counts {
		t.Errorf("Manager renewals %+v, seen on the wire %+v", ks.Renewals, led.counts)
	}
	if n := ks.Renewals.Total(); n != uint64(ss.TokenRequests) || n != uint64(len(res.reqs)) || n != uint64(len(res.krecs)) {
		t.Errorf("token requests: Manager %d, simulator %d (%d records), seen %d", n, ss.TokenRequests, len(res.krecs), len(res.reqs))
	} else {
		for i, rec := range res.krecs {
			if !rec.Time.Equal(res.reqs[i].start) || rec.Status != 201 {
				t.Errorf("token request %d: simulator saw it at %v (status %d), the Manager sent it at %v",
					i, rec.Time, rec.Status, res.reqs[i].start)
				break
			}
		}
	}
	if ks.Tokens != uint64(ss.TokensIssued) || ks.Failures.Total() != 0 || ks.Abandoned != 0 || ks.Deferred != 0 {
		t.Errorf("Manager %d tokens (simulator issued %d), failures %+v, abandoned %d, deferred %d",
			ks.Tokens, ss.TokensIssued, ks.Failures, ks.Abandoned, ks.Deferred)
	}
	if res.n401 != ss.AuthFailures || res.n401 != led.n401 || res.noTk != 0 {
		t.Errorf("401s: clients saw %d (%d by token), simulator sent %d; %d requests without a token",
			res.n401, led.n401, ss.AuthFailures, res.noTk)
	}
	effective := 0
	for _, c := range res.corr {
		if c.Effective {
			effective++
		}
	}
	if effective != ss.Corruptions || len(res.corr) >= recordLimit {
		t.Errorf("corruption log: %d records, %d effective; simulator counted %d", len(res.corr), effective, ss.Corruptions)
	}
	for _, p := range res.probes {
		got := led.fateAt[p.at]
		switch {
		case p.kind == fateAbsorbed && (p.effective || got != fateAbsorbed):
			t.Errorf("probe at %v (a renewal running): effective %v, fate %q", p.at, p.effective, got)
		case p.kind == fateOvertaken && (!p.effective || (got != fateOvertaken && got != fateJoined && got != fateRenewed)):
			t.Errorf("probe at %v (before the periodic refresh): effective %v, fate %q", p.at, p.effective, got)
		}
	}
	if qs.Bypasses != 0 {
		t.Errorf("the queue bypassed the gate %d times", qs.Bypasses)
	}
	// Every cause and every fate the soak is built to produce occurred.
	c := led.counts
	if c.First != 1 || c.Expiry == 0 || c.Periodic == 0 || c.Unauthorized == 0 {
		t.Errorf("causes %+v: want one first token and at least one of each other cause", c)
	}
	if led.fates[fateRenewed] == 0 || led.fates[fateAbsorbed] == 0 || led.fates[fateOvertaken]+led.fates[fateJoined] == 0 {
		t.Errorf("corruption fates %v: want some renewed, some absorbed and some overtaken", led.fates)
	}

	// Goroutines back to baseline, live heap bounded.
	if res.gAfter > res.gBase {
		t.Errorf("goroutines in the bubble: %d before, %d after closing", res.gBase, res.gAfter)
	}
	var firstHalf, secondHalf uint64
	for _, h := range res.heap {
		if h.live > sz.heapMax {
			t.Errorf("live heap %d MiB at %v, bound %d MiB", h.live>>20, h.at, sz.heapMax>>20)
		}
		if h.at <= res.load/2 {
			firstHalf = max(firstHalf, h.live)
		} else {
			secondHalf = max(secondHalf, h.live)
		}
	}
	if secondHalf > 2*firstHalf+4<<20 {
		t.Errorf("live heap grows: %d MiB in the first half, %d MiB in the second", firstHalf>>20, secondHalf>>20)
	}
}

// report prints the figures.
func report(t *testing.T, res *result) {
	t.Helper()
	sz, st, qs, ks, ss, led := res.sz, res.stats, res.qs, res.ks, res.ss, res.led
	t.Logf("soak %s: %d hosts (2 controllers), %v of load (cycles of %v: %v storm), one call per host every %v on average",
		sz.name, sz.hosts, res.load, sz.cycle, sz.storm, sz.interval)

	t.Logf("calls by op: submitted / ok / failed (by kind) / attempts")
	var sub, ok, failed, crit, critFailed, bad int
	for _, name := range st.opNames() {
		o := st.byOp[name]
		sub, ok, failed = sub+o.submitted, ok+o.ok, failed+o.failed
		bad += o.untyped + o.short + o.badValue
		if o.critical {
			crit, critFailed = crit+o.submitted, critFailed+o.failed
		}
		t.Logf("  %-18s crit=%-5v %7d %7d %5d %-40s %7d", name, o.critical, o.submitted, o.ok, o.failed, kinds(o.byKind), o.attempts)
	}
	t.Logf("  total: %d submitted (%d critical), %d ok, %d failed (%d critical), %d not finished, %d untyped, short of their budget or with a wrong value",
		sub, crit, ok, failed, critFailed, sub-ok-failed, bad)

	t.Logf("HTTP requests by service and status (simulator):")
	for _, svc := range sim.Services() {
		if ss.ByService[svc] == 0 {
			continue
		}
		t.Logf("  %-8s %7d  %s", svc, ss.ByService[svc], statuses(ss.ByStatus[svc]))
	}
	faults := make([]string, 0, len(ss.FaultsByKind))
	for k, n := range ss.FaultsByKind {
		faults = append(faults, fmt.Sprintf("%v=%d", k, n))
	}
	sort.Strings(faults)
	t.Logf("faults fired: %d (%s)", ss.Faults, strings.Join(faults, " "))

	t.Logf("queue: %d admitted, %d attempts, %d retries, %d succeeded, %d failed; %d holds (%v held), %d bypasses; max lane depth %d (%s)",
		qs.Admitted, qs.Attempts, qs.Retries, qs.Succeeded, qs.Failed, qs.Holds, qs.HoldTime, qs.Bypasses, res.watch.maxDepth, res.watch.maxKey)
	t.Logf("keystone calls by cause (Manager / wire): first %d/%d, expiry %d/%d, periodic %d/%d, 401 %d/%d; total %d, simulator %d",
		ks.Renewals.First, led.counts.First, ks.Renewals.Expiry, led.counts.Expiry, ks.Renewals.Periodic, led.counts.Periodic,
		ks.Renewals.Unauthorized, led.counts.Unauthorized, ks.Renewals.Total(), ss.TokenRequests)
	t.Logf("keystone: %d tokens, %d Renew calls joined a request in flight, %d found the token already renewed, %d deferred, %d abandoned, %d failed",
		ks.Tokens, ks.WaitersJoined, ks.AlreadyRenewed, ks.Deferred, ks.Abandoned, ks.Failures.Total())
	fates := make([]string, 0, len(led.fates))
	for f, n := range led.fates {
		fates = append(fates, fmt.Sprintf("%s: %d", f, n))
	}
	sort.Strings(fates)
	t.Logf("corruptions: %d (%d effective, %d probes); %s", len(res.corr), ss.Corruptions, len(res.probes), strings.Join(fates, "; "))
	t.Logf("401s seen by the clients: %d (simulator: %d) over %d token-carrying requests", res.n401, ss.AuthFailures, res.svcSent)

	var first, peak, last uint64
	if len(res.heap) > 0 {
		first, last = res.heap[0].live, res.heap[len(res.heap)-1].live
	}
	for _, h := range res.heap {
		peak = max(peak, h.live)
	}
	t.Logf("goroutines: %d at start, %d at most (sampled each virtual minute), %d after closing", res.gBase, res.gMax, res.gAfter)
	t.Logf("live heap after GC: %d samples, first %.1f MiB, max %.1f MiB, last %.1f MiB, after closing %.1f MiB (bound %d MiB)",
		len(res.heap), mib(first), mib(peak), mib(last), mib(res.heapClosed), sz.heapMax>>20)
	series := make([]string, len(res.heap))
	for i, h := range res.heap {
		series[i] = fmt.Sprintf("%v:%.1f", h.at, mib(h.live))
	}
	t.Logf("live heap (virtual time: MiB): %s", strings.Join(series, " "))
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func kinds(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	s := make([]string, 0, len(m))
	for k, n := range m {
		s = append(s, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func statuses(m map[int]int) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	s := make([]string, 0, len(codes))
	for _, c := range codes {
		label := fmt.Sprint(c)
		if c == 0 {
			label = "none"
		}
		s = append(s, fmt.Sprintf("%s=%d", label, m[c]))
	}
	return strings.Join(s, " ")
}
