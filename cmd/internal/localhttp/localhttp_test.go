package localhttp

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestParseAddr(t *testing.T) {
	good := map[string]string{
		"127.0.0.1:9101":     "tcp",
		"127.9.8.7:0":        "tcp",
		"[::1]:9101":         "tcp",
		"localhost:9101":     "tcp",
		"unix:/run/mtc/sock": "unix",
	}
	for addr, want := range good {
		n, _, err := ParseAddr(addr)
		if err != nil || n != want {
			t.Errorf("ParseAddr(%q) = %q, %v; want %q", addr, n, err, want)
		}
	}
	for _, addr := range []string{":9101", "0.0.0.0:9101", "10.0.0.1:80", "example.com:80", "unix:rel/sock", "127.0.0.1", ""} {
		if _, _, err := ParseAddr(addr); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("ParseAddr(%q) = %v; want ErrNotLoopback", addr, err)
		}
	}
}

func TestListenTCP(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		t.Fatalf("bound %v", ln.Addr())
	}
	if _, err := Listen("0.0.0.0:0", 0); !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("0.0.0.0: %v", err)
	}
}

func TestListenUnix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.sock")
	ln, err := Listen("unix:"+path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v", fi.Mode(), err)
	}
	// A live socket is refused.
	if _, err := Listen("unix:"+path, 0o600); !errors.Is(err, ErrInUse) {
		t.Fatalf("live socket: %v", err)
	}
	// A stale one (file left, nobody accepting) is replaced.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen("unix:"+path, 0)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln2.Close()
	// A regular file is never removed.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen("unix:"+file, 0); err == nil {
		t.Fatal("listening over a regular file succeeded")
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("regular file removed: %v", err)
	}
}
