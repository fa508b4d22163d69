package sim

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// secretRec is a stored Barbican secret.
type secretRec struct {
	ref         string // the UUID at the end of secret_ref
	name        string
	payload     []byte
	contentType string
	created     time.Time
	seq         uint64
}

// putSecretLocked stores payload under name, replacing the payload of an
// existing secret of that name (as SysInv does when a BMC password
// changes), and returns its reference.
func (s *Sim) putSecretLocked(name string, payload []byte, contentType string, now time.Time) string {
	for _, sec := range s.secrets {
		if sec.name == name {
			sec.payload = append([]byte(nil), payload...)
			sec.contentType = contentType
			return sec.ref
		}
	}
	return s.newSecretLocked(name, payload, contentType, now)
}

func (s *Sim) newSecretLocked(name string, payload []byte, contentType string, now time.Time) string {
	ref := s.newUUIDLocked()
	s.nextItemID++
	s.secrets[ref] = &secretRec{ref: ref, name: name, payload: append([]byte(nil), payload...),
		contentType: contentType, created: now, seq: uint64(s.nextItemID)}
	return ref
}

// PutSecret stores a secret (e.g. a BMC password under the host's UUID)
// and returns its reference, the last part of its secret_ref.
func (s *Sim) PutSecret(name string, payload Secret) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty secret name", ErrInvalidValue)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed() {
		return "", ErrClosed
	}
	return s.putSecretLocked(name, []byte(payload), "text/plain", time.Now()), nil
}

// SecretByName returns the payload of the oldest secret called name.
func (s *Sim) SecretByName(name string) (Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.secretsNamedLocked(name)
	if len(list) == 0 {
		return "", false
	}
	return Secret(list[0].payload), true
}

