// Package localhttp binds the daemons' local-only HTTP endpoints (metrics,
// the admin API): a loopback TCP address or a unix socket, never anything
// reachable from another machine.
//
// # Guarantees
//
//   - ParseAddr accepts "host:port" whose host is an IP in 127.0.0.0/8 or ::1,
//     or "localhost", and "unix:/absolute/path"; anything else (":9101",
//     "0.0.0.0:9101", a host name, a relative socket path) is an error
//     wrapping ErrNotLoopback. It does no I/O.
//   - Listen binds what ParseAddr accepted. For a unix socket it removes a
//     stale socket file (one nobody accepts on) first and refuses a live
//     one or a file that is not a socket; it creates the socket with the
//     mode given (the directory's permissions are the caller's). For
//     "localhost" it checks that the bound address is loopback.
//
// # Caller duties
//
//   - Create a unix socket's directory with the permissions that decide who
//     may connect: for an admin API that changes hosts, root-only.
//   - Remove the socket file after closing the listener if it must not be
//     left behind (net.UnixListener removes it on Close by default).
package localhttp
