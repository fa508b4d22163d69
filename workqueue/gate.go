package workqueue

// Gate holds dispatching while it is closed. The queue consults it before
// each attempt is dispatched (first attempts and retries alike). While it is
// closed, lanes with work hold: no attempt is started, none is spent, nothing
// is dropped. Attempts already running are not affected.
//
// If the gate stays closed for longer than Config.MaxHold, the queue logs
// once (at Warn) and dispatches anyway until the gate opens again; the next
// closure starts a new hold with a fresh MaxHold. This mirrors StarlingX's
// "token renewal looks stuck" bypass (40 s).
//
// Other packages satisfy Gate structurally, without importing workqueue;
// the keystone token manager does, closing its gate while a token renewal
// after a 401 is in progress.
type Gate interface {
	// Held returns nil while the gate is open; while it is closed, a channel
	// that is closed when the gate opens again.
	Held() <-chan struct{}
}
