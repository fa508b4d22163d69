package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

const tokensPath = "/v3/auth/tokens"

// keystoneTime is Keystone's timestamp format.
const keystoneTime = "2006-01-02T15:04:05.000000Z"

type token struct {
	id          string
	fingerprint string
	audit       string
	issued      time.Time
	expires     time.Time
	methods     []string
	scope       string // "project", "system" or "" (unscoped)
	appCred     *AppCredential
	revoked     bool
	corrupted   bool
}

// TokenInfo describes an issued token without revealing it.
type TokenInfo struct {
	Fingerprint string // first 8 hex digits of the token's SHA-256
	IssuedAt    time.Time
	ExpiresAt   time.Time
	Methods     []string
	Scope       string // "project", "system" or "" (unscoped)
	Revoked     bool
	Corrupted   bool
}

// Fingerprint returns the fingerprint the simulator logs and records for
// a token: the first 8 hex digits of its SHA-256.
func Fingerprint(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:4])
}

func idOf(kind, name string) string {
	sum := sha256.Sum256([]byte("sim-" + kind + ":" + name))
	return hex.EncodeToString(sum[:16])
}

func domainID(name string) string {
	if strings.EqualFold(name, "Default") {
		return "default"
	}
	return idOf("domain", strings.ToLower(name))
}

// ------------------------------------------------------------ request decoding

type domainRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type authUser struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Password *string    `json:"password"`
	Domain   *domainRef `json:"domain"`
}

type authAppCred struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Secret *string   `json:"secret"`
	User   *authUser `json:"user"`
}

type authScope struct {
	Project *struct {
		ID     string     `json:"id"`
		Name   string     `json:"name"`
		Domain *domainRef `json:"domain"`
	} `json:"project"`
	System *struct {
		All bool `json:"all"`
	} `json:"system"`
	Domain *domainRef `json:"domain"`
}

// authRequest is the body of POST /v3/auth/tokens.
type authRequest struct {
	Methods  []string
	Password *authUser
	AppCred  *authAppCred
	TokenID  *string
	Scope    *authScope // nil: unscoped
}

// badRequest is a request error answered with 400.
type badRequest string

func (e badRequest) Error() string { return string(e) }

