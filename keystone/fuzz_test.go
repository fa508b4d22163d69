package keystone

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/keystone/keystonetest"
)

// validReply is a token body as the real Keystone sends it (trimmed).
func validReply(expires, issued string, catalog any) []byte {
	tok := map[string]any{
		"methods": []string{"password"}, "expires_at": expires, "issued_at": issued,
		"user": map[string]any{"name": "admin", "id": "u"},
	}
	if catalog != nil {
		tok["catalog"] = catalog
	}
	b, _ := json.Marshal(map[string]any{"token": tok})
	return b
}

var platformCatalog = []any{map[string]any{"type": "platform", "id": "s", "name": "sysinv", "endpoints": []any{
	map[string]any{"interface": "admin", "region": "RegionOne", "region_id": "RegionOne", "url": "http://p:6385/v1", "id": "e"},
}}}

// FuzzTokenReply drives the whole reply path (gophercloud's decoding plus the
// Manager's checks) with arbitrary X-Subject-Token headers and 201 bodies:
// it must never panic, must accept only complete replies, and must classify
// every rejection with a typed error that does not contain the token.
func FuzzTokenReply(f *testing.F) {
	now := time.Now().UTC()
	exp := now.Add(time.Hour).Format("2006-01-02T15:04:05.000000Z")
	iss := now.Format("2006-01-02T15:04:05.000000Z")
	f.Add("gAAAAABvalid", validReply(exp, iss, platformCatalog))
	f.Add("", validReply(exp, iss, platformCatalog))
	f.Add("tok en", validReply(exp, iss, platformCatalog))
	f.Add("gAAAAAB", validReply(exp, iss, nil))
	f.Add("gAAAAAB", validReply(exp, iss, []any{}))
	f.Add("gAAAAAB", validReply("", iss, platformCatalog))
	f.Add("gAAAAAB", validReply("not-a-time", iss, platformCatalog))
	f.Add("gAAAAAB", validReply(iss, exp, platformCatalog))
	f.Add("gAAAAAB", validReply(exp, "", platformCatalog))
	f.Add("gAAAAAB", []byte(`{"token": {"expires_at": "2030-01-01T00:00:00Z", "catalog": [`))
	f.Add("gAAAAAB", []byte(`{"token": null}`))
	f.Add("gAAAAAB", []byte(`{"error": {"code": 401}}`))
	f.Add("gAAAAAB", []byte(`[]`))
	f.Add("gAAAAAB", []byte(`null`))
	f.Add("gAAAAAB", []byte(``))
	f.Add("gAAAAAB", []byte(`{"token": {"expires_at": 12, "catalog": "x"}}`))
	f.Add("gAAAAAB", []byte(`{"token": {"expires_at": "2030-01-01T00:00:00Z", "catalog": [{"type": "platform", "endpoints": [{"interface": "admin", "url": "a"}, {"interface": "admin", "url": "b"}]}]}}`))
	f.Add("gAAAAAB", []byte(`{"token": {"expires_at": "2030-01-01T00:00:00Z", "catalog": [{"type": "platform", "endpoints": null}]}} trailing`))

	allowed := []error{ErrMissingToken, ErrMalformedResponse, ErrMissingExpiry, ErrNoCatalog, ErrNoEndpoint, ErrAmbiguousEndpoint}
	f.Fuzz(func(t *testing.T, subject string, body []byte) {
		srv := keystonetest.New()
		srv.SetNextReply(subject, body)
		cfg := testConfig(srv)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tok, e := requestToken(ctx, &cfg, srv, CauseFirst)
		if e == nil {
			if tok.Secret() != subject || subject == "" || tok.ExpiresAt().IsZero() || tok.Lifetime() <= 0 {
				t.Fatalf("accepted incomplete reply: secret %q, %v", tok.Secret(), tok)
			}
			if _, err := tok.Endpoint(EndpointOpts{Type: "platform", Interface: InterfaceAdmin}); err != nil {
				t.Fatalf("accepted a reply without the required endpoint: %v", err)
			}
			return
		}
		ok := false
		for _, k := range allowed {
			ok = ok || errors.Is(e, k)
		}
		if !ok || e.Status != 201 || e.Cause != CauseFirst {
			t.Fatalf("unexpected error for a 201 reply: %v (status %d)", e, e.Status)
		}
		if len(subject) >= 4 && !strings.Contains(string(body), subject) && strings.Contains(e.Error(), subject) {
			t.Fatalf("token in error: %v", e)
		}
	})
}

func TestReplyTooLarge(t *testing.T) {
	srv := keystonetest.New()
	big := make([]byte, 0, maxReplyBytes+100)
	big = append(big, `{"token": {"x": "`...)
	for len(big) < maxReplyBytes+10 {
		big = append(big, 'a')
	}
	big = append(big, `"}}`...)
	srv.SetNextReply("gAAAAAB", big)
	cfg := testConfig(srv)
	_, e := requestToken(context.Background(), &cfg, srv, CauseFirst)
	if !errors.Is(e, ErrMalformedResponse) || !strings.Contains(e.Error(), "larger than") {
		t.Fatalf("err = %v", e)
	}
}
