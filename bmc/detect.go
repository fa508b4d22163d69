package bmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// DetectConfig configures Detect.
type DetectConfig struct {
	// Address is the BMC's host or host:port (bm_ip). Required.
	Address string
	// Scheme is "https" (default) or "http" (StarlingX bm_http).
	Scheme string
	// Timeout bounds the whole probe (default 10 s).
	Timeout time.Duration
	// RootCAs verifies the BMC certificate (nil: the system roots).
	RootCAs *x509.CertPool
	// InsecureSkipVerify disables certificate verification. It is logged at
	// Warn level on every probe. Prefer RootCAs.
	InsecureSkipVerify bool
	// Transport replaces the HTTP transport (tests, proxies). When set,
	// RootCAs and InsecureSkipVerify are ignored.
	Transport http.RoundTripper
	// Logger receives the verdict (nil: silent).
	Logger *slog.Logger
}

// DefaultDetectConfig returns a config with the defaults filled in; Address
// must still be set.
func DefaultDetectConfig() DetectConfig {
	return DetectConfig{Scheme: "https", Timeout: 10 * time.Second}
}

// Validate checks the configuration.
func (c DetectConfig) Validate() error {
	if c.Address == "" {
		return &ConfigError{Field: "Address", Reason: "must be set"}
	}
	if strings.Contains(c.Address, "/") || strings.Contains(c.Address, "@") {
		return &ConfigError{Field: "Address", Reason: "must be host or host:port, without scheme, path or credentials"}
	}
	if c.Scheme != "" && c.Scheme != "https" && c.Scheme != "http" {
		return &ConfigError{Field: "Scheme", Reason: `must be "https" or "http"`}
	}
	if c.Timeout < 0 {
		return &ConfigError{Field: "Timeout", Reason: "must be >= 0"}
	}
	return nil
}

// Detection is the result of Detect.
type Detection struct {
	// Protocol to use now: ProtocolRedfish or ProtocolIPMI.
	Protocol Protocol
	// Learned is true only for a positive Redfish detection. Only then
	// should the caller persist the protocol (StarlingX's mtce_info); a
	// fallback to IPMI is re-probed next time.
	Learned bool
	// RedfishVersion is the service root's RedfishVersion, if any.
	RedfishVersion string
	// Reason says why the verdict was reached, for logs.
	Reason string
}

