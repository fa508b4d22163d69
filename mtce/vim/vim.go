package vim

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Defaults, with the StarlingX names they come from.
const (
	// DefaultTimeout bounds each attempt (HTTP_VIM_TIMEOUT).
	DefaultTimeout = 20 * time.Second
	// DefaultAttempts is the budget of every VIM request
	// (HTTP_DEFAULT_RETRIES, bug 2135130).
	DefaultAttempts = 3
)

// Config configures a Client. Start from DefaultConfig.
type Config struct {
	// BaseURL of the VIM's infrastructure REST API, StarlingX's: localhost
	// and the port of /etc/nfv/nfv_plugins/nfvi_plugins/config.ini
	// [infrastructure-rest-api] port (see Endpoint). Required.
	BaseURL string

	// HTTPClient sends the requests. The VIM is called WITHOUT a Keystone
	// token: use a plain client, not keystone.Transport (the client never
	// sets X-Auth-Token itself). nil means http.DefaultClient.
	HTTPClient *http.Client

	// Queue runs the requests, on the host's lane. Required; the caller
	// owns and closes it.
	Queue *workqueue.Queue

	// Timeout bounds each attempt. Default 20 s.
	Timeout time.Duration

	// Attempts is the attempt budget of every request. Default 3.
	Attempts int

	// BackOff makes the wait policy between attempts; nil means the
	// queue's (5 s constant by default).
	BackOff func() backoff.BackOff

	// UserAgent and ProjectID are sent as User-Agent and X-Auth-Project-Id.
	// Defaults "mtce/1.0" and "admin"; "" omits the header.
	UserAgent string
	ProjectID string

	// Logger receives the client's logs; nil means silent.
	Logger *slog.Logger
}

// DefaultConfig returns StarlingX's values; set BaseURL and Queue.
func DefaultConfig() Config {
	return Config{
		Timeout:   DefaultTimeout,
		Attempts:  DefaultAttempts,
		UserAgent: platform.DefaultUserAgent,
		ProjectID: platform.DefaultProjectID,
	}
}

// Validate reports every unusable field, each error naming the field and
// wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	ck := platform.Checker{Service: "vim"}
	ck.Base("BaseURL", c.BaseURL)
	ck.Queue("Queue", c.Queue)
	ck.Duration("Timeout", c.Timeout)
	ck.Attempts("Attempts", c.Attempts)
	ck.Header("UserAgent", c.UserAgent)
	ck.Header("ProjectID", c.ProjectID)
	return ck.Err()
}

// Endpoint returns the VIM's base URL as StarlingX builds it (spec K.7):
// "localhost" and the [infrastructure-rest-api] port.
func Endpoint(port int) string { return platform.HTTPURL("localhost", port) }

// Event is the state change being reported (mtce's VIM_* requests). It
// labels the request in logs and errors; the body carries only states and
// the VIM infers the rest.
type Event uint8

// Events.
const (
	HostDisabled     Event = iota + 1 // VIM_HOST_DISABLED "disabled"
	HostEnabled                       // VIM_HOST_ENABLED "enabled"
	HostOffline                       // VIM_HOST_OFFLINE "offline"
	HostFailed                        // VIM_HOST_FAILED "failed"
	DataPortOffline                   // VIM_DPORT_OFFLINE "offline"
	DataPortCleared                   // VIM_DPORT_CLEARED "clear"
	DataPortDegraded                  // VIM_DPORT_DEGRADED "major"
	DataPortFailed                    // VIM_DPORT_FAILED "critical"
)

// String returns the event's label, e.g. "host enabled", "data port major".
func (e Event) String() string {
	switch e {
	case HostDisabled:
		return "host disabled"
	case HostEnabled:
		return "host enabled"
	case HostOffline:
		return "host offline"
	case HostFailed:
		return "host failed"
	case DataPortOffline:
		return "data port offline"
	case DataPortCleared:
		return "data port clear"
	case DataPortDegraded:
		return "data port major"
	case DataPortFailed:
		return "data port critical"
	}
	return fmt.Sprintf("Event(%d)", uint8(e))
}

