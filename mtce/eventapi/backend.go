package eventapi

import (
	"context"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/swact"
)

// Host is the agent's record of one host as the event API needs it: the
// sysinv-facing fields of [mtce.Host] plus what the prechecks and VIM's
// queries read.
type Host struct {
	mtce.Host

	// PxebootIP is the host's pxeboot address; getNode matches it too.
	PxebootIP string
	// Uptime is the host's uptime in seconds (VIM's host list).
	Uptime uint32
	// Patching: the host is being patched (unlock and swact are refused).
	Patching bool
	// PatchedNoReboot: the host is patched but not rebooted (a plain
	// swact to it is refused).
	PatchedNoReboot bool
	// DataPortsOper and DataPortsAvail are the data-port states VIM reads;
	// they are left out of the reply while DataPortsAvail is none (not
	// tracked) or offduty (spec J.7).
	DataPortsOper  mtce.OperState
	DataPortsAvail mtce.AvailStatus
	// Adding: the host's add is unfinished. While any host is adding, VIM's
	// host list is answered 202 (spec J.7). The agent decides when an add
	// is finished and must bound it (see the package documentation).
	Adding bool
}

// AddRequest is an accepted add of a new host (spec J.5 add_host).
type AddRequest struct {
	// Host is the new record: the body's identity and BMC fields, and the
	// initial states J.5 derives from the body's action and states.
	Host mtce.Host
	// Action is the initial admin action J.5 derives from the body:
	// lock, unlock, force-lock, reboot, reset, power-off, power-on or none.
	// The add itself (mtce's ADD action, run after host_add_delay) is the
	// agent's to schedule in every case.
	Action mtce.AdminAction
	// Fields is the parsed body, for anything else the agent records.
	Fields Fields
}

// ModifyRequest is an accepted modify of a recorded host (spec J.5
// mod_host), or an add that became a modify.
type ModifyRequest struct {
	// Old is the record before the request.
	Old Host
	// New is Old with the request's changes applied as mtce applies them
	// (J.5 step 3; and for an add of controller-0/1 that is already
	// recorded, the body's states copied in). Compare it with Old to see
	// what changed: a BMC field or hostname change re-evaluates BMC
	// provisioning ([mtce.Host.BMCProvisioned]); a uuid change is a
	// hwmond delete and add.
	New mtce.Host
	// Action is the admin action to start: lock, force-lock, unlock,
	// reboot, reinstall, reset, power-on, power-off, or none (nothing to
	// start: no action, an action that is a no-op in the host's state, or
	// a swact, which [State.Swact] already started).
	Action mtce.AdminAction
	// Fields is the parsed body.
	Fields Fields
}

// Rejection is a refused sysinv request, told to [State.Rejected] so the
// agent can do what mtce does alongside the reply: force the task "Reset
// Failed - <host> is powered off" into sysinv for 30 s on
// FAIL_RESET_POWEROFF, clear the task on FAIL_ADMIN_ACTION and
// FAIL_BM_PROVISION_ERR of a power action, and log.
type Rejection struct {
	Host   Host             // the recorded host
	Action mtce.AdminAction // the action asked for (ActionNone if not one of mtce's)
	Text   string           // the action text as sent
	Reply  Reply
}

// State is the agent's host records and actions, seen inside one
// [Backend.Transact]. The handler calls the read methods, decides, and
// then calls at most one of the accepting methods (Modify may follow
// Swact for the same request).
//
// The accepting methods record the decision and return at once: the
// action itself runs later, outside the transaction (spec J.10). They
// must make the change visible to Hosts in later transactions (a new
// host must be listed by the next Hosts call), so that the duplicate
// checks of the next add see it. An error from an accepting method means
// the agent could not take the request (it is closing); the reply is then
// a failure and the method must have changed nothing.
type State interface {
	// Hosts returns every recorded host. The handler does not keep or
	// modify the slice.
	Hosts() []Host
	// SwactHeld reports whether the swact mutex is held (swact.Controller
	// Held): every admin action is then refused (spec C.1, J.11).
	SwactHeld() bool

	// Add records a new host and schedules its add.
	Add(ctx context.Context, r AddRequest) error
	// Modify applies an accepted modify.
	Modify(ctx context.Context, r ModifyRequest) error
	// Swact starts a swact: swact.Controller.Request. A *swact.RejectError
	// becomes the reply's reason and action; any other error a generic
	// failure.
	Swact(ctx context.Context, r swact.Request) error
	// Delete starts the delete of a recorded host (admin action DELETE,
	// spec J.6).
	Delete(ctx context.Context, h Host) error
	// VIMFailed handles VIM's severity "failed" for a recorded host (spec
	// J.7): reboot is true for a locked host (admin action REBOOT); for an
	// unlocked host it is false and the agent queues
	// unlocked-disabled-failed to sysinv only.
	VIMFailed(ctx context.Context, h Host, reboot bool) error
	// SMFailed handles SM's failed-disabled event for an unlocked-enabled
	// host (spec J.8 set_host_failed): fail the host and start its
	// recovery, unless auto-recovery is disabled or already forcing. It
	// is not called for other hosts (mtce's no-op).
	SMFailed(ctx context.Context, h Host) error
	// Rejected tells the agent that a sysinv modify was refused.
	Rejected(r Rejection)
}

// HostLookup is an optional part of a [State]. When the State has it,
// the handler reads the records through it and never calls
// [State.Hosts], so that a request costs no copy of every record: a
// sysinv modify or a VIM/SM event looks its host up, and the scans (an
// add's duplicate checks, getNode, VIM's host list) read each record in
// place. It must see the same records as Hosts would.
type HostLookup interface {
	// HostByUUID returns the recorded host whose uuid is uuid.
	HostByUUID(uuid string) (Host, bool)
	// HostByName returns the recorded host whose hostname is name.
	HostByName(name string) (Host, bool)
	// RangeHosts calls yield with every recorded host, in any order,
	// until yield returns false. The *Host is valid only during that
	// call; the handler neither modifies nor keeps it.
	RangeHosts(yield func(*Host) bool)
}

// Backend gives the handler exclusive access to the agent's state.
type Backend interface {
	// Transact calls fn once with exclusive access to the host records,
	// so that the prechecks and the acceptance are one atomic step (mtce
	// runs its handlers to completion in its FSM thread, spec J.1), and
	// returns fn's error. If ctx ends before fn can start, Transact must
	// not call fn and returns ctx's error; once started, fn runs to
	// completion (it does not block).
	Transact(ctx context.Context, fn func(State) error) error
}
