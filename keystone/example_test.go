package keystone_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/keystone"
	"opendev.org/starlingx/metal-go/keystone/keystonetest"
)

// config returns a Config for the in-memory fake Keystone. In production,
// leave Transport nil (TLS-verifying default) and take the values from
// /etc/mtc.ini [agent] keystone_auth_*.
func config(fake *keystonetest.Server) keystone.Config {
	cfg := keystone.DefaultConfig()
	cfg.AuthURL = keystonetest.AuthURL
	cfg.Username, cfg.UserDomainName = keystonetest.User, keystonetest.Domain
	cfg.Password = keystonetest.Password
	cfg.ProjectName, cfg.ProjectDomainName = keystonetest.Project, keystonetest.Domain
	cfg.Region = keystonetest.Region
	cfg.Transport = fake
	return cfg
}

// A Manager gets the first token at start and keeps it valid; Token returns
// it, and the catalog gives the endpoints.
func ExampleManager() {
	fake := keystonetest.New()
	m, err := keystone.New(config(fake))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := m.Token(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	url, err := tok.Endpoint(keystone.EndpointOpts{Type: "platform", Interface: keystone.InterfaceAdmin, Region: "RegionOne"})
	fmt.Println("platform admin endpoint:", url, err)
	fmt.Println("lifetime:", tok.Lifetime())
	fmt.Println("gate open:", m.Held() == nil)
	// Output:
	// platform admin endpoint: http://platform.test:6385/v1 <nil>
	// lifetime: 1h0m0s
	// gate open: true
}

// Transport puts the token on every request; a 401 renews it once for all
// concurrent callers and the request is retried with the new token.
func ExampleTransport() {
	fake := keystonetest.New()
	m, err := keystone.New(config(fake))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	client := &http.Client{Transport: &keystone.Transport{Manager: m, Base: fake}}
	if _, err := m.Token(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	fake.RevokeAll() // the service will answer 401 to the current token
	resp, err := client.Post(keystonetest.ServiceURL+"v1/ihosts", "application/json", strings.NewReader(`{"action":"unlock"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println("renewals after a 401:", m.Stats().Renewals.Unauthorized)

	fake.RejectService(true) // now the service rejects every token
	_, err = client.Get(keystonetest.ServiceURL)
	fmt.Println("unauthorized after renewal:", errors.Is(err, keystone.ErrUnauthorized))
	// Output:
	// 200 {"action":"unlock"}
	// renewals after a 401: 1
	// unauthorized after renewal: true
}

// Without the Transport: call Renew with the token the rejected request
// carried. Any number of concurrent callers cause one Keystone request.
func ExampleManager_Renew() {
	fake := keystonetest.New()
	m, err := keystone.New(config(fake))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	ctx := context.Background()
	tok, _ := m.Token(ctx)

	// ... a service answered 401 to tok:
	fresh, err := m.Renew(ctx, tok)
	fmt.Println(err, fresh.Secret() != tok.Secret())
	// A late 401 for the same old token does not ask Keystone again.
	again, _ := m.Renew(ctx, tok)
	fmt.Println(again.Secret() == fresh.Secret(), fake.AuthRequests())
	// Output:
	// <nil> true
	// true 2
}

// Errors are typed: wrong credentials are told apart from an unreachable
// Keystone.
func ExampleManager_Token_authFailed() {
	fake := keystonetest.New()
	cfg := config(fake)
	cfg.Password = "wrong"
	m, err := keystone.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	// Token waits for the first token until ctx ends, then reports the
	// last attempt's error.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = m.Token(ctx)
	fmt.Println(errors.Is(err, keystone.ErrAuthFailed), errors.Is(err, keystone.ErrUnavailable))
	var e *keystone.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Cause)
	}
	// Output:
	// true false
	// 401 first
}

// Tokens and secrets never print themselves.
func ExampleToken() {
	fake := keystonetest.New()
	m, err := keystone.New(config(fake))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	tok, _ := m.Token(context.Background())
	printed := fmt.Sprintf("%v %+v %#v %s %q", tok, tok, tok, tok, tok)
	fmt.Println("secret printed:", strings.Contains(printed, tok.Secret()))
	fmt.Println("fingerprint:", tok.Fingerprint())
	fmt.Println(keystone.Secret("hunter2"))
	// Output:
	// secret printed: false
	// fingerprint: c5b6b494
	// [REDACTED]
}
