package eventapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"opendev.org/starlingx/metal-go/mtce"
	"opendev.org/starlingx/metal-go/mtce/swact"
)

// Reply is the handler's answer to one request: the HTTP status code and
// the one-line JSON body. Accepted requests have Code 200 (202 for VIM's
// host list while an add is unfinished) and RC [mtce.Pass]; a refusal has
// the return code of spec J.9 and a Reason and Action (the remedy hint;
// SM's replies carry "event").
type Reply struct {
	Code   int
	RC     mtce.RC
	Reason string
	Action string

	data any    // VIM's data replies; nil for status replies
	raw  []byte // a data reply already encoded (one line ending in "\n"); wins over data
}

// Pass reports whether the reply's body says "status":"pass" (or is one
// of VIM's data replies).
func (r Reply) Pass() bool { return r.RC == mtce.Pass }

type statusBody struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Action string `json:"action,omitempty"`
}

// Body returns the reply body: one line of JSON ending in "\n", whatever
// the code (SM reads only the first line, spec J.11). A refusal always
// carries both "reason" and "action" (sysinv formats both).
func (r Reply) Body() []byte {
	if r.raw != nil {
		return r.raw
	}
	var v any = r.data
	if v == nil {
		if r.Pass() {
			v = statusBody{Status: "pass"}
		} else {
			reason, action := r.Reason, r.Action
			if reason == "" {
				reason = "Unknown"
			}
			if action == "" {
				action = "Undetermined"
			}
			v = statusBody{Status: "fail", Reason: reason, Action: action}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b) // Encode appends the one "\n"
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own types are encoded; this cannot happen.
		return []byte(`{"status":"fail","reason":"Unknown","action":"Undetermined"}` + "\n")
	}
	return b.Bytes()
}

// Phrase returns the reason phrase of the status line. For 2xx codes it is
// Go's standard phrase ("OK", "Accepted").
//
// SysInv reads a non-2xx reply through rest_api_request (starlingx/config
// sysinv/common/rest_api.py): `response = json.loads(e.msg)` on the reason
// phrase, then `raise`, inside a try whose `finally: return response`
// swallows both the raise and a decode error. So a phrase that is a JSON
// object is read as the reply itself (a fail shows the user "Operation
// Rejected: <reason>. <action>."); a phrase that is not JSON reads as "no
// response" (a modify is retried, up to 3 tries 3 s apart); and a phrase
// that decodes to a JSON string, number or list would crash SysInv's API.
// (Spec J.11 says the phrase is decoded "as a JSON string" and that Go's
// "Not Found" would crash SysInv; the code above says otherwise: "Not Found"
// is not JSON and reads as "no response".)
//
// Every non-2xx phrase is therefore either the body's JSON object text, as
// StarlingX's evhttp_send_error writes it, so that SysInv sees the same
// refusal as SM and the VIM — or, for 503 (the agent was too busy to take
// the request and did nothing), a plain phrase that is not JSON, so that
// SysInv retries instead of reporting a refusal. The phrase is cut to 512
// bytes and any byte outside printable ASCII is replaced by '?', so it is
// always a valid reason phrase. A cut JSON phrase is no longer JSON, which
// SysInv reads as "no response"; replies are far below 512 bytes.
func (r Reply) Phrase() string {
	if r.Code >= 200 && r.Code < 300 {
		return http.StatusText(r.Code)
	}
	if r.Code == http.StatusServiceUnavailable {
		return busyPhrase
	}
	b := bytes.TrimSuffix(r.Body(), []byte("\n"))
	if len(b) > maxPhrase {
		b = b[:maxPhrase]
	}
	p := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		p[i] = c
	}
	return string(p)
}

// StatusLine returns "HTTP/1.1 <code> <phrase>" (without CRLF).
func (r Reply) StatusLine() string {
	return "HTTP/1.1 " + strconv.Itoa(r.Code) + " " + r.Phrase()
}

// busyPhrase is the 503 reason phrase: not JSON, so SysInv retries.
const busyPhrase = "Service Unavailable - maintenance is busy and took no action, retry"

func pass() Reply                { return Reply{Code: http.StatusOK} }
func data(code int, v any) Reply { return Reply{Code: code, data: v} }

// fail builds a refusal.
func fail(code int, rc mtce.RC, reason, action string) Reply {
	if rc == mtce.Pass {
		rc = mtce.Fail
	}
	return Reply{Code: code, RC: rc, Reason: reason, Action: action}
}

