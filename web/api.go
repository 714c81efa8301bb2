package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// The query routes below serve the dashboard when no Options.API (hub/api)
// is given. They accept the same parameters as hub/api:
//
//	since     duration back from now ("15m", "24h") or RFC 3339 time
//	until     RFC 3339 time
//	priority  minimum priority (case-insensitive Falco name)
//	rule, source, hostname   repeatable, exact
//	tags      comma-separated (or repeated "tag"); events carrying all
//	q         free text (aliases: text, filter)
//	limit, before            page size and cursor (events only)
//	bucket, top              time-series resolution and ranked-list length (stats only)

func parseFilter(v url.Values, now time.Time) (store.Filter, error) {
	var f store.Filter
	if s := v.Get("since"); s != "" {
		t, err := parseTime(s, now)
		if err != nil {
			return f, fmt.Errorf("since: %w", err)
		}
		f.Since = t
	}
	if s := v.Get("until"); s != "" {
		t, err := parseTime(s, now)
		if err != nil {
			return f, fmt.Errorf("until: %w", err)
		}
		f.Until = t
	}
	if s := first(v, "priority", "min_priority"); s != "" {
		p, err := alert.ParsePriority(s)
		if err != nil {
			return f, err
		}
		f.MinPriority = p
	}
	f.Rules = values(v, "rule")
	f.Sources = values(v, "source")
	f.Hostnames = values(v, "hostname")
	for _, t := range append(values(v, "tag"), values(v, "tags")...) {
		for _, p := range strings.Split(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				f.Tags = append(f.Tags, p)
			}
		}
	}
	f.Text = strings.TrimSpace(first(v, "q", "text", "filter"))
	return f, nil
}

// parseTime reads "15m" as now-15m, else an RFC 3339 time.
func parseTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if strings.HasSuffix(s, "d") {
		if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a duration like 15m or an RFC 3339 time, got %q", s)
	}
	return t, nil
}

func first(v url.Values, names ...string) string {
	for _, n := range names {
		if s := v.Get(n); s != "" {
			return s
		}
	}
	return ""
}

func values(v url.Values, name string) []string {
	var out []string
	for _, s := range v[name] {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	f, err := parseFilter(v, time.Now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	q := store.Query{Filter: f, Before: v.Get("before")}
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a positive integer"})
			return
		}
	}
	if q.Before != "" {
		if _, _, err := store.ParseID(q.Before); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	}
	p, err := s.opts.Store.Query(r.Context(), q)
	if err != nil {
		s.log.Error("dashboard query", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "query failed"})
		return
	}
	if p.Events == nil {
		p.Events = []store.Event{}
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	ev, err := s.opts.Store.Get(r.Context(), chi.URLParam(r, "id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "event not found"})
	case err != nil:
		s.log.Error("dashboard get event", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "lookup failed"})
	default:
		writeJSON(w, http.StatusOK, ev)
	}
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	f, err := parseFilter(v, time.Now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	q := store.StatsQuery{Filter: f}
	if b := v.Get("bucket"); b != "" {
		if q.Bucket, err = time.ParseDuration(b); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bucket: " + err.Error()})
			return
		}
	}
	if t := v.Get("top"); t != "" {
		q.Top, _ = strconv.Atoi(t)
	}
	st, err := s.opts.Store.Stats(r.Context(), q)
	if err != nil {
		s.log.Error("dashboard stats", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "stats failed"})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// info serves the Info page: version, store and forwarder health.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{
		"version":      s.opts.Version,
		"store":        s.opts.Store.Health(r.Context()),
		"forwarders":   []ForwarderStatus{},
		"live_clients": s.hub.clients(),
		"auth":         !s.auth.cfg.Disabled,
		"time":         time.Now().UTC(),
		"info":         s.opts.Info,
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
	writeJSON(w, http.StatusOK, map[string]any{"user": u, "auth": !s.auth.cfg.Disabled})
}
