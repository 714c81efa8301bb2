package otlplogs_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/internal/testpki"
	"github.com/saker-sec/saker/forwarders/otlplogs"
	"github.com/saker-sec/saker/hub/alert"
)

// receiver is an in-process OTLP logs receiver serving the collector's
// LogsService over gRPC and OTLP/HTTP's POST /v1/logs (protobuf and JSON),
// recording each export and its headers; fail, when set, is the gRPC
// status every export gets (HTTP maps it as OTLP/HTTP does).
type receiver struct {
	collogspb.UnimplementedLogsServiceServer
	mu      sync.Mutex
	reqs    []*collogspb.ExportLogsServiceRequest
	headers []map[string]string
	fail    *status.Status
	partial *collogspb.ExportLogsPartialSuccess
}

func (r *receiver) record(req *collogspb.ExportLogsServiceRequest, h map[string]string) (*collogspb.ExportLogsServiceResponse, *status.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	r.reqs = append(r.reqs, req)
	r.headers = append(r.headers, h)
	return &collogspb.ExportLogsServiceResponse{PartialSuccess: r.partial}, nil
}

func (r *receiver) Export(ctx context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	h := map[string]string{}
	for k, v := range md {
		h[k] = v[0]
	}
	resp, st := r.record(req, h)
	return resp, st.Err()
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	if hr.Method != http.MethodPost || hr.URL.Path != "/v1/logs" {
		http.NotFound(w, hr)
		return
	}
	b, _ := io.ReadAll(hr.Body)
	req := &collogspb.ExportLogsServiceRequest{}
	ct := hr.Header.Get("Content-Type")
	var err error
	switch ct {
	case "application/x-protobuf":
		err = proto.Unmarshal(b, req)
	case "application/json":
		err = protojson.Unmarshal(b, req)
	default:
		http.Error(w, "unsupported content type", http.StatusUnsupportedMediaType)
		return
	}
	marshal := proto.Marshal
	if ct == "application/json" {
		marshal = protojson.Marshal
	}
	w.Header().Set("Content-Type", ct)
	if err != nil {
		b, _ := marshal(status.New(codes.InvalidArgument, err.Error()).Proto())
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(b)
		return
	}
	h := map[string]string{}
	for k := range hr.Header {
		h[strings.ToLower(k)] = hr.Header.Get(k)
	}
	resp, st := r.record(req, h)
	if st != nil {
		code := map[codes.Code]int{codes.Unavailable: 503, codes.InvalidArgument: 400, codes.Unauthenticated: 401}[st.Code()]
		b, _ := marshal(st.Proto())
		w.WriteHeader(code)
		_, _ = w.Write(b)
		return
	}
	b, _ = marshal(resp)
	_, _ = w.Write(b)
}

func (r *receiver) only(t *testing.T) (*collogspb.ExportLogsServiceRequest, map[string]string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) != 1 {
		t.Fatalf("receiver got %d exports, want 1", len(r.reqs))
	}
	return r.reqs[0], r.headers[0]
}

func serveGRPC(t *testing.T, r *receiver, opts ...grpc.ServerOption) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	collogspb.RegisterLogsServiceServer(s, r)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func alerts() []alert.Alert {
	a, b := testpeer.Sample(), testpeer.Sample()
	b.Priority, b.Rule, b.Hostname = alert.PriorityCritical, "Other", ""
	return []alert.Alert{a, b}
}

