package sysinv

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/internal/platform"
	"opendev.org/starlingx/metal-go/mtce/internal/platform/platformtest"
	"opendev.org/starlingx/metal-go/workqueue"
)

// BenchmarkParseHost decodes one ihost record with ParseHost's checks;
// the baseline is a plain json.Unmarshal of the same bytes into a map.
func BenchmarkParseHost(b *testing.B) {
	body := []byte(record("controller-0", uuidA, nil))
	b.Run("baseline=json.Unmarshal-map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseHost", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseHost(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUpdate measures a queued update end to end (Submit, one attempt
// through the in-memory transport, decode, Wait); the baseline is the same
// PATCH sent directly with the endpoint, without the queue and the decode.
func BenchmarkUpdate(b *testing.B) {
	tr := platformtest.New(func(req platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Body: record("compute-0", uuidA, nil)}
	})
	q, err := workqueue.New(workqueue.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close(context.Background())
	cfg := DefaultConfig()
	cfg.BaseURL, cfg.HTTPClient, cfg.Queue = "http://sysinv:6385", tr.Client(), q
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	body, _ := Update{Op: "force task", Fields: []Field{{"task", "Enabling"}, {"uptime", "42"}}}.Patch()
	b.Run("baseline=Endpoint.Do", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.ep.Do(ctx, platform.Request{Method: http.MethodPatch, Path: hostPath(uuidA), Body: body}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ForceTask+Wait", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			call, err := c.ForceTask(refA, mtce.TaskEnabling, 42)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := call.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
