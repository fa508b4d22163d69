// Package barbican reads a host's BMC password from Barbican, StarlingX's
// secret store, the way maintenance does (spec K.7): the secret is named
// after the host's UUID; a list request finds its reference and a payload
// request returns the password, handed to callers as a redacting [Secret].
//
// # Usage
//
//	cfg := barbican.DefaultConfig()
//	cfg.BaseURL = barbican.Endpoint(bindHost, bindPort)     // barbican.conf, K.7
//	cfg.HTTPClient = &http.Client{Transport: &keystone.Transport{Manager: m}}
//	cfg.Queue = q
//	c, err := barbican.New(cfg)
//	call, err := c.Password("compute-0", uuid)             // never blocks
//	pw, err := call.Wait(ctx)
//	drv := ...(bmc.NewPassword(pw.Reveal()))
//
// # Guarantees
//
//   - Password returns at once: a [*Call] on the lane Config.Lane(host)
//     (default "<host>/barbican"), or an error with nothing queued.
//   - Requests are StarlingX's: GET /v1/secrets?name=<uuid>&limit=1 with
//     Accept application/json, then GET /v1/secrets/<ref>/payload with
//     Accept application/octet-stream, each with the common headers (A.8)
//     and bounded by Config.RequestTimeout (20 s).
//   - A lookup is noncritical, with Config.Attempts (3) attempts a random
//     10–100 s apart (StarlingX's rand()%91+10 s).
//   - The password never appears in an error, a log line or an encoding:
//     [Secret] redacts itself under fmt, slog, encoding/json and
//     encoding.TextMarshaler, and the payload's error bodies are not kept.
//   - Failures are typed: ErrNoSecret (no secret named after the UUID, or
//     an empty payload), and the [*Error] kinds shared with the other
//     platform clients.
//   - The client starts no goroutine; it is safe for concurrent use.
//
// # Caller's duties
//
//   - Create and close the work queue; give the client an HTTP client that
//     adds the Keystone token.
//   - Call Reveal only to hand the password to a BMC driver.
//
// # Differences from StarlingX
//
//   - StarlingX runs the lookup in a per-host FSM outside its work queue
//     and retries it forever. Here it is a queued item with a budget, on
//     its own lane by default ("<host>/barbican"): on the host's own lane
//     its 10–100 s retry waits would hold that host's SysInv, VIM and SM
//     requests for minutes. Set Config.Lane to change that.
package barbican
