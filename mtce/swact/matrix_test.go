package swact

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/sm"
	"opendev.org/starlingx/metal-go/workqueue"
)

// The failure matrix (issue 11 part 3, spec I.2 items 7–10 and adb246c's
// cases), in virtual time. Expected durations are derived from the
// constants, not measured:
//
//	R  = RetryDelay = 10 s         QL = QueryLostAfter = 10 s
//	AL = ActionLostAfter = 30 s    SMT = sm.DefaultTimeout = 20 s (one attempt)
//	T  = swact_timeout = 120 s     H = T/2 = 60 s      P = H/PollCount = 12 s
//	N  = TryThreshold = 10
//
// Timing model: try k+1 starts R after try k's failure is known (at once
// after a loss); a try's failure is known at once for an enqueue failure,
// a 500 or a 401 (the simulator answers in no virtual time), QL or AL
// after it was queued for a loss, SMT after it was sent for a dropped swact
// request (SMT < AL, so it fails rather than being lost). The final task is
// written the moment the Nth failure is known. A swact request that
// succeeds at s enters ACTION_WAIT; at s+H a query is sent; the
// simulator's swact (6 s) is over by then, so it answers swactable "no"
// and "Swact: Complete" is written at s+H. If SM never moves activity, the
// polls go out at s+H, s+H+P, ..., s+H+4P and "Swact: Timeout" comes at
// s+H+5P = s+T.
//
//	case                     derivation                              duration
//	happy                    query 0, swact 0, poll at H               60 s
//	query enqueue ×3         3 fails at 0,R,2R; ok at 3R; +H           90 s
//	query enqueue full       Nth fail at (N-1)R                        90 s
//	query 500 ×3             as enqueue ×3                              90 s
//	query 500 full           (N-1)R                                     90 s
//	query drop ×2            lost at QL, 2QL; ok at 2QL; +H            80 s
//	query drop full          Nth loss at N·QL                          100 s
//	query 401 ×3             (2 × 401 per try) ok at 3R; +H             90 s
//	query 401 full           (N-1)R                                     90 s
//	action enqueue ×3        swact ok at 3R; +H                         90 s
//	action enqueue full      (N-1)R                                     90 s
//	action 500 ×3            3R + H                                     90 s
//	action 500 full          (N-1)R                                     90 s
//	action drop ×2           fail at SMT, SMT+R+SMT; ok at 2(SMT+R); +H 120 s
//	action drop full         Nth fail at (N-1)(SMT+R)+SMT              290 s
//	action 401 ×3            3R + H                                     90 s
//	action 401 full          (N-1)R                                     90 s
//	action lost (hung lane)  lost at AL, resent at once, ok; +H         90 s
//	timeout T=120            H + 5P = T                                120 s
//	timeout T=300            150 + 5·30                                300 s
//	timeout T=500            250 + 5·50                                500 s
//	timeout T=10 → 60        30 + 5·6                                   60 s
//	SM hung (SIGSTOP)        every query lost: N·QL                    100 s
//	garbage reply            bad answer, no retry                        0 s
//	wrong hostname           bad answer, no retry                        0 s
//	swactable no             answer "no"                                 0 s
//	token corrupted ×3       one renewal each, no try spent; H          60 s
//
// SM requests: every try that was queued and dispatched is one request, a
// 401 try two (the transport renews and resends once); a 401 fixed by the
// renewal is two requests and no try. Keystone calls (after the first
// token): one per 401 try, one per corruption.
type matrixCase struct {
	name    string
	timeout time.Duration // 0: default
	setup   func(r *rig)
	task    mtce.Task
	get     int // SM queries received
	patch   int // SM swact requests received
	ks      int // Keystone calls after the first token
	qTries  int
	aTries  int
	dur     time.Duration
	inProg  bool // "Swact: In-Progress" written (at 0 s unless inProgAt)
	inAt    time.Duration
	// any401 > 0: the 401s fall on whichever request meets the corrupted
	// token first (a SysInv task update or an SM request); then get and
	// patch count only the requests that were answered, and any401 is the
	// number of 401s of all services.
	any401 int
}

