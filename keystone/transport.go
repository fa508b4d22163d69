package keystone

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// drainLimit bounds how much of a 401 body is read before it is discarded.
const drainLimit = 64 << 10

// Transport is an http.RoundTripper that authenticates requests with a
// Manager's token.
//
// For each request it waits while the Manager's gate is closed (a 401 was
// seen and no new token exists yet: sending the known-bad token would only
// earn another 401), then sets X-Auth-Token from [Manager.Token] at send
// time. If the request's context ends while it waits, the error wraps
// ctx.Err() and the last token request's [*Error]; nothing was sent. On
// a 401 it calls [Manager.Renew] with the token it sent and, when the body
// can be replayed (no body, or Request.GetBody set, as http.NewRequest does
// for bytes/strings readers), retries once with the new token. A second 401
// gives an [*Error] of kind [ErrUnauthorized]; there is never a loop. When
// the body cannot be replayed, the token is still renewed (so the next
// request carries a fresh one) and the 401 response is returned as is.
//
// Errors never contain a token. The request passed in is never modified.
type Transport struct {
	// Manager supplies tokens. Required.
	Manager *Manager
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Manager == nil {
		closeBody(req)
		return nil, errors.New("keystone: Transport.Manager is nil")
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	ctx := req.Context()
	m := t.Manager
	if err := m.waitOpen(ctx); err != nil {
		closeBody(req)
		return nil, err
	}
	tok, err := m.Token(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil

	first := req.Clone(ctx)
	first.Header.Set("X-Auth-Token", tok.Secret())
	resp, err := base.RoundTrip(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}

	if !replayable {
		// The body is gone; let the caller decide. Renew first, so its
		// next request carries a fresh token.
		if _, rerr := m.Renew(ctx, tok); rerr != nil {
			m.log.Debug("keystone: renewal after 401 (unreplayable body) failed", "err", rerr.Error())
		}
		return resp, nil
	}
	discard(resp)

	fresh, err := m.Renew(ctx, tok)
	if err != nil {
		return nil, err
	}
	second := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("keystone: replaying request body: %w", err)
		}
		second.Body = body
	}
	second.Header.Set("X-Auth-Token", fresh.Secret())
	resp, err = base.RoundTrip(second)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		discard(resp)
		return nil, &Error{Kind: ErrUnauthorized, Status: http.StatusUnauthorized,
			Err: fmt.Errorf("%s %s", req.Method, redactURL(req.URL))}
	}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	_ = resp.Body.Close()
}

// redactURL drops user info, query and fragment (they may carry secrets).
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User, c.RawQuery, c.Fragment, c.RawFragment = nil, "", "", ""
	return c.String()
}
