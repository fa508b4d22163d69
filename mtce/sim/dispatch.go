package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// request is one request as the services see it.
type request struct {
	svc     Service
	method  string
	path    string
	segs    []string // path split on "/", without empty leading/trailing parts
	query   url.Values
	header  http.Header
	body    []byte
	origin  string // "memory" or "loopback"
	seq     uint64
	arrival time.Time

	hostName, hostUUID, hostRaw string // the host the request concerns
}

func (rq *request) recordHost() string {
	if rq.hostName != "" {
		return rq.hostName
	}
	return rq.hostRaw
}

type planMode int

const (
	planNormal planMode = iota
	planAbort           // no answer: cut the connection
	planHang            // headers and half the body, then stall
	planSlow            // body in pieces
)

// plan is the answer decided for a request.
type plan struct {
	mode   planMode
	status int
	header http.Header
	body   []byte
	delay  time.Duration // between pieces of planSlow
	reason string        // why a planAbort
}

func abortPlan(reason string) plan { return plan{mode: planAbort, reason: reason} }

// abortErrPlan is the answer to a request abandoned while waiting: the
// reason is "closed" or why the requester's context ended.
func abortErrPlan(ctx context.Context, err error) plan {
	if errors.Is(err, ErrClosed) {
		return abortPlan("closed")
	}
	if cause := context.Cause(ctx); cause != nil {
		return abortPlan(cause.Error())
	}
	return abortPlan(err.Error())
}

func jsonPlan(status int, v any) plan {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value marshalled here is built by the simulator.
		panic("sim: marshal: " + err.Error())
	}
	return plan{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: b}
}

// serve handles one request end to end: read, resolve, fault, process,
// record, answer.
func (s *Sim) serve(ctx context.Context, svc Service, r *http.Request, origin string, w responder) {
	rq := &request{
		svc:     svc,
		method:  r.Method,
		path:    r.URL.Path,
		query:   r.URL.Query(),
		header:  r.Header,
		origin:  origin,
		seq:     s.rec.nextSeq(),
		arrival: time.Now(),
	}
	for _, seg := range strings.Split(strings.Trim(r.URL.Path, "/"), "/") {
		if seg != "" {
			rq.segs = append(rq.segs, seg)
		}
	}
	rec := Record{Seq: rq.seq, Time: rq.arrival, Transport: origin, Service: svc, Method: r.Method, Path: r.URL.Path}

	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	var p plan
	switch {
	case err != nil:
		p = abortPlan("reading body: " + err.Error())
	case int64(len(body)) > s.cfg.MaxBodyBytes:
		p = s.errorPlan(rq, http.StatusRequestEntityTooLarge, "request body too large")
	default:
		rq.body = body
		s.mu.Lock()
		s.resolveHostLocked(rq)
		af, fired := s.pickFaultLocked(rq)
		s.mu.Unlock()
		if fired {
			rec.Fault, rec.FaultName = af.f.Kind, af.f.Name
			s.rec.fault(FaultEvent{Seq: rq.seq, Time: rq.arrival, ID: af.id, Name: af.f.Name,
				Kind: af.f.Kind, Code: af.f.Code, Service: svc, Method: r.Method, Path: r.URL.Path,
				Host: rq.recordHost()})
			s.log.Debug("sim: fault fired", "seq", rq.seq, "id", af.id, "name", af.f.Name,
				"kind", af.f.Kind.String(), "service", svc, "method", r.Method, "path", r.URL.Path)
			p = s.execute(ctx, rq, &af.f)
		} else {
			p = s.execute(ctx, rq, nil)
		}
	}
	rec.Host = rq.recordHost()
	rec.Elapsed = time.Since(rq.arrival)
	if p.mode == planAbort {
		rec.Err = p.reason
	} else {
		rec.Status = p.status
	}
	s.rec.request(rec)
	s.log.Debug("sim: request", "seq", rq.seq, "transport", origin, "service", svc, "method", r.Method,
		"path", r.URL.Path, "host", rec.Host, "status", rec.Status, "fault", rec.Fault.String(), "err", rec.Err)
	s.emit(ctx, rq, w, p)
}

// execute applies the fault f (nil: none) around the service's processing.
func (s *Sim) execute(ctx context.Context, rq *request, f *Fault) plan {
	if f != nil && !f.AfterProcessing {
		switch f.Kind {
		case FaultStatus:
			return s.faultStatusPlan(rq, f)
		case FaultDrop:
			return abortErrPlan(ctx, s.wait(ctx, nil))
		case FaultReset:
			return abortPlan("reset")
		case FaultDelay:
			if err := s.sleep(ctx, f.Delay); err != nil {
				return abortErrPlan(ctx, err)
			}
		}
	}
	p := s.process(ctx, rq)
	if f == nil || p.mode == planAbort {
		return p
	}
	switch f.Kind {
	case FaultStatus:
		return s.faultStatusPlan(rq, f)
	case FaultDrop:
		return abortErrPlan(ctx, s.wait(ctx, nil))
	case FaultReset:
		return abortPlan("reset")
	case FaultDelay:
		if f.AfterProcessing {
			if err := s.sleep(ctx, f.Delay); err != nil {
				return abortErrPlan(ctx, err)
			}
		}
	case FaultHang:
		p.mode = planHang
	case FaultSlowBody:
		p.mode, p.delay = planSlow, f.Delay
	case FaultMalformed:
		if len(f.Data) > 0 {
			p.body = append([]byte(nil), f.Data...)
		} else if len(p.body) >= 2 {
			p.body = p.body[:len(p.body)/2]
		} else {
			p.body = []byte("{")
		}
	case FaultNoSubjectToken:
		if p.header != nil {
			p.header.Del("X-Subject-Token")
		}
	}
	return p
}