// DataPorts is the host's data-port state, sent only when it is known
// (StarlingX: once the vswitch has reported; its "offduty" default means
// unknown).
type DataPorts struct {
	Oper  mtce.OperState
	Avail mtce.AvailStatus
}

type stateChange struct {
	Administrative   string `json:"administrative"`
	Operational      string `json:"operational"`
	Availability     string `json:"availability"`
	DataPortsOper    string `json:"data_ports_oper,omitempty"`
	DataPortsAvail   string `json:"data_ports_avail,omitempty"`
	SubfunctionOper  string `json:"subfunction_oper"`
	SubfunctionAvail string `json:"subfunction_avail"`
}

type vimBody struct {
	StateChange  stateChange `json:"state-change"`
	Hostname     string      `json:"hostname"`
	UUID         string      `json:"uuid"`
	Subfunctions string      `json:"subfunctions"`
	Personality  string      `json:"personality"`
}

// Body returns the JSON body StarlingX sends for host h (spec D.1,
// mtcVimApi_state_get): {"state-change": {administrative, operational,
// availability, [data_ports_oper, data_ports_avail,] subfunction_oper,
// subfunction_avail}, "hostname", "uuid", "subfunctions", "personality"},
// in that order. States are sent as their texts, "none" included.
func Body(h mtce.Host, ports *DataPorts) ([]byte, error) {
	sc := stateChange{
		Administrative: h.Admin.String(), Operational: h.Oper.String(), Availability: h.Avail.String(),
		SubfunctionOper: h.SubfOper.String(), SubfunctionAvail: h.SubfAvail.String(),
	}
	if ports != nil {
		sc.DataPortsOper, sc.DataPortsAvail = ports.Oper.String(), ports.Avail.String()
	}
	subf := h.Subfunctions
	if subf == "" {
		subf = "none"
	}
	return platform.Marshal(vimBody{StateChange: sc, Hostname: h.Name, UUID: h.UUID,
		Subfunctions: subf, Personality: h.Personality.String()})
}

// Client reports host state changes to the VIM through a work queue. It is
// safe for concurrent use and starts no goroutine.
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
		Service: "vim", BaseURL: cfg.BaseURL, Client: cfg.HTTPClient,
		UserAgent: cfg.UserAgent, ProjectID: cfg.ProjectID, Logger: cfg.Logger,
	})}, nil
}

// StateChange queues PATCH /nfvi-plugins/v1/hosts/<h.UUID> with h's states
// (see Body) on h.Name's lane: critical, Config.Attempts attempts of
// Config.Timeout each. ports is nil unless the data-port state is known.
// h.Name must be a host name and h.UUID a UUID (ErrInvalidArgument).
func (c *Client) StateChange(ev Event, h mtce.Host, ports *DataPorts) (*Call[struct{}], error) {
	if err := platform.CheckName("vim", "host name", h.Name); err != nil {
		return nil, err
	}
	if err := platform.CheckUUID("vim", "host uuid", h.UUID); err != nil {
		return nil, err
	}
	if ev < HostDisabled || ev > DataPortFailed {
		return nil, platform.Invalid("vim", "unknown event %s", ev)
	}
	body, err := Body(h, ports)
	if err != nil {
		return nil, platform.Invalid("vim", "%v", err)
	}
	req := platform.Request{Op: ev.String(), Host: h.Name, Method: http.MethodPatch,
		Path: "/nfvi-plugins/v1/hosts/" + platform.PathEscape(h.UUID), Body: body}
	log := c.ep.Logger()
	if ev == HostFailed || ev == DataPortFailed {
		log.Warn("sending state change to vim", "host", h.Name, "event", ev.String(), "body", string(body))
	} else {
		log.Info("sending state change to vim", "host", h.Name, "event", ev.String())
	}
	return platform.Submit(c.cfg.Queue, platform.Spec[struct{}]{
		Key: h.Name, Name: "vim " + ev.String(), Critical: true,
		Attempts: c.cfg.Attempts, Timeout: c.cfg.Timeout, BackOff: c.cfg.BackOff,
		Run: func(ctx context.Context, _ int) (struct{}, error) {
			_, err := c.ep.Do(ctx, req)
			return struct{}{}, err
		},
	})
}
