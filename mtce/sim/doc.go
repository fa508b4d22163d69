// Package sim is an embeddable, in-process StarlingX platform for tests and
// demos: Keystone v3, SysInv, SM (service management), the VIM's
// infrastructure API and Barbican, with StarlingX FIT-style fault
// injection and a stress generator like StarlingX's api_stress_test.
//
// It speaks the platform's REST wire formats with its own record types and
// imports nothing from the rest of the module, so any Go program can use it
// to test code that talks to StarlingX the way its maintenance agent does.
//
// # Usage
//
//	s, err := sim.New(sim.DefaultConfig())   // 2 controllers + 2 workers
//	defer s.Close()
//	client := s.Client()                     // in memory; or: ep, err := s.Listen()
//	ep := s.MemoryEndpoints()                // base URLs; Keystone auth URL: ep.AuthURL()
//
// A token comes from POST {ep.Keystone}/v3/auth/tokens (password or
// application-credential method, Config.Username/Password); send it as
// X-Auth-Token to SysInv, SM and Barbican. The VIM needs none.
//
// # Services
//
//   - Keystone: POST /v3/auth/tokens → 201, X-Subject-Token, a token body
//     with issued_at, expires_at (whole seconds, as Keystone) and a catalog
//     of the simulator's own services as StarlingX registers them (types
//     identity, platform (SysInv, URL with /v1), smapi, nfv, key-manager;
//     public, internal and admin interfaces). Wrong credentials → 401,
//     malformed requests → 400. GET/HEAD validate X-Subject-Token (404 when
//     invalid), DELETE revokes it (204). GET / and /v3 are version documents.
//   - SysInv: /v1/ihosts (list with limit/marker, POST), /v1/ihosts/<id>
//     (GET by UUID or hostname, PATCH by UUID with a JSON-patch of task,
//     uptime, states, subfunction states, mtce_info and the other ihost
//     attributes, DELETE), /v1/ihosts/<id>/isensors and /isensorgroups,
//     /v1/isensors and /v1/isensorgroups (CRUD, JSON-patch). A PATCH of
//     /action (lock, unlock, swact, ...) and [Sim.UserAction] go to the
//     maintenance agent when Config.MtcAgentURL is set (see "SysInv and
//     the maintenance agent" below), else to Config.OnAction; a rejection
//     is SysInv's 400. A bm_password is stored in Barbican under the
//     host's UUID. Errors use SysInv's body, {"error_message": "<JSON with
//     faultstring>"}.
//   - SM: GET /v1/servicenode/<controller> (origin, hostname, admin, oper,
//     avail, active_services, swactable_services); PATCH with action swact,
//     lock, unlock or event. An accepted swact moves activity to the mate
//     after Config.SwactDelay; swactable_services is "yes" only on the
//     active controller, with a mate, while swacts are allowed
//     (Config.Unswactable, SetSwactable).
//   - VIM: PATCH /nfvi-plugins/v1/hosts/<uuid> with a state-change body is
//     checked and recorded (VIMStateChanges); no token is needed.
//   - Barbican: GET /v1/secrets?name=&limit=, POST /v1/secrets, GET and
//     DELETE /v1/secrets/<ref>, GET /v1/secrets/<ref>/payload (raw bytes,
//     Accept application/octet-stream), as StarlingX reads a BMC password
//     by host UUID.
//
// # SysInv and the maintenance agent
//
// With Config.MtcAgentURL set, SysInv hands work to the maintenance
// agent's event API as StarlingX's SysInv does (spec J.11; sysinv
// mtce_api.py, rest_api.py, host.py), through Config.MtcAgentTransport:
//
//   - SysInv's own checks first, answered 400 without involving the
//     agent: reboot, reset, power-on and power-off only on a locked host;
//     swact and force-swact only on an unlocked controller; lock and
//     force-lock never on the active controller; an unknown action is
//     SysInv's 400; DELETE only of a locked host.
//   - lock and force-lock go to the VIM first: after
//     Config.VIMServicesDelay (0: at once) the host's vim_progress_status
//     becomes services-disabled ([Sim.VIMActions]), then the agent gets
//     the action with administrative still unlocked. force-unlock is sent
//     as unlock (administrative still locked). Other actions are sent as
//     they are.
//   - An action is a modify, PATCH /v1/hosts/<uuid>, when the host's
//     invprovision is provisioned or upgrading; otherwise (the first
//     unlock of a new host) it is POST /v1/hosts/ with operation add and
//     the action. A host add (POST /v1/ihosts) is POST /v1/hosts/ with
//     operation add and action none, sent after the host is stored (it
//     stays if the agent refuses, as in SysInv); a DELETE is DELETE
//     /v1/hosts/<uuid> with the body null, and the host is removed only
//     when the agent passes it.
//   - Requests carry Accept and Content-Type application/json,
//     User-Agent sysinv/1.0, Accept-Encoding identity, Connection: close
//     and no token. The body is the host record in objects/host.py field
//     order (62 keys: integers, nulls, booleans, nested objects; the
//     fields the simulator does not keep take a fresh host's values),
//     minus removekeys_nonmtce's keys whose value is truthy (so "task":
//     null, "uptime": 0 and "location": {} arrive), then "operation",
//     encoded as Python's json.dumps (", " and ": ", ensure_ascii).
//   - Each try is bounded by 6 s (add, modify) or 10 s (delete). A modify
//     is tried up to 3 times, sleeping 3 s after each try that read as
//     no response (also after the last: 27 s in the worst case); add and
//     delete are tried once.
//   - Replies are read as rest_api_request does: a 2xx body is decoded as
//     JSON; a non-2xx has its reason phrase decoded as JSON (an empty
//     phrase reads as {}), and a phrase that is not JSON (Go's "Not
//     Found", a cut JSON text) reads as no response; a timeout or
//     connection error is no response. No response becomes {"status":
//     "fail", "reason": "no response", "action": "retry"}. For an action,
//     status "pass" accepts; a null status is SysInv's "Timeout waiting
//     for maintenance response" 400; any other status is 400 "Operation
//     Rejected: <reason>. <action>.". A reply that decodes to anything
//     but an object (a non-JSON or empty 2xx body, a phrase that decodes
//     to a JSON string or number) or that lacks a key SysInv reads
//     crashes SysInv's API: the user gets 500 with a fault string saying
//     why. A host add that is not passed is 400 "Maintenance has returned
//     with a status of ..."; a delete that is not passed is SysInv's
//     "Mtce rejected delete request." (or its timeout text) 400.
//   - Every try is recorded ([Sim.AgentCalls]: request headers and body,
//     status, phrase, reply, error, how SysInv read it). A refusal is a
//     *[SysInvError] from [Sim.UserAction] (errors.Is [ErrRejected] or
//     [ErrSysInvCrash]).
//
// OnAction is not called while MtcAgentURL is set: the agent decides.
// Hosts of Config.Hosts and those added or deleted with [Sim.AddHost] and
// [Sim.DeleteHost] are not sent to the agent (it loads the inventory
// itself); only REST requests and [Sim.UserAction] are.
//
// SysInv, SM and Barbican check X-Auth-Token first, as keystonemiddleware
// does: a missing, unknown, expired, revoked or corrupted token gets 401
// with WWW-Authenticate. Values StarlingX sends as "none" are accepted
// wherever it sends them; null or absent strings are empty, numbers in
// string fields are taken as their text.
//
// # Faults
//
// [Sim.Inject] adds a [Fault] in StarlingX FIT terms (code, host, name,
// data, hits): per service, method, path pattern and host; for the next Hits
// requests or forever; always or with a probability drawn from the seeded
// generator. Kinds: a status code, drop (never answer), hang (headers and
// half the body, then stall), delay, connection reset, malformed body,
// slow body, missing X-Subject-Token. Status, drop, reset and delay act
// before the request is processed, or after it with AfterProcessing (the
// state change is kept, the answer lost). Separately: [Sim.CorruptToken]
// and [Sim.CorruptTokenEvery] (FIT corrupt_token, 20–30 s),
// [Sim.HoldKeystone] (stuck renewal), [Sim.SetUUID] (re-provisioned host).
//
// StarlingX FIT codes (spec I.1) and their equivalents here (c is a
// controller's hostname):
//
//	swact-query-fail (data=status)   Fault{Service: SM, Method: "GET", Host: c, Kind: FaultStatus, Code: status}
//	swact-query-drop                 Fault{Service: SM, Method: "GET", Host: c, Kind: FaultDrop}
//	swact-action-fail (data=status)  Fault{Service: SM, Method: "PATCH", Host: c, Kind: FaultStatus, Code: status}
//	swact-action-drop                Fault{Service: SM, Method: "PATCH", Host: c, Kind: FaultDrop}
//	swact-action-timeout             Fault{Service: SM, Method: "PATCH", Host: c, Kind: FaultStatus, Code: 200}
//	token fail_request (data=rc)     Fault{Service: Keystone, Method: "POST", Kind: FaultStatus, Code: rc}
//	token timeout                    Fault{Service: Keystone, Method: "POST", Kind: FaultDrop}
//	token header                     Fault{Kind: FaultNoSubjectToken}
//	corrupt_token                    s.CorruptTokenEvery(20*time.Second, 30*time.Second)
//	corrupt_token_all                Fault{Service: svc, Kind: FaultStatus, Code: 401} for SysInv, SM, Barbican
//	stuck_token_renew_in_progress    s.HoldKeystone() ... s.ReleaseKeystone()
//	work queue 75 / 76 / 77          FaultStatus 401 / FaultDrop or FaultDelay / FaultReset
//	SM alive, not scheduling         Fault{Service: SM, Kind: FaultDrop} (SIGSTOP of SM)
//	api_stress_test (data=period)    s.Stress(ctx, StressConfig{Period: period, ...})
//
// # Guarantees
//
//   - The in-memory transport honours each request's context: a request
//     whose context ends before the answer starts returns exactly
//     ctx.Err() (never a made-up response), and a body being read returns
//     ctx.Err(); the handler then sees its own context end, as a server
//     sees a closed socket. Answers stream: headers arrive before the body,
//     and a hang or slow body shows as such.
//   - All time-dependent behaviour (token expiry, swact delay, fault delays,
//     periodic corruption, the stress generator, the VIM step, the agent's
//     timeouts and retries) uses the time package only,
//     so inside a testing/synctest bubble it runs on virtual time, and every
//     wait is durably blocking there (channels and timers created in the
//     bubble).
//   - Every goroutine the Sim starts (request handlers, the swact timer, the
//     corruption timer, loopback servers) is joined by [Sim.Close]. Close is
//     idempotent, safe from several goroutines, ends waits held by faults
//     and the Keystone hold (their requesters see a connection reset), and
//     bounds the loopback shutdown by Config.CloseTimeout. It does wait for
//     user callbacks (OnAction, OnSwact) that are running. A request
//     waiting for the maintenance agent (VIM step, a try, the retry sleep)
//     ends when its requester's context ends or at Close; calls to the
//     agent start no goroutine of their own.
//   - Every request is recorded ([Sim.Requests]: service, method, path,
//     host, status, fault, time) when its answer starts or is abandoned;
//     every fault firing, token corruption, swact, VIM state change, VIM
//     lock step, user action and request to the maintenance agent too. The logs keep the last Config.RecordLimit entries;
//     [Sim.Stats] counters are never trimmed. All accessors are safe for
//     concurrent use and return copies.
//   - Given the same Config.Seed and the same order of requests, tokens,
//     generated UUIDs, probability faults and the corruption schedule are
//     the same.
//   - Secrets (passwords, payloads) are [Secret] values that print as
//     "[REDACTED]"; tokens are logged and recorded only by [Fingerprint].
//
// # Caller's duties
//
//   - Close the Sim. To use virtual time, create it, use it and Close it
//     inside one testing/synctest bubble: a Sim created outside a bubble
//     must not be used from inside one (its channels, timers and WaitGroup
//     belong to where they were made).
//   - Give requests a context deadline: a dropped request is answered only
//     by its context ending (or by Close).
//   - Close response bodies, as with any transport.
//   - OnAction and OnSwact run on the Sim's goroutines with no lock held;
//     they may call the Sim, and must return.
//   - With MtcAgentURL, give Config.MtcAgentTransport for an agent in
//     memory or in a testing/synctest bubble (the default transport dials
//     real sockets); keep the host records of Sim and agent consistent
//     (the agent reports state changes back through SysInv's API, and
//     invprovision is changed with [Sim.UpdateHost]).
//
// # Where it differs from StarlingX
//
// The simulator is a faithful peer for maintenance's traffic, not a copy
// of the services: SysInv accepts only the ihost attributes maintenance and
// its users touch (others are 400), checks states against maintenance's
// enumerations, answers 409 to duplicates; SM's answers to a swact it
// cannot do (400) and VIM's answer body are the simulator's choice (the
// real ones are not in the spec; maintenance only looks at the status).
// Token corruption happens on the server side: the newest token stops being
// accepted, which a client observes exactly as it observes FIT's
// client-side corruption (a 401 on its next use).
//
// Toward the maintenance agent:
//
//   - The VIM step is synchronous: the user's request waits for it and for
//     the agent, and gets the agent's verdict. StarlingX answers the user
//     once the VIM has the lock and sends the lock to maintenance when the
//     VIM reports services-disabled, so a refusal then reaches the VIM,
//     not the user. The VIM always succeeds here (services-disabled, also
//     for force-lock; StarlingX sends force-lock after
//     services-disable-failed too); force-unsafe-lock is not an action.
//   - SysInv sets invprovision as a host is configured and enabled; the
//     simulator never does, so every action on a host added through the
//     API stays an add (the agent turns an add of a known uuid into a
//     modify, spec J.5) until the caller sets invprovision.
//   - Only actions, host adds and deletes reach the agent: a PATCH of
//     other fields (BMC, hostname) is not forwarded as SysInv's
//     check_notify_mtce would, and the deferral of a provisioned worker's
//     delete until the VIM signals is not modelled.
//   - The bound of a try is one deadline for the whole exchange; Python's
//     socket timeout bounds each blocking operation. Redirects are not
//     followed (a 3xx is read as any non-2xx).
//   - Python's %s of a non-string reason or action is approximated
//     (None, True, numbers as written, containers as a repr).
//   - The SysInv check texts follow SysInv's style; they are not copied
//     from its source.
//   - Spec J.11 says SysInv decodes a non-2xx reason phrase "as a JSON
//     string", so that a plain phrase ("Not Found") would crash SysInv
//     and a JSON-text phrase would read as no response. SysInv's
//     rest_api.py (all versions read) calls json.loads on the raw phrase
//     inside a try whose finally returns the response: "Not Found" does
//     not decode, the error is swallowed, and the reply reads as no
//     response; a phrase holding a JSON object (what StarlingX's agent
//     sends) is read as the reply. The simulator follows the code.
package sim
