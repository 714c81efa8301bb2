package otlplogs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
)

// httpExporter is OTLP/HTTP: one POST of the encoded request.
type httpExporter struct {
	client  *http.Client
	url     string
	json    bool
	headers map[string]string
	custom  map[string]string
}

func newHTTP(cfg Config, o outhttp.Options) (*httpExporter, error) {
	c, err := outhttp.NewClient(o)
	if err != nil {
		return nil, err
	}
	return &httpExporter{client: c, url: cfg.Endpoint, json: cfg.Protocol == HTTPJSON, headers: cfg.Headers, custom: cfg.CustomHeaders}, nil
}

func (e *httpExporter) close() error { e.client.CloseIdleConnections(); return nil }

func (e *httpExporter) export(ctx context.Context, r *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, bool, error) {
	ct := "application/x-protobuf"
	marshal := proto.Marshal
	if e.json {
		ct, marshal = "application/json", protojson.Marshal
	}
	body, err := marshal(r)
	if err != nil {
		return nil, false, fmt.Errorf("encode export request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", outhttp.UserAgent)
	outhttp.SetHeaders(req.Header, e.headers)
	outhttp.SetHeaders(req.Header, e.custom)
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, outhttp.TransportRetryable(err), fmt.Errorf("export to %s: %w", settings.Redact(e.url), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	isJSON := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		out := &collogspb.ExportLogsServiceResponse{}
		if isJSON {
			err = protojson.Unmarshal(b, out)
		} else {
			err = proto.Unmarshal(b, out)
		}
		if err != nil {
			// Accepted all the same: the status says so, the body only
			// adds partial-success details.
			return &collogspb.ExportLogsServiceResponse{}, false, nil
		}
		return out, false, nil
	}
	msg := strings.TrimSpace(string(b))
	st := &spb.Status{}
	if isJSON && protojson.Unmarshal(b, st) == nil || !isJSON && proto.Unmarshal(b, st) == nil {
		msg = st.GetMessage()
	}
	se := &outhttp.StatusError{Code: resp.StatusCode, Body: msg, RetryAfter: outhttp.RetryAfter(resp.Header)}
	return nil, retryableHTTP(resp.StatusCode), se
}

// retryableHTTP is OTLP/HTTP's rule: only 429, 502, 503 and 504 may be
// retried; every other error status must not be.
func retryableHTTP(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
