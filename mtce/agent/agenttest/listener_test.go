package agenttest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"opendev.org/starlingx/metal-go/mtce/agent/agenttest"
)

func TestListenerServesHTTPInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := agenttest.NewListener(netip.MustParseAddrPort("127.0.0.1:2112"))
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * time.Second) // virtual
			io.WriteString(w, r.RemoteAddr+" "+r.Host)
		})}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		tr := l.Transport()
		c := &http.Client{Transport: tr}
		start := time.Now()
		resp, err := c.Get("http://localhost:2112/v1/hosts")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "127.0.0.1:40001 localhost:2112" || time.Since(start) != 2*time.Second {
			t.Fatalf("body %q after %v", b, time.Since(start))
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Fatal(err)
		}
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after close: %v", err)
		}
		if _, err := l.DialContext(context.Background(), "tcp", "x"); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("dial after close: %v", err)
		}
		tr.CloseIdleConnections()
	})
}
