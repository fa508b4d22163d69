package sim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// patchOp is one JSON-patch (RFC 6902) operation.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// decodePatch parses a JSON-patch document as SysInv accepts it: an array
// of add/replace/remove operations on top-level attributes ("/task").
func decodePatch(body []byte) ([]patchOp, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '[' {
		return nil, badRequest("a JSON-patch document must be an array")
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, badRequest("malformed JSON-patch: " + err.Error())
	}
	ops := make([]patchOp, 0, len(raw))
	for i, m := range raw {
		if m == nil {
			return nil, badRequest(fmt.Sprintf("patch[%d] is null", i))
		}
		var op patchOp
		if err := json.Unmarshal(m["op"], &op.Op); err != nil || op.Op == "" {
			return nil, badRequest(fmt.Sprintf("patch[%d]: op must be a string", i))
		}
		if err := json.Unmarshal(m["path"], &op.Path); err != nil || op.Path == "" {
			return nil, badRequest(fmt.Sprintf("patch[%d]: path must be a string", i))
		}
		if !strings.HasPrefix(op.Path, "/") || strings.Count(op.Path, "/") != 1 || len(op.Path) < 2 {
			return nil, badRequest(fmt.Sprintf("patch[%d]: path %q is not a top-level attribute", i, op.Path))
		}
		op.Path = strings.NewReplacer("~1", "/", "~0", "~").Replace(op.Path)
		switch op.Op {
		case "add", "replace":
			v, ok := m["value"]
			if !ok {
				return nil, badRequest(fmt.Sprintf("patch[%d]: %s needs a value", i, op.Op))
			}
			op.Value = v
		case "remove":
			op.Value = json.RawMessage("null")
		default:
			return nil, badRequest(fmt.Sprintf("patch[%d]: op %q is not supported", i, op.Op))
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// applyHostPatch applies ops to h and returns the user action and BMC
// password they carry.
func applyHostPatch(h *Host, ops []patchOp) (action string, password *Secret, err error) {
	for _, op := range ops {
		var pw Secret
		name := op.Path[1:]
		if err := setField(h, name, op.Value, &action, &pw); err != nil {
			return "", nil, err
		}
		if name == "bm_password" {
			p := pw
			password = &p
		}
	}
	return action, password, nil
}

// -------------------------------------------------------------- routing

func (s *Sim) sysinv(ctx context.Context, rq *request) plan {
	segs := rq.segs
	if len(segs) < 2 || segs[0] != "v1" {
		return s.errorPlan(rq, http.StatusNotFound, "The resource could not be found.")
	}
	switch {
	case segs[1] == "ihosts" && len(segs) == 2:
		switch rq.method {
		case http.MethodGet:
			return s.listHosts(rq)
		case http.MethodPost:
			return s.postHost(ctx, rq)
		}
		return methodNotAllowed(s, rq, "GET", "POST")
	case segs[1] == "ihosts" && len(segs) == 3:
		switch rq.method {
		case http.MethodGet:
			return s.getHost(rq, segs[2])
		case http.MethodPatch:
			return s.patchHost(ctx, rq, segs[2])
		case http.MethodDelete:
			return s.deleteHost(ctx, rq, segs[2])
		}
		return methodNotAllowed(s, rq, "GET", "PATCH", "DELETE")
	case segs[1] == "ihosts" && len(segs) == 4 && (segs[3] == "isensors" || segs[3] == "isensorgroups"):
		if rq.method != http.MethodGet {
			return methodNotAllowed(s, rq, "GET")
		}
		return s.listItems(rq, itemKindOf(segs[3]), segs[2])
	case (segs[1] == "isensors" || segs[1] == "isensorgroups") && len(segs) == 2:
		switch rq.method {
		case http.MethodGet:
			return s.listItems(rq, itemKindOf(segs[1]), rq.query.Get("host_uuid"))
		case http.MethodPost:
			return s.postItem(rq, itemKindOf(segs[1]))
		}
		return methodNotAllowed(s, rq, "GET", "POST")
	case (segs[1] == "isensors" || segs[1] == "isensorgroups") && len(segs) == 3:
		kind := itemKindOf(segs[1])
		switch rq.method {
		case http.MethodGet:
			return s.getItem(rq, kind, segs[2])
		case http.MethodPatch:
			return s.patchItem(rq, kind, segs[2])
		case http.MethodDelete:
			return s.deleteItem(rq, kind, segs[2])
		}
		return methodNotAllowed(s, rq, "GET", "PATCH", "DELETE")
	}
	return s.errorPlan(rq, http.StatusNotFound, "The resource could not be found.")
}

func (s *Sim) hostPlanLocked(rq *request, status int, h Host) plan {
	return jsonPlan(status, h.wire(s.endpointsLocked(rq.origin).SysInv+"/v1/ihosts/"+h.UUID))
}

// listHosts answers GET /v1/ihosts[?limit=N&marker=<uuid>].
func (s *Sim) listHosts(rq *request) plan {
	limit := 0
	if v := rq.query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s.errorPlan(rq, http.StatusBadRequest, fmt.Sprintf("Invalid limit %q", v))
		}
		limit = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hosts := s.hostsLocked()
	if m := rq.query.Get("marker"); m != "" {
		i := slices.IndexFunc(hosts, func(h Host) bool { return h.UUID == m })
		if i < 0 {
			return s.errorPlan(rq, http.StatusBadRequest, fmt.Sprintf("Invalid marker %q", m))
		}
		hosts = hosts[i+1:]
	}
	base := s.endpointsLocked(rq.origin).SysInv + "/v1/ihosts"
	out := map[string]any{}
	if limit > 0 && len(hosts) > limit {
		hosts = hosts[:limit]
		out["next"] = fmt.Sprintf("%s?limit=%d&marker=%s", base, limit, hosts[limit-1].UUID)
	}
	list := make([]hostJSON, 0, len(hosts))
	for _, h := range hosts {
		list = append(list, h.wire(base+"/"+h.UUID))
	}
	out["ihosts"] = list
	return jsonPlan(http.StatusOK, out)
}

// getHost answers GET /v1/ihosts/<uuid or hostname>; maintenance loads its
// own record by hostname.
func (s *Sim) getHost(rq *request, id string) plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.lookupLocked(id)
	if hs == nil {
		return s.errorPlan(rq, http.StatusNotFound, fmt.Sprintf("Host %s could not be found.", id))
	}
	return s.hostPlanLocked(rq, http.StatusOK, hs.Host)
}

// decodeHostPost parses the body of POST /v1/ihosts: a host record whose
// read-only attributes (id, created_at, updated_at, links) are ignored.
func decodeHostPost(body []byte) (Host, *Secret, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return Host{}, nil, badRequest("a host must be a JSON object")
	}
	var h Host
	var password *Secret
	for _, k := range slices.Sorted(maps.Keys(m)) {
		raw := m[k]
		switch k {
		case "id", "created_at", "updated_at", "links":
			continue
		case "uuid":
			u, err := jsonText(raw)
			if err != nil || (u != "" && u != "none" && len(u) != 36) {
				return Host{}, nil, &fieldError{k, "not a UUID"}
			}
			h.UUID = u
			continue
		case "action":
			continue
		}
		var a string
		var pw Secret
		if err := setField(&h, k, raw, &a, &pw); err != nil {
			return Host{}, nil, err
		}
		if k == "bm_password" {
			password = &pw
		}
	}
	if h.Hostname == "" {
		return Host{}, nil, &fieldError{"hostname", "is required"}
	}
	if h.Personality == "" || h.Personality == "none" {
		return Host{}, nil, &fieldError{"personality", "is required"}
	}
	return h, password, nil
}