// The texts below paraphrase spec J.9's gist: the exact wording of mtce's
// _create_error_response is not in the spec. The exception is the swact
// in progress rejection, whose reason and action make sysinv print
// swact.InProgressReason exactly ("Operation Rejected: <reason>.
// <action>.").
const (
	swactInProgressReason = "Swact operation on this host already in-progress"
	swactInProgressAction = "Wait for current operation to complete and then retry"
)

// rejectSysinv is a sysinv add/modify refusal: HTTP 200 with status fail
// (sysinv reads only the body's status, spec J.3).
func rejectSysinv(rc mtce.RC, f Fields, detail string) Reply {
	r := Reply{Code: http.StatusOK, RC: rc}
	switch rc {
	case mtce.FailSwactInProgress:
		r.Reason, r.Action = swactInProgressReason, swactInProgressAction
	case mtce.FailPatchInProgress:
		r.Reason, r.Action = "Operation not allowed while patching is in progress", "Wait for patching to complete and then retry"
	case mtce.FailResetPowerOff:
		r.Reason, r.Action = "Cannot reset a host that is powered off", "Power-on the host instead"
	case mtce.FailBMProvisionErr:
		r.Reason, r.Action = "Board management controller provisioning check failed", "Provision the host's bm_type, bm_ip and bm_username and retry"
	case mtce.FailAdminAction:
		r.Reason, r.Action = fmt.Sprintf("Action '%s' is not supported by maintenance", detail), "Use lock, force-lock, unlock, swact, force-swact, reboot, reinstall, reset, power-on or power-off"
	case mtce.FailDupHostname:
		r.Reason, r.Action = "Duplicate hostname", fmt.Sprintf("Delete the other host with hostname '%s' first", f.Hostname)
	case mtce.FailDupIPAddr:
		r.Reason, r.Action = "Duplicate IP address", fmt.Sprintf("Delete the other host with IP address '%s' first", detail)
	case mtce.FailDupMACAddr:
		r.Reason, r.Action = "Duplicate MAC address", fmt.Sprintf("Delete the other host with MAC address '%s' first", f.MgmtMAC)
	case mtce.FailReservedName:
		r.Reason, r.Action = fmt.Sprintf("Hostname '%s' is reserved", f.Hostname), fmt.Sprintf("Hostname '%s' requires the %s personality", f.Hostname, detail)
	default:
		r.Reason, r.Action = "Unknown", "Undetermined"
	}
	return r
}

// fromSwact turns the swact controller's refusal into a sysinv reply.
func fromSwact(e *swact.RejectError, f Fields) Reply {
	if e.Code == mtce.FailSwactInProgress {
		return rejectSysinv(mtce.FailSwactInProgress, f, "")
	}
	return Reply{Code: http.StatusOK, RC: e.Code, Reason: trimDot(e.Reason), Action: trimDot(e.Hint)}
}

func trimDot(s string) string {
	for len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// The HTTP-level refusals.
func badJSON() Reply {
	return fail(http.StatusBadRequest, mtce.FailJSONParse, "Failed to parse the request", "Check the request and retry")
}

func forbidden() Reply {
	return fail(http.StatusForbidden, mtce.FailInvalidData, "Unknown client or path", "Use User-Agent sysinv/1.0, vim/1.0 or sm/1.0 with its path")
}

func notFound(id string) Reply {
	return fail(http.StatusNotFound, mtce.FailUnknownHostname, fmt.Sprintf("Host '%s' not found", id), "Check the host's name or uuid")
}

func emptyBody() Reply {
	return fail(http.StatusLengthRequired, mtce.FailJSONParse, "Request body is empty", "Send the request's JSON body")
}

func tooLarge() Reply {
	return fail(http.StatusRequestEntityTooLarge, mtce.FailJSONParse, "Request body is too large", "Send a smaller body")
}

func notImplemented(method string) Reply {
	return fail(http.StatusNotImplemented, mtce.FailInvalidOperation, fmt.Sprintf("Method %s is not supported", method), "Use GET, POST, PATCH or DELETE")
}

func busy() Reply {
	return fail(http.StatusServiceUnavailable, mtce.FailTimeout, "Maintenance is busy and took no action", "Retry")
}

func internal() Reply {
	return fail(http.StatusInternalServerError, mtce.Fail, "Maintenance could not take the request", "Retry")
}
