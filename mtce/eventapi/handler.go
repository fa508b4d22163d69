package eventapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/swact"
)

// Client is the caller a request was identified as (spec J.2).
type Client uint8

// Clients.
const (
	ClientUnknown Client = iota // refused with 403 (or 501 before identification)
	ClientSysInv                // User-Agent "sysinv/1.0"
	ClientVIM                   // User-Agent "vim/1.0"
	ClientSM                    // User-Agent "sm/1.0"
)

// String returns the client's User-Agent product ("sysinv", "vim", "sm")
// or "unknown".
func (c Client) String() string {
	switch c {
	case ClientSysInv:
		return "sysinv"
	case ClientVIM:
		return "vim"
	case ClientSM:
		return "sm"
	}
	return "unknown"
}

// The paths of spec J.2.
const (
	hostsPath   = "/v1/hosts/"
	systemsPath = "/v1/systems"
)

// Handler is the event API: an http.Handler that answers StarlingX's
// SysInv, VIM and SM on the agent's inv_event_port. It is safe for
// concurrent use; it keeps no state of its own but a request counter.
type Handler struct {
	cfg Config
	b   Backend
	log *slog.Logger
	seq atomic.Uint64
}

// New validates cfg, applies its defaults and returns a Handler deciding
// with b.
func New(cfg Config, b Backend) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("%w: Backend is nil", ErrInvalidConfig)
	}
	cfg.defaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, b: b, log: log}, nil
}

// ServeHTTP answers one request. The reply is the acceptance decision
// only (spec J.10); accepted actions run later in the agent.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	seq := h.seq.Add(1)
	client, rep := h.serve(r)
	h.write(w, r, rep)
	h.log.Debug("event api", "seq", seq, "client", client, "method", r.Method, "path", r.URL.Path,
		"code", rep.Code, "rc", rep.RC)
	if !rep.Pass() {
		h.log.Warn("event api refused", "seq", seq, "client", client, "method", r.Method, "path", r.URL.Path,
			"code", rep.Code, "rc", rep.RC, "reason", rep.Reason)
	}
	if h.cfg.Observer != nil {
		h.cfg.Observer(Event{Seq: seq, Client: client, Method: r.Method, Path: r.URL.Path, Code: rep.Code,
			Pass: rep.Pass(), RC: rep.RC, Duration: time.Since(start)})
	}
}

// identify is _get_client_id with the path rule of this package: the
// User-Agent is exactly one of the three, and the URL path starts with
// the client's path. It returns the id after "/v1/hosts/" (a trailing
// "/" removed), and whether the path is VIM's "/v1/systems".
func identify(r *http.Request) (c Client, id string, systems bool, ok bool) {
	ua := r.Header.Values("User-Agent")
	if len(ua) != 1 {
		return ClientUnknown, "", false, false
	}
	switch ua[0] {
	case "sysinv/1.0":
		c = ClientSysInv
	case "vim/1.0":
		c = ClientVIM
	case "sm/1.0":
		c = ClientSM
	default:
		return ClientUnknown, "", false, false
	}
	p := r.URL.Path
	if rest, found := strings.CutPrefix(p, hostsPath); found {
		return c, strings.TrimSuffix(rest, "/"), false, true
	}
	if c == ClientVIM && (p == systemsPath || p == systemsPath+"/") {
		return c, "", true, true
	}
	return ClientUnknown, "", false, false
}

