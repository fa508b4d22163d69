package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/mtce/sim"
)

const auth = `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin",
"domain":{"name":"Default"},"password":"Sim-Passw0rd!"}}},
"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}`

// do sends one request and returns the status and body.
func do(ctx context.Context, c *http.Client, method, url, token, body string) (int, http.Header, []byte) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := c.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// Get a token from the simulated Keystone and patch a host's task in
// SysInv, all through the in-memory transport, as maintenance does when a
// swact starts.
func Example() {
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ep, c := s.MemoryEndpoints(), s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	status, hdr, _ := do(ctx, c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", auth)
	token := hdr.Get("X-Subject-Token")
	fmt.Println("token:", status, token != "")

	_, _, body := do(ctx, c, http.MethodGet, ep.SysInv+"/v1/ihosts/controller-0", token, "")
	var host sim.Host
	if err := json.Unmarshal(body, &host); err != nil {
		log.Fatal(err)
	}
	fmt.Println("host:", host.Hostname, host.Administrative, host.Operational, host.Availability)

	status, _, _ = do(ctx, c, http.MethodPatch, ep.SysInv+"/v1/ihosts/"+host.UUID, token,
		`[{"path":"/task","value":"Swact: Request","op":"replace"}]`)
	fmt.Println("patch:", status)
	fmt.Println("task:", s.Task("controller-0"))
	// Output:
	// token: 201 true
	// host: controller-0 unlocked enabled available
	// patch: 200
	// task: Swact: Request
}

// Insert StarlingX's FIT "swact-query-fail" twice: the SM query fails with
// 503 for the next two hits, then succeeds.
func ExampleSim_Inject() {
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Inject(sim.Fault{Name: "swact-query-fail", Service: sim.SM, Method: "GET",
		Host: "controller-0", Kind: sim.FaultStatus, Code: 503, Hits: 2}); err != nil {
		log.Fatal(err)
	}
	ep, c := s.MemoryEndpoints(), s.Client()
	ctx := context.Background()
	_, hdr, _ := do(ctx, c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", auth)
	for range 3 {
		status, _, body := do(ctx, c, http.MethodGet, ep.SM+"/v1/servicenode/controller-0", hdr.Get("X-Subject-Token"), "")
		if status != http.StatusOK {
			fmt.Println(status)
			continue
		}
		var n sim.ServiceNode
		_ = json.Unmarshal(body, &n)
		fmt.Println(status, n.SwactableServices)
	}
	for _, ev := range s.FaultEvents() {
		fmt.Println("fault:", ev.Name, ev.Kind, ev.Code, ev.Host)
	}
	// Output:
	// 503
	// 503
	// 200 yes
	// fault: swact-query-fail status 503 controller-0
	// fault: swact-query-fail status 503 controller-0
}

// Corrupt the current token (FIT corrupt_token): the next request with it
// gets 401, as a client's renewal logic expects.
func ExampleSim_CorruptToken() {
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ep, c := s.MemoryEndpoints(), s.Client()
	ctx := context.Background()
	getToken := func() string {
		_, hdr, _ := do(ctx, c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", auth)
		return hdr.Get("X-Subject-Token")
	}
	token := getToken()
	url := ep.SysInv + "/v1/ihosts"
	status, _, _ := do(ctx, c, http.MethodGet, url, token, "")
	fmt.Println(status)
	fmt.Println("corrupted:", s.CorruptToken())
	status, _, _ = do(ctx, c, http.MethodGet, url, token, "")
	fmt.Println(status)
	status, _, _ = do(ctx, c, http.MethodGet, url, getToken(), "")
	fmt.Println(status)
	// Output:
	// 200
	// corrupted: true
	// 401
	// 200
}

// Hand a user's host action to the agent under test, as StarlingX's SysInv
// hands it to maintenance.
func ExampleConfig_onAction() {
	cfg := sim.DefaultConfig()
	cfg.OnAction = func(ctx context.Context, a sim.Action) error {
		if a.Host.Personality != "controller" && a.Action == "swact" {
			return fmt.Errorf("Swact action not allowed for non controller host %s", a.Host.Hostname)
		}
		fmt.Println("agent got:", a.Action, a.Host.Hostname, a.Via)
		return nil
	}
	s, err := sim.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	fmt.Println(s.UserAction(ctx, "controller-0", "swact"))
	fmt.Println(s.UserAction(ctx, "worker-0", "swact"))
	// Output:
	// agent got: swact controller-0 direct
	// <nil>
	// Swact action not allowed for non controller host worker-0
}

// Serve the platform over real loopback HTTP, for programs that cannot
// take a custom transport.
func ExampleSim_Listen() {
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ep, err := s.Listen() // 127.0.0.1, a free port per service
	if err != nil {
		log.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	status, _, _ := do(context.Background(), c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", auth)
	fmt.Println(status, strings.HasPrefix(ep.Keystone, "http://127.0.0.1:"))
	// Output:
	// 201 true
}

// Drive random SM, VIM and SysInv updates for every host (StarlingX's
// api_stress_test) through a client, here for a tenth of a second of wall
// time; inside a synctest bubble the same call covers hours in
// milliseconds.
func ExampleSim_Stress() {
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ep, c := s.MemoryEndpoints(), s.Client()
	_, hdr, _ := do(context.Background(), c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", auth)
	token := hdr.Get("X-Subject-Token")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := s.Stress(ctx, sim.StressConfig{
		Client: c,
		Period: 10 * time.Millisecond,
		Token:  func(context.Context, string) (string, error) { return token, nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Sent > 0, res.Failed == 0)
	// Output:
	// true true
}
