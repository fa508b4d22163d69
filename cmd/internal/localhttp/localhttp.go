package localhttp

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
)

// UnixPrefix marks a unix socket path in an address.
const UnixPrefix = "unix:"

// Errors of this package.
var (
	// ErrNotLoopback is wrapped by ParseAddr and Listen for an address that
	// is neither loopback nor a unix socket, and by Listen when "localhost"
	// bound something else.
	ErrNotLoopback = errors.New("address must be loopback (127.0.0.0/8, ::1, localhost) or unix:/path")
	// ErrInUse is wrapped by Listen when another process accepts on the
	// unix socket.
	ErrInUse = errors.New("another process is listening")
)

// ParseAddr returns the network ("tcp" or "unix") and address to listen on
// for addr, or an error wrapping ErrNotLoopback.
func ParseAddr(addr string) (network, address string, err error) {
	if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
		if !strings.HasPrefix(path, "/") {
			return "", "", fmt.Errorf("%w: unix socket path %q is not absolute", ErrNotLoopback, path)
		}
		return "unix", path, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("%w: %q: %v", ErrNotLoopback, addr, err)
	}
	if host == "localhost" {
		return "tcp", addr, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		if host == "" {
			host = "all interfaces"
		}
		return "", "", fmt.Errorf("%w: %q listens on %s", ErrNotLoopback, addr, host)
	}
	return "tcp", addr, nil
}

// RemoveStale removes path if it is a unix socket nobody accepts on. It
// returns nil when path does not exist, and an error when it is not a
// socket or a process accepts on it (wrapping ErrInUse).
func RemoveStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("%s: %w", path, ErrInUse)
	}
	return os.Remove(path)
}

// CheckBound closes ln and returns an error wrapping ErrNotLoopback when it
// is a TCP listener on a non-loopback address ("localhost" resolving to
// something else); otherwise it returns nil and leaves ln open.
func CheckBound(addr string, ln net.Listener) error {
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("%w: %q bound %s", ErrNotLoopback, addr, ta)
	}
	return nil
}

// Listen binds addr (see ParseAddr). A unix socket is created and then
// given mode (0 keeps what the umask gave).
func Listen(addr string, mode fs.FileMode) (net.Listener, error) {
	network, address, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		if err := RemoveStale(address); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	if err := CheckBound(addr, ln); err != nil {
		return nil, err
	}
	if network == "unix" && mode != 0 {
		if err := os.Chmod(address, mode); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}
