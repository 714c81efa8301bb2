package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// The ingestion port runs on fasthttp: a third or less of net/http's CPU
// per request and 3 allocations against 23 (BenchmarkHTTPServer in
// hub/listen; with wrk on a body-reading handler, 4.6 against 12 µs of
// server CPU per request at 50 connections, 6 against 15.5 µs on one),
// and each request is served on its connection's goroutine, where
// net/http adds a background reader per request: one more thread wake-up
// on the path of a lone sender. POST / and POST /api/v1/events, the
// routes every alert takes, are served natively; every other route keeps
// its net/http handler, run through fasthttpadaptor, unchanged in
// behaviour (the api tests run against both servers).

// FastRoutes are what a fasthttp server needs to serve the ingestion port:
// Handler, a HeaderReceived hook that gives each route its body limit,
// and an ErrorHandler answering requests fasthttp refuses before the
// handler (a body over its limit, a malformed request) with the JSON
// errors the handlers write.
type FastRoutes struct {
	Handler        fasthttp.RequestHandler
	HeaderReceived func(*fasthttp.RequestHeader) fasthttp.RequestConfig
	ErrorHandler   func(*fasthttp.RequestCtx, error)
	// MaxBody is the largest of the routes' body limits.
	MaxBody int64
}

// Apply sets the routes' handler and hooks on srv.
func (fr FastRoutes) Apply(srv *fasthttp.Server) {
	srv.Handler, srv.HeaderReceived, srv.ErrorHandler = fr.Handler, fr.HeaderReceived, fr.ErrorHandler
	srv.MaxRequestBodySize = int(fr.MaxBody)
}

// route is how the ingestion port treats a request.
type route struct {
	native  bool // served by the fasthttp handlers below
	batch   bool // POST /api/v1/events (else POST / or another path)
	limit   int64
	input   string // saker_hub_inputs_total's source label
	pattern string // saker_hub_http_request_duration_seconds' route label
}

// Fast returns the fasthttp routes of the ingestion port; next is the
// net/http handler (Handler, possibly wrapped) serving the other routes.
// Call it after Handler.
func (s *Server) Fast(next http.Handler) FastRoutes {
	// fasthttp's request context is cancelled when the server shuts
	// down; a request in flight then must still store its alert (Stop
	// drains requests before it closes the store), so handlers get a
	// context without that cancellation.
	slow := fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithoutCancel(r.Context())))
	}))
	ok := s.Metrics.Requests.WithLabelValues("/", "200")
	h := func(ctx *fasthttp.RequestCtx) {
		rt := s.route(ctx.Request.Header.Method(), ctx.Request.Header.RequestURI())
		if !rt.native {
			slow(ctx)
			return
		}
		start := time.Now()
		var code int
		if rt.batch {
			code = s.fastBatch(ctx, rt)
		} else {
			code = s.fastOne(ctx, rt)
		}
		obs := ok
		if code != http.StatusOK || rt.pattern != "/" {
			obs = s.Metrics.Requests.WithLabelValues(rt.pattern, strconv.Itoa(code))
		}
		obs.Observe(time.Since(start).Seconds())
	}
	return FastRoutes{
		Handler: h,
		HeaderReceived: func(hdr *fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{MaxRequestBodySize: int(s.route(hdr.Method(), hdr.RequestURI()).limit)}
		},
		ErrorHandler: s.fastError,
		MaxBody:      max(s.BodyLimit, s.BatchBodyLimit, s.K8sAuditBodyLimit),
	}
}

// route classifies a request by its method and raw request target, the
// way Handler's router does for the routes that matter here: only the
// exact paths "/" and "/api/v1/events" are native (any other path, even
// one the router would also send to POST /'s handler, takes the adaptor).
func (s *Server) route(method, uri []byte) route {
	path, _, _ := bytes.Cut(uri, []byte{'?'})
	post := string(method) == http.MethodPost
	switch {
	case post && string(path) == "/":
		return route{native: true, limit: s.BodyLimit, input: "requests", pattern: "/"}
	case post && string(path) == "/api/v1/events":
		return route{native: true, batch: true, limit: s.BatchBodyLimit, input: "batch", pattern: "/api/v1/events"}
	case s.K8sAudit != nil && string(path) == K8sAuditPath:
		return route{limit: s.K8sAuditBodyLimit, input: "k8s_audit", pattern: K8sAuditPath}
	}
	rt := route{limit: s.BodyLimit, pattern: "other"}
	if post {
		rt.input, rt.pattern = "requests", "/"
	}
	return rt
}

