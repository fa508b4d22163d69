package keystonetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// URLs served by Server.
const (
	AuthURL    = "http://keystone.test/v3"
	ServiceURL = "http://service.test/"
	// PlatformURL is the admin URL of the "platform" service in the catalog.
	PlatformURL = "http://platform.test:6385/v1"
)

// Default credentials accepted by a new Server.
const (
	User          = "admin"
	Password      = "admin-secret"
	Project       = "admin"
	Domain        = "Default"
	Region        = "RegionOne"
	AppCredID     = "appcred-id"
	AppCredSecret = "appcred-secret"
)

// Fault is a kind of bad reply to token requests.
type Fault int

// Faults. Each applies to token requests (POST /v3/auth/tokens) only.
const (
	FaultNone           Fault = iota
	FaultUnavailable          // 503 Service Unavailable
	FaultUnauthorized         // 401, as for wrong credentials
	FaultConnRefused          // transport error, no response
	FaultNoSubjectToken       // 201 without X-Subject-Token
	FaultMalformedJSON        // 201 with a body that is not JSON
	FaultNoExpiresAt          // 201 whose token has no expires_at
	FaultNoCatalog            // 201 whose token has no catalog
	FaultNoPlatform           // 201 whose catalog has no platform service
)

// Server is the fake. The zero value is not usable; call New.
type Server struct {
	mu           sync.Mutex
	password     string
	lifetime     time.Duration
	authDelay    time.Duration
	prefix       string
	tokens       map[string]*tokenState
	seq          int
	fault        Fault
	faultLeft    int             // >0: fault applies to this many more requests; <0: until changed
	hold         chan struct{}   // new token requests wait on it while non-nil
	held         []chan struct{} // every hold channel handed out; closed by Release
	holdIgnore   bool
	holdLeft     int // >0: requests still to hold before holding stops
	rejectAll    bool
	waiting      int
	authReqs     int
	authTimes    []time.Time
	serviceReqs  int
	service401   int
	barrierN     int
	barrierCount int
	barrier      chan struct{}
	body         []byte // override for the next 201 reply (fuzzing)
	subject      string
	bodySet      bool
}

type tokenState struct {
	expires time.Time
	revoked bool
}

// New returns a Server that accepts User/Password (project Project, domain
// Domain) and AppCredID/AppCredSecret, and issues tokens valid for one hour.
func New() *Server {
	return &Server{
		password: Password,
		lifetime: time.Hour,
		prefix:   "gAAAAAfake",
		tokens:   map[string]*tokenState{},
	}
}

// SetLifetime sets the lifetime of tokens issued from now on.
func (s *Server) SetLifetime(d time.Duration) { s.mu.Lock(); s.lifetime = d; s.mu.Unlock() }

// SetAuthDelay makes every token request take d (honouring its context),
// to model Keystone's service time.
func (s *Server) SetAuthDelay(d time.Duration) { s.mu.Lock(); s.authDelay = d; s.mu.Unlock() }

// SetPassword changes the password accepted for User.
func (s *Server) SetPassword(p string) { s.mu.Lock(); s.password = p; s.mu.Unlock() }

// SetTokenPrefix sets the prefix of issued tokens (a recognizable marker
// for log-scanning tests).
func (s *Server) SetTokenPrefix(p string) { s.mu.Lock(); s.prefix = p; s.mu.Unlock() }

// Fail makes the next n token requests fail with f (n <= 0: every request
// until Fail is called again). Fail(FaultNone, 0) clears.
func (s *Server) Fail(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
	s.faultLeft = n
	if n <= 0 {
		s.faultLeft = -1
	}
	if f == FaultNone {
		s.faultLeft = 0
	}
}

// SetNextReply makes the next token request that passes the credential
// check get a 201 with exactly this X-Subject-Token header (none if empty)
// and this body. For fuzzing the reply parser.
func (s *Server) SetNextReply(subjectToken string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subject, s.body, s.bodySet = subjectToken, append([]byte(nil), body...), true
}

// Hold makes token requests arriving from now on wait until Release. If
// ignoreContext is true they wait even when their context ends (a black
// hole: something under the client ignores cancellation); otherwise they
// return the context's error. A released request is answered normally.
func (s *Server) Hold(ignoreContext bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold == nil {
		s.hold = make(chan struct{})
		s.held = append(s.held, s.hold)
	}
	s.holdIgnore, s.holdLeft = ignoreContext, 0
}