// decodeAuthRequest parses and checks the shape of a Keystone v3 auth
// request (password, application_credential and token methods; project,
// system or no scope).
func decodeAuthRequest(body []byte) (authRequest, error) {
	var raw struct {
		Auth *struct {
			Identity *struct {
				Methods  []string `json:"methods"`
				Password *struct {
					User *authUser `json:"user"`
				} `json:"password"`
				AppCred *authAppCred `json:"application_credential"`
				Token   *struct {
					ID *string `json:"id"`
				} `json:"token"`
			} `json:"identity"`
			Scope json.RawMessage `json:"scope"`
		} `json:"auth"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return authRequest{}, badRequest("malformed auth request: " + err.Error())
	}
	if dec.More() {
		return authRequest{}, badRequest("malformed auth request: trailing data")
	}
	if raw.Auth == nil || raw.Auth.Identity == nil {
		return authRequest{}, badRequest("auth.identity is required")
	}
	id := raw.Auth.Identity
	if len(id.Methods) == 0 {
		return authRequest{}, badRequest("auth.identity.methods is empty")
	}
	ar := authRequest{Methods: id.Methods}
	for _, m := range id.Methods {
		switch m {
		case "password":
			if id.Password == nil || id.Password.User == nil {
				return authRequest{}, badRequest("password method without password.user")
			}
			u := id.Password.User
			if u.ID == "" && u.Name == "" {
				return authRequest{}, badRequest("password.user needs an id or a name")
			}
			if u.ID == "" && (u.Domain == nil || (u.Domain.ID == "" && u.Domain.Name == "")) {
				return authRequest{}, badRequest("password.user.name needs a domain")
			}
			if u.Password == nil {
				return authRequest{}, badRequest("password.user.password is required")
			}
			ar.Password = u
		case "application_credential":
			a := id.AppCred
			if a == nil {
				return authRequest{}, badRequest("application_credential method without application_credential")
			}
			if a.Secret == nil {
				return authRequest{}, badRequest("application_credential.secret is required")
			}
			if a.ID == "" && (a.Name == "" || a.User == nil || (a.User.ID == "" && a.User.Name == "")) {
				return authRequest{}, badRequest("application_credential needs an id, or a name and a user")
			}
			ar.AppCred = a
		case "token":
			if id.Token == nil || id.Token.ID == nil {
				return authRequest{}, badRequest("token method without token.id")
			}
			ar.TokenID = id.Token.ID
		default:
			// Keystone answers an unsupported method with 401.
			return ar, nil
		}
	}
	sc := bytes.TrimSpace(raw.Auth.Scope)
	switch {
	case len(sc) == 0 || string(sc) == "null" || string(sc) == `"unscoped"`:
	case sc[0] == '{':
		var scope authScope
		if err := json.Unmarshal(sc, &scope); err != nil {
			return authRequest{}, badRequest("malformed scope: " + err.Error())
		}
		n := 0
		if scope.Project != nil {
			n++
			if scope.Project.ID == "" && (scope.Project.Name == "" || scope.Project.Domain == nil ||
				(scope.Project.Domain.ID == "" && scope.Project.Domain.Name == "")) {
				return authRequest{}, badRequest("scope.project needs an id, or a name and a domain")
			}
		}
		if scope.System != nil {
			n++
		}
		if scope.Domain != nil {
			n++
		}
		if n != 1 {
			return authRequest{}, badRequest("scope must name exactly one of project, system, domain")
		}
		ar.Scope = &scope
	default:
		return authRequest{}, badRequest("malformed scope")
	}
	return ar, nil
}

// ------------------------------------------------------------ service

func (s *Sim) keystone(ctx context.Context, rq *request) plan {
	switch {
	case len(rq.segs) == 0:
		if rq.method != http.MethodGet && rq.method != http.MethodHead {
			return methodNotAllowed(s, rq, "GET", "HEAD")
		}
		base := s.endpoints(rq.origin).Keystone
		return jsonPlan(http.StatusMultipleChoices, map[string]any{"versions": map[string]any{
			"values": []any{versionDoc(base)}}})
	case len(rq.segs) == 1 && rq.segs[0] == "v3":
		if rq.method != http.MethodGet && rq.method != http.MethodHead {
			return methodNotAllowed(s, rq, "GET", "HEAD")
		}
		return jsonPlan(http.StatusOK, map[string]any{"version": versionDoc(s.endpoints(rq.origin).Keystone)})
	case rq.path == tokensPath || rq.path == tokensPath+"/":
	default:
		return s.errorPlan(rq, http.StatusNotFound, "The resource could not be found.")
	}
	switch rq.method {
	case http.MethodPost:
		return s.issue(ctx, rq)
	case http.MethodGet, http.MethodHead:
		return s.validateSubject(rq)
	case http.MethodDelete:
		return s.revokeSubject(rq)
	}
	return methodNotAllowed(s, rq, "POST", "GET", "HEAD", "DELETE")
}

func versionDoc(base string) map[string]any {
	return map[string]any{
		"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
		"links": []any{map[string]string{"rel": "self", "href": base + "/v3/"}},
		"media-types": []any{map[string]string{"base": "application/json",
			"type": "application/vnd.openstack.identity-v3+json"}},
	}
}

func (s *Sim) issue(ctx context.Context, rq *request) plan {
	s.rec.update(func(st *Stats) { st.TokenRequests++ })

	// A held Keystone (FIT stuck renewal) keeps the request waiting.
	s.mu.Lock()
	hold := s.hold
	if hold != nil {
		s.holdWait++
	}
	s.mu.Unlock()
	if hold != nil {
		err := s.wait(ctx, hold)
		s.mu.Lock()
		s.holdWait--
		s.mu.Unlock()
		if err != nil {
			return abortErrPlan(ctx, err)
		}
	}

	ar, err := decodeAuthRequest(rq.body)
	if err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	now := time.Now()
	s.mu.Lock()
	t, ok := s.authenticateLocked(ar, now)
	if !ok {
		s.mu.Unlock()
		return s.unauthorized(rq, false)
	}
	s.storeTokenLocked(t, now)
	body := s.tokenBodyLocked(t, rq.origin)
	if rq.query.Has("nocatalog") {
		delete(body["token"].(map[string]any), "catalog")
	}
	s.mu.Unlock()
	s.rec.update(func(st *Stats) { st.TokensIssued++ })
	s.log.Debug("sim: token issued", "token", t.fingerprint, "expires", t.expires, "methods", t.methods)
	p := jsonPlan(http.StatusCreated, body)
	p.header.Set("X-Subject-Token", t.id)
	return p
}

// authenticateLocked checks the credentials of ar and returns the token to
// issue (not stored yet).
func (s *Sim) authenticateLocked(ar authRequest, now time.Time) (*token, bool) {
	c := s.cfg
	t := &token{methods: slices.Clone(ar.Methods)}
	for _, m := range ar.Methods {
		switch m {
		case "password":
			if !s.userMatches(ar.Password) || *ar.Password.Password != string(c.Password) {
				return nil, false
			}
		case "application_credential":
			a := ar.AppCred
			var found *AppCredential
			for i := range c.AppCredentials {
				ac := &c.AppCredentials[i]
				if (a.ID != "" && a.ID == ac.ID) ||
					(a.ID == "" && a.Name != "" && a.Name == ac.Name && s.userMatches(a.User)) {
					found = ac
					break
				}
			}
			if found == nil || *a.Secret != string(found.Secret) {
				return nil, false
			}
			if ar.Scope != nil {
				// Application credentials are bound to their project.
				return nil, false
			}
			t.appCred = found
		case "token":
			old, why := s.validTokenLocked(*ar.TokenID, now)
			if old == nil {
				s.log.Debug("sim: token method refused", "why", why)
				return nil, false
			}
		default:
			return nil, false
		}
	}
	switch {
	case t.appCred != nil:
		t.scope = "project"
	case ar.Scope == nil:
	case ar.Scope.Project != nil:
		p := ar.Scope.Project
		if p.ID != "" {
			if p.ID != idOf("project", c.ProjectName) {
				return nil, false
			}
		} else if p.Name != c.ProjectName || !domainMatches(p.Domain, c.ProjectDomainName) {
			return nil, false
		}
		t.scope = "project"
	case ar.Scope.System != nil && ar.Scope.System.All:
		t.scope = "system"
	default:
		return nil, false
	}
	return t, true
}

func (s *Sim) userMatches(u *authUser) bool {
	if u == nil {
		return false
	}
	if u.ID != "" {
		return u.ID == idOf("user", s.cfg.Username)
	}
	return u.Name == s.cfg.Username && domainMatches(u.Domain, s.cfg.UserDomainName)
}

func domainMatches(d *domainRef, name string) bool {
	if d == nil {
		return false
	}
	if d.ID != "" {
		return d.ID == domainID(name)
	}
	return strings.EqualFold(d.Name, name)
}

func (s *Sim) storeTokenLocked(t *token, now time.Time) {
	// Drop tokens that expired a while ago; they would be refused anyway.
	for id, o := range s.tokens {
		if now.Sub(o.expires) > s.lifetime {
			delete(s.tokens, id)
			if s.newest == o {
				s.newest = nil
			}
		}
	}
	var raw [132]byte
	for i := range raw {
		raw[i] = byte(s.tokenRNG.Uint32())
	}
	t.id = "gAAAAAB" + base64.RawURLEncoding.EncodeToString(raw[:])
	t.fingerprint = Fingerprint(t.id)
	t.audit = base64.RawURLEncoding.EncodeToString(raw[:16])
	// Keystone's fernet tokens carry whole seconds: issued_at is truncated
	// and expires_at is issued_at plus the configured expiration.
	t.issued = now.Truncate(time.Second)
	t.expires = t.issued.Add(s.lifetime)
	s.tokens[t.id] = t
	s.newest = t
}

func (s *Sim) tokenBodyLocked(t *token, origin string) map[string]any {
	c := s.cfg
	tok := map[string]any{
		"methods":    t.methods,
		"audit_ids":  []string{t.audit},
		"issued_at":  t.issued.UTC().Format(keystoneTime),
		"expires_at": t.expires.UTC().Format(keystoneTime),
		"user": map[string]any{
			"id": idOf("user", c.Username), "name": c.Username, "password_expires_at": nil,
			"domain": map[string]string{"id": domainID(c.UserDomainName), "name": c.UserDomainName},
		},
	}
	if t.scope != "" {
		tok["roles"] = []any{
			map[string]string{"id": idOf("role", "admin"), "name": "admin"},
			map[string]string{"id": idOf("role", "member"), "name": "member"},
			map[string]string{"id": idOf("role", "reader"), "name": "reader"},
		}
		tok["catalog"] = s.catalogLocked(origin)
	}
	switch t.scope {
	case "project":
		tok["is_domain"] = false
		tok["project"] = map[string]any{
			"id": idOf("project", c.ProjectName), "name": c.ProjectName,
			"domain": map[string]string{"id": domainID(c.ProjectDomainName), "name": c.ProjectDomainName},
		}
	case "system":
		tok["system"] = map[string]bool{"all": true}
	}
	if t.appCred != nil {
		tok["application_credential"] = map[string]any{
			"id": cmpOr(t.appCred.ID, idOf("appcred", t.appCred.Name)), "name": t.appCred.Name, "restricted": true}
	}
	return map[string]any{"token": tok}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// catalogLocked lists the simulator's services as StarlingX registers
// them: platform (SysInv, with its /v1 prefix), smapi (SM), nfv (the VIM),
// key-manager (Barbican) and identity (Keystone), each with public,
// internal and admin endpoints.
func (s *Sim) catalogLocked(origin string) []any {
	ep := s.endpointsLocked(origin)
	entry := func(typ, name, u string) map[string]any {
		var eps []any
		for _, iface := range []string{"public", "internal", "admin"} {
			eps = append(eps, map[string]string{
				"id": idOf("endpoint", name+"/"+iface), "interface": iface,
				"region": s.cfg.Region, "region_id": s.cfg.Region, "url": u,
			})
		}
		return map[string]any{"id": idOf("service", name), "type": typ, "name": name, "endpoints": eps}
	}
	return []any{
		entry("identity", "keystone", ep.Keystone),
		entry("platform", "sysinv", ep.SysInv+"/v1"),
		entry("smapi", "sm", ep.SM),
		entry("nfv", "vim", ep.VIM),
		entry("key-manager", "barbican", ep.Barbican),
	}
}

// validTokenLocked returns the token id names if it is usable now, or the
// reason it is not.
func (s *Sim) validTokenLocked(id string, now time.Time) (*token, string) {
	if id == "" {
		return nil, "missing"
	}
	t := s.tokens[id]
	switch {
	case t == nil:
		return nil, "unknown"
	case t.revoked:
		return nil, "revoked"
	case t.corrupted:
		return nil, "corrupted"
	case !now.Before(t.expires):
		return nil, "expired"
	}
	return t, ""
}

// checkToken applies keystonemiddleware's check of X-Auth-Token.
func (s *Sim) checkToken(rq *request) (plan, bool) {
	s.mu.Lock()
	t, why := s.validTokenLocked(rq.header.Get("X-Auth-Token"), time.Now())
	s.mu.Unlock()
	if t == nil {
		s.log.Debug("sim: token refused", "seq", rq.seq, "service", rq.svc, "why", why)
		return s.unauthorized(rq, true), false
	}
	return plan{}, true
}

func (s *Sim) validateSubject(rq *request) plan {
	if p, ok := s.checkToken(rq); !ok {
		return p
	}
	now := time.Now()
	allowExpired := rq.query.Get("allow_expired") == "1" || strings.EqualFold(rq.query.Get("allow_expired"), "true")
	s.mu.Lock()
	defer s.mu.Unlock()
	t, why := s.validTokenLocked(rq.header.Get("X-Subject-Token"), now)
	if t == nil && why == "expired" && allowExpired {
		t = s.tokens[rq.header.Get("X-Subject-Token")]
	}
	if t == nil {
		return s.errorPlan(rq, http.StatusNotFound, "Could not find token.")
	}
	p := jsonPlan(http.StatusOK, s.tokenBodyLocked(t, rq.origin))
	p.header.Set("X-Subject-Token", t.id)
	return p
}

func (s *Sim) revokeSubject(rq *request) plan {
	if p, ok := s.checkToken(rq); !ok {
		return p
	}
	s.mu.Lock()
	t, _ := s.validTokenLocked(rq.header.Get("X-Subject-Token"), time.Now())
	if t != nil {
		t.revoked = true
	}
	s.mu.Unlock()
	if t == nil {
		return s.errorPlan(rq, http.StatusNotFound, "Could not find token.")
	}
	return plan{status: http.StatusNoContent}
}

// ------------------------------------------------------------ test controls

// SetTokenLifetime changes the lifetime of tokens issued from now on.
func (s *Sim) SetTokenLifetime(d time.Duration) error {
	if d < time.Second {
		return fmt.Errorf("%w: token lifetime %v is shorter than 1s", ErrInvalidValue, d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
	return nil
}

// Tokens describes the tokens the simulator still remembers, oldest first
// (tokens expired for longer than a lifetime are forgotten).
func (s *Sim) Tokens() []TokenInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TokenInfo, 0, len(s.tokens))
	for _, t := range s.tokens {
		out = append(out, TokenInfo{Fingerprint: t.fingerprint, IssuedAt: t.issued, ExpiresAt: t.expires,
			Methods: slices.Clone(t.methods), Scope: t.scope, Revoked: t.revoked, Corrupted: t.corrupted})
	}
	slices.SortFunc(out, func(a, b TokenInfo) int { return a.IssuedAt.Compare(b.IssuedAt) })
	return out
}

// TokenValid reports whether the services would accept tok now.
func (s *Sim) TokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _ := s.validTokenLocked(tok, time.Now())
	return t != nil
}

// CorruptToken corrupts the most recently issued token, if it is still
// valid: the services answer 401 to it from now on (the server-side form
// of FIT corrupt_token). It reports whether a token was corrupted; a call
// while the newest token is already expired, revoked or corrupted (e.g. a
// renewal is still running) changes nothing and is recorded as such.
func (s *Sim) CorruptToken() bool { return s.corruptNewest(false) }

func (s *Sim) corruptNewest(periodic bool) bool {
	now := time.Now()
	s.mu.Lock()
	t := s.newest
	ok := t != nil && !t.revoked && !t.corrupted && now.Before(t.expires)
	fp := ""
	if ok {
		t.corrupted = true
		fp = t.fingerprint
	}
	s.mu.Unlock()
	s.rec.mu.Lock()
	s.rec.corruptions.push(Corruption{Time: now, Fingerprint: fp, Periodic: periodic, Effective: ok})
	if ok {
		s.rec.stats.Corruptions++
	}
	s.rec.mu.Unlock()
	s.log.Debug("sim: token corruption", "token", fp, "effective", ok, "periodic", periodic)
	return ok
}

// CorruptAllTokens corrupts every valid token and returns how many.
func (s *Sim) CorruptAllTokens() int {
	now := time.Now()
	var fps []string
	s.mu.Lock()
	for _, t := range s.tokens {
		if !t.revoked && !t.corrupted && now.Before(t.expires) {
			t.corrupted = true
			fps = append(fps, t.fingerprint)
		}
	}
	s.mu.Unlock()
	slices.Sort(fps)
	s.rec.mu.Lock()
	for _, fp := range fps {
		s.rec.corruptions.push(Corruption{Time: now, Fingerprint: fp, Effective: true})
		s.rec.stats.Corruptions++
	}
	s.rec.mu.Unlock()
	return len(fps)
}

type corruptLoop struct {
	stop chan struct{}
	done chan struct{}
}

// CorruptTokenEvery starts (or restarts) periodic corruption of the newest
// token, as FIT corrupt_token does: each wait is drawn uniformly from
// [min, max] (StarlingX: 20–30 s) with a generator seeded from Config.Seed
// and the number of earlier calls, so a run is reproducible. Both zero
// stops it. The timer runs on the Sim's goroutine, in the caller's
// synctest bubble if any.
func (s *Sim) CorruptTokenEvery(min, max time.Duration) error {
	s.corruptMu.Lock()
	defer s.corruptMu.Unlock()
	s.stopCorruptionLocked()
	if min == 0 && max == 0 {
		return nil
	}
	if min <= 0 || max < min {
		return fmt.Errorf("%w: corruption interval [%v, %v]", ErrInvalidValue, min, max)
	}
	s.corruptGen++
	rng := rand.New(rand.NewPCG(s.cfg.Seed, 100+s.corruptGen))
	cl := &corruptLoop{stop: make(chan struct{}), done: make(chan struct{})}
	ok := s.goOwned(func() {
		defer close(cl.done)
		for {
			d := min + time.Duration(rng.Int64N(int64(max-min)+1))
			t := time.NewTimer(d)
			select {
			case <-t.C:
				s.corruptNewest(true)
			case <-cl.stop:
				t.Stop()
				return
			case <-s.done:
				t.Stop()
				return
			}
		}
	})
	if !ok {
		return ErrClosed
	}
	s.corrupt = cl
	return nil
}

// stopCorruptionLocked stops the corruption loop; s.corruptMu held.
func (s *Sim) stopCorruptionLocked() {
	if s.corrupt == nil {
		return
	}
	close(s.corrupt.stop)
	<-s.corrupt.done
	s.corrupt = nil
}

// HoldKeystone makes token requests wait (FIT stuck renewal) until
// ReleaseKeystone, their requester's context ends, or Close.
func (s *Sim) HoldKeystone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold == nil {
		s.hold = make(chan struct{})
	}
}

// ReleaseKeystone lets held and later token requests through.
func (s *Sim) ReleaseKeystone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// KeystoneWaiters returns how many token requests the hold is keeping.
func (s *Sim) KeystoneWaiters() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holdWait
}