// fastOne is handleOne on fasthttp; it returns the status it answered.
func (s *Server) fastOne(ctx *fasthttp.RequestCtx, rt route) int {
	body, code, msg := s.fastBody(ctx, rt)
	if code == http.StatusOK {
		code, msg = s.ingestOne(context.Background(), body)
	} else {
		s.Metrics.Input(rt.input, "rejected").Inc()
	}
	if code != http.StatusOK {
		fastError(ctx, code, msg)
		return code
	}
	ctx.SetStatusCode(http.StatusOK)
	return code
}

// fastBatch is handleBatch on fasthttp.
func (s *Server) fastBatch(ctx *fasthttp.RequestCtx, rt route) int {
	body, code, msg := s.fastBody(ctx, rt)
	if code != http.StatusOK {
		s.Metrics.Input(rt.input, "rejected").Inc()
		fastError(ctx, code, msg)
		return code
	}
	res, code, msg := s.ingestBatch(context.Background(), body)
	if code != http.StatusOK {
		fastError(ctx, code, msg)
		return code
	}
	fastJSON(ctx, code, res)
	return code
}

// fastBody is readBody on a body fasthttp has read, within the route's
// limit: it undoes the Content-Encoding. code is 200 or the error's status.
func (s *Server) fastBody(ctx *fasthttp.RequestCtx, rt route) ([]byte, int, string) {
	raw := ctx.PostBody()
	tooLarge := func() string { return fmt.Sprintf("body larger than %d bytes", rt.limit) }
	if int64(len(raw)) > rt.limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge()
	}
	ce := ctx.Request.Header.Peek("Content-Encoding")
	if len(ce) == 0 {
		return raw, http.StatusOK, ""
	}
	switch enc := strings.ToLower(strings.TrimSpace(string(ce))); enc {
	case "", "identity":
		return raw, http.StatusOK, ""
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, http.StatusBadRequest, "gzip body: " + err.Error()
		}
		defer zr.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(&limitedReader{r: zr, left: rt.limit}); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, http.StatusRequestEntityTooLarge, tooLarge()
			}
			return nil, http.StatusBadRequest, "read body: " + err.Error()
		}
		return buf.Bytes(), http.StatusOK, ""
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q (want gzip or none)", enc)
	}
}

// fastError answers what fasthttp refused before any handler ran, in the
// handlers' JSON shape, and counts it as the handler would have.
func (s *Server) fastError(ctx *fasthttp.RequestCtx, err error) {
	rt := s.route(ctx.Request.Header.Method(), ctx.Request.Header.RequestURI())
	code, msg := http.StatusBadRequest, "bad request: "+err.Error()
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		code, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", rt.limit)
	case errors.As(err, &small):
		code, msg = http.StatusRequestHeaderFieldsTooLarge, "request headers too large"
	case isTimeout(err):
		code, msg = http.StatusRequestTimeout, "request not received in time"
	}
	if rt.input != "" {
		s.Metrics.Input(rt.input, "rejected").Inc()
	}
	s.Metrics.Requests.WithLabelValues(rt.pattern, strconv.Itoa(code)).Observe(0)
	fastError(ctx, code, msg)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// fastJSON writes v as writeJSON does (the same bytes: encoding/json's
// Encoder, with its trailing newline).
func fastJSON(ctx *fasthttp.RequestCtx, code int, v any) {
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(code)
	_ = json.NewEncoder(ctx).Encode(v) // into the response buffer: cannot fail
}

func fastError(ctx *fasthttp.RequestCtx, code int, msg string) {
	ctx.ResetBody()
	fastJSON(ctx, code, map[string]string{"error": msg})
}
