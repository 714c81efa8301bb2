// Package web is Saker's dashboard, served by the hub on :2802: a login
// page, a single-page app (embedded with go:embed, plain ES modules and
// hand-made SVG charts, no Node toolchain), the hub's query API mounted
// behind the login, and a websocket that pushes newly stored alerts to
// browsers with gap-free resume.
//
// Wiring (from hub.go or cmd/saker):
//
//	h, err := web.New(web.Options{
//		Store:      st,                 // store.Store satisfies web.Store
//		Version:    version,
//		Forwarders: disp.Status,        // optional: forwarders.Dispatcher.Status
//		Auth:       web.LoadAuth(src),  // SAKER_UI_USER / FALCOSIDEKICK_UI_USER, *_DISABLEAUTH
//		Sessions:   sessions,           // web/session: Redis or a file shared by replicas
//		LoginLimiter: limiter,          // web/loginlimit.Redis shared by replicas; nil: per process
//		TLS:        web.LoadTLS(src),   // UI_TLSSERVER_*
//		Config:     &effective,         // optional: src.Effective(), shown on the Info page
//	})
//	srv := &http.Server{Addr: ":2802", Handler: h}
//
// The returned handler also implements io.Closer; Close stops the websocket
// fan-out and disconnects browsers (call it on shutdown, before the store
// is closed).
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/saker-sec/saker/forwarders/status"
	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/web/loginlimit"
	"github.com/saker-sec/saker/web/session"
)

// Store is the part of store.Store the dashboard reads. Tail (from Head) feeds the
// websocket (one shared tail per hub process, whatever the number of
// browsers) and replays the gap of a reconnecting browser; Query, Get and
// Stats serve the query API (hub/api.QueryRoutes) when Options.API is nil.
type Store interface {
	Query(ctx context.Context, q store.Query) (store.Page, error)
	Get(ctx context.Context, id string) (store.Event, error)
	Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error)
	Tail(ctx context.Context, after string, max int, block time.Duration) ([]store.Event, error)
	Head(ctx context.Context) (string, error)
	Health(ctx context.Context) store.Health
}

// Options configures the dashboard. Only Store is required.
type Options struct {
	// Store is read for the API fallback, the websocket tail and health.
	Store Store
	// API serves /events, /events/{id} and /stats relative to /api/v1;
	// the dashboard mounts it under /api/v1 behind the login. nil means
	// hub/api.QueryRoutes(Store).
	API http.Handler
	// Version is shown on the Info page.
	Version string
	// Forwarders reports forwarder health and lag for the Info page
	// (forwarders.Dispatcher.Status); nil shows none configured.
	Forwarders status.Func
	// ForwardersAPI serves the forwarders' status and dead letters (list,
	// inspect, replay, drop: forwarders.Dispatcher.Handler), mounted at
	// /api/v1/forwarders behind the login; nil serves none.
	ForwardersAPI http.Handler
	// Info adds free-form key/values to the Info page (listen addresses,
	// retention…).
	Info map[string]string
	// Config is the hub's effective configuration (secrets masked) with
	// its warnings, shown on the Info page; nil shows none.
	Config *config.Effective
	// Auth is the login configuration; see LoadAuth.
	Auth Auth
	// Sessions keeps login sessions; hub replicas must share one (see
	// package web/session). nil keeps them in this process only.
	Sessions session.Store
	// LoginLimiter counts failed logins; hub replicas should share one
	// (loginlimit.Redis). While it cannot answer, and when nil, each
	// process counts alone (loginlimit.Memory, DefaultPolicy).
	LoginLimiter LoginLimiter
	// TLS is the dashboard listener's TLS setting; the caller serves TLS
	// with TLS.ServerConfig, the dashboard marks its cookies Secure.
	TLS TLS
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger

	// QueueSize bounds each browser's queue of undelivered live events;
	// a browser further behind is told it lagged, disconnected, and
	// resyncs from the store. 0 means 4096.
	QueueSize int
	// WriteTimeout bounds each websocket write; 0 means 10 s.
	WriteTimeout time.Duration
	// SessionRecheck is how often an open websocket re-checks its login,
	// so a logout (or a password change) also ends live feeds opened with
	// the session; 0 means 30 s.
	SessionRecheck time.Duration
	// ReplayLimit bounds how many missed events a reconnecting browser is
	// replayed before it is told to reload instead; 0 means 10000.
	ReplayLimit int
}

// Server is the dashboard handler returned by New.
type Server struct {
	opts   Options
	log    *slog.Logger
	mux    http.Handler
	auth   *authenticator
	hosts  hostPolicy
	hub    *broadcaster
	assets *assets
}

// New builds the dashboard handler.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("web: Options.Store is required")
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.SessionRecheck <= 0 {
		o.SessionRecheck = 30 * time.Second
	}
	if o.ReplayLimit <= 0 {
		o.ReplayLimit = 10000
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	s := &Server{opts: o, log: o.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	var err error
	limits := &loginLimits{shared: o.LoginLimiter, local: loginlimit.NewMemory(loginlimit.DefaultPolicy(), time.Now), log: s.log}
	if s.auth, err = newAuthenticator(o.Auth, o.Sessions, limits, time.Now); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if o.TLS.Enabled {
		s.auth.cfg.SecureCookies = true
	}
	s.hosts = newHostPolicy(o.Auth.AllowedHosts)
	switch {
	case o.Auth.Disabled:
		s.log.Warn("DASHBOARD LOGIN IS DISABLED: anyone who reaches the dashboard port reads every alert; use only behind your own authenticating proxy")
	case s.auth.cfg.defaultCredentials():
		s.log.Warn("DASHBOARD USES THE DEFAULT LOGIN admin:admin: set SAKER_UI_USER=user:password before exposing it")
	}
	if s.assets, err = loadAssets(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s.hub = newBroadcaster(o.Store, s.log)
	s.mux = s.routes()
	return s, nil
}

// ServeHTTP serves the dashboard.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops the live feed and disconnects every browser.
func (s *Server) Close() error {
	s.hub.close()
	return nil
}

var _ io.Closer = (*Server)(nil)
