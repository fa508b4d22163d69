package sim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
)

type tokenBody struct {
	Token struct {
		Methods   []string `json:"methods"`
		IssuedAt  string   `json:"issued_at"`
		ExpiresAt string   `json:"expires_at"`
		Project   *struct {
			Name string `json:"name"`
		} `json:"project"`
		Catalog []struct {
			Type      string `json:"type"`
			Name      string `json:"name"`
			Endpoints []struct {
				Interface string `json:"interface"`
				URL       string `json:"url"`
				Region    string `json:"region"`
			} `json:"endpoints"`
		} `json:"catalog"`
	} `json:"token"`
}

func (b tokenBody) url(typ, iface string) string {
	for _, c := range b.Token.Catalog {
		if c.Type == typ {
			for _, e := range c.Endpoints {
				if e.Interface == iface {
					return e.URL
				}
			}
		}
	}
	return ""
}

func TestTokenIssue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		ep := s.MemoryEndpoints()
		r := call(t.Context(), s.Client(), http.MethodPost, ep.AuthURL()+"/auth/tokens", "",
			passwordAuth("admin", "Sim-Passw0rd!"))
		mustStatus(t, r, http.StatusCreated)
		tok := r.header.Get("X-Subject-Token")
		if len(tok) < 100 {
			t.Fatalf("token %q is too short for a fernet-like token", tok)
		}
		var b tokenBody
		r.json(t, &b)
		// synctest's clock starts at 2000-01-01T00:00:00Z.
		if b.Token.IssuedAt != "2000-01-01T00:00:00.000000Z" || b.Token.ExpiresAt != "2000-01-01T01:00:00.000000Z" {
			t.Errorf("issued_at %s expires_at %s", b.Token.IssuedAt, b.Token.ExpiresAt)
		}
		if b.Token.Project == nil || b.Token.Project.Name != "admin" {
			t.Errorf("project = %+v", b.Token.Project)
		}
		for typ, want := range map[string]string{
			"platform": ep.SysInv + "/v1", "smapi": ep.SM, "nfv": ep.VIM,
			"key-manager": ep.Barbican, "identity": ep.Keystone,
		} {
			if got := b.url(typ, "admin"); got != want {
				t.Errorf("catalog %s admin = %q, want %q", typ, got, want)
			}
		}
		if !s.TokenValid(tok) {
			t.Error("issued token is not valid")
		}
		st := s.Stats()
		if st.TokenRequests != 1 || st.TokensIssued != 1 {
			t.Errorf("stats %+v", st)
		}
		if ti := s.Tokens(); len(ti) != 1 || ti[0].Fingerprint != Fingerprint(tok) || ti[0].Scope != "project" {
			t.Errorf("Tokens() = %+v", ti)
		}
	})
}

