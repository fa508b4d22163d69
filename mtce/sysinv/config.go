package sysinv

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"opendev.org/starlingx/metal-go/mtce/internal/platform"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Defaults, with the StarlingX names they come from.
const (
	// DefaultPort is sysinv.conf [DEFAULT] sysinv_api_port.
	DefaultPort = 6385
	// DefaultTimeout bounds a critical update's first attempt and every
	// blocking request (sysinv_timeout, HTTP_SYSINV_CRIT_TIMEOUT).
	DefaultTimeout = 20 * time.Second
	// DefaultTimeoutStep is added to a critical update's timeout at each
	// retry (workQueue_process extends it by sysinv_timeout).
	DefaultTimeoutStep = 20 * time.Second
	// DefaultNoncriticalTimeout bounds each attempt of a noncritical update
	// (sysinv_noncrit_timeout, HTTP_SYSINV_NONC_TIMEOUT) and of the
	// sensor-grouping request.
	DefaultNoncriticalTimeout = 10 * time.Second
	// DefaultSensorTimeout bounds the other sensor requests
	// (HWMOND_HTTP_BLOCKING_TIMEOUT).
	DefaultSensorTimeout = 8 * time.Second
	// DefaultAttempts is the budget of every queued request
	// (HTTP_DEFAULT_RETRIES; 87b4a69 removed the per-call 0/3).
	DefaultAttempts = 3
	// DefaultLoadAttempts and DefaultLoadWait are the start-up inventory
	// load's budget: api_retries (10) + 10 attempts, 15 s apart (B.7).
	DefaultLoadAttempts = 20
	DefaultLoadWait     = 15 * time.Second
	// DefaultListLimit is the page size of ListHosts (MTC_INV_BATCH_MAX).
	DefaultListLimit = 5
)

// Config configures a Client. Start from DefaultConfig.
type Config struct {
	// BaseURL of SysInv's API, StarlingX's: sysinv.conf [DEFAULT]
	// sysinv_api_bind_ip and sysinv_api_port (see Endpoint). The catalog's
	// "platform" endpoint, which ends in /v1, is accepted too: a trailing
	// /v1 is dropped. Required.
	BaseURL string

	// HTTPClient sends the requests; use one whose transport adds the
	// Keystone token (keystone.Transport). nil means http.DefaultClient.
	HTTPClient *http.Client

	// Queue runs the queued requests, on the host name's lane. Required;
	// the caller owns and closes it.
	Queue *workqueue.Queue

	// Timeout bounds the first attempt of a critical update and each
	// blocking request; TimeoutStep is added at each retry of a critical
	// update (attempt n gets Timeout + (n-1)*TimeoutStep). Defaults 20 s
	// and 20 s.
	Timeout     time.Duration
	TimeoutStep time.Duration

	// NoncriticalTimeout bounds each attempt of a noncritical update
	// (task, uptime) and of GroupSensors. Default 10 s.
	NoncriticalTimeout time.Duration

	// SensorTimeout bounds each attempt of the other sensor requests.
	// Default 8 s.
	SensorTimeout time.Duration

	// Attempts is the budget of every queued request except AddSensor and
	// AddSensorGroup, which are sent once (a POST is not idempotent).
	// Default 3.
	Attempts int

	// BackOff makes the wait policy between attempts; nil means the
	// queue's (5 s constant by default).
	BackOff func() backoff.BackOff

	// LoadAttempts and LoadWait bound LoadHostRetry. Defaults 20 and 15 s.
	LoadAttempts int
	LoadWait     time.Duration

	// Renew, if not nil, is called by LoadHostRetry when an attempt failed
	// with ErrUnauthorized (B.7: force a fresh token inside the start-up
	// loop); after the first successful renewal the next attempt starts at
	// once, after later ones it waits LoadWait.
	// With keystone.Transport a 401 is renewed by the transport already;
	// pass the Manager's Renew (wrapped) to force one more.
	Renew func(ctx context.Context) error

	// OnUUIDChange, if not nil, is called when a 404 on an update made the
	// client reload a host whose UUID turned out to have changed (the host
	// was deleted and added again). StarlingX tells hwmond at this point.
	// It runs on a queue goroutine (on the caller's for UpdateNow) and must
	// be quick.
	OnUUIDChange func(name, oldUUID, newUUID string)

	// ListLimit is the page size of ListHosts. Default 5.
	ListLimit int

	// UserAgent and ProjectID are sent as User-Agent and X-Auth-Project-Id.
	// Defaults "mtce/1.0" and "admin"; "" omits the header. hwmond sends
	// "hwmon/1.0": a hardware monitor should use its own Client with that.
	UserAgent string
	ProjectID string

	// Logger receives the client's logs; nil means silent.
	Logger *slog.Logger
}

// DefaultConfig returns StarlingX's values; set BaseURL, HTTPClient and
// Queue.
func DefaultConfig() Config {
	return Config{
		Timeout:            DefaultTimeout,
		TimeoutStep:        DefaultTimeoutStep,
		NoncriticalTimeout: DefaultNoncriticalTimeout,
		SensorTimeout:      DefaultSensorTimeout,
		Attempts:           DefaultAttempts,
		LoadAttempts:       DefaultLoadAttempts,
		LoadWait:           DefaultLoadWait,
		ListLimit:          DefaultListLimit,
		UserAgent:          platform.DefaultUserAgent,
		ProjectID:          platform.DefaultProjectID,
	}
}

// Validate reports every unusable field, each error naming the field and
// wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	ck := platform.Checker{Service: "sysinv"}
	ck.Base("BaseURL", c.BaseURL)
	ck.Queue("Queue", c.Queue)
	ck.Duration("Timeout", c.Timeout)
	ck.NonNegDuration("TimeoutStep", c.TimeoutStep)
	ck.Duration("NoncriticalTimeout", c.NoncriticalTimeout)
	ck.Duration("SensorTimeout", c.SensorTimeout)
	ck.Attempts("Attempts", c.Attempts)
	ck.Attempts("LoadAttempts", c.LoadAttempts)
	ck.NonNegDuration("LoadWait", c.LoadWait)
	ck.Attempts("ListLimit", c.ListLimit)
	ck.Header("UserAgent", c.UserAgent)
	ck.Header("ProjectID", c.ProjectID)
	return ck.Err()
}

// Endpoint returns SysInv's base URL as StarlingX builds it (spec K.7):
// sysinv.conf sysinv_api_bind_ip and sysinv_api_port.
func Endpoint(bindIP string, port int) string { return platform.HTTPURL(bindIP, port) }

func trimV1(base string) string {
	base = strings.TrimRight(base, "/")
	return strings.TrimSuffix(base, "/v1")
}
