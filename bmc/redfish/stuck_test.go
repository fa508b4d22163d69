package redfish_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
)

// stuckOn rewrites every system document to say PowerState "On".
type stuckOn struct{ rt http.RoundTripper }

func (s *stuckOn) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/Systems/1") {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b = bytes.Replace(b, []byte(`"PowerState": "Off"`), []byte(`"PowerState": "On"`), 1)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}
