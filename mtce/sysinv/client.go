package sysinv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Ref names the host a request is about: Name is its lane key and what a
// reload looks it up by; UUID addresses its record.
type Ref struct {
	Name string
	UUID string
}

// Field is one "replace" of a JSON patch: /Key := Value.
type Field struct {
	Key   string
	Value string
}

// Update is a JSON-patch update of a host record.
type Update struct {
	// Op labels the update in logs and errors, e.g. "update task".
	Op string
	// Fields are replaced in order; at least one.
	Fields []Field
	// Critical updates get Config.Timeout growing by Config.TimeoutStep per
	// retry, and their failure is recorded on the lane; noncritical ones
	// get Config.NoncriticalTimeout.
	Critical bool
}

type patchOp struct {
	Path  string `json:"path"`
	Value string `json:"value"`
	Op    string `json:"op"`
}

// Patch returns u's JSON-patch body: [{"path":"/<key>","value":"<v>",
// "op":"replace"}, ...], StarlingX's exact form (values are strings).
func (u Update) Patch() ([]byte, error) {
	if len(u.Fields) == 0 {
		return nil, platform.Invalid("sysinv", "%s: no field to update", u.Op)
	}
	ops := make([]patchOp, len(u.Fields))
	for i, f := range u.Fields {
		if f.Key == "" || f.Key[0] == '/' {
			return nil, platform.Invalid("sysinv", "%s: field key %q", u.Op, f.Key)
		}
		ops[i] = patchOp{Path: "/" + f.Key, Value: f.Value, Op: "replace"}
	}
	return platform.Marshal(ops)
}

// Client talks to SysInv: queued host updates and sensor requests, and the
// blocking loads used at start-up. It is safe for concurrent use and starts
// no goroutine.
type Client struct {
	cfg Config
	ep  *platform.Endpoint

	mu    sync.Mutex
	moved map[string]string // old UUID -> new UUID learnt by a reload
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, moved: map[string]string{}, ep: platform.NewEndpoint(platform.EndpointConfig{
		Service: "sysinv", BaseURL: trimV1(cfg.BaseURL), Client: cfg.HTTPClient,
		UserAgent: cfg.UserAgent, ProjectID: cfg.ProjectID, Logger: cfg.Logger,
	})}, nil
}

// CurrentUUID returns the UUID requests for uuid are sent to: uuid itself,
// or the newer UUID a reload found after a 404 (followed through any chain
// of such moves).
func (c *Client) CurrentUUID(uuid string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range 16 {
		next, ok := c.moved[uuid]
		if !ok {
			break
		}
		uuid = next
	}
	return uuid
}

func (c *Client) remember(old, new string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old != new {
		c.moved[old] = new
		delete(c.moved, new) // a host that moved back is current again
	}
}

func checkRef(ref Ref) error {
	if err := platform.CheckName("sysinv", "host name", ref.Name); err != nil {
		return err
	}
	return platform.CheckUUID("sysinv", "host uuid", ref.UUID)
}

func hostPath(id string) string { return "/v1/ihosts/" + platform.PathEscape(id) }

// Update queues u as PATCH /v1/ihosts/<uuid> on ref.Name's lane and
// returns the updated record SysInv answers with.
//
// Attempts: Config.Attempts, each bounded by Config.Timeout plus
// Config.TimeoutStep per retry when u is critical (20 s, 40 s, 60 s), by
// Config.NoncriticalTimeout otherwise.
//
// A 404 makes the attempt reload the host by name with a direct request
// (not queued: the lane is busy with this very update) before it ends. If
// the host's UUID has changed, the next attempt, and every later request
// for the old UUID, goes to the new one, and Config.OnUUIDChange is called.
// If the host is no longer in the inventory, the update ends with
// ErrNotFound at once.
func (c *Client) Update(ref Ref, u Update) (*Call[Host], error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	body, err := u.Patch()
	if err != nil {
		return nil, err
	}
	timeout, step := c.cfg.NoncriticalTimeout, time.Duration(0)
	if u.Critical {
		timeout, step = c.cfg.Timeout, c.cfg.TimeoutStep
	}
	c.ep.Logger().Debug("queueing update", "host", ref.Name, "op", u.Op)
	return platform.Submit(c.cfg.Queue, platform.Spec[Host]{
		Key: ref.Name, Name: "sysinv " + u.Op, Critical: u.Critical,
		Attempts: c.cfg.Attempts, Timeout: timeout, TimeoutStep: step, BackOff: c.cfg.BackOff,
		Run: func(ctx context.Context, _ int) (Host, error) {
			return c.patchHost(ctx, ref, u.Op, body)
		},
	})
}