func TestAuthRequests(t *testing.T) {
	s := newSim(t, func(c *Config) {
		c.AppCredentials = []AppCredential{{ID: "ac-1", Name: "mtce", Secret: "ac-secret"}}
	})
	ep := s.MemoryEndpoints()
	c := s.Client()
	user := map[string]any{"name": "admin", "domain": map[string]string{"id": "default"}, "password": "Sim-Passw0rd!"}
	good := getToken(t, c, ep)
	body := func(identity map[string]any, scope any) map[string]any {
		a := map[string]any{"identity": identity}
		if scope != nil {
			a["scope"] = scope
		}
		return map[string]any{"auth": a}
	}
	project := map[string]any{"project": map[string]any{"id": idOf("project", "admin")}}
	cases := []struct {
		name    string
		body    any
		want    int
		catalog bool
	}{
		{"password", passwordAuth("admin", "Sim-Passw0rd!"), 201, true},
		{"wrong password", passwordAuth("admin", "nope"), 401, false},
		{"unknown user", passwordAuth("root", "Sim-Passw0rd!"), 401, false},
		{"domain by id, project by id", body(map[string]any{"methods": []string{"password"},
			"password": map[string]any{"user": user}}, project), 201, true},
		{"user by id", body(map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"id": idOf("user", "admin"), "password": "Sim-Passw0rd!"}}}, project), 201, true},
		{"unscoped", body(map[string]any{"methods": []string{"password"},
			"password": map[string]any{"user": user}}, nil), 201, false},
		{"system scope", body(map[string]any{"methods": []string{"password"},
			"password": map[string]any{"user": user}}, map[string]any{"system": map[string]bool{"all": true}}), 201, true},
		{"wrong project", body(map[string]any{"methods": []string{"password"},
			"password": map[string]any{"user": user}}, map[string]any{"project": map[string]any{"id": "nope"}}), 401, false},
		{"name without domain", body(map[string]any{"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{"name": "admin", "password": "x"}}}, nil), 400, false},
		{"app credential by id", body(map[string]any{"methods": []string{"application_credential"},
			"application_credential": map[string]any{"id": "ac-1", "secret": "ac-secret"}}, nil), 201, true},
		{"app credential by name", body(map[string]any{"methods": []string{"application_credential"},
			"application_credential": map[string]any{"name": "mtce", "secret": "ac-secret",
				"user": map[string]any{"name": "admin", "domain": map[string]string{"name": "Default"}}}}, nil), 201, true},
		{"app credential wrong secret", body(map[string]any{"methods": []string{"application_credential"},
			"application_credential": map[string]any{"id": "ac-1", "secret": "nope"}}, nil), 401, false},
		{"app credential with scope", body(map[string]any{"methods": []string{"application_credential"},
			"application_credential": map[string]any{"id": "ac-1", "secret": "ac-secret"}}, project), 401, false},
		{"token method", body(map[string]any{"methods": []string{"token"},
			"token": map[string]any{"id": good}}, project), 201, true},
		{"token method, bad token", body(map[string]any{"methods": []string{"token"},
			"token": map[string]any{"id": "bogus"}}, project), 401, false},
		{"unsupported method", body(map[string]any{"methods": []string{"totp"}}, nil), 401, false},
		{"no methods", body(map[string]any{"methods": []string{}}, nil), 400, false},
		{"malformed", "{\"auth\":", 400, false},
		{"not an object", "[]", 400, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t.Context(), c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", tc.body)
			mustStatus(t, r, tc.want)
			if tc.want == 201 {
				if r.header.Get("X-Subject-Token") == "" {
					t.Error("no X-Subject-Token")
				}
				var b tokenBody
				r.json(t, &b)
				if got := b.url("platform", "admin") != ""; got != tc.catalog {
					t.Errorf("catalog present = %v, want %v", got, tc.catalog)
				}
			}
		})
	}
	want := 0
	for _, tc := range cases {
		if tc.want == 401 {
			want++
		}
	}
	if st := s.Stats(); st.CredentialFailures != want || st.AuthFailures != 0 {
		t.Errorf("credential failures %d (want %d), token refusals %d", st.CredentialFailures, want, st.AuthFailures)
	}
}

func TestTokenExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, func(c *Config) { c.TokenLifetime = time.Hour })
		ep, c := s.MemoryEndpoints(), s.Client()
		time.Sleep(500 * time.Millisecond) // expires_at is truncated to the second
		tok := getToken(t, c, ep)
		hostURL := ep.SysInv + "/v1/ihosts/controller-0"
		time.Sleep(time.Hour - 500*time.Millisecond - time.Nanosecond)
		mustStatus(t, call(t.Context(), c, http.MethodGet, hostURL, tok, nil), http.StatusOK)
		time.Sleep(time.Nanosecond)
		r := call(t.Context(), c, http.MethodGet, hostURL, tok, nil)
		mustStatus(t, r, http.StatusUnauthorized)
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		fresh := getToken(t, c, ep)
		validate := func(q string) reply {
			return call(t.Context(), c, http.MethodGet, ep.AuthURL()+"/auth/tokens"+q, fresh, nil,
				"X-Subject-Token", tok)
		}
		mustStatus(t, validate(""), http.StatusNotFound)
		mustStatus(t, validate("?allow_expired=1"), http.StatusOK)
		if got := s.Stats().AuthFailures; got != 1 {
			t.Errorf("AuthFailures = %d, want 1", got)
		}
	})
}

func TestTokenRevoke(t *testing.T) {
	s := newSim(t, nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	admin, victim := getToken(t, c, ep), getToken(t, c, ep)
	url := ep.AuthURL() + "/auth/tokens"
	mustStatus(t, call(t.Context(), c, http.MethodHead, url, admin, nil, "X-Subject-Token", victim), http.StatusOK)
	mustStatus(t, call(t.Context(), c, http.MethodDelete, url, admin, nil, "X-Subject-Token", victim), http.StatusNoContent)
	mustStatus(t, call(t.Context(), c, http.MethodDelete, url, admin, nil, "X-Subject-Token", victim), http.StatusNotFound)
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SM+"/v1/servicenode/controller-0", victim, nil), http.StatusUnauthorized)
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.SM+"/v1/servicenode/controller-0", admin, nil), http.StatusOK)
	mustStatus(t, call(t.Context(), c, http.MethodDelete, url, "garbage", nil, "X-Subject-Token", admin), http.StatusUnauthorized)
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.Keystone+"/v3", "", nil), http.StatusOK)
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.Keystone+"/", "", nil), http.StatusMultipleChoices)
	mustStatus(t, call(t.Context(), c, http.MethodGet, ep.Keystone+"/v3/users", "", nil), http.StatusNotFound)
}

