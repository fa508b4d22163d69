package bmcsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	systemID  = "1"
	chassisID = "1"
	managerID = "1"

	root        = "/redfish/v1"
	systemsURI  = root + "/Systems"
	systemURI   = systemsURI + "/" + systemID
	resetURI    = systemURI + "/Actions/ComputerSystem.Reset"
	resetInfo   = systemURI + "/ResetActionInfo"
	chassisColl = root + "/Chassis"
	chassisURI  = chassisColl + "/" + chassisID
	enclosureID = "Enclosure"
	managersURI = root + "/Managers"
	managerURI  = managersURI + "/" + managerID
	sessSvcURI  = root + "/SessionService"
	sessionsURI = sessSvcURI + "/Sessions"
)

type obj = map[string]any

func link(uri string) obj { return obj{"@odata.id": uri} }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	fault, faulted := s.takeFaultLocked(r.Method, r.URL.Path)
	s.mu.Unlock()
	s.log.Debug("bmcsim: request", "method", r.Method, "path", r.URL.Path, "fault", fault.Kind)

	if faulted {
		switch fault.Kind {
		case FaultUnauthorized:
			s.unauthorized(w)
			return
		case FaultServerError:
			writeError(w, http.StatusInternalServerError, "Base.1.0.InternalError",
				"The request failed due to an internal service error (injected).")
			return
		case FaultHang:
			select {
			case <-r.Context().Done():
				// A hung BMC never answers: drop the connection rather than
				// let net/http send an implicit empty 200.
				panic(http.ErrAbortHandler)
			case <-s.closed:
				writeError(w, http.StatusServiceUnavailable, "Base.1.0.ServiceShuttingDown", "emulator closed")
			}
			return
		case FaultSlow:
			t := time.NewTimer(fault.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				panic(http.ErrAbortHandler)
			case <-s.closed:
				t.Stop()
			}
		case FaultNotFound:
			writeError(w, http.StatusNotFound, "Base.1.0.ResourceMissingAtURI",
				"The resource at the URI "+r.URL.Path+" was not found (injected).")
			return
		case FaultMalformedJSON:
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"@odata.id": "`+r.URL.Path+`", "Name": "trunc`)
			return
		}
	}

	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/redfish":
		s.get(w, r, func() obj { return obj{"v1": root + "/"} })
		return
	case path == root:
		s.get(w, r, s.serviceRoot)
		return
	case path == sessionsURI && r.Method == http.MethodPost && !s.cfg.NoSessions:
		s.login(w, r)
		return
	}
	if !s.authenticated(r) {
		s.unauthorized(w)
		return
	}
	switch {
	case path == systemsURI:
		s.get(w, r, func() obj { return collection("Computer System Collection", systemURI) })
	case path == systemURI:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.getSystem(w, r)
		case http.MethodPatch:
			s.patchSystem(w, r)
		default:
			methodNotAllowed(w, "GET, HEAD, PATCH")
		}
	case path == resetURI:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		s.reset(w, r)
	case path == resetInfo && s.cfg.ResetActionInfo:
		s.get(w, r, s.resetActionInfo)
	case path == chassisColl:
		s.get(w, r, func() obj {
			if s.cfg.Enclosure != nil {
				return collection("Chassis Collection", chassisURI, chassisColl+"/"+enclosureID)
			}
			return collection("Chassis Collection", chassisURI)
		})
	case strings.HasPrefix(path, chassisColl+"/") && s.serveChassis(w, r, strings.TrimPrefix(path, chassisColl+"/")):
	case path == managersURI:
		s.get(w, r, func() obj { return collection("Manager Collection", managerURI) })
	case path == managerURI:
		s.get(w, r, s.manager)
	case path == sessSvcURI && !s.cfg.NoSessions:
		s.get(w, r, func() obj {
			return obj{"@odata.id": sessSvcURI, "@odata.type": "#SessionService.v1_1_8.SessionService",
				"Id": "SessionService", "Name": "Session Service", "ServiceEnabled": true,
				"SessionTimeout": 1800, "Sessions": link(sessionsURI)}
		})
	case path == sessionsURI && !s.cfg.NoSessions:
		s.get(w, r, s.sessionList)
	case strings.HasPrefix(path, sessionsURI+"/") && !s.cfg.NoSessions:
		s.session(w, r, strings.TrimPrefix(path, sessionsURI+"/"))
	default:
		writeError(w, http.StatusNotFound, "Base.1.0.ResourceMissingAtURI",
			"The resource at the URI "+r.URL.Path+" was not found.")
	}
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, body func() obj) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	s.mu.Lock()
	b := body()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, b)
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	data, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}

func writeError(w http.ResponseWriter, code int, msgID, msg string) {
	writeJSON(w, code, obj{"error": obj{
		"code":    msgID,
		"message": msg,
		"@Message.ExtendedInfo": []obj{{
			"@odata.type": "#Message.v1_1_1.Message",
			"MessageId":   msgID,
			"Message":     msg,
			"Severity":    "Warning",
		}},
	}})
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "Base.1.0.ActionNotSupported", "Method not allowed.")
}

