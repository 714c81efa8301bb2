package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/saker-sec/saker/hub/api"
)

// routes builds the dashboard's router:
//
//	GET  /login, POST /login, POST /logout     session login (open)
//	GET  /healthz                              liveness (open)
//	GET  /assets/<hash>/…                      embedded assets, immutable
//	GET  /, /events, /events/{id}, /dashboard, /info, /api   the app (login required)
//	     /api/v1/events, /api/v1/events/{id}, /api/v1/stats   query API (login required)
//	GET  /api/v1/info, /api/v1/auth            Info page data, current user
//	GET  /api/v1/health                        store health for the outage banner
//	GET  /api/v1/export?format=json|csv&…      the filtered events as a file (streamed, capped)
//	GET  /api/v1/ws                            live websocket (login required)
//	     /api/v1/forwarders/…                  forwarder status and dead letters (Options.ForwardersAPI)
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	// Probes reach /healthz by whatever address they have; it shows
	// nothing worth rebinding for unless the caller is logged in.
	r.Get("/healthz", s.healthz)
	r.Group(func(r chi.Router) {
		r.Use(s.hosts.check)
		s.hostRoutes(r)
	})
	return r
}

// hostRoutes are the routes served only under an allowed Host.
func (s *Server) hostRoutes(r chi.Router) {
	r.Get("/login", s.loginPage)
	r.Post("/login", s.login)
	r.With(sameOriginWrites).Post("/logout", s.logout)
	r.Get("/assets/{hash}/*", s.assets.serve)
	r.Get("/favicon.svg", s.assets.serveFavicon)

	r.Group(func(r chi.Router) {
		r.Use(s.auth.requirePage)
		for _, p := range []string{"/", "/events", "/events/{id}", "/dashboard", "/info", "/api"} {
			r.Get(p, s.assets.serveIndex)
		}
	})

	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.auth.requireAPI, sameOriginWrites)
		r.Get("/ws", s.serveWS)
		r.Get("/info", s.info)
		r.Get("/auth", s.whoami)
		r.Get("/health", s.health)
		r.Get("/export", s.export)
		apiH := s.opts.API
		if apiH == nil {
			apiH = api.QueryRoutes(s.opts.Store)
		}
		for _, p := range []string{"/events", "/events/{id}", "/stats"} {
			r.Handle(p, http.StripPrefix("/api/v1", freshRouting(apiH)))
		}
		if s.opts.ForwardersAPI != nil {
			fw := http.StripPrefix("/api/v1/forwarders", freshRouting(s.opts.ForwardersAPI))
			r.Handle("/forwarders", fw)
			r.Handle("/forwarders/*", fw)
		}
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		})
	})
}

// freshRouting hands a request to another router (hub/api's) as if it
// came straight from the server, so its own chi routing starts clean.
func freshRouting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, nil)))
	})
}

// securityHeaders keeps the dashboard out of frames and other sites'
// scripts out of the page.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
			"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		next.ServeHTTP(w, r)
	})
}

// healthz is liveness for probes: the dashboard serves. The store's
// state and location are shown to a logged-in caller only.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"status": "ok"}
	if _, ok := s.auth.user(r); ok && s.hosts.allows(r.Host) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		out["store"] = s.opts.Store.Health(ctx)
	}
	writeJSON(w, http.StatusOK, out)
}

// sameOriginWrites refuses state-changing requests (POST, DELETE…) that a
// browser sent from another site: the session cookie is SameSite=Lax, and
// this checks Origin (or Referer) against Host as well. Scripts using a
// token or basic auth send neither header and are not affected.
func sameOriginWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			src := r.Header.Get("Origin")
			if src == "" {
				src = r.Header.Get("Referer")
			}
			if src != "" {
				u, err := url.Parse(src)
				if err != nil || !strings.EqualFold(u.Host, r.Host) {
					writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused"})
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
