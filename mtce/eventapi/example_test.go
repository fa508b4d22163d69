package eventapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"

	"opendev.org/starlingx/metal-go/mtce/eventapi"
	"opendev.org/starlingx/metal-go/mtce/swact"
)

// agent is a minimal Backend: one mutex around the host records; accepted
// actions are only printed here (a real agent hands them to its host FSMs).
type agent struct {
	mu    sync.Mutex
	hosts []eventapi.Host
}

func (a *agent) Transact(ctx context.Context, fn func(eventapi.State) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return fn(state{a})
}

type state struct{ a *agent }

func (s state) Hosts() []eventapi.Host { return s.a.hosts }
func (s state) SwactHeld() bool        { return false }
func (s state) Add(_ context.Context, r eventapi.AddRequest) error {
	s.a.hosts = append(s.a.hosts, eventapi.Host{Host: r.Host, Adding: true})
	fmt.Println("add", r.Host.Name, r.Host.Admin, r.Host.Oper, r.Host.Avail)
	return nil
}
func (s state) Modify(_ context.Context, r eventapi.ModifyRequest) error {
	fmt.Println("modify", r.New.Name, "action", r.Action)
	return nil
}
func (s state) Swact(context.Context, swact.Request) error { return nil }
func (s state) Delete(_ context.Context, h eventapi.Host) error {
	fmt.Println("delete", h.Name)
	return nil
}
func (s state) VIMFailed(context.Context, eventapi.Host, bool) error { return nil }
func (s state) SMFailed(context.Context, eventapi.Host) error        { return nil }
func (s state) Rejected(r eventapi.Rejection)                        {}

func Example() {
	cfg := eventapi.DefaultConfig()
	cfg.Hostname = "controller-0"
	h, err := eventapi.New(cfg, &agent{})
	if err != nil {
		panic(err)
	}
	send := func(ua, method, path, body string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("User-Agent", ua)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body.String())
	}
	const uuid = "5b6e3f0c-8a64-4d0e-9c35-2a41f1f4a9d2"
	rec := `{"uuid": "` + uuid + `", "hostname": "compute-1", "personality": "worker",
		"mgmt_ip": "192.168.204.60", "administrative": "locked", "operational": "disabled",
		"availability": "offline", "action": "%s", "operation": "add", "uptime": 0, "task": null}`
	send("sysinv/1.0", "POST", "/v1/hosts/", fmt.Sprintf(rec, "none"))   // add
	send("sysinv/1.0", "POST", "/v1/hosts/", fmt.Sprintf(rec, "unlock")) // first unlock: add of a known uuid
	send("sysinv/1.0", "POST", "/v1/hosts/", fmt.Sprintf(rec, "dance"))  // refused: HTTP 200, status fail
	send("vim/1.0", "GET", "/v1/systems", "")                            // 202 while the add is unfinished
	send("sysinv/1.0", "DELETE", "/v1/hosts/"+uuid, "null")
	// Output:
	// add compute-1 locked disabled offline
	// 200 {"status":"pass"}
	// modify compute-1 action unlock
	// 200 {"status":"pass"}
	// 200 {"status":"fail","reason":"Action 'dance' is not supported by maintenance","action":"Use lock, force-lock, unlock, swact, force-swact, reboot, reinstall, reset, power-on or power-off"}
	// 202 {"hosts":[{"uuid":"5b6e3f0c-8a64-4d0e-9c35-2a41f1f4a9d2","hostname":"compute-1","uptime":0}]}
	// delete compute-1
	// 200 {"status":"pass"}
}
