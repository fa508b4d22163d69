package sm

import (
	"context"
	"fmt"
	"net/http"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Op is an SM request (mtce's CONTROLLER_* operations).
type Op uint8

// Operations, with the criticality and default attempt budget of spec C.4.
const (
	OpQuery    Op = iota + 1 // GET, critical, QueryAttempts (1)
	OpSwact                  // PATCH action=swact, critical, SwactAttempts (1)
	OpDisabled               // PATCH oper=disabled, noncritical, Attempts (3)
	OpEnabled                // PATCH oper=enabled, critical, Attempts (3)
	OpLocked                 // PATCH action=lock, noncritical, Attempts (3)
	OpUnlocked               // PATCH action=unlock, noncritical, Attempts (3)
)

// String returns mtce's label of the operation.
func (o Op) String() string {
	switch o {
	case OpQuery:
		return "Query"
	case OpSwact:
		return "Swact"
	case OpDisabled:
		return "Disable"
	case OpEnabled:
		return "Enable"
	case OpLocked:
		return "Locked"
	case OpUnlocked:
		return "Unlocked"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Critical reports whether a failure of o fails the action that sent it
// (spec D.3): Query, Swact and Enabled.
func (o Op) Critical() bool { return o == OpQuery || o == OpSwact || o == OpEnabled }

// Request is a state-changing SM request (any Op but OpQuery).
type Request struct {
	Op Op

	// Action is the controller's current admin action (OpEnabled and
	// OpDisabled): the body says "unlock" (Enabled) or "lock" (Disabled)
	// when it is that action, "event" otherwise. As in StarlingX, only
	// ActionLock counts as "lock" (a force-lock is sent as "event").
	Action mtce.AdminAction
	// Admin is the controller's current admin state (OpEnabled, OpDisabled).
	Admin mtce.AdminState
	// Avail is the controller's current availability (OpSwact, OpEnabled,
	// OpDisabled).
	Avail mtce.AvailStatus

	// Attempts overrides the Config budget for this request when positive
	// (the enable handler's swact uses 3).
	Attempts int
}

// smBody is the PATCH body, with StarlingX's key order.
type smBody struct {
	Origin string `json:"origin"`
	Action string `json:"action"`
	Admin  string `json:"admin"`
	Oper   string `json:"oper"`
	Avail  string `json:"avail"`
}

// body returns the JSON body of r (spec C.4), or an error for a request
// that lacks a state StarlingX would send.
func (r Request) body() ([]byte, error) {
	need := func(ok bool, what string) error {
		if !ok {
			return platform.Invalid("sm", "%s request needs the controller's %s", r.Op, what)
		}
		return nil
	}
	var b smBody
	switch r.Op {
	case OpSwact:
		if err := need(r.Avail != mtce.AvailNone, "availability"); err != nil {
			return nil, err
		}
		b = smBody{Action: "swact", Admin: "unlocked", Oper: "enabled", Avail: r.Avail.String()}
	case OpDisabled, OpEnabled:
		if err := need(r.Admin != mtce.AdminNone, "admin state"); err != nil {
			return nil, err
		}
		if err := need(r.Avail != mtce.AvailNone, "availability"); err != nil {
			return nil, err
		}
		b = smBody{Action: "event", Admin: r.Admin.String(), Oper: "disabled", Avail: r.Avail.String()}
		if r.Op == OpDisabled && r.Action == mtce.ActionLock {
			b.Action = "lock"
		}
		if r.Op == OpEnabled {
			b.Oper = "enabled"
			if r.Action == mtce.ActionUnlock {
				b.Action = "unlock"
			}
		}
	case OpLocked:
		b = smBody{Action: "lock", Admin: "locked", Oper: "disabled", Avail: "online"}
	case OpUnlocked:
		b = smBody{Action: "unlock", Admin: "unlocked", Oper: "enabled", Avail: "available"}
	case OpQuery:
		return nil, platform.Invalid("sm", "use Client.Query for %s", r.Op)
	default:
		return nil, platform.Invalid("sm", "unknown operation %s", r.Op)
	}
	b.Origin = "mtce"
	return platform.Marshal(b)
}

// Client sends requests to StarlingX's Service Manager through a work
// queue. It is safe for concurrent use and starts no goroutine.
type Client struct {
	cfg Config
	ep  *platform.Endpoint
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, ep: platform.NewEndpoint(platform.EndpointConfig{
		Service: "sm", BaseURL: cfg.BaseURL, Client: cfg.HTTPClient,
		UserAgent: cfg.UserAgent, ProjectID: cfg.ProjectID, Logger: cfg.Logger,
	})}, nil
}

func nodePath(controller string) string {
	return "/v1/servicenode/" + platform.PathEscape(controller)
}

// Query queues GET /v1/servicenode/<controller> on the controller's lane
// (critical, Config.QueryAttempts). The value is the parsed answer; a
// malformed answer ends the call at once with ErrBadResponse.
func (c *Client) Query(controller string) (*Call[ServiceNode], error) {
	if err := platform.CheckName("sm", "controller", controller); err != nil {
		return nil, err
	}
	req := platform.Request{Op: OpQuery.String(), Host: controller, Method: http.MethodGet,
		Path: nodePath(controller)}
	c.ep.Logger().Info("sending 'query services' request to Service Manager", "host", controller)
	return platform.Submit(c.cfg.Queue, platform.Spec[ServiceNode]{
		Key: controller, Name: "sm " + OpQuery.String(), Critical: true,
		Attempts: c.cfg.QueryAttempts, Timeout: c.cfg.Timeout, BackOff: c.cfg.BackOff,
		Run: func(ctx context.Context, _ int) (ServiceNode, error) {
			resp, err := c.ep.Do(ctx, req)
			if err != nil {
				return ServiceNode{}, err
			}
			n, err := ParseServiceNode(resp.Body, controller)
			if err != nil {
				// StarlingX does not retry bad data.
				return ServiceNode{}, workqueue.Permanent(c.ep.BadBody(req, resp, err))
			}
			return n, nil
		},
	})
}

// Send queues r as a PATCH of /v1/servicenode/<controller> on the
// controller's lane, with the body, criticality and attempt budget of spec
// C.4. A request that lacks a state it must carry is refused with
// ErrInvalidArgument.
func (c *Client) Send(controller string, r Request) (*Call[struct{}], error) {
	if err := platform.CheckName("sm", "controller", controller); err != nil {
		return nil, err
	}
	body, err := r.body()
	if err != nil {
		return nil, err
	}
	attempts := c.cfg.Attempts
	if r.Op == OpSwact {
		attempts = c.cfg.SwactAttempts
	}
	if r.Attempts > 0 {
		attempts = r.Attempts
	}
	req := platform.Request{Op: r.Op.String(), Host: controller, Method: http.MethodPatch,
		Path: nodePath(controller), Body: body}
	c.ep.Logger().Info("sending request to Service Manager", "host", controller, "op", r.Op.String())
	return platform.Submit(c.cfg.Queue, platform.Spec[struct{}]{
		Key: controller, Name: "sm " + r.Op.String(), Critical: r.Op.Critical(),
		Attempts: attempts, Timeout: c.cfg.Timeout, BackOff: c.cfg.BackOff,
		Run: func(ctx context.Context, _ int) (struct{}, error) {
			_, err := c.ep.Do(ctx, req)
			return struct{}{}, err
		},
	})
}

// Swact asks SM to swact services away from controller (critical).
// avail is the controller's current availability.
func (c *Client) Swact(controller string, avail mtce.AvailStatus) (*Call[struct{}], error) {
	return c.Send(controller, Request{Op: OpSwact, Avail: avail})
}

// Enabled tells SM the controller is enabled (critical). action, admin and
// avail are the controller's current admin action, admin state and
// availability.
func (c *Client) Enabled(controller string, action mtce.AdminAction, admin mtce.AdminState, avail mtce.AvailStatus) (*Call[struct{}], error) {
	return c.Send(controller, Request{Op: OpEnabled, Action: action, Admin: admin, Avail: avail})
}

// Disabled tells SM the controller is disabled (noncritical).
func (c *Client) Disabled(controller string, action mtce.AdminAction, admin mtce.AdminState, avail mtce.AvailStatus) (*Call[struct{}], error) {
	return c.Send(controller, Request{Op: OpDisabled, Action: action, Admin: admin, Avail: avail})
}

// Locked tells SM the controller is locked-disabled-online (noncritical).
func (c *Client) Locked(controller string) (*Call[struct{}], error) {
	return c.Send(controller, Request{Op: OpLocked})
}

// Unlocked tells SM the controller is unlocked-enabled-available
// (noncritical).
func (c *Client) Unlocked(controller string) (*Call[struct{}], error) {
	return c.Send(controller, Request{Op: OpUnlocked})
}
