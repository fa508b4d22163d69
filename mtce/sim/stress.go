package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// StressConfig configures [Sim.Stress].
type StressConfig struct {
	// Client sends the requests (required). Give it the transport under
	// test (e.g. a token-injecting RoundTripper over Sim.Transport()).
	Client *http.Client
	// Endpoints are the service URLs (zero: Sim.MemoryEndpoints()).
	Endpoints Endpoints
	// Period is the time between the starts of two updates of one host
	// (StarlingX's api_stress_test file value), kept whatever the latency
	// of the answers as long as they take less than Period (a slower one
	// is followed by the next at once; a host has one update in flight at
	// a time). Each host starts at a random offset within the first period.
	Period time.Duration
	// Token, if set, is called before each SM and SysInv request and its
	// result sent as X-Auth-Token. After a 401 the host's next call passes
	// the rejected token (otherwise ""), so that a shared source renews
	// once per bad token, as gophercloud's Reauthenticate(previous) does.
	// Leave it nil when Client's transport adds the token. The VIM never
	// gets a token.
	Token func(ctx context.Context, rejected string) (string, error)
	// Hosts limits the stress to these hostnames (nil: every host in the
	// inventory when Stress starts).
	Hosts []string
	// RequestTimeout bounds each request (default 20 s, StarlingX's
	// SysInv/SM/VIM timeout).
	RequestTimeout time.Duration
	// Seed seeds the choice of operations (each host gets its own stream).
	Seed uint64
}

// StressOp counts the outcomes of one kind of update.
type StressOp struct {
	Sent       int
	OK         int         // 2xx
	Status     map[int]int // non-2xx answers by status
	Timeouts   int         // RequestTimeout ran out
	Transport  int         // other transport errors (reset, refused)
	TokenFails int         // Token returned an error: the request was not sent
}

// StressResult counts the outcomes of a stress run. Requests still in
// flight when the run's context ended are counted in Canceled, not as
// failures.
type StressResult struct {
	Ops      map[string]StressOp // by operation, e.g. "sysinv-uptime", "sm-locked", "vim-failed"
	Sent     int
	OK       int
	Failed   int // non-2xx, timeouts, transport and token errors
	Canceled int
}

// The stress operations (StarlingX stress_handler: SM enable/disable/lock/
// unlock of controllers, VIM enabled/disabled/offline/failed, SysInv
// availability and uptime updates).
var (
	stressSM     = []string{"sm-enabled", "sm-disabled", "sm-locked", "sm-unlocked"}
	stressVIM    = []string{"vim-enabled", "vim-disabled", "vim-offline", "vim-failed"}
	stressSysInv = []string{"sysinv-avail", "sysinv-uptime"}
)

// Stress sends random SM, VIM and SysInv state updates for every host, one
// every Period per host, through cfg.Client, until ctx ends or the Sim
// closes; it then waits for its requests to finish and returns the counts.
// It fails at once (ErrInvalidValue) on a bad config. The requests are
// the ones StarlingX's maintenance sends (spec C.4, D.1, D.2), so they
// exercise the same decoders and state.
func (s *Sim) Stress(ctx context.Context, cfg StressConfig) (StressResult, error) {
	if cfg.Client == nil {
		return StressResult{}, fmt.Errorf("%w: StressConfig.Client is nil", ErrInvalidValue)
	}
	if cfg.Period <= 0 {
		return StressResult{}, fmt.Errorf("%w: StressConfig.Period %v is not positive", ErrInvalidValue, cfg.Period)
	}
	if cfg.Endpoints == (Endpoints{}) {
		cfg.Endpoints = s.MemoryEndpoints()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 20 * time.Second
	}
	if s.isClosed() {
		return StressResult{}, ErrClosed
	}
	var hosts []Host
	if cfg.Hosts == nil {
		hosts = s.Hosts()
	} else {
		for _, name := range cfg.Hosts {
			h, ok := s.Host(name)
			if !ok {
				return StressResult{}, fmt.Errorf("%w: stress host %q", ErrNotFound, name)
			}
			hosts = append(hosts, h)
		}
	}
	var mu sync.Mutex
	total := StressResult{Ops: map[string]StressOp{}}
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			r := s.stressHost(ctx, cfg, h, rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)))
			mu.Lock()
			defer mu.Unlock()
			total.merge(r)
		})
	}
	wg.Wait()
	return total, nil
}

func (r *StressResult) merge(o StressResult) {
	for k, v := range o.Ops {
		t := r.Ops[k]
		t.Sent += v.Sent
		t.OK += v.OK
		t.Timeouts += v.Timeouts
		t.Transport += v.Transport
		t.TokenFails += v.TokenFails
		if len(v.Status) > 0 && t.Status == nil {
			t.Status = map[int]int{}
		}
		for c, n := range v.Status {
			t.Status[c] += n
		}
		r.Ops[k] = t
	}
	r.Sent += o.Sent
	r.OK += o.OK
	r.Failed += o.Failed
	r.Canceled += o.Canceled
}

// OpNames returns the operation names of r in order.
func (r StressResult) OpNames() []string { return slices.Sorted(maps.Keys(r.Ops)) }