func (h *Handler) serve(r *http.Request) (Client, Reply) {
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return ClientUnknown, notImplemented(r.Method)
	}
	c, id, systems, ok := identify(r)
	if !ok {
		return ClientUnknown, forbidden()
	}
	if r.Method == http.MethodPut {
		return c, fail(http.StatusNotFound, mtce.FailInvalidOperation, "PUT is not supported", "Use POST or PATCH")
	}
	// Every body is read, whatever the method: VIM's GET carries one,
	// sysinv's DELETE carries "null"; both are then ignored.
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			return c, tooLarge()
		}
		return c, badJSON()
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.ReplyTimeout)
	defer cancel()
	switch r.Method {
	case http.MethodDelete:
		if systems {
			return c, unsupported(c)
		}
		return c, h.delete(ctx, id)
	case http.MethodGet:
		switch {
		case systems:
			return c, h.vimList(ctx)
		case c == ClientVIM:
			return c, h.vimHost(ctx, id)
		default:
			return c, h.notVIM(ctx, c, id)
		}
	}
	// POST and PATCH: the body names the host; the URL's id is ignored.
	if len(body) == 0 {
		return c, emptyBody()
	}
	if systems {
		return c, unsupported(c)
	}
	f, err := ParseBody(body)
	if err != nil {
		if c == ClientSM {
			return c, smFail(http.StatusBadRequest, mtce.FailJSONParse, "Failed to parse the request")
		}
		return c, badJSON()
	}
	switch c {
	case ClientSysInv:
		return c, h.sysinv(ctx, f)
	case ClientVIM:
		return c, h.vimEvent(ctx, f)
	default:
		return c, h.smEvent(ctx, f)
	}
}

func unsupported(c Client) Reply {
	return fail(http.StatusBadRequest, mtce.FailInvalidOperation, "Request not supported for "+c.String(), "Use the documented methods and paths")
}

func smFail(code int, rc mtce.RC, reason string) Reply {
	return fail(code, rc, reason, "event")
}

// transact runs fn in one Backend transaction; ok is false if the
// Backend could not start it in time (fn did not run).
func (h *Handler) transact(ctx context.Context, fn func(State)) (ok bool) {
	ran := false
	err := h.b.Transact(ctx, func(s State) error {
		ran = true
		fn(s)
		return nil
	})
	if !ran {
		h.log.Warn("event api: backend transaction did not run", "err", err)
	}
	return ran
}

func (h *Handler) delete(ctx context.Context, id string) Reply {
	rep := busy()
	h.transact(ctx, func(s State) {
		host, ok := find(hostsOf(s), id)
		if !ok {
			rep = notFound(id)
			return
		}
		if err := s.Delete(ctx, host); err != nil {
			h.log.Warn("event api: delete not taken", "host", host.Name, "err", err)
			rep = internal()
			return
		}
		rep = pass()
	})
	return rep
}

// notVIM answers a GET from sysinv or SM: 404 for an unknown id, else 400
// telling them to use the VIM's query.
func (h *Handler) notVIM(ctx context.Context, c Client, id string) Reply {
	rep := busy()
	h.transact(ctx, func(s State) {
		if _, ok := find(hostsOf(s), id); !ok {
			rep = notFound(id)
			return
		}
		rep = fail(http.StatusBadRequest, mtce.FailInvalidOperation, "Host queries are answered to the VIM only", "Use the vim agent")
	})
	if c == ClientSM && !rep.Pass() {
		rep.Action = "event"
	}
	return rep
}

type vimListHost struct {
	UUID     string `json:"uuid"`
	Hostname string `json:"hostname"`
	Uptime   uint32 `json:"uptime"`
}

type vimList struct {
	Hosts []vimListHost `json:"hosts"`
}

// vimList answers GET /v1/systems: every recorded host, 202 while any add
// is unfinished (the body is the same list, valid JSON). Only the three
// fields are read inside the transaction; the body is encoded after it,
// so the host records stay locked for a copy of three fields per host.
func (h *Handler) vimList(ctx context.Context) Reply {
	var l vimList
	code := http.StatusOK
	if !h.transact(ctx, func(s State) {
		l.Hosts = make([]vimListHost, 0, 64)
		hostsOf(s).each(func(x *Host) bool {
			l.Hosts = append(l.Hosts, vimListHost{UUID: x.UUID, Hostname: x.Name, Uptime: x.Uptime})
			if x.Adding {
				code = http.StatusAccepted
			}
			return true
		})
	}) {
		return busy()
	}
	return Reply{Code: code, raw: l.appendJSON(make([]byte, 0, 16+len(l.Hosts)*96))}
}

