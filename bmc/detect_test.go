package bmc_test

import (
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/bmc"
	"opendev.org/starlingx/metal-go/bmc/bmcsim"
)

func newSim(t *testing.T, cfg bmcsim.Config) *bmcsim.Server {
	t.Helper()
	s, err := bmcsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func TestDetectInMemory(t *testing.T) {
	text := func(code int, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, body)
		})
	}
	tests := []struct {
		name    string
		rt      http.RoundTripper
		want    bmc.Protocol
		learned bool
		err     error
	}{
		{"redfish", newSim(t, bmcsim.Config{}).Transport(), bmc.ProtocolRedfish, true, nil},
		{"old redfish", newSim(t, bmcsim.Config{RedfishVersion: "0.9.5"}).Transport(), bmc.ProtocolIPMI, false, nil},
		{"no service root", handlerTransport{http.NotFoundHandler()}, bmc.ProtocolIPMI, false, nil},
		{"web page", handlerTransport{text(200, "<html>BMC login</html>")}, bmc.ProtocolIPMI, false, nil},
		{"json but not redfish", handlerTransport{text(200, `{"hello": "world"}`)}, bmc.ProtocolIPMI, false, nil},
		{"auth demanded", handlerTransport{text(401, "")}, "", false, bmc.ErrAuth},
		{"server error", handlerTransport{text(503, "")}, "", false, bmc.ErrProtocol},
		// A redirect is inconclusive, never an IPMI verdict.
		{"redirect 301", handlerTransport{http.RedirectHandler("https://bmc.example/redfish/v1/", 301)}, "", false, bmc.ErrProtocol},
		{"redirect 307", handlerTransport{http.RedirectHandler("/login.html", 307)}, "", false, bmc.ErrProtocol},
		{"redirect 302", handlerTransport{http.RedirectHandler("/", 302)}, "", false, bmc.ErrProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := bmc.DefaultDetectConfig()
			cfg.Address = "bmc.example"
			cfg.Transport = tc.rt
			got, err := bmc.Detect(t.Context(), cfg)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Detect = %+v, %v; want error %v", got, err, tc.err)
				}
				return
			}
			if err != nil || got.Protocol != tc.want || got.Learned != tc.learned {
				t.Fatalf("Detect = %+v, %v; want %s learned=%v", got, err, tc.want, tc.learned)
			}
		})
	}
}

func TestDetectFaults(t *testing.T) {
	for _, tc := range []struct {
		fault bmcsim.FaultKind
		want  error
		proto bmc.Protocol
	}{
		{bmcsim.FaultUnauthorized, bmc.ErrAuth, ""},
		{bmcsim.FaultServerError, bmc.ErrProtocol, ""},
		{bmcsim.FaultMalformedJSON, nil, bmc.ProtocolIPMI},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			sim := newSim(t, bmcsim.Config{})
			sim.InjectFault(bmcsim.Fault{Kind: tc.fault})
			cfg := bmc.DefaultDetectConfig()
			cfg.Address = "bmc"
			cfg.Transport = sim.Transport()
			got, err := bmc.Detect(t.Context(), cfg)
			if tc.want != nil && !errors.Is(err, tc.want) || tc.want == nil && (err != nil || got.Protocol != tc.proto || got.Learned) {
				t.Errorf("Detect = %+v, %v", got, err)
			}
		})
	}
}

// A hung BMC is a timeout, in exactly the configured time.
func TestDetectHangVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, _ := bmcsim.New(bmcsim.Config{})
		defer sim.Close()
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultHang})
		cfg := bmc.DefaultDetectConfig()
		cfg.Address = "bmc"
		cfg.Transport = sim.Transport()
		start := time.Now()
		_, err := bmc.Detect(t.Context(), cfg)
		if !errors.Is(err, bmc.ErrTimeout) {
			t.Fatalf("Detect on a hung BMC = %v, want ErrTimeout", err)
		}
		if el := time.Since(start); el != 10*time.Second {
			t.Errorf("took %s, want the 10 s default", el)
		}
		// A slow but working BMC within the timeout is detected.
		sim.ClearFaults()
		sim.InjectFault(bmcsim.Fault{Kind: bmcsim.FaultSlow, Delay: 9 * time.Second})
		got, err := bmc.Detect(t.Context(), cfg)
		if err != nil || got.Protocol != bmc.ProtocolRedfish {
			t.Errorf("slow Detect = %+v, %v", got, err)
		}
	})
}