func TestCorruptToken(t *testing.T) {
	s := newSim(t, nil)
	ep, c := s.MemoryEndpoints(), s.Client()
	if s.CorruptToken() {
		t.Fatal("corrupted a token before any was issued")
	}
	old := getToken(t, c, ep)
	tok := getToken(t, c, ep)
	if !s.CorruptToken() {
		t.Fatal("CorruptToken found no token")
	}
	if s.CorruptToken() {
		t.Fatal("the newest token was corrupted twice")
	}
	url := ep.SysInv + "/v1/ihosts"
	mustStatus(t, call(t.Context(), c, http.MethodGet, url, tok, nil), http.StatusUnauthorized)
	mustStatus(t, call(t.Context(), c, http.MethodGet, url, old, nil), http.StatusOK) // only the newest
	if n := s.CorruptAllTokens(); n != 1 {
		t.Fatalf("CorruptAllTokens = %d, want 1", n)
	}
	mustStatus(t, call(t.Context(), c, http.MethodGet, url, old, nil), http.StatusUnauthorized)
	mustStatus(t, call(t.Context(), c, http.MethodGet, url, getToken(t, c, ep), nil), http.StatusOK)
	cs := s.Corruptions()
	eff := 0
	for _, x := range cs {
		if x.Effective {
			eff++
		}
	}
	if len(cs) != 4 || eff != 2 || cs[1].Fingerprint != Fingerprint(tok) || s.Stats().Corruptions != 2 {
		t.Errorf("corruptions %+v, stats %d", cs, s.Stats().Corruptions)
	}
}

// corruptionSchedule runs CorruptTokenEvery(20s, 30s) for ten virtual
// minutes, refreshing the token after each corruption, and returns the
// corruption times.
func corruptionSchedule(t *testing.T, seed uint64) []time.Duration {
	var out []time.Duration
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, func(c *Config) { c.Seed = seed })
		ep, c := s.MemoryEndpoints(), s.Client()
		start := time.Now()
		tok := getToken(t, c, ep)
		if err := s.CorruptTokenEvery(20*time.Second, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		url := ep.SysInv + "/v1/ihosts/controller-0"
		for time.Since(start) < 10*time.Minute {
			time.Sleep(time.Second)
			if r := call(t.Context(), c, http.MethodGet, url, tok, nil); r.status == http.StatusUnauthorized {
				tok = getToken(t, c, ep)
			}
		}
		if err := s.CorruptTokenEvery(0, 0); err != nil {
			t.Fatal(err)
		}
		n := len(s.Corruptions())
		time.Sleep(time.Minute)
		if len(s.Corruptions()) != n {
			t.Error("corruption continued after CorruptTokenEvery(0, 0)")
		}
		for _, c := range s.Corruptions() {
			if !c.Periodic || !c.Effective {
				t.Errorf("corruption %+v: want periodic and effective (a fresh token each time)", c)
			}
			out = append(out, c.Time.Sub(start))
		}
		if got, want := s.Stats().AuthFailures, len(out); got != want {
			t.Errorf("401s = %d, corruptions = %d", got, want)
		}
	})
	return out
}

func TestCorruptTokenEvery(t *testing.T) {
	a := corruptionSchedule(t, 7)
	if len(a) < 600/30 || len(a) > 600/20 {
		t.Fatalf("%d corruptions in 10 min, want 20..30", len(a))
	}
	prev := time.Duration(0)
	for _, at := range a {
		if gap := at - prev; gap < 20*time.Second || gap > 30*time.Second {
			t.Errorf("gap %v outside [20s, 30s]", gap)
		}
		prev = at
	}
	if b := corruptionSchedule(t, 7); !slices.Equal(a, b) {
		t.Errorf("same seed, different schedules:\n%v\n%v", a, b)
	}
	if c := corruptionSchedule(t, 8); slices.Equal(a, c) {
		t.Error("different seeds gave the same schedule")
	}
	s := newSim(t, nil)
	if err := s.CorruptTokenEvery(30*time.Second, 20*time.Second); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("inverted interval: %v", err)
	}
}