const (
	c0 = "controller-0"
	hR = RetryDelay
	hH = DefaultSwactTimeout / 2
)

func inject(r *rig, f sim.Fault) {
	r.t.Helper()
	if _, err := r.sim.Inject(f); err != nil {
		r.t.Fatalf("inject: %v", err)
	}
}

func smFault(method string, kind sim.FaultKind, code, hits int) func(*rig) {
	return func(r *rig) {
		inject(r, sim.Fault{Name: "fit", Service: sim.SM, Method: method, Host: c0, Kind: kind, Code: code, Hits: hits})
	}
}

func matrix() []matrixCase {
	N := TryThreshold
	SMT := sm.DefaultTimeout
	return []matrixCase{
		{name: "happy", task: mtce.TaskSwactComplete, get: 2, patch: 1, qTries: 1, aTries: 1, dur: hH, inProg: true},
		{name: "query enqueue x3", setup: func(r *rig) { r.fsm.queryFails = 3 }, task: mtce.TaskSwactComplete,
			get: 2, patch: 1, qTries: 4, aTries: 1, dur: 3*hR + hH, inProg: true, inAt: 3 * hR},
		{name: "query enqueue full", setup: func(r *rig) { r.fsm.queryFails = -1 }, task: mtce.TaskSwactFailQuery,
			qTries: N, dur: time.Duration(N-1) * hR},
		{name: "query 500 x3", setup: smFault("GET", sim.FaultStatus, 500, 3), task: mtce.TaskSwactComplete,
			get: 5, patch: 1, qTries: 4, aTries: 1, dur: 3*hR + hH, inProg: true, inAt: 3 * hR},
		{name: "query 500 full", setup: smFault("GET", sim.FaultStatus, 500, 0), task: mtce.TaskSwactFailQuery,
			get: N, qTries: N, dur: time.Duration(N-1) * hR},
		{name: "query drop x2", setup: smFault("GET", sim.FaultDrop, 0, 2), task: mtce.TaskSwactComplete,
			get: 4, patch: 1, qTries: 3, aTries: 1, dur: 2*QueryLostAfter + hH, inProg: true, inAt: 2 * QueryLostAfter},
		{name: "query drop full", setup: smFault("GET", sim.FaultDrop, 0, 0), task: mtce.TaskSwactFailQuery,
			get: N, qTries: N, dur: time.Duration(N) * QueryLostAfter},
		{name: "query 401 x3", setup: smFault("GET", sim.FaultStatus, 401, 6), task: mtce.TaskSwactComplete,
			get: 8, patch: 1, ks: 3, qTries: 4, aTries: 1, dur: 3*hR + hH, inProg: true, inAt: 3 * hR},
		{name: "query 401 full", setup: smFault("GET", sim.FaultStatus, 401, 0), task: mtce.TaskSwactFailQuery,
			get: 2 * N, ks: N, qTries: N, dur: time.Duration(N-1) * hR},
		{name: "action enqueue x3", setup: func(r *rig) { r.fsm.swactFails = 3 }, task: mtce.TaskSwactComplete,
			get: 2, patch: 1, qTries: 1, aTries: 4, dur: 3*hR + hH, inProg: true},
		{name: "action enqueue full", setup: func(r *rig) { r.fsm.swactFails = -1 }, task: mtce.TaskSwactFailed,
			get: 1, qTries: 1, aTries: N, dur: time.Duration(N-1) * hR, inProg: true},
		{name: "action 500 x3", setup: smFault("PATCH", sim.FaultStatus, 500, 3), task: mtce.TaskSwactComplete,
			get: 2, patch: 4, qTries: 1, aTries: 4, dur: 3*hR + hH, inProg: true},
		{name: "action 500 full", setup: smFault("PATCH", sim.FaultStatus, 500, 0), task: mtce.TaskSwactFailed,
			get: 1, patch: N, qTries: 1, aTries: N, dur: time.Duration(N-1) * hR, inProg: true},
		{name: "action drop x2", setup: smFault("PATCH", sim.FaultDrop, 0, 2), task: mtce.TaskSwactComplete,
			get: 2, patch: 3, qTries: 1, aTries: 3, dur: 2*(SMT+hR) + hH, inProg: true},
		{name: "action drop full", setup: smFault("PATCH", sim.FaultDrop, 0, 0), task: mtce.TaskSwactFailed,
			get: 1, patch: N, qTries: 1, aTries: N, dur: time.Duration(N-1)*(SMT+hR) + SMT, inProg: true},
		{name: "action 401 x3", setup: smFault("PATCH", sim.FaultStatus, 401, 6), task: mtce.TaskSwactComplete,
			get: 2, patch: 7, ks: 3, qTries: 1, aTries: 4, dur: 3*hR + hH, inProg: true},
		{name: "action 401 full", setup: smFault("PATCH", sim.FaultStatus, 401, 0), task: mtce.TaskSwactFailed,
			get: 1, patch: 2 * N, ks: N, qTries: 1, aTries: N, dur: time.Duration(N-1) * hR, inProg: true},
		{name: "action lost behind hung request", setup: hungLane, task: mtce.TaskSwactComplete,
			get: 2, patch: 1, qTries: 1, aTries: 2, dur: ActionLostAfter + hH, inProg: true},
		{name: "timeout 120", setup: smFault("PATCH", sim.FaultStatus, 200, 0), task: mtce.TaskSwactTimeout,
			get: 1 + PollCount, patch: 1, qTries: 1, aTries: 1, dur: 120 * time.Second, inProg: true},
		{name: "timeout 300", timeout: 300 * time.Second, setup: smFault("PATCH", sim.FaultStatus, 200, 0), task: mtce.TaskSwactTimeout,
			get: 1 + PollCount, patch: 1, qTries: 1, aTries: 1, dur: 300 * time.Second, inProg: true},
		{name: "timeout 500", timeout: 500 * time.Second, setup: smFault("PATCH", sim.FaultStatus, 200, 0), task: mtce.TaskSwactTimeout,
			get: 1 + PollCount, patch: 1, qTries: 1, aTries: 1, dur: 500 * time.Second, inProg: true},
		{name: "timeout 10 raised to 60", timeout: 10 * time.Second, setup: smFault("PATCH", sim.FaultStatus, 200, 0), task: mtce.TaskSwactTimeout,
			get: 1 + PollCount, patch: 1, qTries: 1, aTries: 1, dur: MinSwactTimeout, inProg: true},
		{name: "SM hung", setup: func(r *rig) { inject(r, sim.Fault{Name: "sigstop", Service: sim.SM, Kind: sim.FaultDrop}) },
			task: mtce.TaskSwactFailQuery, get: N, qTries: N, dur: time.Duration(N) * QueryLostAfter},
		{name: "garbage reply", setup: func(r *rig) {
			inject(r, sim.Fault{Name: "garbage", Service: sim.SM, Method: "GET", Host: c0, Kind: sim.FaultMalformed, Data: []byte("<html>oops")})
		}, task: mtce.TaskSwactFailed, get: 1, qTries: 1},
		{name: "wrong hostname", setup: func(r *rig) {
			inject(r, sim.Fault{Name: "wrong-host", Service: sim.SM, Method: "GET", Host: c0, Kind: sim.FaultMalformed,
				Data: []byte(`{"origin":"sm","hostname":"controller-1","admin":"unlocked","oper":"enabled","avail":"available","active_services":"yes","swactable_services":"yes"}`)})
		}, task: mtce.TaskSwactFailed, get: 1, qTries: 1},
		{name: "swactable no", setup: func(r *rig) {
			if err := r.sim.SetSwactable(c0, false); err != nil {
				r.t.Fatal(err)
			}
		}, task: mtce.TaskSwactNoService, get: 1, qTries: 1},
		{name: "token corrupted x3", setup: func(r *rig) {
			corrupt := func(string) {
				if !r.sim.CorruptToken() {
					r.t.Error("corruption had no effect")
				}
			}
			corrupt("")              // before the query
			r.onSwactable = corrupt  // before the swact request
			r.onActionWait = corrupt // before the poll
		}, task: mtce.TaskSwactComplete, get: 2, patch: 1, ks: 3, any401: 3, qTries: 1, aTries: 1, dur: hH, inProg: true},
		{name: "query 401 once (renewal fixes it)", setup: smFault("GET", sim.FaultStatus, 401, 1), task: mtce.TaskSwactComplete,
			get: 3, patch: 1, ks: 1, qTries: 1, aTries: 1, dur: hH, inProg: true},
		{name: "action 401 once (renewal fixes it)", setup: smFault("PATCH", sim.FaultStatus, 401, 1), task: mtce.TaskSwactComplete,
			get: 2, patch: 2, ks: 1, qTries: 1, aTries: 1, dur: hH, inProg: true},
	}
}

