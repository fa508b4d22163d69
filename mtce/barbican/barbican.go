package barbican

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"opendev.org/starlingx/metal-go/mtce/internal/platform"
	"opendev.org/starlingx/metal-go/workqueue"
)

// Defaults, with the StarlingX names they come from.
const (
	// DefaultPort is barbican.conf [DEFAULT] bind_port.
	DefaultPort = 9311
	// DefaultRequestTimeout bounds each of the two requests of a lookup
	// (HTTP_SECRET_TIMEOUT); an attempt gets twice as much.
	DefaultRequestTimeout = 20 * time.Second
	// DefaultAttempts is the budget of a queued lookup.
	DefaultAttempts = 3
	// RetryMin and RetryMax bound the random wait between attempts
	// (secretUtil: rand()%91 + 10 seconds).
	RetryMin = 10 * time.Second
	RetryMax = 100 * time.Second
)

// Config configures a Client. Start from DefaultConfig.
type Config struct {
	// BaseURL of Barbican, StarlingX's: barbican.conf [DEFAULT] bind_host
	// (IPv6 brackets stripped) and bind_port (see Endpoint). Required.
	BaseURL string

	// HTTPClient sends the requests; use one whose transport adds the
	// Keystone token (keystone.Transport). nil means http.DefaultClient.
	HTTPClient *http.Client

	// Queue runs the queued lookups. Required; the caller owns and closes
	// it.
	Queue *workqueue.Queue

	// RequestTimeout bounds each HTTP request; a queued attempt (two
	// requests) gets twice as much. Default 20 s.
	RequestTimeout time.Duration

	// Attempts is the budget of a queued lookup. Default 3.
	Attempts int

	// BackOff makes the wait policy between attempts; nil means a uniform
	// random wait in [10 s, 100 s] in whole seconds, as StarlingX does.
	BackOff func() backoff.BackOff

	// Lane returns the lane key of host's lookups; nil means
	// host + "/barbican" (see the package documentation).
	Lane func(host string) string

	// UserAgent and ProjectID are sent as User-Agent and X-Auth-Project-Id.
	// Defaults "mtce/1.0" and "admin"; "" omits the header.
	UserAgent string
	ProjectID string

	// Logger receives the client's logs; nil means silent. No secret is
	// ever logged.
	Logger *slog.Logger
}

// DefaultConfig returns StarlingX's values; set BaseURL, HTTPClient and
// Queue.
func DefaultConfig() Config {
	return Config{
		RequestTimeout: DefaultRequestTimeout,
		Attempts:       DefaultAttempts,
		UserAgent:      platform.DefaultUserAgent,
		ProjectID:      platform.DefaultProjectID,
	}
}

// Validate reports every unusable field, each error naming the field and
// wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	ck := platform.Checker{Service: "barbican"}
	ck.Base("BaseURL", c.BaseURL)
	ck.Queue("Queue", c.Queue)
	ck.Duration("RequestTimeout", c.RequestTimeout)
	ck.Attempts("Attempts", c.Attempts)
	ck.Header("UserAgent", c.UserAgent)
	ck.Header("ProjectID", c.ProjectID)
	return ck.Err()
}

// Endpoint returns Barbican's base URL as StarlingX builds it (spec K.7)
// from barbican.conf bind_host, brackets or not, and bind_port.
func Endpoint(bindHost string, port int) string { return platform.HTTPURL(bindHost, port) }

// randomWait is StarlingX's retry wait: 10 + rand()%91 seconds.
type randomWait struct{}

func (randomWait) NextBackOff() time.Duration {
	return RetryMin + time.Duration(rand.IntN(int((RetryMax-RetryMin)/time.Second)+1))*time.Second
}
func (randomWait) Reset() {}

// Client reads BMC passwords from Barbican. It is safe for concurrent use
// and starts no goroutine.
type Client struct {
	cfg Config
	ep  *platform.Endpoint
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BackOff == nil {
		cfg.BackOff = func() backoff.BackOff { return randomWait{} }
	}
	if cfg.Lane == nil {
		cfg.Lane = func(host string) string { return host + "/barbican" }
	}
	return &Client{cfg: cfg, ep: platform.NewEndpoint(platform.EndpointConfig{
		Service: "barbican", BaseURL: cfg.BaseURL, Client: cfg.HTTPClient,
		UserAgent: cfg.UserAgent, ProjectID: cfg.ProjectID, Logger: cfg.Logger,
	})}, nil
}