// Real loopback: TLS verification is on by default and a self-signed BMC
// is an error, not an IPMI verdict.
func TestDetectTLSLoopback(t *testing.T) {
	sim := newSim(t, bmcsim.Config{})
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")

	cfg := bmc.DefaultDetectConfig()
	cfg.Address = addr
	cfg.Timeout = 5 * time.Second
	got, err := bmc.Detect(t.Context(), cfg)
	if !errors.Is(err, bmc.ErrTLS) {
		t.Fatalf("Detect with an unknown CA = %+v, %v; want ErrTLS", got, err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg.RootCAs = pool
	got, err = bmc.Detect(t.Context(), cfg)
	if err != nil || got.Protocol != bmc.ProtocolRedfish || !got.Learned || got.RedfishVersion != "1.6.0" {
		t.Fatalf("Detect with the CA = %+v, %v", got, err)
	}

	cfg.RootCAs = nil
	cfg.InsecureSkipVerify = true
	var logs strings.Builder
	cfg.Logger = newTextLogger(&logs)
	if got, err = bmc.Detect(t.Context(), cfg); err != nil || got.Protocol != bmc.ProtocolRedfish {
		t.Fatalf("Detect insecure = %+v, %v", got, err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "DISABLED") {
		t.Errorf("InsecureSkipVerify was not logged loudly: %q", logs.String())
	}
}

func TestDetectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := bmc.DefaultDetectConfig()
	cfg.Address = addr
	cfg.Timeout = 5 * time.Second
	got, err := bmc.Detect(t.Context(), cfg)
	if err != nil || got.Protocol != bmc.ProtocolIPMI || got.Learned {
		t.Fatalf("Detect on a closed port = %+v, %v; want IPMI, not learned", got, err)
	}
}

func TestDetectConfigValidate(t *testing.T) {
	for _, addr := range []string{"", "https://x", "user@x", "x/redfish"} {
		cfg := bmc.DefaultDetectConfig()
		cfg.Address = addr
		if _, err := bmc.Detect(t.Context(), cfg); !errors.Is(err, bmc.ErrInvalidConfig) {
			t.Errorf("Address %q: %v", addr, err)
		}
	}
	cfg := bmc.DefaultDetectConfig()
	cfg.Address = "x"
	cfg.Scheme = "ftp"
	if err := cfg.Validate(); !errors.Is(err, bmc.ErrInvalidConfig) {
		t.Errorf("Scheme ftp: %v", err)
	}
}

// A redirect's target and a non-Redfish error body's text are kept in the
// error (and in the IPMI verdict's reason).
func TestDetectKeepsDetail(t *testing.T) {
	probe := func(h http.Handler) (bmc.Detection, error) {
		cfg := bmc.DefaultDetectConfig()
		cfg.Address = "bmc.example"
		cfg.Transport = handlerTransport{h}
		return bmc.Detect(t.Context(), cfg)
	}
	body := func(code int, b string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, b)
		})
	}
	if d, err := probe(http.RedirectHandler("https://bmc.example/redfish/v1/", 301)); err == nil ||
		d.Protocol != "" || !strings.Contains(err.Error(), "https://bmc.example/redfish/v1/") ||
		!strings.Contains(err.Error(), "inconclusive") {
		t.Errorf("redirect: %+v, %v", d, err)
	}
	if _, err := probe(body(503, `{"status":503,"detail":"BMC in maintenance mode"}`)); !errors.Is(err, bmc.ErrProtocol) ||
		!strings.Contains(err.Error(), "BMC in maintenance mode") {
		t.Errorf("503 with a JSON body: %v", err)
	}
	if d, err := probe(body(400, "bad\r\nrequest\x00 here")); err != nil || d.Protocol != bmc.ProtocolIPMI ||
		!strings.Contains(d.Reason, "bad request here") {
		t.Errorf("400 with text: %+v, %v", d, err)
	}
}

func TestBodyText(t *testing.T) {
	for in, want := range map[string]string{
		"": "",
		`{"error":{"code":"Base.1.0.X","message":"m"}}`:           "Base.1.0.X m",
		`{"error":{"@Message.ExtendedInfo":[{"Message":"ext"}]}}`: "ext",
		`{"detail":"  two\n lines "}`:                             `{"detail":" two\n lines "}`,
		"plain\ttext\n":                                           "plain text",
		strings.Repeat("é", 200):                                  strings.Repeat("é", 150) + "...",
	} {
		if got := bmc.BodyText([]byte(in)); got != want {
			t.Errorf("BodyText(%q) = %q, want %q", in, got, want)
		}
	}
}