// faultStatusPlan is the answer of a FaultStatus.
func (s *Sim) faultStatusPlan(rq *request, f *Fault) plan {
	if f.Code < 300 {
		return jsonPlan(f.Code, struct{}{})
	}
	return s.errorPlan(rq, f.Code, "fault injected: "+f.Name)
}

// emit sends p through w.
func (s *Sim) emit(ctx context.Context, rq *request, w responder, p plan) {
	if p.mode == planAbort {
		w.abort()
		return
	}
	h := p.header
	if h == nil {
		h = http.Header{}
	}
	body := p.body
	if p.status == http.StatusNoContent || p.status == http.StatusNotModified {
		body = nil
		h.Del("Content-Length")
	} else {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if rq.method == http.MethodHead {
		body = nil
	}
	w.writeHeader(p.status, h)
	switch p.mode {
	case planNormal:
		w.write(body)
	case planHang:
		w.write(body[:len(body)/2])
		w.flush()
		_ = s.wait(ctx, nil)
		w.abort()
	case planSlow:
		piece := max(1, (len(body)+7)/8)
		for len(body) > 0 {
			n := min(piece, len(body))
			w.write(body[:n])
			w.flush()
			body = body[n:]
			if len(body) == 0 {
				break
			}
			if err := s.sleep(ctx, p.delay); err != nil {
				w.abort()
				return
			}
		}
	}
}

// process routes rq to its service.
func (s *Sim) process(ctx context.Context, rq *request) plan {
	switch rq.svc {
	case Keystone:
		return s.keystone(ctx, rq)
	case VIM:
		return s.vim(rq)
	}
	// SysInv, SM and Barbican sit behind keystonemiddleware: the token is
	// checked before the route.
	if p, ok := s.checkToken(rq); !ok {
		return p
	}
	switch rq.svc {
	case SysInv:
		return s.sysinv(ctx, rq)
	case SM:
		return s.smService(rq)
	case Barbican:
		return s.barbican(rq)
	}
	return s.errorPlan(rq, http.StatusNotFound, "no such service")
}

// resolveHostLocked finds the host a request concerns.
func (s *Sim) resolveHostLocked(rq *request) {
	segs := rq.segs
	raw := ""
	switch rq.svc {
	case SysInv:
		if len(segs) >= 3 && segs[0] == "v1" {
			switch segs[1] {
			case "ihosts":
				raw = segs[2]
			case "isensors", "isensorgroups":
				rq.hostRaw = segs[2]
				if it := s.items[itemKindOf(segs[1])][segs[2]]; it != nil {
					raw = it.hostUUID
				}
			}
		}
	case SM:
		if len(segs) == 3 && segs[0] == "v1" && segs[1] == "servicenode" {
			raw = segs[2]
		}
	case VIM:
		if len(segs) == 4 && segs[0] == "nfvi-plugins" && segs[2] == "hosts" {
			raw = segs[3]
		}
	case Barbican:
		if n := rq.query.Get("name"); n != "" {
			raw = n
		} else if len(segs) >= 3 && segs[0] == "v1" && segs[1] == "secrets" {
			if sec := s.secrets[segs[2]]; sec != nil {
				raw = sec.name
			}
		}
	}
	if raw == "" {
		return
	}
	if rq.hostRaw == "" {
		rq.hostRaw = raw
	}
	if hs := s.lookupLocked(raw); hs != nil {
		rq.hostName, rq.hostUUID = hs.Hostname, hs.UUID
	}
}

// errorPlan builds the error answer each service gives.
func (s *Sim) errorPlan(rq *request, status int, msg string) plan {
	title := http.StatusText(status)
	switch rq.svc {
	case SysInv:
		// SysInv (WSME) nests a JSON document in a string.
		fault := "Client"
		if status >= 500 {
			fault = "Server"
		}
		inner, _ := json.Marshal(map[string]any{"faultcode": fault, "faultstring": msg, "debuginfo": nil})
		return jsonPlan(status, map[string]string{"error_message": string(inner)})
	case Barbican:
		return jsonPlan(status, map[string]any{"code": status, "title": title, "description": msg})
	default:
		return jsonPlan(status, map[string]any{"error": map[string]any{"code": status, "title": title, "message": msg}})
	}
}

// unauthorized is keystonemiddleware's (and Keystone's) 401; badToken
// says whether a token was refused (else credentials were).
func (s *Sim) unauthorized(rq *request, badToken bool) plan {
	s.rec.update(func(st *Stats) {
		if badToken {
			st.AuthFailures++
		} else {
			st.CredentialFailures++
		}
	})
	p := jsonPlan(http.StatusUnauthorized, map[string]any{"error": map[string]any{
		"code": http.StatusUnauthorized, "title": "Unauthorized",
		"message": "The request you have made requires authentication."}})
	p.header.Set("WWW-Authenticate", `Keystone uri="`+s.endpoints(rq.origin).Keystone+`"`)
	return p
}

// endpoints returns the URLs of the transport a request came through, for
// the catalog and for links.
func (s *Sim) endpoints(origin string) Endpoints {
	if origin == "loopback" {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.loop != nil {
			return s.loop.endpoints
		}
	}
	return s.cfg.Memory
}

// endpointsLocked is endpoints for callers holding s.mu.
func (s *Sim) endpointsLocked(origin string) Endpoints {
	if origin == "loopback" && s.loop != nil {
		return s.loop.endpoints
	}
	return s.cfg.Memory
}

func methodNotAllowed(s *Sim, rq *request, allow ...string) plan {
	p := s.errorPlan(rq, http.StatusMethodNotAllowed, "method "+rq.method+" not allowed")
	p.header.Set("Allow", strings.Join(allow, ", "))
	return p
}
