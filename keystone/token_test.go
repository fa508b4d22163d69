package keystone

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const testSecret = "gAAAAABsupersecrettokenvalue0123456789"

func testToken() Token {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return newToken(testSecret, now.Add(time.Hour), now, now, []Service{
		{Type: "platform", Name: "sysinv", Endpoints: []Endpoint{
			{Interface: InterfaceAdmin, Region: "RegionOne", URL: "http://a:6385/v1"},
			{Interface: InterfaceInternal, Region: "RegionOne", URL: "http://i:6385/v1"},
			{Interface: InterfaceAdmin, Region: "SystemController", URL: "http://sc:6385/v1"},
		}},
		{Type: "identity", Endpoints: []Endpoint{{Interface: InterfacePublic, Region: "RegionOne", URL: "http://k:5000/v3"}}},
	})
}

func TestTokenNeverPrintsSecret(t *testing.T) {
	tok := testToken()
	if tok.Secret() != testSecret {
		t.Fatal("Secret() wrong")
	}
	type exported struct{ Tok Token }
	type unexported struct{ tok Token }
	var outs []string
	for _, v := range []any{tok, &tok, exported{tok}, &exported{tok}, unexported{tok}, &unexported{tok}, []Token{tok}, map[string]Token{"k": tok}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		outs = append(outs, fmt.Sprint(v), fmt.Sprintln(v))
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json: %v", err)
		}
		outs = append(outs, string(b))
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		l := slog.New(h)
		l.Info("tok", "token", tok, "ptr", &tok, "any", any(tok), "struct", exported{tok})
	}
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, testSecret) || strings.Contains(o, testSecret[:16]) {
			t.Errorf("secret printed: %s", o)
		}
	}
	if !strings.Contains(tok.String(), tok.Fingerprint()) || len(tok.Fingerprint()) != 8 {
		t.Errorf("String %q lacks the 8-digit fingerprint", tok.String())
	}
	if !strings.Contains(buf.String(), "fingerprint") {
		t.Error("LogValue has no fingerprint")
	}
	if got := fmt.Sprint(Token{}); got != "keystone.Token(none)" {
		t.Errorf("zero token prints %q", got)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const pw = "hunter2-password-value"
	cfg := DefaultConfig()
	cfg.Password = pw
	cfg.ApplicationCredentialSecret = pw
	var outs []string
	for _, v := range []any{Secret(pw), cfg, &cfg} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		b, _ := json.Marshal(v)
		outs = append(outs, string(b))
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "cfg", cfg, "pw", Secret(pw))
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "cfg", cfg, "pw", Secret(pw))
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, pw) {
			t.Errorf("password printed: %s", o)
		}
	}
	if Secret("").String() != "" || Secret("x").String() != "[REDACTED]" {
		t.Error("Secret.String")
	}
}

func TestTokenMetadata(t *testing.T) {
	tok := testToken()
	if tok.Lifetime() != time.Hour || tok.IssuedAt().IsZero() || tok.ExpiresAt().Sub(tok.IssuedAt()) != time.Hour {
		t.Errorf("lifetime %v", tok.Lifetime())
	}
	if tok.Expired(tok.Obtained().Add(59*time.Minute)) || !tok.Expired(tok.Obtained().Add(time.Hour)) {
		t.Error("Expired wrong")
	}
	if !(Token{}).Expired(time.Now()) || !(Token{}).IsZero() || (Token{}).Secret() != "" {
		t.Error("zero Token")
	}
	c := tok.Catalog()
	c[0].Endpoints[0].URL = "mutated"
	if u, _ := tok.Endpoint(EndpointOpts{Type: "platform", Interface: InterfaceAdmin, Region: "RegionOne"}); u != "http://a:6385/v1" {
		t.Error("Catalog() did not return a copy")
	}
	// Lifetime from issued_at, not from the local send time (clock skew).
	skewed := newToken("x", time.Unix(1000, 0), time.Unix(400, 0), time.Unix(5000, 0), nil)
	if skewed.Lifetime() != 600*time.Second || skewed.Expired(time.Unix(5500, 0)) {
		t.Errorf("skewed lifetime %v", skewed.Lifetime())
	}
}

func TestEndpointLookup(t *testing.T) {
	tok := testToken()
	cases := []struct {
		opts EndpointOpts
		url  string
		err  error
	}{
		{EndpointOpts{Type: "platform", Interface: InterfaceAdmin, Region: "RegionOne"}, "http://a:6385/v1", nil},
		{EndpointOpts{Type: "platform", Interface: InterfaceAdmin, Region: "SystemController"}, "http://sc:6385/v1", nil},
		{EndpointOpts{Type: "platform", Interface: InterfaceInternal}, "http://i:6385/v1", nil},
		{EndpointOpts{Type: "platform", Interface: InterfaceAdmin}, "", ErrAmbiguousEndpoint},
		{EndpointOpts{Type: "platform"}, "", ErrNoEndpoint}, // public by default
		{EndpointOpts{Type: "identity"}, "http://k:5000/v3", nil},
		{EndpointOpts{Type: "compute"}, "", ErrNoEndpoint},
		{EndpointOpts{Type: "identity", Region: "Nowhere"}, "", ErrNoEndpoint},
	}
	for _, c := range cases {
		u, err := tok.Endpoint(c.opts)
		if u != c.url || !errors.Is(err, c.err) {
			t.Errorf("%+v: %q, %v; want %q, %v", c.opts, u, err, c.url, c.err)
		}
	}
	if _, err := (Token{}).Endpoint(EndpointOpts{Type: "identity"}); !errors.Is(err, ErrNoEndpoint) {
		t.Error("zero token lookup")
	}
}

func TestErrorFormatting(t *testing.T) {
	e := &Error{Kind: ErrUnavailable, Cause: CauseExpiry, Status: 503,
		Retry: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Err: errors.New("boom")}
	want := "keystone: unavailable (cause=expiry, HTTP 503, next attempt 2026-01-01T00:00:00Z): boom"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	if !errors.Is(e, ErrUnavailable) || errors.Is(e, ErrTimeout) {
		t.Error("errors.Is")
	}
	if (&Error{}).Error() != "keystone: error" || Cause(9).String() != "Cause(9)" {
		t.Error("zero values")
	}
	for c, s := range map[Cause]string{CauseFirst: "first", CauseExpiry: "expiry", CausePeriodic: "periodic", CauseUnauthorized: "401"} {
		if c.String() != s {
			t.Errorf("%d: %q", int(c), c.String())
		}
	}
}
