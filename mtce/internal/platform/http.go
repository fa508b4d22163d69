package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"opendev.org/starlingx/metal-go/keystone"
)

// Header values of maintenance's queued requests (spec A.8).
const (
	DefaultUserAgent = "mtce/1.0"
	DefaultProjectID = "admin"
	ContentJSON      = "application/json"
	ContentOctets    = "application/octet-stream"
)

// MaxBody bounds every response body read: a larger body is ErrBadResponse.
// An ihost list page of five records is a few KiB; this leaves ample room.
const MaxBody = 4 << 20

// detailMax bounds the body excerpt kept in an Error.
const detailMax = 240

// Endpoint sends requests to one platform service. It is immutable after
// NewEndpoint and safe for concurrent use.
type Endpoint struct {
	service   string
	base      string // scheme://host[:port][/prefix], no trailing slash
	client    *http.Client
	userAgent string
	projectID string
	log       *slog.Logger
}

// EndpointConfig configures an Endpoint.
type EndpointConfig struct {
	Service   string       // "sm", "vim", "sysinv", "barbican"
	BaseURL   string       // http(s)://host:port[/prefix]
	Client    *http.Client // nil: http.DefaultClient
	UserAgent string       // "" : no User-Agent override (Go's default)
	ProjectID string       // X-Auth-Project-Id; "" : header omitted
	Logger    *slog.Logger // nil: silent
}

