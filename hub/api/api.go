package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/ingest"
	"github.com/saker-sec/saker/hub/metrics"
	"github.com/saker-sec/saker/hub/store"
)

// Store is what the ingestion side needs from store.Store.
type Store interface {
	Querier
	Append(ctx context.Context, alerts []alert.Alert) ([]string, error)
	Health(ctx context.Context) store.Health
}

// Server holds the ingestion API's dependencies.
type Server struct {
	Store    Store
	Enricher *ingest.Enricher
	Metrics  *metrics.Metrics
	Gatherer prometheus.Gatherer // served on /metrics; nil = prometheus.DefaultGatherer
	Log      *slog.Logger
	Debug    bool // log every accepted payload, as sidekick's DEBUG does

	BodyLimit      int64 // bytes of one alert; larger → 413
	BatchBodyLimit int64 // bytes of one batch; larger → 413
	BatchMaxEvents int   // alerts in one batch; more → 400

	// K8sAudit evaluates Kubernetes audit webhook bodies on POST
	// /k8s-audit; nil leaves the route unserved.
	K8sAudit AuditEvaluator
	// K8sAuditBodyLimit bounds one audit webhook body (compressed and
	// decompressed); larger → 413.
	K8sAuditBodyLimit int64

	writes  writeHealth
	errLog  throttle // store failures: one log line per interval, not one per request
	healthz probe
}

// AuditEvaluator turns one Kubernetes audit webhook body into alerts
// (hub/k8saudit). A malformed body is an error and raises nothing.
type AuditEvaluator interface {
	Evaluate(body []byte) (events int, alerts []alert.Alert, err error)
}

// K8sAuditPath is where API servers' audit webhooks POST, as for Falco's
// k8saudit plugin.
const K8sAuditPath = "/k8s-audit"

// TestRule is the rule name of the alert POST /test injects.
const TestRule = alert.TestRule

// Handler returns the :2801 router: sidekick's routes plus the batch and
// query API.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Metrics == nil {
		s.Metrics = metrics.New(nil)
	}
	g := s.Gatherer
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	r := chi.NewRouter()
	r.Use(s.observe)
	// Sidekick serves its main handler on "/" and on every path no other
	// route matches, so Falco's http_output.url may end in any path.
	r.NotFound(s.handleOne)
	r.MethodNotAllowed(methodNotAllowed)
	r.HandleFunc("/", s.handleOne)
	r.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "pong\n")
	})
	r.HandleFunc("/healthz", s.handleHealth)
	r.HandleFunc("/test", s.handleTest)
	if s.K8sAudit != nil {
		r.Post(K8sAuditPath, s.handleK8sAudit)
	}
	r.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	r.Route("/api/v1", func(r chi.Router) {
		r.NotFound(s.handleOne)
		r.MethodNotAllowed(methodNotAllowed)
		// Stored alerts are read on the dashboard port, behind its login
		// (QueryRoutes); this port, which every Falco node can reach,
		// serves only ingestion, health and metrics.
		for _, p := range []string{"/events", "/events/{id}", "/stats"} {
			r.Get(p, readsElsewhere)
		}
		r.Post("/events", s.handleBatch)
	})
	return r
}

func readsElsewhere(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "the query API is served on the dashboard port (UI_LISTENPORT, default 2802) and needs its login or an API token")
}

// observe records request latency by route pattern (bounded: the pattern,
// not the path, so /api/v1/events/{id} is one series).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := "other"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		} else if r.Method == http.MethodPost {
			route = "/" // ingestion on an unmatched path
		}
		s.Metrics.Requests.WithLabelValues(route, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// readBody reads at most limit bytes, answering 413 or 400 itself.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
		return nil, false
	}
	var rd io.Reader = http.MaxBytesReader(w, r.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		// The limit applies to the compressed and to the decompressed
		// size, so a small gzip bomb is a 413 too.
		zr, err := gzip.NewReader(rd)
		if err != nil {
			writeError(w, http.StatusBadRequest, "gzip body: "+err.Error())
			return nil, false
		}
		defer zr.Close()
		rd = &limitedReader{r: zr, left: limit}
	default:
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q (want gzip or none)", enc))
		return nil, false
	}
	var buf bytes.Buffer
	if enc := r.Header.Get("Content-Encoding"); r.ContentLength > 0 && enc == "" {
		// Room for the declared body and the read that sees EOF: one
		// allocation instead of io.ReadAll's doublings (a batch is 100 KiB).
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(rd)
	body := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
		} else {
			writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		}
		return nil, false
	}
	return body, true
}

