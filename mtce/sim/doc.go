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
//     /action (lock, unlock, swact, ...) is handed to Config.OnAction, as
//     SysInv hands it to maintenance; a rejection is SysInv's 400. A
//     bm_password is stored in Barbican under the host's UUID. Errors use
//     SysInv's body, {"error_message": "<JSON with faultstring>"}.
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
//     periodic corruption, the stress generator) uses the time package only,
//     so inside a testing/synctest bubble it runs on virtual time, and every
//     wait is durably blocking there (channels and timers created in the
//     bubble).
//   - Every goroutine the Sim starts (request handlers, the swact timer, the
//     corruption timer, loopback servers) is joined by [Sim.Close]. Close is
//     idempotent, safe from several goroutines, ends waits held by faults
//     and the Keystone hold (their requesters see a connection reset), and
//     bounds the loopback shutdown by Config.CloseTimeout. It does wait for
//     user callbacks (OnAction, OnSwact) that are running.
//   - Every request is recorded ([Sim.Requests]: service, method, path,
//     host, status, fault, time) when its answer starts or is abandoned;
//     every fault firing, token corruption, swact, VIM state change and
//     user action too. The logs keep the last Config.RecordLimit entries;
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
package sim