// appendJSON appends l's body as encoding/json writes it (the field
// order, no HTML escaping, a final "\n"), without reflection: the list
// of a 5,000-host system is ~400 kB.
func (l vimList) appendJSON(b []byte) []byte {
	b = append(b, `{"hosts":[`...)
	for i, x := range l.Hosts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"uuid":`...)
		b = appendJSONString(b, x.UUID)
		b = append(b, `,"hostname":`...)
		b = appendJSONString(b, x.Hostname)
		b = append(b, `,"uptime":`...)
		b = strconv.AppendUint(b, uint64(x.Uptime), 10)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// does with HTML escaping off: printable ASCII other than '"' and '\\'
// as is; anything else through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			var w bytes.Buffer
			enc := json.NewEncoder(&w)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			return append(b, bytes.TrimSuffix(w.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

type vimState struct {
	Admin          string `json:"administrative"`
	Oper           string `json:"operational"`
	Avail          string `json:"availability"`
	DataPortsOper  string `json:"data_ports_oper,omitempty"`
	DataPortsAvail string `json:"data_ports_avail,omitempty"`
	SubfOper       string `json:"subfunction_oper"`
	SubfAvail      string `json:"subfunction_avail"`
}

type vimHost struct {
	State        vimState `json:"state"`
	Hostname     string   `json:"hostname"`
	UUID         string   `json:"uuid"`
	Subfunctions string   `json:"subfunctions"`
	Personality  string   `json:"personality"`
}

func orNone(s string) string {
	if s == "" {
		return None
	}
	return s
}

// vimHost answers GET /v1/hosts/<id> for the VIM (spec J.7).
func (h *Handler) vimHost(ctx context.Context, id string) Reply {
	rep := busy()
	h.transact(ctx, func(s State) {
		x, ok := find(hostsOf(s), id)
		if !ok {
			rep = notFound(id)
			return
		}
		v := vimHost{
			State: vimState{
				Admin: x.Admin.String(), Oper: x.Oper.String(), Avail: x.Avail.String(),
				SubfOper: x.SubfOper.String(), SubfAvail: x.SubfAvail.String(),
			},
			Hostname: x.Name, UUID: x.UUID, Subfunctions: orNone(x.Subfunctions),
			Personality: x.Functions().Main().String(),
		}
		if v.Personality == None {
			v.Personality = x.Personality.Function().String()
		}
		if x.DataPortsAvail != mtce.AvailNone && x.DataPortsAvail != mtce.AvailOffDuty {
			v.State.DataPortsOper, v.State.DataPortsAvail = x.DataPortsOper.String(), x.DataPortsAvail.String()
		}
		rep = data(http.StatusOK, v)
	})
	return rep
}

// vimEvent answers VIM's severity event (spec J.7).
func (h *Handler) vimEvent(ctx context.Context, f Fields) Reply {
	switch f.Severity {
	case "failed":
	case "degraded", "cleared":
		return fail(http.StatusMethodNotAllowed, mtce.FailInvalidOperation, fmt.Sprintf("Severity '%s' is not supported", f.Severity), "Only severity 'failed' is supported")
	default:
		return fail(http.StatusBadRequest, mtce.FailInvalidData, "Missing or unknown severity", "Send severity 'failed'")
	}
	rep := busy()
	h.transact(ctx, func(s State) {
		x, ok := byName(hostsOf(s), f.Hostname)
		if !ok || (x.Admin != mtce.AdminLocked && x.Admin != mtce.AdminUnlocked) {
			rep = pass() // mtce does nothing for an unknown host
			return
		}
		if err := s.VIMFailed(ctx, x, x.Admin == mtce.AdminLocked); err != nil {
			h.log.Warn("event api: vim event not taken", "host", x.Name, "err", err)
			rep = internal()
			return
		}
		rep = pass()
	})
	return rep
}

// smEvent answers SM's state event (spec J.8).
func (h *Handler) smEvent(ctx context.Context, f Fields) Reply {
	if f.Action != "event" {
		return smFail(http.StatusBadRequest, mtce.FailInvalidOperation, fmt.Sprintf("Action '%s' is not supported", f.Action))
	}
	rep := busy()
	h.transact(ctx, func(s State) {
		x, ok := byName(hostsOf(s), f.Hostname)
		if !ok {
			rep = smFail(http.StatusOK, mtce.FailUnknownHostname, fmt.Sprintf("Host '%s' not found", f.Hostname))
			return
		}
		if f.Operational != "disabled" || f.Availability != "failed" {
			rep = smFail(http.StatusBadRequest, mtce.FailInvalidData, fmt.Sprintf("State '%s-%s' is not supported", f.Operational, f.Availability))
			return
		}
		if x.UnlockedEnabled() {
			if err := s.SMFailed(ctx, x); err != nil {
				h.log.Warn("event api: sm event not taken", "host", x.Name, "err", err)
				rep = smFail(http.StatusInternalServerError, mtce.Fail, "Maintenance could not take the request")
				return
			}
		}
		rep = pass()
	})
	if rep.Code == http.StatusServiceUnavailable {
		rep.Action = "event"
	}
	return rep
}

// sysinv answers sysinv's add and modify (spec J.5); refusals are HTTP 200
// with status fail.
func (h *Handler) sysinv(ctx context.Context, f Fields) Reply {
	if len(f.UUID) != 36 {
		return badJSON()
	}
	if !strings.HasPrefix(f.Operation, "add") && !strings.HasPrefix(f.Operation, "modify") {
		return fail(http.StatusBadRequest, mtce.FailInvalidOperation, fmt.Sprintf("Operation '%s' is not supported", f.Operation), "Use delete, add or modify")
	}
	rep := busy()
	h.transact(ctx, func(s State) {
		d := decideSysinvIn(h.cfg.Hostname, hostsOf(s), s.SwactHeld(), f)
		rep = d.reply
		if d.reject != nil {
			s.Rejected(*d.reject)
			return
		}
		if !rep.Pass() {
			return
		}
		var err error
		switch {
		case d.add != nil:
			err = s.Add(ctx, *d.add)
		case d.swact != nil:
			err = s.Swact(ctx, *d.swact)
			if e, ok := errors.AsType[*swact.RejectError](err); ok {
				rep = fromSwact(e, f)
				s.Rejected(Rejection{Host: d.modify.Old, Action: actionOf(f.Action), Text: f.Action, Reply: rep})
				return
			}
			if err == nil {
				err = s.Modify(ctx, *d.modify)
			}
		case d.modify != nil:
			err = s.Modify(ctx, *d.modify)
		}
		if err != nil {
			h.log.Warn("event api: sysinv request not taken", "host", f.Hostname, "err", err)
			rep = rejectSysinv(mtce.Fail, f, "")
		}
	})
	return rep
}

func actionOf(s string) mtce.AdminAction {
	a, _ := mtce.ParseAdminAction(s)
	return a
}

// write sends rep. A 2xx goes out through w with Go's phrase. Any other
// code goes out on the hijacked connection, so that the status line
// carries the JSON text as its reason phrase (see [Reply.Phrase]), and
// the connection is closed. Without a Hijacker (HTTP/2, an
// httptest.ResponseRecorder) the reply goes out through w with Go's
// phrase.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, rep Reply) {
	body := rep.Body()
	if rep.Code < 200 || rep.Code > 299 {
		if hj, ok := w.(http.Hijacker); ok && r.ProtoMajor == 1 {
			conn, buf, err := hj.Hijack()
			if err == nil {
				defer conn.Close()
				_ = conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
				buf.WriteString(rep.StatusLine() + "\r\n")
				buf.WriteString("Content-Type: application/json\r\n")
				buf.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
				buf.WriteString("Connection: close\r\n\r\n")
				if r.Method != http.MethodHead {
					buf.Write(body)
				}
				if err := buf.Flush(); err != nil {
					h.log.Debug("event api: reply not written", "err", err)
				}
				return
			}
			h.log.Debug("event api: hijack failed", "err", err)
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rep.Code)
	_, _ = w.Write(body)
}
