package eventapi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
)

// Listen listens on addr ("127.0.0.1:2112", "[::1]:0", "localhost:2112")
// with TCP, refusing any address that is not a loopback address with
// ErrNotLoopback: the event API has no authentication, so it must never be
// reachable from another host (spec J.1; StarlingX binds 127.0.0.1).
// "localhost" means 127.0.0.1; an empty host or a name is refused.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("eventapi: listen %q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() || ip.Zone() != "" {
		return nil, fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", net.JoinHostPort(ip.String(), port))
}

// NewServer returns an http.Server that serves h with the configured read
// timeout and h's logger for net/http's own errors. Serve it on a
// listener from [Listen]; Shutdown it to stop. HTTP/2 is not configured:
// the reason phrases of non-2xx replies need HTTP/1.x.
func (h *Handler) NewServer() *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: h.cfg.ReadTimeout,
		ReadTimeout:       h.cfg.ReadTimeout,
		WriteTimeout:      h.cfg.ReadTimeout + h.cfg.WriteTimeout,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
	}
}
