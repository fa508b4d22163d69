// Package platform is the shared machinery of the StarlingX platform clients
// (mtce/sm, mtce/vim, mtce/sysinv, mtce/barbican): request building with the
// common headers of maintenance's queued requests (spec A.8), the HTTP status
// mapping (A.6), bounded body reading, the typed errors every client returns,
// and the typed future ([Call]) that wraps a work-queue item.
//
// # Status mapping
//
// 200–204 pass. Everything else is an [*Error]:
//
//   - 401: Kind [ErrUnauthorized]; retried (the token is renewed by the
//     caller's transport, e.g. keystone.Transport, before the next attempt);
//   - 404: Kind [ErrNotFound]; retried, except where a client documents its
//     own rule (SysInv updates reload the host first);
//   - 408, 429, 5xx and any other non-4xx status: Kind [ErrStatus]; retried;
//   - any other 4xx: Kind [ErrStatus] and [Permanent] reports true: the
//     request itself is wrong, so repeating it cannot help.
//
// A request that got no answer (connection refused or reset, timeout, body
// cut short) is Kind [ErrTransport] and is retried; a transport error that
// wraps keystone.ErrUnauthorized (a 401 after the transport's own renewal)
// is Kind [ErrUnauthorized]. A body that cannot be decoded is Kind
// [ErrBadResponse] with a [*DecodeError] naming the field.
//
// Redirects are never followed (net/http would turn a redirected PATCH into
// a GET that passes without updating anything): a 3xx is an ErrStatus.
//
// StarlingX maps a 404 to success for every request but SysInv updates;
// that silently loses SM and VIM state notifications (87b4a69 removed the
// SM special case that relied on it), so here a 404 is always an error.
package platform