// HoldNext is Hold for the next n token requests only; later ones are
// answered normally.
func (s *Server) HoldNext(n int, ignoreContext bool) {
	s.Hold(ignoreContext)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdLeft = n
}

// StopHolding answers token requests arriving from now on normally; the
// ones already held stay held until Release.
func (s *Server) StopHolding() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = nil
}

// Release lets every held token request proceed and stops holding.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.held {
		close(c)
	}
	s.held, s.hold = nil, nil
}

// RejectService makes the service answer 401 to every request (true) or
// check tokens again (false).
func (s *Server) RejectService(reject bool) { s.mu.Lock(); s.rejectAll = reject; s.mu.Unlock() }

// Waiting returns the number of token requests currently held.
func (s *Server) Waiting() int { s.mu.Lock(); defer s.mu.Unlock(); return s.waiting }

// ServiceBarrier makes the next n service requests wait until all n have
// arrived, then answers them all (for "n requests get 401 at once").
func (s *Server) ServiceBarrier(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.barrierN, s.barrierCount, s.barrier = n, 0, make(chan struct{})
}

// AuthRequests returns the number of token requests received.
func (s *Server) AuthRequests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.authReqs }

// AuthTimes returns the arrival time of every token request.
func (s *Server) AuthTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.authTimes...)
}

// ServiceRequests returns the number of service requests and how many of
// them were answered 401.
func (s *Server) ServiceRequests() (total, unauthorized int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serviceReqs, s.service401
}

// RevokeAll revokes every token issued so far.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}

// Revoke revokes one token.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[token]; ok {
		t.revoked = true
	}
}

// Valid reports whether token was issued, is not revoked and not expired.
func (s *Server) Valid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validLocked(token)
}

func (s *Server) validLocked(token string) bool {
	t, ok := s.tokens[token]
	return ok && !t.revoked && time.Now().Before(t.expires)
}

// Client returns an http.Client using the Server as its transport.
func (s *Server) Client() *http.Client { return &http.Client{Transport: s} }

// RoundTrip implements http.RoundTripper.
func (s *Server) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	switch {
	case req.URL.Host == "keystone.test" && req.URL.Path == "/v3/auth/tokens" && req.Method == http.MethodPost:
		return s.issue(req, body)
	case req.URL.Host == "keystone.test" && req.URL.Path == "/v3/auth/tokens" && req.Method == http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.validLocked(req.Header.Get("X-Auth-Token")) {
			return respond(req, http.StatusUnauthorized, nil, errorBody(401, "Unauthorized")), nil
		}
		t, ok := s.tokens[req.Header.Get("X-Subject-Token")]
		if !ok || t.revoked {
			return respond(req, http.StatusNotFound, nil, errorBody(404, "Not Found")), nil
		}
		t.revoked = true
		return respond(req, http.StatusNoContent, nil, nil), nil
	case req.URL.Host == "service.test":
		return s.serve(req, body)
	default:
		return respond(req, http.StatusNotFound, nil, errorBody(404, "Not Found")), nil
	}
}

func (s *Server) serve(req *http.Request, body []byte) (*http.Response, error) {
	s.mu.Lock()
	if s.barrier != nil && s.barrierCount < s.barrierN {
		s.barrierCount++
		b := s.barrier
		if s.barrierCount == s.barrierN {
			close(b)
			s.barrier = nil
		}
		s.mu.Unlock()
		select {
		case <-b:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	s.serviceReqs++
	if s.rejectAll || !s.validLocked(req.Header.Get("X-Auth-Token")) {
		s.service401++
		return respond(req, http.StatusUnauthorized, nil, errorBody(401, "The request you have made requires authentication.")), nil
	}
	return respond(req, http.StatusOK, nil, body), nil
}

type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					Name     string `json:"name"`
					Password string `json:"password"`
				} `json:"user"`
			} `json:"password"`
			AppCred struct {
				ID     string `json:"id"`
				Secret string `json:"secret"`
			} `json:"application_credential"`
		} `json:"identity"`
	} `json:"auth"`
}

