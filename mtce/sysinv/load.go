package sysinv

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"opendev.org/starlingx/metal-go/mtce/internal/platform"
)

// LoadHost reads host name's record with a direct, blocking
// GET /v1/ihosts/<name> (mtcInvApi_load_host), bounded by ctx and
// Config.Timeout. The answer must be name's record.
func (c *Client) LoadHost(ctx context.Context, name string) (Host, error) {
	if err := platform.CheckName("sysinv", "host name", name); err != nil {
		return Host{}, err
	}
	req := platform.Request{Op: "load host", Host: name, Method: http.MethodGet, Path: hostPath(name), Timeout: c.cfg.Timeout}
	resp, err := c.ep.Do(ctx, req)
	if err != nil {
		return Host{}, err
	}
	h, err := ParseHost(resp.Body)
	if err == nil && h.Name != name {
		err = &DecodeError{What: hostWhat, Field: "hostname", Reason: fmt.Sprintf("is %q, want %q", h.Name, name)}
	}
	if err != nil {
		return Host{}, c.ep.BadBody(req, resp, err)
	}
	return h, nil
}

// LoadHostRetry is the start-up load of the agent's own record (spec B.7):
// LoadHost up to Config.LoadAttempts times, Config.LoadWait apart. After
// an ErrUnauthorized it calls Config.Renew, if set; after the first
// successful renewal it tries again at once, after later ones it waits
// Config.LoadWait as after any failure, so that a SysInv that rejects every
// token (its own Keystone link down during start-up) cannot spend the whole
// budget, and hammer Keystone, in an instant. A 4xx that cannot change (see
// the package documentation) ends it at once; a 404 does not (the host may
// not be in the database yet). It returns the record, ctx's error, or the
// last attempt's error wrapped with the count.
func (c *Client) LoadHostRetry(ctx context.Context, name string) (Host, error) {
	if err := platform.CheckName("sysinv", "host name", name); err != nil {
		return Host{}, err
	}
	log := c.ep.Logger()
	var last error
	quick := true // the first successful renewal is followed by an immediate attempt
	for n := 1; ; n++ {
		h, err := c.LoadHost(ctx, name)
		if err == nil {
			return h, nil
		}
		last = err
		if cerr := ctx.Err(); cerr != nil {
			return Host{}, cerr
		}
		if platform.Permanent(err) || n >= c.cfg.LoadAttempts {
			break
		}
		log.Warn("loading host record failed; retrying", "host", name, "attempt", n, "of", c.cfg.LoadAttempts, "err", err)
		if platform.IsAuth(err) && c.cfg.Renew != nil {
			if rerr := c.cfg.Renew(ctx); rerr == nil {
				if quick {
					quick = false
					continue
				}
			} else {
				log.Warn("token renewal failed", "err", rerr)
			}
		}
		if err := sleep(ctx, c.cfg.LoadWait); err != nil {
			return Host{}, err
		}
	}
	return Host{}, fmt.Errorf("sysinv: loading host %s: giving up: %w", name, last)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ListHosts reads the whole inventory with blocking GET /v1/ihosts?limit=N
// requests (Config.ListLimit per page), following SysInv's "next" links
// (mtcInvApi_read_inventory). Each page is bounded by Config.Timeout.
func (c *Client) ListHosts(ctx context.Context) ([]Host, error) {
	var all []Host
	q := url.Values{"limit": {strconv.Itoa(c.cfg.ListLimit)}}
	seen := map[string]bool{}
	for {
		req := platform.Request{Op: "get batch", Method: http.MethodGet, Path: "/v1/ihosts", Query: q, Timeout: c.cfg.Timeout}
		resp, err := c.ep.Do(ctx, req)
		if err != nil {
			return nil, err
		}
		page, err := ParseHostList(resp.Body)
		if err != nil {
			return nil, c.ep.BadBody(req, resp, err)
		}
		all = append(all, page.Hosts...)
		if page.Next == "" {
			return all, nil
		}
		next, err := url.ParseQuery(page.Next)
		if err != nil || seen[page.Next] || len(page.Hosts) == 0 {
			return nil, c.ep.BadBody(req, resp, &DecodeError{What: "host list", Field: "next",
				Reason: fmt.Sprintf("%q does not lead to a new page", page.Next)})
		}
		seen[page.Next] = true
		q = next
	}
}
