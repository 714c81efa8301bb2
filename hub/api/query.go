package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/store"
)

// Querier is the read side of store.Store the query routes use.
type Querier interface {
	Get(ctx context.Context, id string) (store.Event, error)
	Query(ctx context.Context, q store.Query) (store.Page, error)
	Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error)
}

// QueryRoutes serves the read API relative to /api/v1:
//
//	GET /events        a page of events, newest event time first
//	GET /events/{id}   one event
//	GET /stats         aggregate counts and a time series
//
// Mount it under /api/v1: with chi, r.Mount("/api/v1", api.QueryRoutes(st));
// with net/http, mux.Handle("/api/v1/", http.StripPrefix("/api/v1", h)).
// The dashboard mounts it behind its login; the hub on :2801 serves it too.
func QueryRoutes(q Querier) http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: "+r.URL.Path)
	})
	r.MethodNotAllowed(methodNotAllowed)
	registerQuery(r, q)
	return r
}

// ListedEvent is an event as the query API and the dashboard's live feed
// hand it out: the stored event and Cursor, the paging cursor just after
// it (pass it as before to get the events that follow it in query order),
// so clients never build the store's cursors themselves.
type ListedEvent struct {
	*store.Event
	Cursor string `json:"cursor"`
}

// Listed is e with its cursor (store.PositionOf(e).Cursor()).
func Listed(e *store.Event) ListedEvent {
	return ListedEvent{Event: e, Cursor: store.PositionOf(e).Cursor()}
}

// listedPage is store.Page with each event's cursor.
type listedPage struct {
	Events []ListedEvent `json:"events"`
	Next   string        `json:"next,omitempty"`
}

// maxCursor bounds a paging cursor's length.
const maxCursor = 4096

func registerQuery(r chi.Router, q Querier) {
	r.Get("/events", func(w http.ResponseWriter, r *http.Request) {
		qs := r.URL.Query()
		f, err := ParseFilter(qs, time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		query := store.Query{Filter: f}
		if v := qs.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a positive integer, got %q", v))
				return
			}
			query.Limit = min(n, store.MaxLimit)
		}
		// The cursor is the store's (an event ID, or one position per shard
		// of a sharded store): the store says whether it can read it.
		if v := qs.Get("before"); v != "" {
			if len(v) > maxCursor {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("before must be a page's next cursor, got %d bytes", len(v)))
				return
			}
			query.Before = v
		}
		page, err := q.Query(r.Context(), query)
		if errors.Is(err, store.ErrBadCursor) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("before must be a page's next cursor, got %q", query.Before))
			return
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "query store: "+err.Error())
			return
		}
		listed := listedPage{Events: make([]ListedEvent, len(page.Events)), Next: page.Next}
		for i := range page.Events {
			listed.Events[i] = Listed(&page.Events[i])
		}
		writeJSON(w, http.StatusOK, listed)
	})
	r.Get("/events/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		if _, _, err := store.ParseID(id); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad event id %q", id))
			return
		}
		ev, err := q.Get(r.Context(), id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, fmt.Sprintf("event %s not found", id))
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "get event: "+err.Error())
		default:
			writeJSON(w, http.StatusOK, Listed(&ev))
		}
	})
	r.Get("/stats", func(w http.ResponseWriter, r *http.Request) {
		qs := r.URL.Query()
		f, err := ParseFilter(qs, time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		sq := store.StatsQuery{Filter: f}
		if v := qs.Get("bucket"); v != "" {
			d, err := config.ParseDuration(v)
			if err != nil || d < time.Minute || d%time.Minute != 0 {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("bucket must be a whole number of minutes such as 1m, 5m or 1h, got %q", v))
				return
			}
			sq.Bucket = d
		}
		if v := qs.Get("top"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("top must be an integer 1-1000, got %q", v))
				return
			}
			sq.Top = n
		}
		st, err := q.Stats(r.Context(), sq)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "stats: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
}

// ParseFilter reads the common query parameters:
//
//	since, until  bounds on the alerts' own time (see store.EventMs): RFC
//	              3339, or a duration back from now (15m, 24h, 7d)
//	priority      minimum priority (warning = warning and more severe)
//	priorities    exact priorities, comma-separated or repeated (warning,error);
//	              with priority, both apply
//	rule          exact rule name; repeat the parameter for several
//	source, hostname, tags   comma-separated or repeated; tags must all match
//	q             case-insensitive text in output, rule or field values
//	field         name=value: an output field with exactly this value
//	              (response.alert_id=<uuid>); repeated: any of the values
//	              of one name, every name
//	uuid          alert uuids, comma-separated or repeated
func ParseFilter(qs url.Values, now time.Time) (store.Filter, error) {
	var f store.Filter
	var err error
	if f.Since, err = parseTime(qs.Get("since"), now); err != nil {
		return f, fmt.Errorf("since: %w", err)
	}
	if f.Until, err = parseTime(qs.Get("until"), now); err != nil {
		return f, fmt.Errorf("until: %w", err)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return f, fmt.Errorf("until is before since")
	}
	if v := qs.Get("priority"); v != "" {
		if f.MinPriority, err = alert.ParsePriority(v); err != nil {
			return f, fmt.Errorf("priority: %w", err)
		}
	}
	for _, v := range splitList(qs["priorities"]) {
		p, err := alert.ParsePriority(v)
		if err != nil {
			return f, fmt.Errorf("priorities: %w", err)
		}
		if !slices.Contains(f.Priorities, p) {
			f.Priorities = append(f.Priorities, p)
		}
	}
	for _, r := range qs["rule"] {
		if r != "" {
			f.Rules = append(f.Rules, r)
		}
	}
	f.Sources = splitList(qs["source"])
	f.Hostnames = splitList(qs["hostname"])
	f.Tags = splitList(qs["tags"])
	f.Tags = append(f.Tags, splitList(qs["tag"])...)
	f.Text = strings.TrimSpace(qs.Get("q"))
	for _, v := range qs["field"] {
		name, val, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return f, fmt.Errorf("field: want name=value, such as response.alert_id=<uuid>, got %q", v)
		}
		if f.Fields == nil {
			f.Fields = map[string][]string{}
		}
		f.Fields[name] = append(f.Fields[name], val)
	}
	f.UUIDs = splitList(qs["uuid"])
	return f, nil
}

func parseTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := config.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time or a duration such as 15m or 24h, got %q", v)
}

func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client is gone when this fails; nothing to do
}

// writeError sends {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
}