// limitedReader fails with *http.MaxBytesError after left bytes.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Probe for more data: exactly-at-limit bodies are fine.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, &http.MaxBytesError{Limit: l.left}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// handleOne is POST /: one Falco payload. 200 (empty body, as sidekick)
// only after the store made the alert durable.
func (s *Server) handleOne(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.Metrics.Input("requests", "rejected").Inc()
		writeError(w, http.StatusBadRequest, "please send with post http method")
		return
	}
	body, ok := readBody(w, r, s.BodyLimit)
	if !ok {
		s.Metrics.Input("requests", "rejected").Inc()
		return
	}
	if code, msg := s.ingestOne(r.Context(), body); code != http.StatusOK {
		writeError(w, code, msg)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// ingestOne decodes, enriches and stores one Falco payload: 200 only once
// the store made the alert durable, else the error's status and message.
func (s *Server) ingestOne(ctx context.Context, body []byte) (int, string) {
	a, err := s.Enricher.Prepare(body) // decoded, enriched, encoded once: the store writes those bytes
	if err != nil {
		s.Metrics.Input("requests", "rejected").Inc()
		return http.StatusBadRequest, err.Error()
	}
	if _, err := s.store(ctx, "requests", []alert.Alert{a}); err != nil {
		return http.StatusServiceUnavailable, "store alert: " + err.Error()
	}
	return http.StatusOK, ""
}

// handleBatch is POST /api/v1/events: a JSON array or NDJSON of payloads,
// stored all together or not at all.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, s.BatchBodyLimit)
	if !ok {
		s.Metrics.Input("batch", "rejected").Inc()
		return
	}
	res, code, msg := s.ingestBatch(r.Context(), body)
	if code != http.StatusOK {
		writeError(w, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// batchResult is POST /api/v1/events' answer.
type batchResult struct {
	Count int      `json:"count"`
	IDs   []string `json:"ids"`
}

// ingestBatch decodes, enriches and stores a batch, all or nothing.
func (s *Server) ingestBatch(ctx context.Context, body []byte) (batchResult, int, string) {
	as, err := s.Enricher.PrepareBatch(body, s.BatchMaxEvents, s.BodyLimit) // decoded, enriched, encoded once
	if err != nil {
		s.Metrics.Input("batch", "rejected").Inc()
		code := http.StatusBadRequest
		if errors.Is(err, ingest.ErrItemTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		return batchResult{}, code, err.Error()
	}
	ids, err := s.store(ctx, "batch", as)
	if err != nil {
		return batchResult{}, http.StatusServiceUnavailable, "store alerts: " + err.Error()
	}
	s.Metrics.BatchSize.Observe(float64(len(as)))
	return batchResult{Count: len(ids), IDs: ids}, http.StatusOK, ""
}

// handleK8sAudit is POST /k8s-audit: an API server's audit webhook batch
// (EventList, or one Event; gzip allowed). It answers 200 only once the
// alerts the events raised are stored; otherwise 503, so the API
// server's webhook backend retries the batch.
func (s *Server) handleK8sAudit(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, s.K8sAuditBodyLimit)
	if !ok {
		s.Metrics.Input("k8s_audit", "rejected").Inc()
		return
	}
	n, as, err := s.K8sAudit.Evaluate(body)
	if err != nil {
		s.Metrics.Input("k8s_audit", "rejected").Inc()
		writeError(w, http.StatusBadRequest, "audit events: "+err.Error())
		return
	}
	if len(as) > 0 {
		for i := range as {
			s.Enricher.Enrich(&as[i])
		}
		if _, err := s.store(r.Context(), "k8s_audit", as); err != nil {
			writeError(w, http.StatusServiceUnavailable, "store alerts: "+err.Error())
			return
		}
	} else {
		s.Metrics.Input("k8s_audit", "accepted").Inc()
	}
	writeJSON(w, http.StatusOK, map[string]int{"events": n, "alerts": len(as)})
}

// handleTest is POST /test: sidekick's test alert, through decoding,
// enrichment, the store and therefore every forwarder.
func (s *Server) handleTest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusBadRequest, "please send with post http method")
		return
	}
	host, _ := os.Hostname()
	a := alert.Alert{
		Output:       "This is a test from saker",
		Priority:     alert.PriorityDebug,
		Rule:         TestRule,
		Time:         time.Now().UTC(),
		OutputFields: map[string]any{"proc.name": "saker", "user.name": "saker"},
		Source:       "internal",
		Tags:         []string{"test", "example"},
		Hostname:     host,
	}
	s.Enricher.Enrich(&a)
	ids, err := s.store(r.Context(), "test", []alert.Alert{a})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store test alert: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": ids[0], "uuid": a.UUID})
}

func (s *Server) store(ctx context.Context, input string, as []alert.Alert) ([]string, error) {
	start := time.Now()
	ids, err := s.Store.Append(ctx, as)
	s.Metrics.StoreAppend.Observe(time.Since(start).Seconds())
	if err != nil {
		s.Metrics.Input(input, "error").Inc()
		if ctx.Err() == nil { // not the client hanging up
			s.writes.failed(err)
		}
		if ok, held := s.errLog.allow(time.Now()); ok {
			s.Log.Error("store alerts", "input", input, "count", len(as), "err", err, "similar_errors_not_logged", held)
		}
		return nil, err
	}
	s.writes.succeeded()
	s.Metrics.Input(input, "accepted").Inc()
	s.Metrics.Stored(as)
	if s.Debug {
		for i := range as {
			a := &as[i]
			s.Log.Debug("alert stored", "rule", a.Rule, "priority", a.Priority.String(), "uuid", a.UUID)
		}
	}
	return ids, nil
}

// Health is the /healthz body.
type Health struct {
	Status string       `json:"status"` // "ok" or "error"
	Store  store.Health `json:"store"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	h := Health{Status: "ok", Store: s.healthz.check(ctx, s.Store)}
	if h.Store.OK {
		if err := s.writes.failing(time.Now()); err != "" {
			h.Store.OK, h.Store.Error = false, "writes failing: "+err
		}
	}
	if !h.Store.OK && h.Store.Error != "" {
		s.Log.Debug("health check failed", "err", h.Store.Error)
	}
	// Anyone who reaches this port reads it: no addresses or paths (the
	// dashboard's Info page and the log have them).
	h.Store.Detail = h.Store.Kind
	if h.Store.Error != "" {
		h.Store.Error = h.Store.Kind + " store unavailable (details in the hub log and on the dashboard's Info page)"
	}
	code := http.StatusOK
	if !h.Store.OK {
		// 503 so load balancers stop sending alerts this replica
		// cannot store.
		h.Status, code = "error", http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}
