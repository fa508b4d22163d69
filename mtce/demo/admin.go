package demo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"opendev.org/starlingx/metal-go/mtce/sim"
)

// AdminHandler is the demo's admin API. GET /v1/hosts and GET /v1/status
// are the running agent's (agent.Agent.AdminHandler; 503 while a swact
// moves it); POST /v1/hosts/{name}/{action} is a user action through the
// simulated SysInv, as [Demo.Action] (202, or 409 with SysInv's refusal);
// GET /v1/demo is [Demo.Snapshot]. It has no authentication: serve it on
// loopback or a unix socket only.
func (d *Demo) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	toAgent := func(w http.ResponseWriter, r *http.Request) {
		a := d.currentAgent()
		if a == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "fail", "reason": "no agent: a swact is moving it"})
			return
		}
		a.a.AdminHandler().ServeHTTP(w, r)
	}
	mux.HandleFunc("GET /v1/hosts", toAgent)
	mux.HandleFunc("GET /v1/status", toAgent)
	mux.HandleFunc("GET /v1/demo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Snapshot())
	})
	mux.HandleFunc("POST /v1/hosts/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		err := d.Action(ctx, r.PathValue("name"), r.PathValue("action"))
		var se *sim.SysInvError
		switch {
		case err == nil:
			writeJSON(w, http.StatusAccepted, map[string]string{"status": "pass"})
		case errors.Is(err, ErrUnknownHost):
			writeJSON(w, http.StatusNotFound, map[string]string{"status": "fail", "reason": err.Error()})
		case errors.As(err, &se):
			writeJSON(w, http.StatusConflict, map[string]string{"status": "fail", "reason": err.Error()})
		default:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "fail", "reason": err.Error()})
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
