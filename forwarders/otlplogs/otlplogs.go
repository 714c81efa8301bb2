// Package otlplogs exports alerts as OpenTelemetry log records over OTLP,
// to a Collector or any OTLP backend, configured by falcosidekick's
// OTLP_LOGS_* variables, over HTTP (protobuf or JSON) or gRPC.
//
// falcosidekick logs each alert through the OTel SDK's batching logger,
// which drops what the backend refuses without telling it; here a batch is
// one Export call whose answer decides delivery, so refused or unreachable
// exports are retried and dead-lettered like any output. Each record is
// shaped as falcosidekick's: body = the alert's output, attributes
// priority, source, rule, hostname, tags (comma-joined) and timestamp,
// scope "falco", resource service.name "falco". Two differences, both on
// purpose: the record's time is the alert's (sidekick: the time it was
// logged, which after an outage is the time of delivery), and its severity
// follows the priority (sidekick: always INFO).
package otlplogs

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Protocols (OTLP_LOGS_PROTOCOL), named as OTEL_EXPORTER_OTLP_PROTOCOL.
const (
	HTTPProtobuf = "http/protobuf"
	HTTPJSON     = "http/json"
	GRPC         = "grpc"
)

// Config is the OTLP logs output's configuration (OTLP_LOGS_*).
type Config struct {
	// Endpoint (OTLP_LOGS_ENDPOINT) enables the output. Over HTTP it is
	// the full URL, used as it is (http://collector:4318/v1/logs), as
	// OTEL_EXPORTER_OTLP_LOGS_ENDPOINT; over gRPC, host:port or a URL
	// whose scheme says whether to use TLS.
	Endpoint string
	Protocol string            // OTLP_LOGS_PROTOCOL: http/protobuf (default), http/json, grpc
	Headers  map[string]string // OTLP_LOGS_HEADERS: k=v,k2=v2 (OTel's form, values URL-encoded)
	Timeout  time.Duration     // OTLP_LOGS_TIMEOUT in ms (10000)
	// ResourceAttributes (OTEL_RESOURCE_ATTRIBUTES, as the OTel SDK reads
	// it) are added to the resource beside service.name.
	ResourceAttributes map[string]string
	// TLS (OTLP_LOGS_TLS) uses TLS for a gRPC endpoint given without an
	// https:// scheme; CHECKCERT and MUTUALTLS apply as for every output.
	TLS bool
	settings.Common
}

// Load reads the OTLP logs settings; enabled is false without an endpoint.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.Endpoint = src.String("otlp.logs.endpoint", "")
	if cfg.Endpoint == "" {
		return cfg, false
	}
	cfg.Protocol = src.Enum("otlp.logs.protocol", HTTPProtobuf, HTTPProtobuf, HTTPJSON, GRPC)
	if cfg.Protocol != GRPC {
		src.URL("otlp.logs.endpoint", cfg.Endpoint)
	} else if _, err := grpcTarget(cfg.Endpoint); err != nil {
		src.Errorf("otlp.logs.endpoint", "%v", err)
	}
	cfg.Headers = parseHeaders(src, "otlp.logs.headers")
	// falcosidekick's OTel SDK merges OTEL_RESOURCE_ATTRIBUTES into its
	// resource (service.name stays falco): so does this output.
	if raw, ok := src.Lookup("OTEL_RESOURCE_ATTRIBUTES"); ok && raw != "" {
		attrs, bad := parseKV(raw)
		for _, k := range bad {
			src.Warnf("otel.resource.attributes", "%q is not a key=value pair; attribute ignored", k)
		}
		delete(attrs, "service.name")
		cfg.ResourceAttributes = attrs
	}
	cfg.Timeout = time.Duration(src.Int("otlp.logs.timeout", 10000, 1)) * time.Millisecond
	cfg.TLS = src.Bool("otlp.logs.tls", false)
	cfg.Common = src.Common("otlp.logs")
	return cfg, true
}

// parseHeaders reads OTel's header list; a malformed pair is a warning
// and left out.
func parseHeaders(src *settings.Source, key string) map[string]string {
	out, bad := parseKV(src.Secret(key, ""))
	for _, k := range bad {
		src.Warnf(key, "%q is not a key=value pair; header ignored", k)
	}
	return out
}

// parseKV parses OTel's list form (OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_RESOURCE_ATTRIBUTES): k=v pairs separated by commas, values
// percent-encoded. bad lists the keys of malformed pairs.
func parseKV(raw string) (out map[string]string, bad []string) {
	out = map[string]string{}
	for _, pair := range strings.Split(raw, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if !ok || k == "" || err != nil {
			bad = append(bad, strings.TrimSpace(strings.SplitN(pair, "=", 2)[0]))
			continue
		}
		out[k] = dv
	}
	return out, bad
}

