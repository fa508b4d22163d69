package keystone

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
)

// maxReplyBytes bounds the body of a token reply (a StarlingX catalog is a
// few tens of KiB).
const maxReplyBytes = 8 << 20

const userAgent = "metal-go-keystone"

// errTooLarge is reported when a reply exceeds maxReplyBytes.
var errTooLarge = fmt.Errorf("reply body larger than %d bytes", maxReplyBytes)

// newDefaultTransport builds the transport used when Config.Transport is nil:
// a clone of http.DefaultTransport with TLS verification on, TLS >= 1.2 and
// the CA bundle of Config.CAFile if set.
func newDefaultTransport(c *Config) (*http.Transport, error) {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		base = &http.Transport{}
	}
	t := base.Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, invalid("CAFile", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, invalid("CAFile", "no PEM certificate found in %s", c.CAFile)
		}
		tc.RootCAs = pool
	}
	tc.InsecureSkipVerify = c.InsecureSkipVerify //nolint:gosec // explicit, documented opt-out
	t.TLSClientConfig = tc
	return t, nil
}

// authOptions builds a fresh gophercloud.AuthOptions for one request
// (gophercloud may fill in Scope, so options are never shared).
func authOptions(c *Config) gophercloud.AuthOptions {
	o := gophercloud.AuthOptions{
		IdentityEndpoint: c.AuthURL,
		Username:         c.Username,
		UserID:           c.UserID,
		DomainName:       c.UserDomainName,
		DomainID:         c.UserDomainID,
		AllowReauth:      false, // the Manager owns renewal
	}
	if c.ApplicationCredentialID != "" || c.ApplicationCredentialName != "" {
		o.ApplicationCredentialID = c.ApplicationCredentialID
		o.ApplicationCredentialName = c.ApplicationCredentialName
		o.ApplicationCredentialSecret = string(c.ApplicationCredentialSecret)
		return o
	}
	o.Password = string(c.Password)
	o.Scope = &gophercloud.AuthScope{
		ProjectID:   c.ProjectID,
		ProjectName: c.ProjectName,
		DomainID:    c.ProjectDomainID,
		DomainName:  c.ProjectDomainName,
	}
	return o
}

// recorder wraps the transport for one token request and records what
// happened on the wire, so that failures are classified from facts (was a
// request sent, which status came back, did the transport fail) rather than
// from gophercloud's error strings.
type recorder struct {
	base     http.RoundTripper
	sent     int
	status   int
	err      error
	tooLarge bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.sent++
	r.status, r.err = 0, nil
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		r.err = err
		return nil, err
	}
	r.status = resp.StatusCode
	resp.Body = &limitedBody{rc: resp.Body, left: maxReplyBytes, rec: r}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
	rec  *recorder
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Allow a zero-length read at the exact limit to report EOF.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.rec.tooLarge = true
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// reply is the part of a v3 token reply the Manager keeps.
type reply struct {
	ExpiresAt time.Time `json:"expires_at"`
	IssuedAt  time.Time `json:"issued_at"`
	Catalog   *[]struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		Name      string `json:"name"`
		Endpoints []struct {
			ID        string `json:"id"`
			Region    string `json:"region"`
			RegionID  string `json:"region_id"`
			Interface string `json:"interface"`
			URL       string `json:"url"`
		} `json:"endpoints"`
	} `json:"catalog"`
}

// requestToken asks Keystone for a token through gophercloud v2: a new
// provider from openstack.NewClient whose HTTPClient uses rt, then
// openstack.Authenticate. It checks what gophercloud silently accepts
// (no X-Subject-Token, no expires_at, no catalog) and returns typed errors.
func requestToken(ctx context.Context, c *Config, rt http.RoundTripper, cause Cause) (Token, *Error) {
	start := time.Now()
	rec := &recorder{base: rt}
	p, err := openstack.NewClient(c.AuthURL)
	if err != nil {
		return Token{}, &Error{Kind: ErrInvalidConfig, Cause: cause, Err: err}
	}
	p.HTTPClient = http.Client{Transport: rec}
	p.UserAgent.Prepend(userAgent)

	if err := openstack.Authenticate(ctx, p, authOptions(c)); err != nil {
		return Token{}, classify(ctx, rec, err, cause)
	}
	res, ok := p.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return Token{}, &Error{Kind: ErrMalformedResponse, Cause: cause, Status: rec.status,
			Err: fmt.Errorf("unexpected auth result type %T", p.GetAuthResult())}
	}
	tok, perr := parseReply(res, start, c)
	if perr != nil {
		perr.Cause, perr.Status = cause, rec.status
		return Token{}, perr
	}
	return tok, nil
}

