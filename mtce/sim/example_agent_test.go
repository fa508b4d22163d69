package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"opendev.org/starlingx/metal-go/mtce/sim"
)

// agentFunc is an in-memory maintenance agent.
type agentFunc func(*http.Request) (*http.Response, error)

func (f agentFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// SysInv hands a user's host actions to the maintenance agent's event API
// after its own checks; a refusal comes back as SysInv formats it.
func ExampleConfig_mtcAgentURL() {
	agent := agentFunc(func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		path := strings.Replace(r.URL.Path, sim.NameUUID("worker-0"), "<uuid>", 1)
		fmt.Println(r.Method, path, r.Header.Get("User-Agent"), m["operation"], m["action"], m["administrative"])
		reply := `{"status":"pass"}`
		if m["action"] == "reboot" {
			reply = `{"status":"fail","reason":"Host is busy","action":"Retry later"}`
		}
		return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(reply)), Request: r}, nil
	})
	cfg := sim.DefaultConfig()
	cfg.MtcAgentURL = "http://127.0.0.1:2112"
	cfg.MtcAgentTransport = agent
	s, err := sim.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ctx := context.Background()

	fmt.Println(s.UserAction(ctx, "worker-0", "lock"))
	fmt.Println(s.UserAction(ctx, "worker-0", "reboot")) // still unlocked: SysInv refuses
	_, _ = s.UpdateHost("worker-0", func(h *sim.Host) { h.Administrative = "locked" })
	fmt.Println(s.UserAction(ctx, "worker-0", "reboot"))
	fmt.Println(s.UserAction(ctx, "worker-0", "force-unlock"))
	// Output:
	// PATCH /v1/hosts/<uuid> sysinv/1.0 modify lock unlocked
	// <nil>
	// sim: sysinv: Can not 'Reboot' an 'unlocked' host worker-0; Please 'Lock' first
	// PATCH /v1/hosts/<uuid> sysinv/1.0 modify reboot locked
	// sim: sysinv: Operation Rejected: Host is busy. Retry later.
	// PATCH /v1/hosts/<uuid> sysinv/1.0 modify unlock locked
	// <nil>
}