// Password queues the lookup of host's BMC password, stored under the
// host's UUID, on the lane Config.Lane(host): Config.Attempts attempts of
// two requests each (see Lookup), a random 10–100 s apart.
func (c *Client) Password(host, uuid string) (*Call[Secret], error) {
	if err := platform.CheckName("barbican", "host name", host); err != nil {
		return nil, err
	}
	if err := platform.CheckUUID("barbican", "host uuid", uuid); err != nil {
		return nil, err
	}
	return platform.Submit(c.cfg.Queue, platform.Spec[Secret]{
		Key: c.cfg.Lane(host), Name: "barbican get password", Attempts: c.cfg.Attempts,
		Timeout: 2 * c.cfg.RequestTimeout, BackOff: c.cfg.BackOff,
		Run: func(ctx context.Context, _ int) (Secret, error) {
			return c.lookup(ctx, host, uuid)
		},
	})
}

// Lookup reads the password stored under uuid at once, without the queue,
// in StarlingX's two steps (spec K.7), each bounded by ctx and
// Config.RequestTimeout:
//
//  1. GET /v1/secrets?name=<uuid>&limit=1 (Accept application/json): the
//     element of "secrets" whose "name" is uuid gives "secret_ref", whose
//     text after the last '/' is the reference;
//  2. GET /v1/secrets/<reference>/payload (Accept
//     application/octet-stream): the raw body is the password.
//
// No matching secret and an empty payload are ErrNoSecret.
func (c *Client) Lookup(ctx context.Context, uuid string) (Secret, error) {
	if err := platform.CheckUUID("barbican", "host uuid", uuid); err != nil {
		return Secret{}, err
	}
	return c.lookup(ctx, "", uuid)
}

func (c *Client) lookup(ctx context.Context, host, uuid string) (Secret, error) {
	list := platform.Request{Op: "find secret", Host: host, Method: http.MethodGet, Path: "/v1/secrets",
		RawQuery: "name=" + url.QueryEscape(uuid) + "&limit=1", Timeout: c.cfg.RequestTimeout}
	resp, err := c.ep.Do(ctx, list)
	if err != nil {
		return Secret{}, err
	}
	ref, found, err := ParseSecretRef(resp.Body, uuid)
	if err != nil {
		return Secret{}, c.ep.BadBody(list, resp, err)
	}
	if !found {
		return Secret{}, c.ep.Fail(list, resp, ErrNoSecret, fmt.Errorf("no secret named %s", uuid))
	}
	get := platform.Request{Op: "get secret payload", Host: host, Method: http.MethodGet,
		Path: "/v1/secrets/" + platform.PathEscape(ref) + "/payload", Accept: platform.ContentOctets,
		Timeout: c.cfg.RequestTimeout, Sensitive: true}
	resp, err = c.ep.Do(ctx, get)
	if err != nil {
		return Secret{}, err
	}
	if len(resp.Body) == 0 {
		return Secret{}, c.ep.Fail(get, resp, ErrNoSecret, fmt.Errorf("empty payload"))
	}
	return NewSecret(string(resp.Body)), nil
}

// ParseSecretRef finds, in Barbican's answer to GET /v1/secrets?name=...,
// the secret named name and returns its reference: the text of its
// "secret_ref" after the last '/'. found is false when no element has that
// name. A body that is not {"secrets": [{...}, ...], ...}, a name or
// secret_ref that is not a string, or a matching secret_ref with nothing
// after its last '/' is a *DecodeError wrapping ErrBadResponse.
func ParseSecretRef(body []byte, name string) (ref string, found bool, err error) {
	const what = "secret list"
	m, err := platform.Object(what, body)
	if err != nil {
		return "", false, err
	}
	raw, ok := m["secrets"]
	if !ok {
		return "", false, &DecodeError{What: what, Field: "secrets", Reason: "missing"}
	}
	if platform.Kind(raw) != '[' {
		return "", false, &DecodeError{What: what, Field: "secrets", Reason: "is " + platform.KindName(raw) + ", want an array"}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return "", false, &DecodeError{What: what, Field: "secrets", Reason: "bad array", Err: err}
	}
	for i, it := range items {
		field := fmt.Sprintf("secrets[%d]", i)
		sm, err := platform.Object(what, it)
		if err != nil {
			return "", false, &DecodeError{What: what, Field: field, Reason: "not an object"}
		}
		rawName, ok := sm["name"]
		if !ok || platform.Kind(rawName) == 'n' {
			continue // an unnamed secret is not ours
		}
		n, err := platform.String(what, field+".name", rawName)
		if err != nil {
			return "", false, err
		}
		if n != name {
			continue
		}
		rawRef, ok := sm["secret_ref"]
		if !ok {
			return "", false, &DecodeError{What: what, Field: field + ".secret_ref", Reason: "missing"}
		}
		sref, err := platform.String(what, field+".secret_ref", rawRef)
		if err != nil {
			return "", false, err
		}
		ref = sref[strings.LastIndexByte(sref, '/')+1:]
		if ref == "" || ref == "." || ref == ".." {
			return "", false, &DecodeError{What: what, Field: field + ".secret_ref",
				Reason: fmt.Sprintf("%q has no reference after its last '/'", sref)}
		}
		return ref, true, nil
	}
	return "", false, nil
}