// checkRecords checks the export against falcosidekick's record shape.
func checkRecords(t *testing.T, req *collogspb.ExportLogsServiceRequest) {
	t.Helper()
	if len(req.ResourceLogs) != 1 || len(req.ResourceLogs[0].ScopeLogs) != 1 {
		t.Fatalf("export %v", req)
	}
	rl := req.ResourceLogs[0]
	if a := rl.Resource.Attributes; len(a) < 1 || a[0].Key != "service.name" || a[0].Value.GetStringValue() != "falco" {
		t.Fatalf("resource %v", rl.Resource)
	}
	sl := rl.ScopeLogs[0]
	if sl.Scope.Name != "falco" || len(sl.LogRecords) != 2 {
		t.Fatalf("scope %v, %d records", sl.Scope, len(sl.LogRecords))
	}
	r0, r1 := sl.LogRecords[0], sl.LogRecords[1]
	a := testpeer.Sample()
	if r0.Body.GetStringValue() != a.Output || r0.TimeUnixNano != uint64(a.Time.UnixNano()) || r0.ObservedTimeUnixNano == 0 ||
		r0.SeverityNumber != logspb.SeverityNumber_SEVERITY_NUMBER_WARN || r0.SeverityText != "Warning" ||
		r1.SeverityNumber != logspb.SeverityNumber_SEVERITY_NUMBER_FATAL {
		t.Fatalf("records %v", sl.LogRecords)
	}
	got := map[string]string{}
	for _, kv := range r0.Attributes {
		got[kv.Key] = kv.Value.GetStringValue()
	}
	want := map[string]string{"priority": "Warning", "source": "syscalls", "rule": "Terminal shell in container", "hostname": "node-1",
		"tags": "shell,container,T1059", "timestamp": a.Time.String()}
	if len(got) != len(want) {
		t.Fatalf("attributes %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("attribute %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestExportHTTP(t *testing.T) {
	for _, proto := range []string{"", otlplogs.HTTPJSON} {
		t.Run("protocol="+proto, func(t *testing.T) {
			r := &receiver{}
			srv := httptest.NewServer(r)
			defer srv.Close()
			env := map[string]string{"OTLP_LOGS_ENDPOINT": srv.URL + "/v1/logs", "OTLP_LOGS_HEADERS": "api-key=s3cr%3Dt, x-team=sec"}
			if proto != "" {
				env["OTLP_LOGS_PROTOCOL"] = proto
			}
			src := testpeer.Env(env)
			cfg, ok := otlplogs.Load(src)
			if !ok || src.Err() != nil || cfg.Timeout != 10*time.Second {
				t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
			}
			f, err := otlplogs.New(cfg, outhttp.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Forward(context.Background(), alerts()); err != nil {
				t.Fatal(err)
			}
			req, h := r.only(t)
			checkRecords(t, req)
			if h["api-key"] != "s3cr=t" || h["x-team"] != "sec" {
				t.Fatalf("headers %v", h)
			}
		})
	}
}

func TestExportGRPC(t *testing.T) {
	r := &receiver{}
	addr := serveGRPC(t, r)
	src := testpeer.Env(map[string]string{"OTLP_LOGS_ENDPOINT": "http://" + addr, "OTLP_LOGS_PROTOCOL": "grpc", "OTLP_LOGS_HEADERS": "api-key=k",
		"OTEL_RESOURCE_ATTRIBUTES": "service.name=ignored,k8s.cluster.name=prod%2Deu,deployment.environment=live"})
	cfg, ok := otlplogs.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := otlplogs.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Forward(context.Background(), alerts()); err != nil {
		t.Fatal(err)
	}
	req, h := r.only(t)
	checkRecords(t, req)
	if h["api-key"] != "k" {
		t.Fatalf("metadata %v", h)
	}
	// OTEL_RESOURCE_ATTRIBUTES join service.name falco, as the OTel SDK
	// under falcosidekick merges them.
	var attrs []string
	for _, kv := range req.ResourceLogs[0].Resource.Attributes {
		attrs = append(attrs, kv.Key+"="+kv.Value.GetStringValue())
	}
	if got := strings.Join(attrs, ","); got != "service.name=falco,deployment.environment=live,k8s.cluster.name=prod-eu" {
		t.Fatalf("resource %s", got)
	}
}

// TestRefusals: OTLP's retry rules over both transports — unavailable is
// retried, invalid or unauthenticated is final; a partial success is not
// an error (OTLP forbids retrying it).
func TestRefusals(t *testing.T) {
	for _, tt := range []struct {
		code      codes.Code
		wantRetry bool
	}{{codes.Unavailable, true}, {codes.InvalidArgument, false}, {codes.Unauthenticated, false}} {
		r := &receiver{fail: status.New(tt.code, "nope")}
		srv := httptest.NewServer(r)
		addr := serveGRPC(t, r)
		for _, cfg := range []otlplogs.Config{
			{Endpoint: srv.URL + "/v1/logs", Protocol: otlplogs.HTTPProtobuf},
			{Endpoint: addr, Protocol: otlplogs.GRPC},
		} {
			f, err := otlplogs.New(cfg, outhttp.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			retry, err := f.Forward(context.Background(), alerts())
			if err == nil || retry != tt.wantRetry || !strings.Contains(err.Error(), "nope") {
				t.Errorf("%s %v: Forward = %v, %v; want retry %v and the server's message", cfg.Protocol, tt.code, retry, err, tt.wantRetry)
			}
			f.Close()
		}
		srv.Close()
	}
	r := &receiver{partial: &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: 1, ErrorMessage: "too old"}}
	addr := serveGRPC(t, r)
	f, _ := otlplogs.New(otlplogs.Config{Endpoint: addr, Protocol: otlplogs.GRPC}, outhttp.Options{}, nil)
	defer f.Close()
	if retry, err := f.Forward(context.Background(), alerts()); err != nil || retry {
		t.Fatalf("partial success: Forward = %v, %v", retry, err)
	}
}

// TestGRPCMutualTLS exports to a gRPC receiver that requires a client
// certificate: with OTLP_LOGS_MUTUALTLS and MUTUALTLSFILESPATH it is
// accepted; without, the handshake fails.
func TestGRPCMutualTLS(t *testing.T) {
	pki := testpki.New(t)
	r := &receiver{}
	addr := serveGRPC(t, r, grpc.Creds(credentials.NewTLS(pki.ServerTLS(true))))
	opts := outhttp.Options{TLS: settings.TLS{MutualTLSFilesPath: pki.Dir, CACertFile: pki.Dir + "/ca.crt"}}
	f, err := otlplogs.New(otlplogs.Config{Endpoint: "https://" + addr, Protocol: otlplogs.GRPC,
		Common: settings.Common{CheckCert: true, MutualTLS: true}}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Forward(context.Background(), alerts()); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	g, err := otlplogs.New(otlplogs.Config{Endpoint: "https://" + addr, Protocol: otlplogs.GRPC,
		Common: settings.Common{CheckCert: true}}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Forward(context.Background(), alerts()); err == nil {
		t.Fatal("a receiver requiring a client certificate accepted an export without one")
	}
}