// classify turns a failed gophercloud authentication into an *Error. The
// order matters: our own deadline first, then what the recorder saw.
func classify(ctx context.Context, rec *recorder, err error, cause Cause) *Error {
	e := &Error{Cause: cause, Status: rec.status}
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Kind, e.Err = ErrTimeout, context.DeadlineExceeded
	case ctx.Err() != nil:
		e.Kind, e.Err = ErrClosed, context.Canceled
	case rec.tooLarge:
		e.Kind, e.Err = ErrMalformedResponse, errTooLarge
	case rec.err != nil:
		e.Kind, e.Err = ErrUnavailable, rec.err
	case rec.sent == 0:
		// gophercloud refused the options before sending anything. Its
		// errors name fields, never values.
		e.Kind, e.Err = ErrInvalidConfig, err
	case rec.status == http.StatusUnauthorized || rec.status == http.StatusForbidden:
		e.Kind = ErrAuthFailed
	case rec.status != http.StatusCreated:
		e.Kind = ErrUnavailable
	default:
		// 201 but gophercloud could not decode the body. The decoder's
		// message quotes at most a fragment of the body, which holds no
		// secret (the token travels in a header).
		e.Kind, e.Err = ErrMalformedResponse, err
	}
	return e
}

// parseReply checks a 201 reply that gophercloud accepted.
func parseReply(res tokens.CreateResult, start time.Time, c *Config) (Token, *Error) {
	secret := res.Header.Get("X-Subject-Token")
	if secret == "" {
		return Token{}, &Error{Kind: ErrMissingToken}
	}
	for i := 0; i < len(secret); i++ {
		if ch := secret[i]; ch < 0x21 || ch > 0x7e {
			return Token{}, &Error{Kind: ErrMalformedResponse,
				Err: errors.New("X-Subject-Token is not a valid header value")}
		}
	}
	var r reply
	if err := res.ExtractIntoStructPtr(&r, "token"); err != nil {
		return Token{}, &Error{Kind: ErrMalformedResponse, Err: err}
	}
	if r.ExpiresAt.IsZero() {
		return Token{}, &Error{Kind: ErrMissingExpiry}
	}
	if r.Catalog == nil {
		return Token{}, &Error{Kind: ErrNoCatalog}
	}
	if !r.IssuedAt.IsZero() && !r.ExpiresAt.After(r.IssuedAt) {
		return Token{}, &Error{Kind: ErrMalformedResponse,
			Err: errors.New("expires_at is not after issued_at")}
	}
	if r.IssuedAt.IsZero() && !r.ExpiresAt.After(start) {
		return Token{}, &Error{Kind: ErrMalformedResponse,
			Err: errors.New("token already expired on arrival")}
	}
	catalog := make([]Service, 0, len(*r.Catalog))
	for _, s := range *r.Catalog {
		svc := Service{ID: s.ID, Type: s.Type, Name: s.Name}
		for _, ep := range s.Endpoints {
			region := ep.Region
			if region == "" {
				region = ep.RegionID
			}
			svc.Endpoints = append(svc.Endpoints, Endpoint{
				ID: ep.ID, Interface: Interface(ep.Interface), Region: region, RegionID: ep.RegionID, URL: ep.URL,
			})
		}
		catalog = append(catalog, svc)
	}
	if c.RequiredService != "" {
		iface := c.RequiredInterface
		if iface == "" {
			iface = InterfaceAdmin
		}
		if _, err := findEndpoint(catalog, EndpointOpts{Type: c.RequiredService, Interface: iface, Region: c.Region}); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return Token{}, e
			}
			return Token{}, &Error{Kind: ErrNoEndpoint, Err: err}
		}
	}
	return newToken(secret, r.ExpiresAt, r.IssuedAt, start, catalog), nil
}
