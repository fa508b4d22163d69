package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newSim builds a Sim from DefaultConfig (edited by mut) that is closed at
// the end of the test (inside the bubble when called in one).
func newSim(t testing.TB, mut func(*Config)) *Sim {
	t.Helper()
	cfg := DefaultConfig()
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reply is a test's view of an answer.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

// call sends one request; body is marshalled unless it is a string or
// []byte. headers are key, value pairs.
func call(ctx context.Context, c *http.Client, method, url, token string, body any, headers ...string) reply {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return reply{err: err}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mtce/1.0")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

func passwordAuth(user, password string) map[string]any {
	return map[string]any{"auth": map[string]any{
		"identity": map[string]any{
			"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{
				"name": user, "domain": map[string]string{"name": "Default"}, "password": password}},
		},
		"scope": map[string]any{"project": map[string]any{
			"name": "admin", "domain": map[string]string{"name": "Default"}}},
	}}
}

// getToken gets a token from s over c (ep: the endpoints c reaches).
func getToken(t testing.TB, c *http.Client, ep Endpoints) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := call(ctx, c, http.MethodPost, ep.AuthURL()+"/auth/tokens", "", passwordAuth("admin", string(DefaultConfig().Password)))
	if r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("token: status %d err %v body %s", r.status, r.err, r.body)
	}
	tok := r.header.Get("X-Subject-Token")
	if tok == "" {
		t.Fatal("token: no X-Subject-Token")
	}
	return tok
}

func taskPatch(task string) []map[string]string {
	return []map[string]string{{"path": "/task", "value": task, "op": "replace"}}
}

func mustStatus(t testing.TB, r reply, want int) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("want status %d, got error %v", want, r.err)
	}
	if r.status != want {
		t.Fatalf("want status %d, got %d: %s", want, r.status, r.body)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