func (s *Sim) stressHost(ctx context.Context, cfg StressConfig, h Host, rng *rand.Rand) StressResult {
	res := StressResult{Ops: map[string]StressOp{}}
	ops := append(slices.Clone(stressVIM), stressSysInv...)
	if h.Personality == "controller" {
		ops = append(ops, stressSM...)
	}
	rejected := ""
	// Updates start every Period from a random offset, whatever the
	// latency of the answers (StarlingX's stress timer); one slower than
	// the period is followed by the next at once, never by a catch-up
	// burst, and a host never has two in flight.
	next := time.Now().Add(time.Duration(rng.Int64N(int64(cfg.Period))))
	for {
		if s.sleep(ctx, time.Until(next)) != nil {
			return res
		}
		next = next.Add(cfg.Period)
		if now := time.Now(); next.Before(now) {
			next = now
		}
		op := ops[rng.IntN(len(ops))]
		st := res.Ops[op]
		status, sent, tokenErr, err := s.stressOne(ctx, cfg, h, op, rng, rejected)
		switch {
		case (ctx.Err() != nil || s.isClosed()) && (err != nil || tokenErr):
			res.Canceled++
			res.Ops[op] = st
			continue
		case tokenErr:
			st.TokenFails++
			res.Failed++
			res.Ops[op] = st
			continue
		}
		st.Sent++
		res.Sent++
		switch {
		case err != nil && errors.Is(err, context.DeadlineExceeded):
			st.Timeouts++
			res.Failed++
		case err != nil:
			st.Transport++
			res.Failed++
		case status >= 200 && status < 300:
			st.OK++
			res.OK++
		default:
			if st.Status == nil {
				st.Status = map[int]int{}
			}
			st.Status[status]++
			res.Failed++
			if status == http.StatusUnauthorized && sent != "" {
				rejected = sent
			}
		}
		res.Ops[op] = st
	}
}

// stressOne sends one update and returns its status.
func (s *Sim) stressOne(ctx context.Context, cfg StressConfig, h Host, op string, rng *rand.Rand, rejected string) (status int, token string, tokenErr bool, err error) {
	var method, url string
	var body any
	withToken := true
	switch op {
	case "sysinv-uptime":
		method, url = http.MethodPatch, cfg.Endpoints.SysInv+"/v1/ihosts/"+h.UUID
		body = []map[string]string{{"path": "/uptime", "value": strconv.Itoa(rng.IntN(1 << 20)), "op": "replace"}}
	case "sysinv-avail":
		avail := []string{"available", "degraded"}[rng.IntN(2)]
		method, url = http.MethodPatch, cfg.Endpoints.SysInv+"/v1/ihosts/"+h.UUID
		body = []map[string]string{{"path": "/availability", "value": avail, "op": "replace"}}
	case "sm-enabled", "sm-disabled", "sm-locked", "sm-unlocked":
		method, url = http.MethodPatch, cfg.Endpoints.SM+"/v1/servicenode/"+h.Hostname
		body = map[string]string{
			"sm-enabled":  `{"origin":"mtce","action":"event","admin":"unlocked","oper":"enabled","avail":"available"}`,
			"sm-disabled": `{"origin":"mtce","action":"event","admin":"unlocked","oper":"disabled","avail":"failed"}`,
			"sm-locked":   `{"origin":"mtce","action":"lock","admin":"locked","oper":"disabled","avail":"online"}`,
			"sm-unlocked": `{"origin":"mtce","action":"unlock","admin":"unlocked","oper":"enabled","avail":"available"}`,
		}[op]
	default: // VIM
		withToken = false
		st := map[string]VIMState{
			"vim-enabled":  {Administrative: "unlocked", Operational: "enabled", Availability: "available"},
			"vim-disabled": {Administrative: "unlocked", Operational: "disabled", Availability: "failed"},
			"vim-offline":  {Administrative: "unlocked", Operational: "disabled", Availability: "offline"},
			"vim-failed":   {Administrative: "unlocked", Operational: "disabled", Availability: "failed"},
		}[op]
		st.SubfunctionOper, st.SubfunctionAvail = h.SubfunctionOper, h.SubfunctionAvail
		method, url = http.MethodPatch, cfg.Endpoints.VIM+"/nfvi-plugins/v1/hosts/"+h.UUID
		body = vimBody{StateChange: &st, Hostname: h.Hostname, UUID: h.UUID,
			Subfunctions: h.Subfunctions, Personality: h.Personality}
	}
	var payload []byte
	if str, ok := body.(string); ok {
		payload = []byte(str)
	} else {
		payload, _ = json.Marshal(body)
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, url, bytes.NewReader(payload))
	if err != nil {
		return 0, "", false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mtce/1.0")
	if withToken && cfg.Token != nil {
		tok, err := cfg.Token(rctx, rejected)
		if err != nil {
			return 0, "", true, err
		}
		token = tok
		req.Header.Set("X-Auth-Token", tok)
	}
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return 0, "", false, err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if err != nil {
		return 0, "", false, err
	}
	return resp.StatusCode, token, false, nil
}
