// Package hwmon is the hardware-monitor role of the maintenance agent
// (StarlingX's hwmond, spec G.3) as a library the agent composes: every
// Config.Interval (2 minutes) each host with a provisioned BMC gets a
// sensor audit — read the BMC's sensors through package bmc and reconcile
// them with SysInv's isensor and isensorgroup records.
//
// # Usage
//
//	q, _ := workqueue.New(qc)                     // hwmon's OWN queue, gated by the shared keystone manager
//	sc := sysinv.DefaultConfig()
//	sc.BaseURL, sc.Queue, sc.UserAgent = url, q, "hwmon/1.0"
//	sc.HTTPClient = &http.Client{Transport: &keystone.Transport{Manager: km}}
//	si, _ := sysinv.New(sc)
//	cfg := hwmon.DefaultConfig()
//	cfg.SysInv, cfg.Password, cfg.NewDriver = si, store.Password, newDriverByBMType
//	m, _ := hwmon.New(cfg)
//	m.Set(hwmon.Host{Name: "worker-0", UUID: uuid, BMIP: ip, BMUsername: user, BMType: mtce.BMCRedfish})
//	go m.Run(ctx)                                 // or in the agent's errgroup
//	defer m.Close()
//
// # An audit
//
//  1. Driver: the host's driver is kept open between audits. When there is
//     none (first audit, after a BMC field change, after a failed read)
//     the monitor asks Config.Password (the agent's lazy Barbican store),
//     builds the driver with Config.NewDriver and opens it. A password
//     error or an empty password ends the audit (OutcomePassword) without
//     touching the BMC or SysInv; the next tick retries.
//  2. Read: Driver.Sensors. A whole failure closes the driver (re-opened
//     next time) and, as hwmond does when monitoring fails, sets the
//     host's known sensor groups to state "failed" (OutcomeBMC). A partial
//     read (bmc.ErrPartial) is used: what was read is written and nothing
//     is deleted (OutcomePartial).
//  3. SysInv: the host's groups and sensors are loaded once
//     (GET /v1/ihosts/<uuid>/isensorgroups and /isensors) and then kept up
//     to date by the monitor's own writes; after any SysInv error that
//     view is dropped and reloaded at the next audit, so a record changed
//     behind the monitor's back costs one failed audit, never a duplicate.
//  4. Reconcile, hwmond's way: sensors are sorted into hwmond's canned
//     groups ("server temperature", "server fans", "server voltage",
//     "server power" for current and power, "server usage"; a sensor of no
//     canned group is ignored, as hwmond ignores HWMON_CANNED_GROUP__NULL);
//     missing groups are added (POST /v1/isensorgroups, hwmond's defaults:
//     actions ignore/log/alarm, the choices lists, algorithm
//     debounce-1.v1), missing sensors added (POST /v1/isensors; analog with
//     thresholds lnc/lcr/lnr → t_minor/major/critical_lower and likewise
//     upper, when the sensor has a reading), status and state written only
//     when they changed (status ok, minor for nc, major for cr, critical
//     for nr, offline without a reading; state enabled), sensors not yet
//     in their group grouped (PATCH /sensors with the group's whole
//     membership), groups set "enabled", and — on a complete, non-empty
//     read only — records of sensors the BMC no longer reports deleted
//     (hwmond's model relearn, done per sensor). An audit with nothing
//     changed writes nothing.
//
// # Guarantees
//
//   - One slow or dead BMC never delays the others: at most
//     Config.Concurrency audits run at once (hosts due while every slot is
//     busy wait in FIFO order), and each audit — BMC and SysInv work
//     together — is bounded by Config.HostTimeout through its context
//     (OutcomeTimeout). Pending SysInv calls of an audit that ends are
//     cancelled off the lane.
//   - A host is never audited twice at once. Ticks lie on a fixed grid
//     from the host's Set; a tick that finds the previous audit still
//     running or waiting for a slot is skipped and counted
//     (Status.Skipped).
//   - Set with a changed bm_ip, bm_username or bm_type cancels a running
//     audit, closes the old driver and audits again at once with a fresh
//     password; a changed UUID drops the view of the SysInv records; a BMC
//     no longer provisioned stops the audits and closes the driver.
//     Remove does the same for good.
//   - Remove does not delete SysInv's sensor records. hwmond does not
//     either: its delete handler (hwmonHostClass::delete_handler) only
//     stops the BMC thread and deprovisions (clears alarms); SysInv deletes
//     a deleted host's sensors and groups itself.
//   - Config.Observer is called exactly once per finished audit (also for
//     audits cut short), after Snapshot reflects it.
//   - Goroutines: Run's caller is the scheduler; at most
//     Config.Concurrency audit goroutines plus short-lived driver closers,
//     all joined by Run before it returns. New, Set, Remove and Snapshot
//     start none.
//   - Close is idempotent and bounded: it makes Run cancel every audit,
//     wait for them at most Config.CloseTimeout, and close every driver in
//     parallel, each Close bounded by Config.CloseTimeout (so Close returns
//     within 2 × CloseTimeout + 1 s, 21 s by default, and at once when the
//     drivers honour their contexts). A driver that ignores its context is
//     left behind and reported with ErrStuck.
//   - No secret is logged: passwords are bmc.Password values, which redact
//     themselves, and are never put in a log record or error by this
//     package.
//
// # Caller duties
//
//   - Give the monitor a *sysinv.Client of its own: its own
//     workqueue.Queue (gated by the shared keystone manager) and UserAgent
//     "hwmon/1.0", so sensor writes never sit ahead of the agent's state
//     calls — a swact's included — on a host's lane. Close that queue after
//     the monitor.
//   - Call Set for every host SysInv reports (add and modify, with the BMC
//     fields and the UUID) and Remove on delete. Hosts whose BMC is not
//     provisioned (mtce's J.5 rule) are kept but not audited.
//   - Make Config.Password cheap after the first call (cache), and let it
//     fetch a fresh secret when asked after a failure; make NewDriver pick
//     the driver by bm_type ("dynamic": bmc.Detect) and give it short
//     per-request timeouts.
//   - Keep Config.Observer quick (it runs on the audit goroutine).
//
// # Differences from StarlingX (B.6, G.3)
//
//   - Token: in StarlingX hwmond is a process of its own with its own
//     Keystone token, refresh timer and renewal (B.6). Here the monitor
//     shares the agent's one keystone.Manager (through the SysInv client's
//     transport); it has its own work queue and User-Agent instead, which
//     keeps the property that matters — its traffic never delays the
//     agent's — with one token to renew.
//   - hwmond's sensor requests are blocking single attempts retried by its
//     FSM; here they go through the queue (see package sysinv) and are
//     awaited with the audit's context.
//   - hwmond learns the BMC info and protocol from mtcAgent over port 2114
//     and runs a ping monitor; here the agent passes the BMC fields in
//     Set, and reachability is whatever the driver's Open and Sensors say.
//   - Sensors are classified by the drivers' bmc.SensorType instead of
//     hwmond's unit-text matching; the group names and types are hwmond's.
//   - hwmond writes the group membership by sensor names; the sysinv
//     client's GroupSensors sends sensor UUIDs.
//   - A change of BMC credentials: hwmond first sets the groups "disabled"
//     and the sensors offline until monitoring succeeds again; here the
//     next audit simply runs at once with the new credentials.
//
// # Left out
//
// Alarms through FM (sensor and sensor-group alarms, the BMC-access and
// sensor-configuration alarms), the degrade and the severity actions
// (log, alarm, reset, power-cycle: MTC_EVENT_HWMON_* events to mtcAgent),
// debounce algorithms and suppression, per-group audit intervals set by
// the user (audit_interval_group), the relearn command (sensor model
// re-creation that preserves group actions), the Quanta sensor profile
// file, and hwmond's thread retry scheme (60 s, 10 retries) — a failed
// audit is simply retried at the next tick.
package hwmon
