package web

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/saker-sec/saker/hub/api"
	"github.com/saker-sec/saker/hub/store"
)

// Export caps: a default that a browser download handles well, and a hard
// ceiling for scripts.
const (
	exportDefault = 10000
	exportMax     = 100000
)

// export streams every event the filter selects (the query API's filter
// parameters), newest first, as JSON or CSV, page by page from the store
// so memory stays flat. At most limit events are written (default 10,000,
// at most 100,000); the output says when it stopped at the cap:
//
//	GET /api/v1/export?format=json|csv&limit=N&<filters>
//
// JSON: {"events":[…],"count":N,"limit":L,"truncated":bool}
// CSV: a header row, one row per event, and when truncated a final row
// "# truncated: more than L events match; narrow the filter or raise limit".
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	f, err := api.ParseFilter(qs, time.Now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	format := qs.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("format must be json or csv, got %q", format)})
		return
	}
	limit := exportDefault
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > exportMax {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("limit must be 1-%d, got %q", exportMax, v)})
			return
		}
		limit = n
	}
	// The first page is read before any byte is written, so a store
	// outage is a clean 503 rather than a truncated file.
	q := store.Query{Filter: f, Limit: min(limit+1, store.MaxLimit)}
	page, err := s.opts.Store.Query(r.Context(), q)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "query store: " + err.Error()})
		return
	}
	name := "saker-events-" + time.Now().UTC().Format("20060102-150405") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Export-Limit", strconv.Itoa(limit))
	var out exportWriter
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		out = newCSVExport(w)
	} else {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		out = &jsonExport{w: w}
	}
	flusher, _ := w.(http.Flusher)
	n, truncated := 0, false
	var failed error
	out.begin()
pages:
	for {
		for i := range page.Events {
			if n == limit {
				truncated = true
				break pages
			}
			if err := out.event(&page.Events[i]); err != nil {
				return // the client went away
			}
			n++
		}
		if page.Next == "" {
			break
		}
		if flusher != nil {
			flusher.Flush()
		}
		q.Before = page.Next
		if page, err = s.opts.Store.Query(r.Context(), q); err != nil {
			failed = err
			break
		}
	}
	if failed != nil {
		s.log.Warn("dashboard export stopped", "after", n, "err", failed)
	}
	out.end(n, limit, truncated, failed)
}

type exportWriter interface {
	begin()
	event(e *store.Event) error
	end(n, limit int, truncated bool, failed error)
}

type jsonExport struct {
	w http.ResponseWriter
	n int
}

func (j *jsonExport) begin() { fmt.Fprint(j.w, `{"events":[`) }

func (j *jsonExport) event(e *store.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if j.n > 0 {
		b = append([]byte{',', '\n'}, b...)
	}
	j.n++
	_, err = j.w.Write(b)
	return err
}

func (j *jsonExport) end(n, limit int, truncated bool, failed error) {
	tail := map[string]any{"count": n, "limit": limit, "truncated": truncated}
	if failed != nil {
		tail["error"] = "store failed during the export; the list is incomplete: " + failed.Error()
	}
	b, _ := json.Marshal(tail)
	// Splice the summary fields after the array: {"events":[…],"count":…}
	fmt.Fprintf(j.w, "],%s\n", b[1:])
}

// csvColumns are the alert's own fields; output fields follow as one JSON
// column so every row has the same columns whatever the rules.
var csvColumns = []string{"id", "time", "received", "priority", "rule", "source", "hostname", "tags", "output", "output_fields", "uuid"}

type csvExport struct{ w *csv.Writer }

func newCSVExport(w http.ResponseWriter) *csvExport { return &csvExport{w: csv.NewWriter(w)} }

func (c *csvExport) begin() { _ = c.w.Write(csvColumns) }

func (c *csvExport) event(e *store.Event) error {
	fields, _ := json.Marshal(e.OutputFields)
	tags := append([]string(nil), e.Tags...)
	sort.Strings(tags)
	rec := []string{e.ID, e.Time.UTC().Format(time.RFC3339Nano), receivedAt(e), e.Priority.String(), e.Rule, e.Source, e.Hostname,
		strings.Join(tags, ","), e.Output, string(fields), e.UUID}
	for i, v := range rec {
		rec[i] = csvSafe(v)
	}
	if err := c.w.Write(rec); err != nil {
		return err
	}
	return c.w.Error()
}

func (c *csvExport) end(n, limit int, truncated bool, failed error) {
	switch {
	case failed != nil:
		_ = c.w.Write([]string{"# incomplete: the store failed after " + strconv.Itoa(n) + " events: " + failed.Error()})
	case truncated:
		_ = c.w.Write([]string{fmt.Sprintf("# truncated: more than %d events match; narrow the filter or raise limit (max %d)", limit, exportMax)})
	}
	c.w.Flush()
}

// csvSafe keeps alert text from being run as a formula by spreadsheets
// (alerts carry attacker-controlled command lines).
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// receivedAt is when the hub stored an event.
func receivedAt(e *store.Event) string {
	r := e.Received
	if r.IsZero() {
		r = store.IDTime(e.ID)
	}
	if r.IsZero() {
		return ""
	}
	return r.UTC().Format(time.RFC3339Nano)
}
