package soak

import (
	"fmt"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/mtce/sim"
)

// fate is what became of one token corruption.
type fate string

const (
	fateRenewed   fate = "renewed (one 401 renewal)"
	fateJoined    fate = "overtaken by a refresh, its 401s joined it"
	fateOvertaken fate = "overtaken by a refresh before any use"
	fatePending   fate = "still current at the end"
	fateAbsorbed  fate = "absorbed by a running renewal"
	fateStale     fate = "bad token not yet used"
	fateUnknown   fate = "unexplained"
)

// refreshPolicy is what the ledger needs of the Manager's configuration.
type refreshPolicy struct {
	period   time.Duration // Config.RefreshPeriod, 0 = off
	fraction float64       // Config.RefreshFraction
	jitter   float64       // Config.Jitter
}

// slack absorbs float rounding in the proactive refresh time.
const slack = time.Millisecond

// ledger accounts for every token request and every corruption from what
// the soak saw on the wire, independently of the Manager's own counters.
type ledger struct {
	causes   []keystone.Cause // per token request; 0 = unexplained
	counts   keystone.Counts
	fates    map[fate]int
	fateAt   map[time.Time]fate // corruption time -> fate (for the probes)
	n401     int                // 401s on the services, all tokens
	problems []string
}

func (l *ledger) problem(format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// account derives the cause of each token request in reqs (in start order,
// as the Manager makes one at a time) and the fate of each corruption.
//
// The cause of request i+1 is decided by what happened to token i:
//   - a request carrying token i was answered 401 at the very instant
//     request i+1 started: a 401 renewal (Renew starts it synchronously);
//   - request i+1 started RefreshPeriod after request i ended: periodic;
//   - it started between fraction·(1−jitter) and fraction of token i's
//     lifetime after request i started: refresh before expiry;
//   - anything else is unexplained, which is a failure: for example a
//     second Keystone call for one corruption.
func account(reqs []tokenReq, uses map[string]tokenUse, corr []sim.Corruption, p refreshPolicy) *ledger {
	l := &ledger{causes: make([]keystone.Cause, len(reqs)), fates: map[fate]int{}, fateAt: map[time.Time]fate{}}
	idx := make(map[string]int, len(reqs))
	for i, r := range reqs {
		if r.status != 201 || r.fp == "" || r.err != "" || r.lifetime <= 0 {
			l.problem("token request %d at %v failed: status %d, error %q", i, r.start, r.status, r.err)
			continue
		}
		if _, dup := idx[r.fp]; dup {
			l.problem("token %s issued twice", r.fp)
		}
		idx[r.fp] = i
	}
	for i := range reqs {
		c := causeOf(reqs, uses, i, p)
		if c == 0 {
			prev := reqs[i-1]
			l.problem("token request %d at %v unexplained: previous started %v, ended %v, lifetime %v, 401s %v",
				i, reqs[i].start, prev.start, prev.done, prev.lifetime, uses[prev.fp].unauth)
		}
		l.causes[i] = c
		addCause(&l.counts, c)
	}

	corrupted := map[string]bool{}
	for _, c := range corr {
		f := fateUnknown
		switch {
		case c.Effective:
			if corrupted[c.Fingerprint] {
				l.problem("token %s corrupted twice", c.Fingerprint)
			}
			corrupted[c.Fingerprint] = true
			i, ok := idx[c.Fingerprint]
			if !ok {
				l.problem("corruption at %v of token %s that no token request got", c.Time, c.Fingerprint)
				break
			}
			hit := len(uses[c.Fingerprint].unauth) > 0
			last := i+1 == len(reqs)
			switch {
			case last && !hit:
				f = fatePending
			case last:
				l.problem("token %s answered 401 at %v and never renewed", c.Fingerprint, uses[c.Fingerprint].unauth)
			case l.causes[i+1] == keystone.CauseUnauthorized:
				f = fateRenewed
			case hit && isRefresh(l.causes[i+1]):
				f = fateJoined
			case isRefresh(l.causes[i+1]):
				f = fateOvertaken
			}
		default:
			f = fateStale
			for _, r := range reqs {
				if !c.Time.Before(r.start) && c.Time.Before(r.done) {
					f = fateAbsorbed
					break
				}
			}
		}
		l.fates[f]++
		l.fateAt[c.Time] = f
		if f == fateUnknown && c.Effective {
			l.problem("corruption at %v of token %s unexplained", c.Time, c.Fingerprint)
		}
	}
	for fp, u := range uses {
		l.n401 += len(u.unauth)
		if len(u.unauth) > 0 && !corrupted[fp] {
			l.problem("token %s answered 401 %d times but never corrupted (used past its expiry?)", fp, len(u.unauth))
		}
	}
	if int(l.counts.Unauthorized) != l.fates[fateRenewed] {
		l.problem("%d 401 renewals but %d corruptions renewed by one", l.counts.Unauthorized, l.fates[fateRenewed])
	}
	return l
}

func causeOf(reqs []tokenReq, uses map[string]tokenUse, i int, p refreshPolicy) keystone.Cause {
	if i == 0 {
		return keystone.CauseFirst
	}
	prev, cur := reqs[i-1], reqs[i]
	for _, at := range uses[prev.fp].unauth {
		if at.Equal(cur.start) {
			return keystone.CauseUnauthorized
		}
	}
	if p.period > 0 && absDur(cur.start.Sub(prev.done.Add(p.period))) <= slack {
		return keystone.CausePeriodic
	}
	after := cur.start.Sub(prev.start)
	lo := time.Duration(float64(prev.lifetime) * p.fraction * (1 - p.jitter))
	hi := time.Duration(float64(prev.lifetime) * p.fraction)
	if after >= lo-slack && after <= hi+slack {
		return keystone.CauseExpiry
	}
	return 0
}

func isRefresh(c keystone.Cause) bool {
	return c == keystone.CauseExpiry || c == keystone.CausePeriodic
}

func addCause(c *keystone.Counts, cause keystone.Cause) {
	switch cause {
	case keystone.CauseFirst:
		c.First++
	case keystone.CauseExpiry:
		c.Expiry++
	case keystone.CausePeriodic:
		c.Periodic++
	case keystone.CauseUnauthorized:
		c.Unauthorized++
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