func (s *Sim) secretsNamedLocked(name string) []*secretRec {
	var out []*secretRec
	for _, sec := range s.secrets {
		if name == "" || sec.name == name {
			out = append(out, sec)
		}
	}
	slices.SortFunc(out, func(a, b *secretRec) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// secretPost is the body of POST /v1/secrets.
type secretPost struct {
	Name            string `json:"name"`
	Payload         string `json:"payload"`
	ContentType     string `json:"payload_content_type"`
	ContentEncoding string `json:"payload_content_encoding"`
	SecretType      string `json:"secret_type"`
}

// decodeSecretPost parses a Barbican secret creation: a payload is
// required (this simulator stores no metadata-only secrets), its content
// type defaults to text/plain, and base64 encoding is decoded.
func decodeSecretPost(body []byte) (secretPost, []byte, error) {
	var p secretPost
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return p, nil, badRequest("malformed secret: " + err.Error())
	}
	if dec.More() {
		return p, nil, badRequest("malformed secret: trailing data")
	}
	if p.Payload == "" {
		return p, nil, badRequest("payload is required")
	}
	if p.ContentType == "" {
		p.ContentType = "text/plain"
	}
	payload := []byte(p.Payload)
	switch p.ContentEncoding {
	case "":
	case "base64":
		b, err := base64.StdEncoding.DecodeString(p.Payload)
		if err != nil {
			return p, nil, badRequest("payload is not base64")
		}
		payload = b
	default:
		return p, nil, badRequest(fmt.Sprintf("payload_content_encoding %q is not supported", p.ContentEncoding))
	}
	return p, payload, nil
}

func (s *Sim) barbican(rq *request) plan {
	segs := rq.segs
	if len(segs) < 2 || segs[0] != "v1" || segs[1] != "secrets" || len(segs) > 4 ||
		(len(segs) == 4 && segs[3] != "payload") {
		return s.errorPlan(rq, http.StatusNotFound, "Not Found. Sorry but your princess is in another castle.")
	}
	switch len(segs) {
	case 2:
		switch rq.method {
		case http.MethodGet:
			return s.listSecrets(rq)
		case http.MethodPost:
			return s.postSecret(rq)
		}
		return methodNotAllowed(s, rq, "GET", "POST")
	case 3:
		switch rq.method {
		case http.MethodGet:
			s.mu.Lock()
			defer s.mu.Unlock()
			sec := s.secrets[segs[2]]
			if sec == nil {
				return s.errorPlan(rq, http.StatusNotFound, "Secret not found.")
			}
			return jsonPlan(http.StatusOK, s.secretMetaLocked(rq, sec))
		case http.MethodDelete:
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.secrets[segs[2]] == nil {
				return s.errorPlan(rq, http.StatusNotFound, "Secret not found.")
			}
			delete(s.secrets, segs[2])
			return plan{status: http.StatusNoContent}
		}
		return methodNotAllowed(s, rq, "GET", "DELETE")
	}
	if rq.method != http.MethodGet {
		return methodNotAllowed(s, rq, "GET")
	}
	return s.secretPayload(rq, segs[2])
}

func (s *Sim) secretMetaLocked(rq *request, sec *secretRec) map[string]any {
	ts := sec.created.UTC().Format("2006-01-02T15:04:05")
	return map[string]any{
		"secret_ref": s.endpointsLocked(rq.origin).Barbican + "/v1/secrets/" + sec.ref,
		"name":       sec.name, "status": "ACTIVE", "secret_type": "opaque",
		"content_types": map[string]string{"default": sec.contentType},
		"created":       ts, "updated": ts, "expiration": nil, "algorithm": nil,
		"bit_length": nil, "mode": nil, "creator_id": idOf("user", s.cfg.Username),
	}
}

// listSecrets answers GET /v1/secrets[?name=&limit=&offset=], oldest first.
func (s *Sim) listSecrets(rq *request) plan {
	limit, offset := 10, 0
	for _, q := range []struct {
		key string
		dst *int
	}{{"limit", &limit}, {"offset", &offset}} {
		if v := rq.query.Get(q.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return s.errorPlan(rq, http.StatusBadRequest, fmt.Sprintf("invalid %s %q", q.key, v))
			}
			*q.dst = n
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.secretsNamedLocked(rq.query.Get("name"))
	page := all[min(offset, len(all)):]
	page = page[:min(limit, len(page))]
	list := make([]any, 0, len(page))
	for _, sec := range page {
		list = append(list, s.secretMetaLocked(rq, sec))
	}
	return jsonPlan(http.StatusOK, map[string]any{"secrets": list, "total": len(all)})
}

func (s *Sim) postSecret(rq *request) plan {
	p, payload, err := decodeSecretPost(rq.body)
	if err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := s.newSecretLocked(p.Name, payload, p.ContentType, time.Now())
	return jsonPlan(http.StatusCreated, map[string]string{
		"secret_ref": s.endpointsLocked(rq.origin).Barbican + "/v1/secrets/" + ref})
}

// secretPayload answers GET /v1/secrets/<ref>/payload with the raw payload,
// as StarlingX reads a BMC password (Accept: application/octet-stream).
func (s *Sim) secretPayload(rq *request, ref string) plan {
	s.mu.Lock()
	sec := s.secrets[ref]
	var payload []byte
	ct := ""
	if sec != nil {
		payload, ct = append([]byte(nil), sec.payload...), sec.contentType
	}
	s.mu.Unlock()
	if sec == nil {
		return s.errorPlan(rq, http.StatusNotFound, "Secret not found.")
	}
	accept := rq.header.Get("Accept")
	switch {
	case accept == "" || strings.Contains(accept, "*/*"):
	case strings.Contains(accept, "application/octet-stream"):
		ct = "application/octet-stream"
	case strings.Contains(accept, "text/plain"):
		ct = "text/plain"
	default:
		return s.errorPlan(rq, http.StatusNotAcceptable, "Wrong payload content-type")
	}
	return plan{status: http.StatusOK, header: http.Header{"Content-Type": {ct}}, body: payload}
}
