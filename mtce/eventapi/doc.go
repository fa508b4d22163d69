// Package eventapi is the maintenance agent's inbound event API: the HTTP
// API that StarlingX's SysInv, VIM and SM call on the agent's
// inv_event_port (2112) to hand it host actions and events, and to query
// host states (spec J). The agent mounts a [Handler] on a loopback
// listener ([Listen], [Handler.NewServer]) and implements [Backend]; this
// package makes every decision that can be made from the agent's host
// records — client identification, body parsing, the J.5 prechecks in
// their order, the J.9 replies — so those are tested here without an
// agent.
//
// # Usage
//
//	cfg := eventapi.DefaultConfig()
//	cfg.Hostname = "controller-0"          // the controller we run on (J.11)
//	h, err := eventapi.New(cfg, agent)     // agent implements Backend
//	ln, err := eventapi.Listen(ctx, "127.0.0.1:2112")
//	srv := h.NewServer()
//	go srv.Serve(ln)                       // srv.Shutdown(ctx) to stop
//
// # Guarantees
//
//   - Clients are identified as StarlingX does (J.2): the User-Agent is
//     exactly "sysinv/1.0", "vim/1.0" or "sm/1.0" (one header), and the
//     URL path starts with "/v1/hosts/" (VIM also "/v1/systems"); anything
//     else is 403. Methods other than GET, POST, PUT, PATCH, DELETE get
//     501; PUT gets 404. Method, then client, then body size, then route.
//   - Every reply body is exactly one line of JSON ending in "\n",
//     whatever the code: {"status":"pass"}, {"status":"fail","reason":…,
//     "action":…} (a refusal always has both keys), or VIM's data. SM reads
//     only the first line and checks status == "pass" (J.11).
//   - Every non-2xx reply carries a reason phrase SysInv reads safely
//     ([Reply.Phrase]): SysInv runs json.loads on the phrase and swallows
//     a decode error ("no response"), while a phrase that decodes to
//     anything but an object crashes its API. The phrase is the body's JSON
//     object, as StarlingX's evhttp_send_error writes it (SysInv then sees
//     the refusal), except for 503, whose plain non-JSON phrase makes SysInv
//     retry. net/http cannot set a phrase, so the handler hijacks the
//     connection, writes the status line, Content-Type, Content-Length and
//     "Connection: close" itself, and closes the connection. 2xx replies
//     go through net/http ("200 OK", "202 Accepted").
//   - SysInv's add/modify refusals are HTTP 200 with status fail (J.3);
//     400 is only for an unparsable body, a uuid that is not 36 bytes, or
//     an operation that is neither add… nor modify…; an empty POST/PATCH
//     body is 411; a body over [Config.MaxBodyBytes] is 413.
//   - Bodies are read as mtce reads them ([ParseBody], J.4): absent or
//     null is "none"; numbers, booleans, objects and arrays are their
//     compact JSON text; the ~62-key record SysInv sends is accepted with
//     every key it carries. A GET with a body (VIM) is accepted; DELETE's
//     body ("null" from SysInv) is read and ignored.
//   - A request that fails parsing or the HTTP-level checks never reaches
//     the [Backend]; a refused request never calls an accepting method of
//     [State]. Only an accepted request changes the agent's state.
//   - Add and modify follow J.5 in order (see decideAdd and decideModify):
//     add of a known uuid is a modify and modify of an unknown uuid an
//     add; for an add, controller-0/1 already recorded take the body's
//     states then modify, other names are checked for invalid
//     hostname/uuid, then against each other host for hostname, mgmt_ip,
//     mgmt_mac; a new controller is refused while another controller
//     that is not [Config.Hostname] is recorded; reserved names; initial
//     state from the body's action. For a modify, the swact mutex is
//     tested first for every action (C.1, J.11), then the administrative
//     state change or the action table, then a bm_ip clash. Swact and
//     force-swact go to [State.Swact] (swact.Controller.Request), whose
//     *swact.RejectError becomes the reply.
//   - The decision and its acceptance are one [Backend.Transact]; the
//     reply is sent when it returns (J.10): the action runs later. If the
//     Backend cannot start the transaction within [Config.ReplyTimeout]
//     (default 5 s, under SysInv's 6 s) the reply is 503 and nothing was
//     done; its non-JSON phrase makes SysInv read "no response" and retry a
//     modify (up to 3 tries, 3 s apart).
//   - The handler starts no goroutine and keeps no state but a request
//     counter; it is safe for concurrent use.
//
// # Decisions where StarlingX is ambiguous or wrong
//
//   - J.2's 36-character check on the URL id is dropped: the id is looked
//     up as mtce's getNode does (hostname, mgmt, cluster-host or pxeboot
//     IP, or uuid), for DELETE and GET alike; no match is 404. The path
//     must start with the client's path (StarlingX only tests that it
//     contains it); the id is the rest of the decoded path, without a
//     query and without one trailing "/". An empty or "none" id matches
//     nothing.
//   - adminActionChange queueing (during ADD or FORCE_LOCK, up to two
//     actions queued, duplicates and overflow silently dropped) is the
//     agent's: this package hands it the accepted action and always
//     replies pass for it, as mtce does.
//   - A refused modify changes nothing. mtce applies the field changes
//     (step 3) even when the action was refused, and answers a bm_ip clash
//     after having accepted the action; here the clash is tested after the
//     action checks and before anything is accepted.
//   - The dup-ip hint names the clashing address (the bm_ip for a bm_ip
//     clash); mtce echoes the request's mgmt_ip even then. Duplicate
//     checks ignore a mgmt_mac of "none" as they ignore a mgmt_ip of
//     "none", and MAC addresses compare case-insensitively.
//   - An absent, "none" or unknown administrative state in a modify body
//     does not count as a change. mtce compares the text, so a body
//     without it would unlock a locked host.
//   - A modify of an unknown uuid that becomes an add and is refused gets
//     the add's own reason (mtce answers a generic failure).
//   - An add counts as unfinished while the Backend's [Host.Adding] says
//     so; the agent should clear it when the host's add handler finishes
//     (its first mtcAlive, or a bound such as host_add_delay plus the
//     offline threshold) so that VIM's host list cannot stay 202 forever.
//     The 202 body is the same host list, valid JSON.
//   - VIM's data-port states are left out while the agent does not track
//     them (none) as well as when they are offduty.
//   - Refusal texts paraphrase J.9's gist (the exact wording of mtce's
//     _create_error_response is not in the spec), except swact in progress,
//     for which SysInv prints swact.InProgressReason exactly.
//
// # Caller duties
//
//   - Implement [Backend]: Transact serialises with the agent's host
//     records; the accepting methods record the decision and return at
//     once (the action runs after the reply), make a new host visible to
//     the next Hosts call, and change nothing when they return an error.
//   - For a large system, let the State implement [HostLookup] too: the
//     handler then looks hosts up and scans them in place instead of
//     calling Hosts (a copy of every record) on every request, and VIM's
//     host list reads three fields per host inside the transaction and is
//     encoded after it. It must agree with Hosts.
//   - Serve the handler with net/http's HTTP/1.x server on a loopback
//     listener ([Listen] refuses other addresses). Replies written through
//     a ResponseWriter that is not an http.Hijacker (HTTP/2, httptest's
//     recorder) have Go's reason phrase. Requests that net/http itself
//     rejects before the handler (malformed HTTP) get net/http's replies;
//     none of StarlingX's clients sends them.
//   - Keep [Config.Observer] quick; use it for metrics and the event log
//     (mtcAgent_event.log).
package eventapi
