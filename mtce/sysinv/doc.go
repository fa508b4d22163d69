// Package sysinv is a client of StarlingX's System Inventory (SysInv) API
// as maintenance uses it: JSON-patch updates of a host record (task,
// uptime, states, subfunction states, mtce_info, any single value) through
// a work queue on the host's lane, the blocking host loads used at
// start-up, and the sensor and sensor-group records of the hardware
// monitor (spec D.2, B.7, G.3).
//
// # Usage
//
//	cfg := sysinv.DefaultConfig()
//	cfg.BaseURL = sysinv.Endpoint(bindIP, port)             // sysinv.conf, K.7
//	cfg.HTTPClient = &http.Client{Transport: &keystone.Transport{Manager: m}}
//	cfg.Queue = q
//	c, err := sysinv.New(cfg)
//	me, err := c.LoadHostRetry(ctx, hostname)               // blocking, start-up (B.7)
//	ref := sysinv.Ref{Name: me.Name, UUID: me.UUID}
//	call, err := c.UpdateTask(ref, mtce.TaskEnabling, uptime)  // never blocks
//	call, err = c.ForceStates(ref, mtce.AdminUnlocked, mtce.OperEnabled, mtce.AvailAvailable)
//	host, err := call.Wait(ctx)                             // the record SysInv answered with
//
// # Guarantees
//
//   - Queued calls return at once: a [*Call] on the host name's lane, or an
//     error with nothing queued (ErrInvalidArgument for a bad name, UUID or
//     field, or nothing to update; the queue's ErrOverloaded or ErrClosed).
//   - Bodies are StarlingX's: [{"path":"/<key>","value":"<text>",
//     "op":"replace"}, ...], values as strings (uptime in decimal).
//   - Criticality and timeouts follow D.2: task and uptime updates are
//     noncritical with 10 s attempts; forced task, value, states,
//     subfunction states and mtce_info updates are critical with attempts
//     of 20 s growing by 20 s per retry (20, 40, 60 s). Every update has 3
//     attempts, 5 s apart by default.
//   - A 404 on an update reloads the host by name with a direct request
//     (never queued: the lane is busy with the update itself). A changed
//     UUID is used by the retry and by every later request for the old one
//     (see [Client.CurrentUUID]), and reported to Config.OnUUIDChange; a
//     host that is gone ends the update with ErrNotFound.
//   - Answers are checked ([ParseHost], [ParseSensor], ...): an update's
//     answer must be the host's record with valid states. Bad answers,
//     statuses and transport failures are typed ([*Error], [*DecodeError]).
//     A 4xx other than 401, 404, 408 and 429 is not retried; a POST is sent
//     once.
//   - LoadHostRetry is StarlingX's start-up load: 20 attempts 15 s apart,
//     renewing the token through Config.Renew after an auth failure.
//   - The client starts no goroutine; it is safe for concurrent use.
//
// # Caller's duties
//
//   - Create, share and close the work queue; give the client an HTTP
//     client that adds the Keystone token.
//   - Pass the host's name and its UUID as you know it (Ref); collect the
//     outcome of critical calls (Wait, Done/Result, or the queue's
//     WaitLane); keep OnUUIDChange quick.
//   - A hardware monitor should use its own Client with UserAgent
//     "hwmon/1.0", as hwmond does.
//
// # Differences from StarlingX
//
//   - hwmond's sensor requests are blocking single attempts retried by its
//     FSM; here they are queued with the queue's budget (AddSensor and
//     AddSensorGroup excepted: sent once).
//   - A sensor group's thresholds are read whenever present (hwmond never
//     reads a group's datatype, so never its thresholds).
//   - Connections are kept alive instead of "Connection: close".
package sysinv