// hungLane puts a request that never answers on the controller's lane
// right behind "Swact: In-Progress" and before the swact request, so that
// the swact request is lost (AL) and the purge-and-resend path runs.
func hungLane(r *rig) {
	r.onSwactable = func(h string) {
		_, err := r.q.Submit(h, workqueue.Item{Name: "hung", Attempts: 1, Timeout: time.Hour,
			Run: func(ctx context.Context, _ int) error { <-ctx.Done(); return ctx.Err() }})
		if err != nil {
			r.t.Errorf("submit hung: %v", err)
		}
	}
}

func TestMatrix(t *testing.T) {
	for _, tc := range matrix() {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, func(c *Config) {
					if tc.timeout != 0 {
						c.SwactTimeout = tc.timeout
					}
				})
				defer r.close()
				if tc.setup != nil {
					tc.setup(r)
				}
				ks0 := r.keystoneCalls()
				if err := r.c.Request(context.Background(), request(c0)); err != nil {
					t.Fatalf("Request: %v", err)
				}
				if !r.c.Held() {
					t.Error("mutex not held after acceptance")
				}
				r.waitEnd()
				synctest.Wait() // the clearing task update has reached SysInv
				if r.c.Held() {
					t.Error("mutex held after the task was cleared")
				}
				out := r.c.Snapshot().Last
				tasks := r.tasks(c0)
				t.Logf("%s: %s after %v (virtual); tasks %v", tc.name, out.Task, out.Duration(), tasks)
				fmt.Printf("matrix\t%s\t%s\t%v\n", tc.name, out.Task, out.Duration())

				if out.Task != tc.task {
					t.Errorf("final task %q, want %q (err %v)", out.Task, tc.task, out.Err)
				}
				if out.Duration() != tc.dur {
					t.Errorf("duration %v, want %v", out.Duration(), tc.dur)
				}
				get, patch := r.smCount(http.MethodGet), r.smCount(http.MethodPatch)
				if tc.any401 > 0 {
					get, patch = r.smAnswered(http.MethodGet), r.smAnswered(http.MethodPatch)
					if got := r.sim.Stats().AuthFailures; got != tc.any401 {
						t.Errorf("401s %d, want %d", got, tc.any401)
					}
				}
				if get != tc.get {
					t.Errorf("SM queries %d, want %d", get, tc.get)
				}
				if patch != tc.patch {
					t.Errorf("SM swact requests %d, want %d", patch, tc.patch)
				}
				if got := r.keystoneCalls() - ks0; got != tc.ks {
					t.Errorf("Keystone calls %d, want %d", got, tc.ks)
				}
				if out.QueryTries != tc.qTries || out.ActionTries != tc.aTries {
					t.Errorf("tries: query %d action %d, want %d %d", out.QueryTries, out.ActionTries, tc.qTries, tc.aTries)
				}
				// The task strings as SysInv saw them, with their times.
				want := []taskAt{{string(mtce.TaskSwactRequest), 0}}
				if tc.inProg {
					want = append(want, taskAt{string(mtce.TaskSwactInProgress), tc.inAt})
				}
				want = append(want, taskAt{string(tc.task), tc.dur}, taskAt{"", tc.dur + TaskUpdateDelay})
				if fmt.Sprint(tasks) != fmt.Sprint(want) {
					t.Errorf("task history %v, want %v", tasks, want)
				}
			})
		})
	}
}