func (s *Server) issue(req *http.Request, body []byte) (*http.Response, error) {
	ctx := req.Context()
	s.mu.Lock()
	s.authReqs++
	s.authTimes = append(s.authTimes, time.Now())
	hold, ignore, delay := s.hold, s.holdIgnore, s.authDelay
	if hold != nil {
		s.waiting++
		if s.holdLeft > 0 {
			if s.holdLeft--; s.holdLeft == 0 {
				s.hold = nil
			}
		}
	}
	s.mu.Unlock()

	if hold != nil {
		var err error
		if ignore {
			<-hold
		} else {
			select {
			case <-hold:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	fault := FaultNone
	if s.faultLeft != 0 {
		fault = s.fault
		if s.faultLeft > 0 {
			s.faultLeft--
		}
	}
	switch fault {
	case FaultUnavailable:
		return respond(req, http.StatusServiceUnavailable, nil, errorBody(503, "Service Unavailable")), nil
	case FaultUnauthorized:
		return respond(req, http.StatusUnauthorized, nil, errorBody(401, "The request you have made requires authentication.")), nil
	case FaultConnRefused:
		return nil, fmt.Errorf("dial tcp %s: connect: connection refused", req.URL.Host)
	}

	var ar authRequest
	if err := json.Unmarshal(body, &ar); err != nil {
		return respond(req, http.StatusBadRequest, nil, errorBody(400, "Bad Request")), nil
	}
	id := ar.Auth.Identity
	ok := false
	for _, m := range id.Methods {
		switch m {
		case "password":
			ok = id.Password.User.Name == User && id.Password.User.Password == s.password
		case "application_credential":
			ok = id.AppCred.ID == AppCredID && id.AppCred.Secret == AppCredSecret
		}
	}
	if !ok {
		return respond(req, http.StatusUnauthorized, nil, errorBody(401, "The request you have made requires authentication.")), nil
	}

	now := time.Now()
	s.seq++
	secret := s.prefix + strconv.Itoa(s.seq)
	s.tokens[secret] = &tokenState{expires: now.Add(s.lifetime)}
	tok := map[string]any{
		"methods":    id.Methods,
		"issued_at":  now.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"expires_at": now.Add(s.lifetime).UTC().Format("2006-01-02T15:04:05.000000Z"),
		"user":       map[string]any{"name": User, "id": "u1", "domain": map[string]any{"name": Domain, "id": "default"}},
		"project":    map[string]any{"name": Project, "id": "p1", "domain": map[string]any{"name": Domain, "id": "default"}},
		"catalog":    catalog(fault != FaultNoPlatform),
	}
	switch fault {
	case FaultNoExpiresAt:
		delete(tok, "expires_at")
	case FaultNoCatalog:
		delete(tok, "catalog")
	}
	out, _ := json.Marshal(map[string]any{"token": tok})
	if fault == FaultMalformedJSON {
		out = []byte(`{"token": {"expires_at": "2030-01-01T00:00:00Z", "catalog": [`)
	}
	h := http.Header{}
	if fault != FaultNoSubjectToken {
		h.Set("X-Subject-Token", secret)
	}
	if s.bodySet {
		out, s.body, s.bodySet = s.body, nil, false
		h.Del("X-Subject-Token")
		if s.subject != "" {
			h["X-Subject-Token"] = []string{s.subject}
		}
	}
	return respond(req, http.StatusCreated, h, out), nil
}

func catalog(platform bool) []any {
	ep := func(iface, url string) map[string]any {
		return map[string]any{"id": "e-" + iface, "interface": iface, "region": Region, "region_id": Region, "url": url}
	}
	c := []any{map[string]any{
		"id": "s-identity", "type": "identity", "name": "keystone",
		"endpoints": []any{ep("public", AuthURL), ep("internal", AuthURL), ep("admin", AuthURL)},
	}}
	if platform {
		c = append(c, map[string]any{
			"id": "s-platform", "type": "platform", "name": "sysinv",
			"endpoints": []any{ep("admin", PlatformURL), ep("internal", PlatformURL), ep("public", PlatformURL)},
		})
	}
	return c
}

func errorBody(code int, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg, "title": http.StatusText(code)}})
	return b
}

func respond(req *http.Request, status int, h http.Header, body []byte) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// compile-time check
var _ http.RoundTripper = (*Server)(nil)
