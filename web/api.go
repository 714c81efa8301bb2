package web

import (
	"context"
	"net/http"
	"time"

	"github.com/saker-sec/saker/forwarders/status"
)

// info serves the Info page: version, store and forwarder health.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{
		"version":      s.opts.Version,
		"store":        s.opts.Store.Health(r.Context()),
		"forwarders":   []status.Target{},
		"live_clients": s.hub.clients(),
		"auth":         !s.auth.cfg.Disabled,
		"time":         time.Now().UTC(),
		"info":         s.opts.Info,
	}
	if s.opts.Config != nil {
		out["config"] = s.opts.Config
	}
	if s.opts.Forwarders != nil {
		if fs := s.opts.Forwarders(r.Context()); fs != nil {
			out["forwarders"] = fs
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	u, _ := s.auth.user(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"user": u, "auth": !s.auth.cfg.Disabled,
		// The UI shows a banner while either holds.
		"default_credentials": s.auth.cfg.defaultCredentials(),
		"auth_disabled":       s.auth.cfg.Disabled,
	})
}

// health is the store's state for the page-wide outage banner, polled by
// every open tab.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	writeJSON(w, http.StatusOK, map[string]any{"store": s.opts.Store.Health(ctx), "time": time.Now().UTC()})
}