// ValidateBaseURL checks a base URL: absolute http or https, a host, no
// query, fragment or user info.
func ValidateBaseURL(service, field, raw string) error {
	if raw == "" {
		return InvalidConfig(service, field, "is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return InvalidConfig(service, field, "%q is not a URL: %v", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return InvalidConfig(service, field, "%q: scheme must be http or https", raw)
	case u.Host == "":
		return InvalidConfig(service, field, "%q has no host", raw)
	case u.User != nil:
		return InvalidConfig(service, field, "must not carry user info")
	case u.RawQuery != "" || u.Fragment != "":
		return InvalidConfig(service, field, "%q must not have a query or fragment", raw)
	}
	return nil
}

// NewEndpoint builds an Endpoint; cfg.BaseURL must pass ValidateBaseURL.
func NewEndpoint(cfg EndpointConfig) *Endpoint {
	base := cfg.Client
	if base == nil {
		base = http.DefaultClient
	}
	// Redirects are not followed: net/http turns a redirected PATCH or
	// POST into a GET, which would pass without the update being made.
	// A 3xx is returned as an error (ErrStatus), as StarlingX's libevent
	// client does not follow redirects either.
	c := &http.Client{Transport: base.Transport, Jar: base.Jar, Timeout: base.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Endpoint{
		service:   cfg.Service,
		base:      strings.TrimRight(cfg.BaseURL, "/"),
		client:    c,
		userAgent: cfg.UserAgent,
		projectID: cfg.ProjectID,
		log:       log.With("service", cfg.Service),
	}
}

// Service returns the service label.
func (ep *Endpoint) Service() string { return ep.service }

// Logger returns the endpoint's logger (never nil).
func (ep *Endpoint) Logger() *slog.Logger { return ep.log }

// Request is one HTTP exchange.
type Request struct {
	Op        string        // operation label for errors and logs
	Host      string        // the host the request is about, for errors and logs
	Method    string        // GET, PATCH, POST, DELETE
	Path      string        // escaped path appended to the base URL, starting with "/"
	Query     url.Values    // optional
	RawQuery  string        // optional, used as is when Query is empty
	Body      []byte        // nil: no body
	Accept    string        // "": application/json
	Timeout   time.Duration // 0: only ctx bounds the exchange
	Sensitive bool          // the response body is a secret: never kept in errors or logs
}

// Response is a passed exchange: status 200–204 and the whole body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends r and reads the whole answer (at most MaxBody bytes). It returns
// the response for statuses 200–204, and an *Error otherwise (see the
// package documentation for the mapping). The request body is replayable
// (GetBody is set), so a token-renewing transport can resend it.
func (ep *Endpoint) Do(ctx context.Context, r Request) (*Response, error) {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	raw := ep.base + r.Path
	if len(r.Query) > 0 {
		raw += "?" + r.Query.Encode()
	} else if r.RawQuery != "" {
		raw += "?" + r.RawQuery
	}
	fail := &Error{Service: ep.service, Op: r.Op, Host: r.Host, Method: r.Method}
	u, err := url.Parse(raw)
	if err != nil {
		fail.URL = ep.base
		fail.Kind, fail.Err = ErrInvalidArgument, err
		return nil, fail
	}
	fail.URL = RedactURL(u)
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, raw, body)
	if err != nil {
		fail.Kind, fail.Err = ErrInvalidArgument, err
		return nil, fail
	}
	accept := r.Accept
	if accept == "" {
		accept = ContentJSON
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Content-Type", ContentJSON)
	if ep.userAgent != "" {
		req.Header.Set("User-Agent", ep.userAgent)
	}
	if ep.projectID != "" {
		req.Header.Set("X-Auth-Project-Id", ep.projectID)
	}

	start := time.Now()
	resp, err := ep.client.Do(req)
	if err != nil {
		fail.Kind, fail.Err = ErrTransport, transportCause(err)
		if errors.Is(err, keystone.ErrUnauthorized) {
			fail.Kind, fail.Status = ErrUnauthorized, http.StatusUnauthorized
		}
		ep.log.Debug("request failed", "op", r.Op, "host", r.Host, "method", r.Method,
			"url", fail.URL, "elapsed", time.Since(start), "err", fail.Err)
		return nil, fail
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	fail.Status = resp.StatusCode
	if err != nil {
		fail.Kind, fail.Err = ErrTransport, fmt.Errorf("reading body: %w", transportCause(err))
		return nil, fail
	}
	ep.log.Debug("request done", "op", r.Op, "host", r.Host, "method", r.Method,
		"url", fail.URL, "status", resp.StatusCode, "elapsed", time.Since(start))
	if len(data) > MaxBody {
		fail.Kind, fail.Err = ErrBadResponse, &DecodeError{What: "response", Reason: fmt.Sprintf("body larger than %d bytes", MaxBody)}
		return nil, fail
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 204 {
		return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		fail.Kind = ErrUnauthorized
	case http.StatusNotFound:
		fail.Kind = ErrNotFound
	default:
		fail.Kind = ErrStatus
	}
	if !r.Sensitive {
		fail.Detail = Excerpt(data)
	}
	return nil, fail
}

// BadBody turns a decoding failure of a passed response into an *Error of
// Kind ErrBadResponse for request r.
func (ep *Endpoint) BadBody(r Request, resp *Response, err error) error {
	return ep.Fail(r, resp, ErrBadResponse, err)
}

// Fail builds an *Error of the given kind for request r, whose answer
// passed the status check but not the caller's.
func (ep *Endpoint) Fail(r Request, resp *Response, kind, err error) error {
	u := ep.base + r.Path
	if pu, perr := url.Parse(u); perr == nil {
		u = RedactURL(pu)
	}
	e := &Error{Service: ep.service, Op: r.Op, Host: r.Host, Method: r.Method, URL: u,
		Kind: kind, Err: err}
	if resp != nil {
		e.Status = resp.Status
	}
	return e
}

// transportCause strips net/http's *url.Error, whose text repeats the URL
// with its query (the URL is kept, redacted, in Error.URL).
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// RedactURL returns u without user info, query or fragment.
func RedactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// Excerpt returns a short, printable excerpt of an error body for logs and
// errors: SysInv's faultstring when the body is SysInv's error document,
// else the start of the body. A body that mentions a token or a password is
// withheld, as StarlingX's API log does.
func Excerpt(body []byte) string {
	s := faultString(body)
	if s == "" {
		s = strings.TrimSpace(string(body))
	}
	low := strings.ToLower(s)
	if strings.Contains(low, "token") || strings.Contains(low, "assword") || strings.Contains(low, "secret") {
		return "[withheld]"
	}
	if len(s) > detailMax {
		cut := detailMax
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// faultString extracts the faultstring of SysInv's error document
// {"error_message": "{\"faultstring\": \"...\", ...}"}.
func faultString(body []byte) string {
	var outer struct {
		ErrorMessage string `json:"error_message"`
	}
	if json.Unmarshal(body, &outer) != nil || outer.ErrorMessage == "" {
		return ""
	}
	var inner struct {
		Faultstring string `json:"faultstring"`
	}
	if json.Unmarshal([]byte(outer.ErrorMessage), &inner) == nil && inner.Faultstring != "" {
		return inner.Faultstring
	}
	return outer.ErrorMessage
}

// PathEscape escapes one path segment.
func PathEscape(s string) string { return url.PathEscape(s) }
