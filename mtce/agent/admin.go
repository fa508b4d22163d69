package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/config"
)

// HostStatus is one host as the admin API shows it.
type HostStatus struct {
	mtce.Host
	PxebootIP   string    `json:"pxeboot_ip,omitempty"`
	Uptime      uint32    `json:"uptime"`
	Online      bool      `json:"online"`
	LastAlive   time.Time `json:"last_mtcalive,omitzero"`
	Flags       string    `json:"flags"`
	Adding      bool      `json:"adding"`
	Running     string    `json:"running_action,omitempty"`
	ARDisabled  []string  `json:"autorecovery_disabled,omitempty"`
	BMCPassword bool      `json:"bmc_password_known"`
}

// TokenStatus is the token manager's state, never the token.
type TokenStatus struct {
	Valid               bool          `json:"valid"`
	Age                 time.Duration `json:"age_ns"`
	ExpiresIn           time.Duration `json:"expires_in_ns"`
	Held                bool          `json:"gate_held"`
	Renewals            uint64        `json:"renewals"`
	RenewalsUnauth      uint64        `json:"renewals_unauthorized"`
	Failures            uint64        `json:"failures"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
}

// QueueStatus is the shared work queue's counters.
type QueueStatus struct {
	Pending   int    `json:"pending"`
	InFlight  int    `json:"in_flight"`
	Admitted  uint64 `json:"admitted"`
	Attempts  uint64 `json:"attempts"`
	Retries   uint64 `json:"retries"`
	Rejected  uint64 `json:"rejected"`
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	Holding   bool   `json:"holding"`
}

// SwactStatus is the swact controller's snapshot.
type SwactStatus struct {
	Stage   string        `json:"stage"`
	Held    bool          `json:"mutex_held"`
	Host    string        `json:"host,omitempty"`
	Try     int           `json:"try"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Task    string        `json:"task,omitempty"`
	LastErr string        `json:"last_error,omitempty"`
	Last    string        `json:"last_outcome,omitempty"`
}

// UDPStatus counts the agent's UDP traffic.
type UDPStatus struct {
	In      uint64            `json:"in"`
	Out     uint64            `json:"out"`
	SendErr uint64            `json:"send_errors"`
	Dropped map[string]uint64 `json:"dropped"`
}

// Status is the agent's state for the admin API.
type Status struct {
	Hostname string      `json:"hostname"`
	Phase    string      `json:"phase"`
	Ready    bool        `json:"ready"`
	Hosts    int         `json:"hosts"`
	Token    TokenStatus `json:"token"`
	Queue    QueueStatus `json:"queue"`
	Swact    SwactStatus `json:"swact"`
	UDP      UDPStatus   `json:"udp"`
}

func (a *Agent) isReady() bool {
	select {
	case <-a.ready:
		return true
	default:
		return false
	}
}