func TestHoldKeystone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		ep, c := s.MemoryEndpoints(), s.Client()
		s.HoldKeystone()
		start := time.Now()
		var wg sync.WaitGroup
		got := make([]reply, 3)
		at := make([]time.Duration, 3)
		for i := range 3 {
			wg.Go(func() {
				ctx := t.Context()
				if i == 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
					defer cancel()
				}
				got[i] = call(ctx, c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", passwordAuth("admin", "Sim-Passw0rd!"))
				at[i] = time.Since(start)
			})
		}
		synctest.Wait()
		if n := s.KeystoneWaiters(); n != 3 {
			t.Fatalf("KeystoneWaiters = %d, want 3", n)
		}
		time.Sleep(time.Minute)
		s.ReleaseKeystone()
		wg.Wait()
		if !errors.Is(got[0].err, context.DeadlineExceeded) || at[0] != 5*time.Second {
			t.Errorf("held request with a 5s deadline: err %v after %v", got[0].err, at[0])
		}
		for i := 1; i < 3; i++ {
			mustStatus(t, got[i], http.StatusCreated)
			if at[i] != time.Minute {
				t.Errorf("request %d answered after %v, want 1m (the release)", i, at[i])
			}
		}
		if st := s.Stats(); st.TokenRequests != 3 || st.TokensIssued != 2 {
			t.Errorf("stats: %d requests, %d issued", st.TokenRequests, st.TokensIssued)
		}
		if n := s.KeystoneWaiters(); n != 0 {
			t.Errorf("KeystoneWaiters = %d after release", n)
		}
	})
}

// TestGophercloud checks the Keystone answers against a real client:
// gophercloud v2 authenticates (password and application credential) and
// finds the platform admin endpoint in the catalog.
func TestGophercloud(t *testing.T) {
	s := newSim(t, func(c *Config) {
		c.AppCredentials = []AppCredential{{ID: "ac-1", Secret: "ac-secret"}}
	})
	ep := s.MemoryEndpoints()
	for _, opts := range []gophercloud.AuthOptions{
		{IdentityEndpoint: ep.AuthURL(), Username: "admin", Password: "Sim-Passw0rd!", DomainName: "Default",
			TenantName: "admin"},
		{IdentityEndpoint: ep.AuthURL(), ApplicationCredentialID: "ac-1", ApplicationCredentialSecret: "ac-secret"},
	} {
		pc, err := openstack.NewClient(opts.IdentityEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		pc.HTTPClient = *s.Client()
		if err := openstack.Authenticate(t.Context(), pc, opts); err != nil {
			t.Fatalf("gophercloud Authenticate: %v", err)
		}
		if !s.TokenValid(pc.Token()) {
			t.Error("gophercloud's token is not valid")
		}
		res, ok := pc.GetAuthResult().(tokens.CreateResult)
		if !ok {
			t.Fatalf("auth result %T", pc.GetAuthResult())
		}
		tok, err := res.ExtractToken()
		if err != nil || !tok.ExpiresAt.After(time.Now()) {
			t.Errorf("token %+v, %v", tok, err)
		}
		cat, err := res.ExtractServiceCatalog()
		if err != nil {
			t.Fatal(err)
		}
		u, err := openstack.V3EndpointURL(cat, gophercloud.EndpointOpts{Type: "platform", Region: "RegionOne",
			Availability: gophercloud.AvailabilityAdmin})
		if err != nil || u != ep.SysInv+"/v1/" {
			t.Errorf("platform admin endpoint %q, %v", u, err)
		}
	}
}

// A token issued mid-second carries whole seconds, and expires_at is
// exactly issued_at plus the lifetime, as Keystone's fernet tokens: a
// client computing the lifetime from the body gets the configured one.
func TestTokenWholeSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, func(c *Config) { c.TokenLifetime = time.Hour })
		ep := s.MemoryEndpoints()
		time.Sleep(700 * time.Millisecond)
		r := call(t.Context(), s.Client(), http.MethodPost, ep.AuthURL()+"/auth/tokens", "",
			passwordAuth("admin", "Sim-Passw0rd!"))
		mustStatus(t, r, http.StatusCreated)
		var b tokenBody
		r.json(t, &b)
		if b.Token.IssuedAt != "2000-01-01T00:00:00.000000Z" || b.Token.ExpiresAt != "2000-01-01T01:00:00.000000Z" {
			t.Errorf("issued_at %s expires_at %s, want whole seconds one hour apart", b.Token.IssuedAt, b.Token.ExpiresAt)
		}
	})
}