func (s *Sim) postHost(ctx context.Context, rq *request) plan {
	h, pw, err := decodeHostPost(rq.body)
	if err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	h.CreatedAt = time.Now()
	s.mu.Lock()
	h, err = s.addHostLocked(h)
	switch {
	case errors.Is(err, ErrConflict):
		s.mu.Unlock()
		return s.errorPlan(rq, http.StatusConflict, err.Error())
	case err != nil:
		s.mu.Unlock()
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	if pw != nil {
		s.putSecretLocked(h.UUID, []byte(*pw), "text/plain", h.CreatedAt)
	}
	s.mu.Unlock()
	if s.cfg.MtcAgentURL != "" {
		// As SysInv's _do_post: the host is in the database before
		// maintenance hears of it, and stays there if maintenance refuses.
		if err := s.agentAdd(ctx, h); err != nil {
			return s.actionErrorPlan(ctx, rq, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if hs := s.hosts[h.UUID]; hs != nil {
		h = hs.Host
	}
	return s.hostPlanLocked(rq, http.StatusOK, h)
}

// actionErrorPlan answers a request whose action or agent call failed:
// SysInv's error with the status of a *SysInvError (400 otherwise), or no
// answer when the requester went away or the Sim closed.
func (s *Sim) actionErrorPlan(ctx context.Context, rq *request, err error) plan {
	var se *SysInvError
	switch {
	case errors.As(err, &se):
		return s.errorPlan(rq, se.Status, se.Message)
	case errors.Is(err, ErrClosed) || (ctx.Err() != nil && errors.Is(err, ctx.Err())):
		return abortErrPlan(ctx, err)
	}
	return s.errorPlan(rq, http.StatusBadRequest, err.Error())
}

// patchHost answers PATCH /v1/ihosts/<uuid> (by UUID only: a stale UUID
// gets 404, which is what makes maintenance reload the host by name).
func (s *Sim) patchHost(ctx context.Context, rq *request, uuid string) plan {
	ops, err := decodePatch(rq.body)
	if err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	notFound := func() plan {
		return s.errorPlan(rq, http.StatusNotFound, fmt.Sprintf("Host %s could not be found.", uuid))
	}
	s.mu.Lock()
	hs := s.hosts[uuid]
	if hs == nil {
		s.mu.Unlock()
		return notFound()
	}
	before := hs.Host
	h := before
	action, _, err := applyHostPatch(&h, ops)
	s.mu.Unlock()
	if err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	if action != "" {
		if err := s.runAction(ctx, Action{Time: time.Now(), Action: action, Host: before, Via: "api"}, h); err != nil {
			return s.actionErrorPlan(ctx, rq, err)
		}
	}
	// Apply to the record as it is now: it may have changed while the
	// action callback ran.
	s.mu.Lock()
	defer s.mu.Unlock()
	if hs = s.hosts[uuid]; hs == nil {
		return notFound()
	}
	h = hs.Host
	_, pw, err := applyHostPatch(&h, ops)
	if err == nil {
		err = s.commitHostLocked(hs, h)
	}
	switch {
	case errors.Is(err, ErrConflict):
		return s.errorPlan(rq, http.StatusConflict, err.Error())
	case err != nil:
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	if pw != nil {
		s.putSecretLocked(hs.UUID, []byte(*pw), "text/plain", time.Now())
	}
	return s.hostPlanLocked(rq, http.StatusOK, hs.Host)
}

func (s *Sim) deleteHost(ctx context.Context, rq *request, uuid string) plan {
	notFound := func() plan {
		return s.errorPlan(rq, http.StatusNotFound, fmt.Sprintf("Host %s could not be found.", uuid))
	}
	if s.cfg.MtcAgentURL != "" {
		s.mu.Lock()
		hs := s.hosts[uuid]
		var h Host
		if hs != nil {
			h = hs.Host
		}
		s.mu.Unlock()
		if hs == nil {
			return notFound()
		}
		// SysInv's own check (exception.HostLocked), then maintenance.
		if h.Administrative == "unlocked" {
			return s.errorPlan(rq, http.StatusBadRequest, fmt.Sprintf(
				"Unable to complete the action delete because Host %s is in administrative state = unlocked.", h.Hostname))
		}
		if err := s.agentDelete(ctx, h); err != nil {
			return s.actionErrorPlan(ctx, rq, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.hosts[uuid]
	if hs == nil {
		return notFound()
	}
	s.deleteHostLocked(hs)
	return plan{status: http.StatusNoContent}
}

// -------------------------------------------------------------- sensors

type itemKind int

const (
	sensorItem itemKind = iota
	groupItem
)

func itemKindOf(collection string) itemKind {
	if collection == "isensorgroups" {
		return groupItem
	}
	return sensorItem
}

func (k itemKind) collection() string {
	if k == groupItem {
		return "isensorgroups"
	}
	return "isensors"
}

func (k itemKind) nameKey() string {
	if k == groupItem {
		return "sensorgroupname"
	}
	return "sensorname"
}

func (k itemKind) label() string {
	if k == groupItem {
		return "Sensor group"
	}
	return "Sensor"
}

// item is a sensor or sensor-group record: SysInv's many attributes are
// kept as given; the simulator owns uuid, id, host_uuid and timestamps.
type item struct {
	id       int64
	uuid     string
	hostUUID string
	fields   map[string]any
}

var itemReadOnly = set("uuid", "id", "host_uuid", "host_id", "created_at", "updated_at")

// decodeItem parses a sensor or sensor-group object.
func decodeItem(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, badRequest("the record must be a JSON object")
	}
	if dec.More() {
		return nil, badRequest("trailing data after the record")
	}
	return m, nil
}

func copyFields(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	_ = dec.Decode(&out)
	return out
}

func (s *Sim) itemPlanLocked(rq *request, status int, it *item) plan {
	m := copyFields(it.fields)
	m["links"] = []link{{Href: s.endpointsLocked(rq.origin).SysInv + "/v1/" +
		itemKindOf(rq.segs[1]).collection() + "/" + it.uuid, Rel: "self"}}
	return jsonPlan(status, m)
}

func (s *Sim) sortedItemsLocked(kind itemKind, hostUUID string) []*item {
	var out []*item
	for _, it := range s.items[kind] {
		if hostUUID == "" || it.hostUUID == hostUUID {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b *item) int { return cmp.Compare(a.id, b.id) })
	return out
}

func (s *Sim) listItems(rq *request, kind itemKind, host string) plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	hostUUID := ""
	if host != "" {
		hs := s.lookupLocked(host)
		if hs == nil {
			return s.errorPlan(rq, http.StatusNotFound, fmt.Sprintf("Host %s could not be found.", host))
		}
		hostUUID = hs.UUID
	}
	list := []any{}
	for _, it := range s.sortedItemsLocked(kind, hostUUID) {
		list = append(list, copyFields(it.fields))
	}
	return jsonPlan(http.StatusOK, map[string]any{kind.collection(): list})
}

func (s *Sim) postItem(rq *request, kind itemKind) plan {
	m, err := decodeItem(rq.body)
	if err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	hostUUID, _ := m["host_uuid"].(string)
	name, _ := m[kind.nameKey()].(string)
	if name == "" || name == "none" {
		return s.errorPlan(rq, http.StatusBadRequest, kind.nameKey()+" is required")
	}
	uuid := ""
	if v, ok := m["uuid"]; ok && v != nil {
		u, isText := v.(string)
		if !isText || (u != "none" && len(u) != 36) {
			return s.errorPlan(rq, http.StatusBadRequest, "uuid is not a UUID")
		}
		if u != "none" {
			uuid = u
		}
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.hosts[hostUUID]
	if hs == nil {
		return s.errorPlan(rq, http.StatusBadRequest, fmt.Sprintf("host_uuid %q is not a host", hostUUID))
	}
	for _, it := range s.items[kind] {
		if it.hostUUID == hostUUID && it.fields[kind.nameKey()] == name {
			return s.errorPlan(rq, http.StatusConflict,
				fmt.Sprintf("%s %s already exists on host %s", kind.label(), name, hs.Hostname))
		}
	}
	if uuid == "" {
		uuid = s.newUUIDLocked()
	} else if _, dup := s.items[kind][uuid]; dup {
		return s.errorPlan(rq, http.StatusConflict, "uuid "+uuid+" already exists")
	}
	s.nextItemID++
	it := &item{id: s.nextItemID, uuid: uuid, hostUUID: hostUUID, fields: m}
	m["uuid"], m["id"], m["host_uuid"] = uuid, it.id, hostUUID
	m["created_at"], m["updated_at"] = now.UTC().Format(sysinvTime), nil
	s.items[kind][uuid] = it
	return s.itemPlanLocked(rq, http.StatusOK, it)
}

func (s *Sim) getItem(rq *request, kind itemKind, uuid string) plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.items[kind][uuid]
	if it == nil {
		return s.errorPlan(rq, http.StatusNotFound, fmt.Sprintf("%s %s could not be found.", kind.label(), uuid))
	}
	return s.itemPlanLocked(rq, http.StatusOK, it)
}

// applyItemPatch applies a JSON patch to a sensor or group record.
func applyItemPatch(kind itemKind, fields map[string]any, ops []patchOp) error {
	for _, op := range ops {
		name := op.Path[1:]
		if itemReadOnly[name] {
			return &fieldError{name, "read-only"}
		}
		if op.Op == "remove" {
			if name == kind.nameKey() {
				return &fieldError{name, "cannot be removed"}
			}
			delete(fields, name)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(op.Value))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return &fieldError{name, err.Error()}
		}
		if name == kind.nameKey() {
			if str, ok := v.(string); !ok || str == "" {
				return &fieldError{name, "must be a non-empty string"}
			}
		}
		fields[name] = v
	}
	return nil
}

func (s *Sim) patchItem(rq *request, kind itemKind, uuid string) plan {
	ops, err := decodePatch(rq.body)
	if err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.items[kind][uuid]
	if it == nil {
		return s.errorPlan(rq, http.StatusNotFound, fmt.Sprintf("%s %s could not be found.", kind.label(), uuid))
	}
	fields := copyFields(it.fields)
	if err := applyItemPatch(kind, fields, ops); err != nil {
		return s.errorPlan(rq, http.StatusBadRequest, err.Error())
	}
	fields["updated_at"] = time.Now().UTC().Format(sysinvTime)
	it.fields = fields
	return s.itemPlanLocked(rq, http.StatusOK, it)
}

func (s *Sim) deleteItem(rq *request, kind itemKind, uuid string) plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.items[kind][uuid] == nil {
		return s.errorPlan(rq, http.StatusNotFound, fmt.Sprintf("%s %s could not be found.", kind.label(), uuid))
	}
	delete(s.items[kind], uuid)
	return plan{status: http.StatusNoContent}
}

// Sensors returns a host's sensor records (as SysInv would list them),
// ordered by id.
func (s *Sim) Sensors(host string) []map[string]any { return s.itemsOf(sensorItem, host) }

// SensorGroups returns a host's sensor-group records, ordered by id.
func (s *Sim) SensorGroups(host string) []map[string]any { return s.itemsOf(groupItem, host) }

func (s *Sim) itemsOf(kind itemKind, host string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.lookupLocked(host)
	if hs == nil {
		return nil
	}
	var out []map[string]any
	for _, it := range s.sortedItemsLocked(kind, hs.UUID) {
		out = append(out, copyFields(it.fields))
	}
	return out
}
