package keystone

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendev.org/starlingx/metal-go/keystone/keystonetest"
)

// TestTLS runs in wall time over a real loopback TLS socket (httptest) with
// the Manager's default transport: verification is on by default, a CA
// bundle makes it pass, InsecureSkipVerify is an explicit, logged opt-out.
func TestTLS(t *testing.T) {
	fake := keystonetest.New()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Scheme, r2.URL.Host, r2.RequestURI = "http", "keystone.test", ""
		resp, err := fake.RoundTrip(r2)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // expected handshake failures
	ts.StartTLS()
	defer ts.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	base := func() Config {
		c := testConfig(fake)
		c.Transport = nil
		c.AuthURL = ts.URL + "/v3"
		c.RetryMin, c.RetryMax = 50*time.Millisecond, 100*time.Millisecond
		return c
	}
	token := func(cfg Config, wait time.Duration) (Token, error) {
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		return m.Token(ctx)
	}

	t.Run("verification on by default", func(t *testing.T) {
		cfg := base()
		tr, err := newDefaultTransport(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.CloseIdleConnections()
		_, e := requestToken(context.Background(), &cfg, tr, CauseFirst)
		if !errors.Is(e, ErrUnavailable) || !strings.Contains(e.Error(), "certificate") {
			t.Fatalf("err = %v, want ErrUnavailable with a certificate error", e)
		}
	})
	t.Run("CA bundle", func(t *testing.T) {
		cfg := base()
		cfg.CAFile = caFile
		if tok, err := token(cfg, 5*time.Second); err != nil || tok.IsZero() {
			t.Fatalf("Token = %v, %v", tok, err)
		}
	})
	t.Run("insecure opt-out is logged", func(t *testing.T) {
		cfg := base()
		cfg.InsecureSkipVerify = true
		log, logs := newLogger()
		cfg.Logger = log
		if _, err := token(cfg, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if logs.count("level=WARN", "DISABLED") != 1 {
			t.Error("InsecureSkipVerify not logged")
		}
	})
	t.Run("bad CA bundle", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.pem")
		_ = os.WriteFile(bad, []byte("not a pem"), 0o600)
		cfg := base()
		cfg.CAFile = bad
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("err = %v", err)
		}
	})
}