// Resource and scope names, as falcosidekick's.
const (
	ServiceName = "falco"
	ScopeName   = "falco"
)

var severities = map[alert.Priority]logspb.SeverityNumber{
	alert.PriorityDebug:         logspb.SeverityNumber_SEVERITY_NUMBER_DEBUG,
	alert.PriorityInformational: logspb.SeverityNumber_SEVERITY_NUMBER_INFO,
	alert.PriorityNotice:        logspb.SeverityNumber_SEVERITY_NUMBER_INFO2,
	alert.PriorityWarning:       logspb.SeverityNumber_SEVERITY_NUMBER_WARN,
	alert.PriorityError:         logspb.SeverityNumber_SEVERITY_NUMBER_ERROR,
	alert.PriorityCritical:      logspb.SeverityNumber_SEVERITY_NUMBER_FATAL,
	alert.PriorityAlert:         logspb.SeverityNumber_SEVERITY_NUMBER_FATAL2,
	alert.PriorityEmergency:     logspb.SeverityNumber_SEVERITY_NUMBER_FATAL3,
}

// Severity is the OTel severity number of a Falco priority.
func Severity(p alert.Priority) logspb.SeverityNumber { return severities[p] }

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// Record is the log record of one alert.
func Record(a *alert.Alert, observed time.Time) *logspb.LogRecord {
	return &logspb.LogRecord{
		TimeUnixNano:         uint64(a.Time.UnixNano()),
		ObservedTimeUnixNano: uint64(observed.UnixNano()),
		SeverityNumber:       Severity(a.Priority),
		SeverityText:         a.Priority.String(),
		Body:                 &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: a.Output}},
		Attributes: []*commonpb.KeyValue{
			str("priority", a.Priority.String()),
			str("source", a.Source),
			str("rule", a.Rule),
			str("hostname", a.Hostname),
			str("tags", strings.Join(a.Tags, ",")),
			str("timestamp", a.Time.String()),
		},
	}
}

// Resource is the resource of every record: service.name falco and the
// extra attributes in key order.
func Resource(extra map[string]string) *resourcepb.Resource {
	attrs := []*commonpb.KeyValue{str("service.name", ServiceName)}
	for _, k := range settings.SortedKeys(extra) {
		attrs = append(attrs, str(k, extra[k]))
	}
	return &resourcepb.Resource{Attributes: attrs}
}

// Request is the export request of a batch: one resource, one scope.
func Request(res *resourcepb.Resource, alerts []alert.Alert, observed time.Time) *collogspb.ExportLogsServiceRequest {
	recs := make([]*logspb.LogRecord, len(alerts))
	for i := range alerts {
		recs[i] = Record(&alerts[i], observed)
	}
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  res,
		ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: ScopeName}, LogRecords: recs}},
	}}}
}

// exporter sends one export request and classifies the answer.
type exporter interface {
	export(ctx context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, bool, error)
	close() error
}

// Forwarder exports alerts over OTLP.
type Forwarder struct {
	exp      exporter
	resource *resourcepb.Resource
	logger   *slog.Logger
}

// New builds an OTLP logs forwarder.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Timeout > 0 {
		httpOpts.Timeout = cfg.Timeout
	}
	httpOpts.CheckCert, httpOpts.MutualTLS = cfg.CheckCert, cfg.MutualTLS
	var exp exporter
	var err error
	if cfg.Protocol == GRPC {
		exp, err = newGRPC(cfg, httpOpts)
	} else {
		exp, err = newHTTP(cfg, httpOpts)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp logs: %w", err)
	}
	return &Forwarder{exp: exp, resource: Resource(cfg.ResourceAttributes), logger: logger}, nil
}

// Forward exports the batch in one request.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	resp, retry, err := f.exp.export(ctx, Request(f.resource, alerts, time.Now()))
	if err != nil {
		return retry, err
	}
	f.partial(resp.GetPartialSuccess())
	return false, nil
}

// Close releases the gRPC connection.
func (f *Forwarder) Close() error { return f.exp.close() }

// partial logs an answer that accepted only some records: OTLP says such
// an export must not be retried, so the rest are lost at the backend's
// will; the log says how many and why.
func (f *Forwarder) partial(ps *collogspb.ExportLogsPartialSuccess) {
	if ps != nil && (ps.GetRejectedLogRecords() > 0 || ps.GetErrorMessage() != "") {
		f.logger.Warn("otlp logs: backend rejected records", "rejected", ps.GetRejectedLogRecords(), "reason", ps.GetErrorMessage())
	}
}
