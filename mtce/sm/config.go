package sm

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"

	"opendev.org/starlingx/metal-go/mtce/internal/platform"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Defaults, with the StarlingX names they come from.
const (
	// DefaultPort is mtc.conf [agent] ha_port.
	DefaultPort = 7777
	// DefaultTimeout bounds each attempt (HTTP_SMGR_TIMEOUT).
	DefaultTimeout = 20 * time.Second
	// DefaultQueryAttempts: the swact FSM queues the query with
	// max_retries 0, one HTTP attempt per FSM try.
	DefaultQueryAttempts = 1
	// DefaultSwactAttempts: the swact FSM queues the swact with
	// max_retries 0. The enable handler's swact after an active controller
	// failure uses 3: pass Request.Attempts.
	DefaultSwactAttempts = 1
	// DefaultAttempts is the budget of the state notifications (Enabled,
	// Disabled, Locked, Unlocked): HTTP_DEFAULT_RETRIES.
	DefaultAttempts = 3
)

// Config configures a Client. Start from DefaultConfig.
type Config struct {
	// BaseURL of SM's REST API, StarlingX's: the agent's own host name and
	// mtc.conf ha_port (see Endpoint), e.g. "http://controller-0:7777".
	// Required.
	BaseURL string

	// HTTPClient sends the requests. SM needs a Keystone token: use a
	// client whose transport is keystone.Transport (it sets X-Auth-Token at
	// send time and renews it once on a 401). nil means
	// http.DefaultClient (no token).
	HTTPClient *http.Client

	// Queue runs the requests, on the target controller's lane. Required;
	// the caller owns and closes it.
	Queue *workqueue.Queue

	// Timeout bounds each attempt. Default 20 s.
	Timeout time.Duration

	// QueryAttempts, SwactAttempts and Attempts are the attempt budgets of
	// the query, the swact and the state notifications. Defaults 1, 1, 3.
	QueryAttempts int
	SwactAttempts int
	Attempts      int

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

// DefaultConfig returns StarlingX's values; set BaseURL, HTTPClient and
// Queue.
func DefaultConfig() Config {
	return Config{
		Timeout:       DefaultTimeout,
		QueryAttempts: DefaultQueryAttempts,
		SwactAttempts: DefaultSwactAttempts,
		Attempts:      DefaultAttempts,
		UserAgent:     platform.DefaultUserAgent,
		ProjectID:     platform.DefaultProjectID,
	}
}

// Validate reports every unusable field, each error naming the field and
// wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	ck := platform.Checker{Service: "sm"}
	ck.Base("BaseURL", c.BaseURL)
	ck.Queue("Queue", c.Queue)
	ck.Duration("Timeout", c.Timeout)
	ck.Attempts("QueryAttempts", c.QueryAttempts)
	ck.Attempts("SwactAttempts", c.SwactAttempts)
	ck.Attempts("Attempts", c.Attempts)
	ck.Header("UserAgent", c.UserAgent)
	ck.Header("ProjectID", c.ProjectID)
	return ck.Err()
}

// Endpoint returns SM's base URL as StarlingX finds it (spec K.7): the
// agent's own host name (gethostname) and mtc.conf ha_port.
func Endpoint(hostname string, haPort int) string { return platform.HTTPURL(hostname, haPort) }