// Hosts returns a copy of every host record, sorted by name.
func (a *Agent) Hosts() []HostStatus {
	a.lock()
	out := make([]HostStatus, 0, len(a.hosts))
	for _, h := range a.hosts {
		s := HostStatus{Host: h.rec, PxebootIP: h.pxeboot, Uptime: h.uptime, Online: h.alive,
			LastAlive: h.lastAlive, Flags: h.flags.String(), Adding: h.adding}
		if h.run != nil {
			s.Running = h.run.action.String()
		}
		for c, off := range h.arOff {
			if off {
				s.ARDisabled = append(s.ARDisabled, c.String())
			}
		}
		slices.Sort(s.ARDisabled)
		e, ok := a.pw[h.rec.Name]
		s.BMCPassword = ok && !e.pw.IsZero()
		out = append(out, s)
	}
	a.unlock()
	slices.SortFunc(out, func(x, y HostStatus) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// Status returns the token state (without the token), queue counters,
// the swact snapshot and UDP counters.
func (a *Agent) Status() Status {
	s := Status{Hostname: a.cfg.Hostname, Ready: a.isReady()}
	s.Phase, _ = a.phase.Load().(string)
	a.lock()
	s.Hosts = len(a.hosts)
	a.unlock()
	s.UDP = a.udpStatus()
	if !a.comp.Load() {
		return s
	}
	ks := a.km.Stats()
	s.Token = TokenStatus{Held: ks.Held, Renewals: ks.Renewals.Total(), RenewalsUnauth: ks.Renewals.Unauthorized,
		Failures: ks.Failures.Total(), ConsecutiveFailures: ks.ConsecutiveFailures}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Token answers at once when it has one
	if tok, err := a.km.Token(ctx); err == nil {
		s.Token.Valid = true
		s.Token.Age = time.Since(tok.Obtained())
		s.Token.ExpiresIn = time.Until(tok.ExpiresAt())
	}
	qs := a.q.Stats()
	s.Queue = QueueStatus{Pending: qs.Pending, InFlight: qs.InFlight, Admitted: qs.Admitted, Attempts: qs.Attempts,
		Retries: qs.Retries, Rejected: qs.Rejected, Succeeded: qs.Succeeded, Failed: qs.Failed, Holding: qs.Holding}
	sn := a.sw.Snapshot()
	s.Swact = SwactStatus{Stage: string(sn.Stage), Held: sn.Held, Host: sn.Host, Try: sn.Try, Elapsed: sn.Elapsed, Task: string(sn.Task)}
	if sn.LastErr != nil {
		s.Swact.LastErr = sn.LastErr.Error()
	}
	if sn.Last != nil {
		s.Swact.Last = string(sn.Last.Task)
	}
	return s
}

func (a *Agent) udpStatus() UDPStatus {
	u := UDPStatus{In: a.met.udpIn.Load(), Out: a.met.udpOut.Load(), SendErr: a.met.udpSendErrors.Load(), Dropped: a.met.drops()}
	a.lock()
	conn := a.conn
	a.unlock()
	if st, ok := conn.(statser); ok {
		for r, n := range st.Stats().Dropped {
			u.Dropped["transport-"+r.String()] += n
		}
	}
	return u
}

// RejectedError is the event API's refusal of an admin request.
type RejectedError struct {
	Host, Reason, Action string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("agent: %s: rejected: %s %s", e.Host, e.Reason, e.Action)
}

func (e *RejectedError) Unwrap() error { return ErrRejected }

// Request asks for an admin action on host (name or UUID) through the same
// admission as the event API: it is handed to the event API handler as
// SysInv would send it (a modify with the host's record and the action),
// so the J.5 prechecks and the swact mutex apply. It returns nil when
// accepted (the action runs afterwards), a *RejectedError when refused.
func (a *Agent) Request(ctx context.Context, host string, action mtce.AdminAction) error {
	if !a.isReady() {
		return ErrNotReady
	}
	if action == mtce.ActionNone {
		return fmt.Errorf("%w: no action", ErrRejected)
	}
	a.lock()
	var rec mtce.Host
	found := false
	for _, h := range a.hosts {
		if h.rec.Name == host || h.rec.UUID == host {
			rec, found = h.rec, true
			break
		}
	}
	a.unlock()
	if !found {
		return fmt.Errorf("%w: %s", ErrUnknownHost, host)
	}
	body := map[string]any{
		"uuid": rec.UUID, "hostname": rec.Name, "personality": rec.Personality.String(),
		"subfunctions": rec.Subfunctions, "mgmt_ip": rec.MgmtIP, "mgmt_mac": rec.MgmtMAC,
		"administrative": rec.Admin.String(), "operational": rec.Oper.String(), "availability": rec.Avail.String(),
		"bm_ip": rec.BMIP, "bm_type": rec.BMType.String(), "bm_username": rec.BMUsername,
		"action": action.String(), "operation": "modify", "invprovision": "provisioned",
	}
	if given(rec.ClusterHostIP) {
		body["cluster_host_ip"] = rec.ClusterHostIP
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, "http://localhost/v1/hosts/"+rec.UUID, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "sysinv/1.0")
	req.Header.Set("Content-Type", "application/json")
	w := &replyWriter{h: http.Header{}}
	a.handler.ServeHTTP(w, req)
	var r struct{ Status, Reason, Action string }
	if err := json.Unmarshal(bytes.TrimSpace(w.b.Bytes()), &r); err != nil {
		return fmt.Errorf("agent: event API reply %d: %q", w.code, w.b.String())
	}
	if r.Status != "pass" {
		return &RejectedError{Host: rec.Name, Reason: r.Reason, Action: r.Action}
	}
	return nil
}

// replyWriter is an in-process http.ResponseWriter for Request.
type replyWriter struct {
	h    http.Header
	code int
	b    bytes.Buffer
}

func (w *replyWriter) Header() http.Header { return w.h }
func (w *replyWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.b.Write(p)
}
func (w *replyWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

// AdminHandler serves the admin API as JSON: GET /v1/hosts, GET
// /v1/status, POST /v1/hosts/{name}/{action} (action as mtce writes it:
// lock, unlock, force-lock, swact, force-swact, reboot, reset, power-on,
// power-off). Mount it on a unix socket or loopback listener only: it has
// no authentication.
func (a *Agent) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/hosts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Hosts())
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Status())
	})
	mux.HandleFunc("POST /v1/hosts/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
		act, err := mtce.ParseAdminAction(r.PathValue("action"))
		if err != nil || act == mtce.ActionNone {
			writeJSON(w, http.StatusBadRequest, map[string]string{"status": "fail", "reason": "unknown action " + r.PathValue("action")})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		err = a.Request(ctx, r.PathValue("name"), act)
		var rej *RejectedError
		switch {
		case err == nil:
			writeJSON(w, http.StatusAccepted, map[string]string{"status": "pass"})
		case errors.As(err, &rej):
			writeJSON(w, http.StatusConflict, map[string]string{"status": "fail", "reason": rej.Reason, "action": rej.Action})
		case errors.Is(err, ErrUnknownHost):
			writeJSON(w, http.StatusNotFound, map[string]string{"status": "fail", "reason": err.Error()})
		case errors.Is(err, ErrNotReady):
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "fail", "reason": err.Error()})
		default:
			writeJSON(w, http.StatusInternalServerError, map[string]string{"status": "fail", "reason": err.Error()})
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Reload applies a re-read mtc.conf/mtc.ini (SIGHUP). What changes at run
// time: the offline rule (offline_period, offline_threshold), the
// auto-recovery thresholds and intervals, host_add_delay, the boot
// timeouts, host_services_timeout and work_queue_timeout — every value
// read when it is used. Ports, Keystone credentials and the timeouts
// already given to the work queue, the platform clients and the swact
// controller (sysinv_timeout, swact_timeout, uptime_period) need a
// restart; Reload logs each such difference and keeps the old value.
func (a *Agent) Reload(m *config.Mtc) error {
	if m == nil {
		return fmt.Errorf("%w: Reload: nil configuration", ErrInvalidConfig)
	}
	old := a.mtc.Load()
	restart := func(key string, was, is any) {
		if was != is {
			a.log.Warn("reload: a restart is needed for this change; keeping the old value", "key", key, "running", was, "file", is)
		}
	}
	restart("mtc_agent_port", old.Agent.MtcAgentPort, m.Agent.MtcAgentPort)
	restart("inv_event_port", old.Agent.InvEventPort, m.Agent.InvEventPort)
	restart("ha_port", old.Agent.HAPort, m.Agent.HAPort)
	restart("mtc_rx_mgmnt_port", old.Client.MtcRxMgmtPort, m.Client.MtcRxMgmtPort)
	restart("mtc_rx_clstr_port", old.Client.MtcRxClstrPort, m.Client.MtcRxClstrPort)
	restart("sysinv_timeout", old.Timeouts.Sysinv, m.Timeouts.Sysinv)
	restart("swact_timeout", old.Timeouts.Swact, m.Timeouts.Swact)
	restart("uptime_period", old.Timeouts.UptimePeriod, m.Timeouts.UptimePeriod)
	restart("keystone credentials", old.Keystone.Username+"/"+old.Keystone.Project, m.Keystone.Username+"/"+m.Keystone.Project)
	n := *m
	n.Agent.MtcAgentPort, n.Agent.InvEventPort, n.Agent.HAPort = old.Agent.MtcAgentPort, old.Agent.InvEventPort, old.Agent.HAPort
	n.Client.MtcRxMgmtPort, n.Client.MtcRxClstrPort = old.Client.MtcRxMgmtPort, old.Client.MtcRxClstrPort
	n.Timeouts.Sysinv, n.Timeouts.Swact, n.Timeouts.UptimePeriod = old.Timeouts.Sysinv, old.Timeouts.Swact, old.Timeouts.UptimePeriod
	n.Keystone = old.Keystone
	a.mtc.Store(&n)
	a.met.reloads.Add(1)
	a.log.Info("configuration reloaded", "offline_after", a.offlineAfter())
	return nil
}
