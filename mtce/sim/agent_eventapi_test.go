package sim_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/sim"
	"opendev.org/starlingx/metal-go/mtce/swact"
)

// backend is the smallest agent behind the real event API: host records
// and what was accepted.
type backend struct {
	mu       sync.Mutex
	hosts    []eventapi.Host
	adds     []string
	modifies []string
	swacts   []string
	deletes  []string
	rejected []string
}

func (b *backend) Transact(ctx context.Context, fn func(eventapi.State) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return fn(state{b})
}

type state struct{ b *backend }

func (s state) Hosts() []eventapi.Host { return s.b.hosts }
func (s state) SwactHeld() bool        { return false }
func (s state) Add(_ context.Context, r eventapi.AddRequest) error {
	s.b.adds = append(s.b.adds, r.Host.Name+":"+r.Action.String())
	s.b.hosts = append(s.b.hosts, eventapi.Host{Host: r.Host})
	return nil
}
func (s state) Modify(_ context.Context, r eventapi.ModifyRequest) error {
	s.b.modifies = append(s.b.modifies, r.New.Name+":"+r.Action.String())
	return nil
}
func (s state) Swact(_ context.Context, r swact.Request) error {
	s.b.swacts = append(s.b.swacts, r.Host)
	return nil
}
func (s state) Delete(_ context.Context, h eventapi.Host) error {
	s.b.deletes = append(s.b.deletes, h.Name)
	s.b.hosts = slicesDelete(s.b.hosts, h.UUID)
	return nil
}
func (s state) VIMFailed(context.Context, eventapi.Host, bool) error { return nil }
func (s state) SMFailed(context.Context, eventapi.Host) error        { return nil }
func (s state) Rejected(r eventapi.Rejection) {
	s.b.rejected = append(s.b.rejected, r.Host.Name+":"+r.Text)
}

func slicesDelete(hs []eventapi.Host, uuid string) []eventapi.Host {
	out := hs[:0]
	for _, h := range hs {
		if h.UUID != uuid {
			out = append(out, h)
		}
	}
	return out
}

// record converts a SysInv record as the agent's inventory load would.
func record(t *testing.T, h sim.Host) eventapi.Host {
	t.Helper()
	p, err1 := mtce.ParsePersonality(h.Personality)
	a, err2 := mtce.ParseAdminState(h.Administrative)
	o, err3 := mtce.ParseOperState(h.Operational)
	v, err4 := mtce.ParseAvailStatus(h.Availability)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	return eventapi.Host{Host: mtce.Host{Name: h.Hostname, UUID: h.UUID, Personality: p,
		Subfunctions: h.Subfunctions, MgmtIP: h.MgmtIP, MgmtMAC: h.MgmtMAC, Admin: a, Oper: o, Avail: v,
		BMIP: "none", BMUsername: "none", BMType: mtce.BMCNone}}
}

// Both ends agree: the simulator's SysInv against the real event API
// handler over loopback.
func TestAgentAgainstEventAPI(t *testing.T) {
	b := &backend{}
	cfg := eventapi.DefaultConfig()
	cfg.Hostname = "controller-0"
	h, err := eventapi.New(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := eventapi.Listen(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := h.NewServer()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})

	scfg := sim.DefaultConfig()
	scfg.MtcAgentURL = "http://" + ln.Addr().String()
	s, err := sim.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, hh := range s.Hosts() {
		b.hosts = append(b.hosts, record(t, hh))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// A lock after the VIM step; a swact of the active controller.
	if err := s.UserAction(ctx, "worker-0", "lock"); err != nil {
		t.Fatalf("lock: %v", err)
	}
	if err := s.UserAction(ctx, "controller-0", "swact"); err != nil {
		t.Fatalf("swact: %v", err)
	}

	// Host add through SysInv's REST API, then its first unlock (an add
	// with the action, which the agent turns into a modify).
	c := s.Client()
	ep := s.MemoryEndpoints()
	tok := token(t, s)
	r := doReq(t, c, http.MethodPost, ep.SysInv+"/v1/ihosts", tok, `{"hostname":"compute-0","personality":"worker",`+
		`"mgmt_ip":"192.168.204.103","mgmt_mac":"52:54:00:8f:1a:03"}`)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("add: %d", r.StatusCode)
	}
	if err := s.UserAction(ctx, "compute-0", "unlock"); err != nil {
		t.Fatalf("first unlock: %v", err)
	}

	// A reset the agent refuses (no BMC): SysInv's formatted 400.
	if _, err := s.UpdateHost("worker-1", func(h *sim.Host) { h.Administrative = "locked" }); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	for i := range b.hosts {
		if b.hosts[i].Name == "worker-1" {
			b.hosts[i].Admin = mtce.AdminLocked
		}
	}
	b.mu.Unlock()
	err = s.UserAction(ctx, "worker-1", "reset")
	var se *sim.SysInvError
	if !errors.As(err, &se) || se.Status != 400 || !strings.HasPrefix(se.Message, "Operation Rejected: ") ||
		!strings.HasSuffix(se.Message, ".") {
		t.Errorf("reset without a BMC: %v", err)
	}

	// Delete of the locked new host.
	nh, _ := s.Host("compute-0")
	if r := doReq(t, c, http.MethodDelete, ep.SysInv+"/v1/ihosts/"+nh.UUID, tok, ""); r.StatusCode != http.StatusNoContent {
		t.Errorf("delete: %d", r.StatusCode)
	}
	// Delete of a host the agent never heard of: its 404 carries the JSON
	// text as reason phrase, which SysInv decodes as the reply.
	ghost, err := s.AddHost(sim.Host{Hostname: "ghost-0", Personality: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	r = doReq(t, c, http.MethodDelete, ep.SysInv+"/v1/ihosts/"+ghost.UUID, tok, "")
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("delete of an unknown host: %d", r.StatusCode)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	// A swact is State.Swact, then a Modify with no action to start.
	if got := strings.Join(b.modifies, " "); got != "worker-0:lock controller-0:none compute-0:unlock" {
		t.Errorf("modifies %s", got)
	}
	if got := strings.Join(b.adds, " "); got != "compute-0:none" {
		t.Errorf("adds %s", got)
	}
	if got := strings.Join(b.swacts, " "); got != "controller-0" {
		t.Errorf("swacts %s", got)
	}
	if got := strings.Join(b.deletes, " "); got != "compute-0" {
		t.Errorf("deletes %s", got)
	}
	if got := strings.Join(b.rejected, " "); got != "worker-1:reset" {
		t.Errorf("rejected %s", got)
	}
	calls := s.AgentCalls()
	last := calls[len(calls)-1]
	if last.Status != http.StatusNotFound || last.Outcome != "fail" || !strings.HasPrefix(last.Phrase, `{"status":"fail"`) {
		t.Errorf("unknown-host delete call: %+v", last)
	}
	for _, c := range calls {
		if c.Err != "" || c.Outcome == "unreadable" {
			t.Errorf("call %s %s: %s %s", c.Method, c.URL, c.Outcome, c.Err)
		}
	}
}

func token(t *testing.T, s *sim.Sim) string {
	t.Helper()
	body := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin",` +
		`"domain":{"name":"Default"},"password":"` + string(sim.DefaultConfig().Password) + `"}}},` +
		`"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}`
	r := doReq(t, s.Client(), http.MethodPost, s.MemoryEndpoints().AuthURL()+"/auth/tokens", "", body)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("token: %d", r.StatusCode)
	}
	return r.Header.Get("X-Subject-Token")
}

func doReq(t *testing.T, c *http.Client, method, url, tok, body string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("X-Auth-Token", tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