func (s *Server) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="bmcsim"`)
	writeError(w, http.StatusUnauthorized, "Base.1.0.InsufficientPrivilege",
		"There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.")
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) authenticated(r *http.Request) bool {
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, t := range s.sessions {
			if equal(t, tok) {
				return true
			}
		}
		return false
	}
	u, p, ok := r.BasicAuth()
	return ok && equal(u, s.cfg.Username) && equal(p, s.cfg.Password)
}

func collection(name string, members ...string) obj {
	m := make([]obj, len(members))
	for i, u := range members {
		m[i] = link(u)
	}
	return obj{"Name": name, "Members": m, "Members@odata.count": len(m)}
}

func (s *Server) serviceRoot() obj {
	o := obj{
		"@odata.id":      root + "/",
		"@odata.type":    "#ServiceRoot.v1_5_0.ServiceRoot",
		"Id":             "RootService",
		"Name":           "Root Service",
		"RedfishVersion": s.cfg.RedfishVersion,
		"UUID":           "92384634-2938-2342-8820-489239905423",
		"Vendor":         s.cfg.Vendor,
		"Product":        s.cfg.Model,
		"Systems":        link(systemsURI),
		"Chassis":        link(chassisColl),
		"Managers":       link(managersURI),
	}
	if s.cfg.ExpandQuery {
		o["ProtocolFeaturesSupported"] = obj{"ExpandQuery": obj{
			"ExpandAll": false, "Levels": true, "MaxLevels": 1, "Links": false, "NoLinks": true}}
	}
	if !s.cfg.NoSessions {
		o["SessionService"] = link(sessSvcURI)
		o["Links"] = obj{"Sessions": link(sessionsURI)}
	}
	return o
}

func (s *Server) etagLocked() string { return `W/"` + strconv.Itoa(s.etag) + `"` }

func (s *Server) getSystem(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body := s.systemLocked()
	etag := s.etagLocked()
	s.mu.Unlock()
	w.Header().Set("ETag", etag)
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) systemLocked() obj {
	reset := obj{"target": resetURI}
	if s.cfg.ResetActionInfo {
		reset["@Redfish.ActionInfo"] = resetInfo
	} else {
		reset["ResetType@Redfish.AllowableValues"] = s.cfg.ResetTypes
	}
	o := obj{
		"@odata.id":    systemURI,
		"@odata.type":  "#ComputerSystem.v1_10_0.ComputerSystem",
		"@odata.etag":  s.etagLocked(),
		"Id":           systemID,
		"Name":         "System",
		"SystemType":   "Physical",
		"Manufacturer": s.cfg.Vendor,
		"Model":        s.cfg.Model,
		"SerialNumber": "SIM0001",
		"PowerState":   s.power,
		"Status":       obj{"State": "Enabled", "Health": "OK"},
		"Actions":      obj{"#ComputerSystem.Reset": reset},
		"Links": obj{
			"Chassis":   []obj{link(chassisURI)},
			"ManagedBy": []obj{link(managerURI)},
		},
	}
	if len(s.cfg.BootTargets) > 0 {
		o["Boot"] = obj{
			"BootSourceOverrideEnabled":                        s.boot.Enabled,
			"BootSourceOverrideTarget":                         s.boot.Target,
			"BootSourceOverrideMode":                           s.boot.Mode,
			"BootSourceOverrideTarget@Redfish.AllowableValues": s.cfg.BootTargets,
		}
	}
	return o
}

func (s *Server) resetActionInfo() obj {
	return obj{
		"@odata.id":   resetInfo,
		"@odata.type": "#ActionInfo.v1_1_2.ActionInfo",
		"Id":          "ResetActionInfo",
		"Name":        "Reset Action Info",
		"Parameters": []obj{{
			"Name":            "ResetType",
			"Required":        true,
			"DataType":        "String",
			"AllowableValues": s.cfg.ResetTypes,
		}},
	}
}

func (s *Server) patchSystem(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Boot *struct {
			BootSourceOverrideTarget  *string
			BootSourceOverrideEnabled *string
			BootSourceOverrideMode    *string
		}
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Base.1.0.MalformedJSON", "The request body is malformed JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	match := r.Header.Get("If-Match")
	if match == "" && s.cfg.RequireIfMatch {
		writeError(w, http.StatusPreconditionRequired, "Base.1.0.PreconditionRequired", "If-Match header required.")
		return
	}
	if match != "" && match != "*" && match != s.etagLocked() && "W/"+match != s.etagLocked() {
		writeError(w, http.StatusPreconditionFailed, "Base.1.0.PreconditionFailed", "ETag does not match.")
		return
	}
	if req.Boot == nil {
		writeError(w, http.StatusBadRequest, "Base.1.0.PropertyMissing", "Only Boot can be patched.")
		return
	}
	if len(s.cfg.BootTargets) == 0 {
		writeError(w, http.StatusBadRequest, "Base.1.0.PropertyUnknown", "The property Boot is not known.")
		return
	}
	b := s.boot
	if v := req.Boot.BootSourceOverrideTarget; v != nil {
		if !slices.Contains(s.cfg.BootTargets, *v) {
			writeError(w, http.StatusBadRequest, "Base.1.0.PropertyValueNotInList",
				fmt.Sprintf("The value %q for the property BootSourceOverrideTarget is not in the list of acceptable values.", *v))
			return
		}
		b.Target = *v
	}
	if v := req.Boot.BootSourceOverrideEnabled; v != nil {
		if !slices.Contains([]string{"Disabled", "Once", "Continuous"}, *v) {
			writeError(w, http.StatusBadRequest, "Base.1.0.PropertyValueNotInList",
				fmt.Sprintf("The value %q for the property BootSourceOverrideEnabled is not in the list of acceptable values.", *v))
			return
		}
		b.Enabled = *v
	}
	if v := req.Boot.BootSourceOverrideMode; v != nil {
		if *v != "Legacy" && *v != "UEFI" {
			writeError(w, http.StatusBadRequest, "Base.1.0.PropertyValueNotInList",
				fmt.Sprintf("The value %q for the property BootSourceOverrideMode is not in the list of acceptable values.", *v))
			return
		}
		b.Mode = *v
	}
	s.boot = b
	s.etag++
	w.Header().Set("ETag", s.etagLocked())
	writeJSON(w, http.StatusOK, s.systemLocked())
}

func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	var req struct{ ResetType string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Base.1.0.MalformedJSON", "The request body is malformed JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.cfg.ResetTypes, req.ResetType) {
		writeError(w, http.StatusBadRequest, "Base.1.0.ActionParameterValueNotInList",
			fmt.Sprintf("The value %q for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values.", req.ResetType))
		return
	}
	switch req.ResetType {
	case "On", "ForceOn":
		if s.power == "Off" {
			s.power = "On"
			s.bootLocked()
		}
	case "ForceOff", "GracefulShutdown":
		s.power = "Off"
	case "ForceRestart", "GracefulRestart":
		if s.power == "Off" {
			writeError(w, http.StatusConflict, "Base.1.0.ResourceInStandby",
				"The system is powered off; a restart is not possible.")
			return
		}
		s.bootLocked()
	case "PowerCycle":
		s.power = "On"
		s.bootLocked()
	case "PushPowerButton":
		if s.power == "On" {
			s.power = "Off"
		} else {
			s.power = "On"
			s.bootLocked()
		}
	case "Nmi":
	}
	s.resetLog = append(s.resetLog, req.ResetType)
	s.etag++
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) manager() obj {
	return obj{
		"@odata.id":       managerURI,
		"@odata.type":     "#Manager.v1_5_0.Manager",
		"Id":              managerID,
		"Name":            "Manager",
		"ManagerType":     "BMC",
		"Manufacturer":    s.cfg.Vendor,
		"Model":           s.cfg.Model,
		"FirmwareVersion": s.cfg.FirmwareVersion,
		"Status":          obj{"State": "Enabled", "Health": "OK"},
		"Links": obj{
			"ManagerForServers": []obj{link(systemURI)},
			"ManagerForChassis": []obj{link(chassisURI)},
		},
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct{ UserName, Password string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Base.1.0.MalformedJSON", "The request body is malformed JSON: "+err.Error())
		return
	}
	if !equal(req.UserName, s.cfg.Username) || !equal(req.Password, s.cfg.Password) {
		s.unauthorized(w)
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.nextSess++
	id := strconv.Itoa(s.nextSess)
	s.sessions[id] = token
	s.mu.Unlock()
	uri := sessionsURI + "/" + id
	w.Header().Set("X-Auth-Token", token)
	w.Header().Set("Location", uri)
	writeJSON(w, http.StatusCreated, obj{
		"@odata.id": uri, "@odata.type": "#Session.v1_0_0.Session",
		"Id": id, "Name": "User Session", "UserName": req.UserName,
	})
}

func (s *Server) sessionList() obj {
	ids := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	uris := make([]string, len(ids))
	for i, id := range ids {
		uris[i] = sessionsURI + "/" + id
	}
	return collection("Session Collection", uris...)
}

func (s *Server) session(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	_, ok := s.sessions[id]
	if ok && r.Method == http.MethodDelete {
		delete(s.sessions, id)
	}
	s.mu.Unlock()
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "Base.1.0.ResourceMissingAtURI", "No such session.")
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, obj{"@odata.id": sessionsURI + "/" + id, "Id": id, "Name": "User Session"})
	default:
		methodNotAllowed(w, "GET, DELETE")
	}
}