// Detect learns the protocol of a BMC whose bm_type is "dynamic", the way
// StarlingX does: a Redfish service root (GET /redfish/v1/, which needs no
// authentication) answering with RedfishVersion >= 1.0 selects Redfish.
// A clean negative selects IPMI, unlearned: the connection is refused (no
// HTTP service), the service root does not exist (404/405/501), or the
// answer is not a Redfish service root.
//
// Every other failure is an error and not a verdict: TLS failures (ErrTLS),
// authentication demanded on the service root (ErrAuth), timeouts
// (ErrTimeout), other network failures (ErrUnreachable), server errors and
// redirects (ErrProtocol). A redirect (301, 302, 307, ...) is not followed,
// so that nothing is sent to another place, and says nothing about Redfish:
// an http:// probe of a BMC that redirects to https, for instance. Error
// bodies are kept in the error text (see BodyText). This deliberately differs from StarlingX, which fell back
// to IPMI on any send/receive failure and persisted that choice, so a
// Redfish BMC with a self-signed certificate or a slow first answer was
// stored as IPMI for good.
func Detect(ctx context.Context, cfg DetectConfig) (Detection, error) {
	if err := cfg.Validate(); err != nil {
		return Detection{}, err
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "https"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rt := cfg.Transport
	if rt == nil {
		if cfg.InsecureSkipVerify {
			log.WarnContext(ctx, "bmc: TLS certificate verification DISABLED for protocol detection",
				"address", cfg.Address)
		}
		tr := &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{}).DialContext,
			TLSHandshakeTimeout: cfg.Timeout,
			TLSClientConfig: &tls.Config{
				RootCAs:            cfg.RootCAs,
				InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // explicit opt-in, logged above
				MinVersion:         tls.VersionTLS12,
			},
		}
		defer tr.CloseIdleConnections()
		rt = tr
	}
	client := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	fail := func(kind, err error) (Detection, error) {
		log.WarnContext(ctx, "bmc: protocol detection inconclusive", "address", cfg.Address, "err", err)
		return Detection{}, NewError("detect", "detect", cfg.Address, kind, err)
	}
	ipmi := func(reason string) (Detection, error) {
		log.InfoContext(ctx, "bmc: no Redfish service, using IPMI (not learned)", "address", cfg.Address,
			"reason", reason)
		return Detection{Protocol: ProtocolIPMI, Reason: reason}, nil
	}

	url := cfg.Scheme + "://" + cfg.Address + "/redfish/v1/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(ErrInvalidConfig, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return ipmi("connection refused: no HTTP service")
		}
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return Detection{}, NewError("detect", "detect", cfg.Address, nil, err)
		}
		kind := ClassifyTransport(err)
		if kind == nil {
			kind = ErrUnreachable
		}
		return fail(kind, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		kind := ClassifyTransport(err)
		if kind == nil {
			kind = ErrProtocol
		}
		return fail(kind, err)
	}
	answered := "service root answered " + resp.Status
	if t := BodyText(body); t != "" {
		answered += ": " + t
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fail(ErrAuth, errors.New(answered))
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// A redirect (http to https, a vendor landing page, a proxy) says
		// nothing about Redfish either way: inconclusive, never IPMI.
		return fail(ErrProtocol, fmt.Errorf("service root redirects (%s) to %q: inconclusive, not evidence of IPMI",
			resp.Status, resp.Header.Get("Location")))
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed ||
		resp.StatusCode == http.StatusNotImplemented:
		return ipmi("no Redfish service root: " + resp.Status)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fail(ErrProtocol, errors.New(answered))
	case resp.StatusCode != http.StatusOK:
		return ipmi(answered)
	}
	version, ok := redfishVersion(body)
	if !ok {
		return ipmi("answer is not a Redfish service root")
	}
	major, ok := majorVersion(version)
	if !ok || major < 1 {
		return ipmi("RedfishVersion " + strconv.Quote(version) + " is below 1.0")
	}
	log.InfoContext(ctx, "bmc: Redfish detected", "address", cfg.Address, "redfish_version", version)
	return Detection{Protocol: ProtocolRedfish, Learned: true, RedfishVersion: version,
		Reason: "service root with RedfishVersion " + version}, nil
}

// BodyText renders an HTTP error body for an error message: the message of
// a Redfish error object, else the body itself (JSON of any other shape,
// or text) with control characters and runs of white space collapsed, cut
// at 300 bytes. It returns "" for an empty body. It is exported for driver
// implementations.
func BodyText(body []byte) string {
	var e struct {
		Error struct {
			Code     string `json:"code"`
			Message  string `json:"message"`
			Extended []struct {
				Message string
			} `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		msg = e.Error.Message
		if msg == "" && len(e.Error.Extended) > 0 {
			msg = e.Error.Extended[0].Message
		}
		if e.Error.Code != "" {
			msg = e.Error.Code + " " + msg
		}
	}
	if strings.TrimSpace(msg) == "" {
		msg = string(body)
	}
	msg = strings.Join(strings.FieldsFunc(strings.ToValidUTF8(msg, "?"), func(r rune) bool {
		return r == ' ' || r < 0x20 || r == 0x7f
	}), " ")
	if len(msg) > 300 {
		cut := 300
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	return msg
}

// redfishVersion extracts RedfishVersion from a service root document.
func redfishVersion(body []byte) (string, bool) {
	var root struct {
		RedfishVersion *string
	}
	if err := json.Unmarshal(body, &root); err != nil || root.RedfishVersion == nil {
		return "", false
	}
	return *root.RedfishVersion, true
}

// majorVersion parses the major number of "1.6.0".
func majorVersion(v string) (int, bool) {
	head, _, _ := strings.Cut(strings.TrimSpace(v), ".")
	n, err := strconv.Atoi(head)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
