package sim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkPatchTask measures one SysInv task update (token check,
// JSON-patch, record, answer) through the in-memory transport and over
// loopback HTTP; the baseline is a bare net/http loopback round trip to a
// handler that only drains the body, measured in the same run.
func BenchmarkPatchTask(b *testing.B) {
	s := newSim(b, nil)
	loop, err := s.Listen()
	if err != nil {
		b.Fatal(err)
	}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer bare.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	real := &http.Client{Transport: tr}
	body := `[{"path":"/task","value":"Enabling","op":"replace"},{"path":"/uptime","value":"1234","op":"replace"}]`
	uuid := NameUUID("worker-0")
	run := func(b *testing.B, c *http.Client, url, token string) {
		ctx := context.Background()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, url, strings.NewReader(body))
			req.Header.Set("X-Auth-Token", token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	b.Run("baseline-bare-loopback", func(b *testing.B) { run(b, real, bare.URL, "") })
	b.Run("sim-loopback", func(b *testing.B) {
		run(b, real, loop.SysInv+"/v1/ihosts/"+uuid, getToken(b, real, loop))
	})
	b.Run("sim-memory", func(b *testing.B) {
		ep := s.MemoryEndpoints()
		run(b, s.Client(), ep.SysInv+"/v1/ihosts/"+uuid, getToken(b, s.Client(), ep))
	})
}