// UpdateNow sends u at once, without the queue: one attempt bounded by
// ctx and by the update's timeout (StarlingX's update_task_now and
// update_states_now), with the same 404 handling as one attempt of Update.
func (c *Client) UpdateNow(ctx context.Context, ref Ref, u Update) (Host, error) {
	if err := checkRef(ref); err != nil {
		return Host{}, err
	}
	body, err := u.Patch()
	if err != nil {
		return Host{}, err
	}
	timeout := c.cfg.NoncriticalTimeout
	if u.Critical {
		timeout = c.cfg.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.patchHost(ctx, ref, u.Op, body)
}

// patchHost is one attempt of an update.
func (c *Client) patchHost(ctx context.Context, ref Ref, op string, body []byte) (Host, error) {
	uuid := c.CurrentUUID(ref.UUID)
	req := platform.Request{Op: op, Host: ref.Name, Method: http.MethodPatch, Path: hostPath(uuid), Body: body}
	resp, err := c.ep.Do(ctx, req)
	if errors.Is(err, ErrNotFound) {
		return Host{}, c.afterNotFound(ctx, ref.Name, uuid, err)
	}
	if err != nil {
		return Host{}, err
	}
	h, derr := ParseHost(resp.Body)
	if derr == nil && h.Name != ref.Name {
		derr = &DecodeError{What: hostWhat, Field: "hostname", Reason: fmt.Sprintf("is %q, want %q", h.Name, ref.Name)}
	}
	if derr != nil {
		return Host{}, c.ep.BadBody(req, resp, derr)
	}
	return h, nil
}

// afterNotFound reloads the host by name after a 404 on uuid (78884cb).
func (c *Client) afterNotFound(ctx context.Context, name, uuid string, nf error) error {
	log := c.ep.Logger()
	h, err := c.LoadHost(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		log.Warn("host not in inventory any more; update dropped", "host", name, "uuid", uuid)
		return workqueue.Permanent(nf)
	case err != nil:
		log.Warn("reload after 404 failed", "host", name, "err", err)
		return nf
	case h.UUID != uuid:
		log.Info("host uuid changed", "host", name, "old", uuid, "new", h.UUID)
		c.remember(uuid, h.UUID)
		if c.cfg.OnUUIDChange != nil {
			c.cfg.OnUUIDChange(name, uuid, h.UUID)
		}
	}
	return nf
}

// uptimeText is the decimal text StarlingX sends for an uptime.
func uptimeText(uptime uint32) string { return strconv.FormatUint(uint64(uptime), 10) }

// UpdateTask queues a noncritical update of the task (TaskNone clears it)
// and the uptime (mtcInvApi_update_task).
func (c *Client) UpdateTask(ref Ref, task mtce.Task, uptime uint32) (*Call[Host], error) {
	return c.Update(ref, Update{Op: "update task", Fields: []Field{{"task", string(task)}, {"uptime", uptimeText(uptime)}}})
}

// ForceTask queues a critical update of the task and the uptime
// (mtcInvApi_force_task): its failure fails the action that sent it.
func (c *Client) ForceTask(ref Ref, task mtce.Task, uptime uint32) (*Call[Host], error) {
	return c.Update(ref, Update{Op: "force task", Critical: true, Fields: []Field{{"task", string(task)}, {"uptime", uptimeText(uptime)}}})
}

// UpdateUptime queues a noncritical update of the uptime.
func (c *Client) UpdateUptime(ref Ref, uptime uint32) (*Call[Host], error) {
	return c.Update(ref, Update{Op: "update uptime", Fields: []Field{{"uptime", uptimeText(uptime)}}})
}

// UpdateValue queues a critical update of one key (mtcInvApi_update_value
// and update_state).
func (c *Client) UpdateValue(ref Ref, key, value string) (*Call[Host], error) {
	return c.Update(ref, Update{Op: "update value", Critical: true, Fields: []Field{{key, value}}})
}

// UpdateMtceInfo queues a critical update of mtce_info (e.g. the BMC
// protocol maintenance learnt).
func (c *Client) UpdateMtceInfo(ref Ref, info string) (*Call[Host], error) {
	return c.Update(ref, Update{Op: "update mtce info", Critical: true, Fields: []Field{{"mtce_info", info}}})
}

// ForceStates queues a critical update of the three states, all sent as
// given (mtcInvApi_force_states).
func (c *Client) ForceStates(ref Ref, admin mtce.AdminState, oper mtce.OperState, avail mtce.AvailStatus) (*Call[Host], error) {
	return c.Update(ref, Update{Op: "force states", Critical: true, Fields: []Field{
		{"administrative", admin.String()}, {"operational", oper.String()}, {"availability", avail.String()}}})
}

// UpdateStates queues a critical update of the states that are not
// "none" (mtcInvApi_update_states). With all three none there is nothing
// to send: ErrInvalidArgument.
func (c *Client) UpdateStates(ref Ref, admin mtce.AdminState, oper mtce.OperState, avail mtce.AvailStatus) (*Call[Host], error) {
	var f []Field
	if admin != mtce.AdminNone {
		f = append(f, Field{"administrative", admin.String()})
	}
	if oper != mtce.OperNone {
		f = append(f, Field{"operational", oper.String()})
	}
	if avail != mtce.AvailNone {
		f = append(f, Field{"availability", avail.String()})
	}
	return c.Update(ref, Update{Op: "update states", Critical: true, Fields: f})
}

// SubfStates queues a critical update of the subfunction states
// (mtcInvApi_subf_states).
func (c *Client) SubfStates(ref Ref, oper mtce.OperState, avail mtce.AvailStatus) (*Call[Host], error) {
	return c.Update(ref, Update{Op: "subf states", Critical: true, Fields: []Field{
		{"subfunction_oper", oper.String()}, {"subfunction_avail", avail.String()}}})
}
