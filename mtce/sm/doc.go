// Package sm is a client of StarlingX's Service Management (SM) REST API as
// the maintenance agent uses it: query a controller's service node
// (GET /v1/servicenode/<controller>) and send it swact and state
// notifications (PATCH, spec C.4), each through a work queue on the target
// controller's lane, so that they are serialised with that host's SysInv
// and VIM updates.
//
// # Usage
//
//	cfg := sm.DefaultConfig()
//	cfg.BaseURL = sm.Endpoint(myHostname, haPort)          // K.7: own hostname, ha_port 7777
//	cfg.HTTPClient = &http.Client{Transport: &keystone.Transport{Manager: m}}
//	cfg.Queue = q                                          // shared with the other clients
//	c, err := sm.New(cfg)
//	call, err := c.Query("controller-1")                   // never blocks
//	...
//	node, err := call.Wait(ctx)                            // or select on call.Done()
//	if err == nil && node.Swactable { call2, err := c.Swact("controller-1", avail) }
//
// # Guarantees
//
//   - Every call returns at once: a [*Call] queued on the controller's lane
//     (its Handle is the queue's), or an error with nothing queued:
//     ErrInvalidArgument for a bad controller name or a request lacking a
//     state it must carry, or the queue's workqueue.ErrOverloaded /
//     ErrClosed.
//   - Bodies are exactly StarlingX's: {"origin":"mtce","action":...,
//     "admin":...,"oper":...,"avail":...} in that key order (see [Request]).
//   - Criticality and budgets follow spec C.4 and D.3: Query (1 attempt),
//     Swact (1) and Enabled (3) are critical; Disabled, Locked and Unlocked
//     (3) are not. Each attempt is bounded by Config.Timeout (20 s).
//   - Headers are those of StarlingX's queued requests (A.8): User-Agent
//     mtce/1.0, Accept and Content-Type application/json,
//     X-Auth-Project-Id admin; the token comes from the caller's transport.
//   - The query answer is checked strictly ([ParseServiceNode]); a bad
//     answer ends the call with ErrBadResponse without a retry, as
//     StarlingX's swact FSM does.
//   - Every failure is typed: an [*Error] whose Kind is ErrUnauthorized,
//     ErrNotFound, ErrStatus, ErrBadResponse or ErrTransport, inside the
//     queue's *workqueue.Error. A 4xx other than 401, 404, 408 and 429 is
//     not retried; everything else is, within the budget.
//   - The client starts no goroutine and holds no state besides its
//     configuration; it is safe for concurrent use.
//
// # Caller's duties
//
//   - Create, share and close the work queue; give the client an HTTP
//     client that adds the Keystone token (keystone.Transport).
//   - Collect the outcome of critical calls (Wait, Done/Result, or the
//     queue's WaitLane), and pass the controller's current admin action,
//     admin state and availability to Enabled, Disabled and Swact.
//
// # Differences from StarlingX
//
//   - A 404 is an error (ErrNotFound), not a success. StarlingX's status
//     mapping passes a 404 for every request but SysInv updates, which
//     silently loses a state notification SM never received; 87b4a69
//     removed the explicit "404 is success" case for Disabled and Locked.
//   - Connections are kept alive (Go's transport) instead of
//     "Connection: close".
//   - The per-attempt timeout is enforced by the queue on the whole
//     exchange, body included.
package sm
