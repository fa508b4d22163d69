// Package keystonetest provides an in-memory fake of Keystone's v3 token API
// and of a service protected by its tokens, as one http.RoundTripper.
//
// Routes (anything else is 404):
//
//	POST   http://keystone.test/v3/auth/tokens   issue a token (password or application credential)
//	DELETE http://keystone.test/v3/auth/tokens   revoke the X-Subject-Token
//	*      http://service.test/...               200 and the request body echoed if X-Auth-Token is valid, else 401
//
// # Guarantees
//
//   - It opens no socket and starts no goroutine: every request runs in the
//     caller's goroutine, so it works inside a testing/synctest bubble, where
//     its clock (issued_at, expires_at, token validity, SetAuthDelay) is the
//     bubble's virtual clock.
//   - A 201 reply carries the token in X-Subject-Token and a body with
//     issued_at, expires_at (issued_at + the lifetime, one hour by default)
//     and a catalog listing "identity" and a "platform" service (admin,
//     internal and public endpoints in [Region]), unless a [Fault] says
//     otherwise.
//   - Faults are injected on demand and apply to token requests only:
//     error statuses, a refused connection, malformed or incomplete replies
//     ([Server.Fail], [Server.SetNextReply]), replies held until released,
//     honouring the request context or not ([Server.Hold],
//     [Server.HoldNext]), revocation ([Server.Revoke], [Server.RevokeAll]).
//   - Every token request is counted with its arrival time
//     ([Server.AuthRequests], [Server.AuthTimes]); service requests are
//     counted with their 401s ([Server.ServiceRequests]).
//   - All methods are safe for concurrent use.
//
// # Caller's duties
//
//   - Call [Server.Release] before the test ends whenever requests may be
//     held (a request held with ignoreContext=true never returns otherwise,
//     and a synctest bubble then reports a deadlock).
//   - Use it only in tests: it accepts the fixed credentials [User] /
//     [Password] and [AppCredID] / [AppCredSecret], and its tokens are
//     predictable ([Server.SetTokenPrefix] followed by a counter).
package keystonetest
