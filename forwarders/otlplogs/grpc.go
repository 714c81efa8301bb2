package otlplogs

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
)

// grpcExporter is OTLP/gRPC over one kept connection.
type grpcExporter struct {
	conn   *grpc.ClientConn
	client collogspb.LogsServiceClient
	md     metadata.MD
}

// grpcTarget returns host:port of a gRPC endpoint given as host:port or as
// a URL, and whether its scheme asks for TLS.
func grpcTarget(endpoint string) (target string, err error) {
	t, _, err := splitGRPC(endpoint)
	return t, err
}

func splitGRPC(endpoint string) (target string, tlsScheme bool, err error) {
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return "", false, fmt.Errorf("malformed gRPC endpoint %q (want host:port or http(s)://host:port)", endpoint)
		}
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "4317")
		}
		return host, u.Scheme == "https", nil
	}
	if _, _, err := net.SplitHostPort(endpoint); err != nil {
		return "", false, fmt.Errorf("malformed gRPC endpoint %q (want host:port or http(s)://host:port)", endpoint)
	}
	return endpoint, false, nil
}

func newGRPC(cfg Config, o outhttp.Options) (*grpcExporter, error) {
	target, tlsScheme, err := splitGRPC(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if tlsScheme || cfg.TLS || cfg.MutualTLS {
		tc, err := outhttp.TLSConfig(o)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds), grpc.WithUserAgent(outhttp.UserAgent))
	if err != nil {
		return nil, fmt.Errorf("gRPC client for %s: %w", target, err)
	}
	md := metadata.MD{}
	for _, h := range []map[string]string{cfg.Headers, cfg.CustomHeaders} {
		for k, v := range h {
			md.Set(strings.ToLower(k), v)
		}
	}
	return &grpcExporter{conn: conn, client: collogspb.NewLogsServiceClient(conn), md: md}, nil
}

func (e *grpcExporter) close() error { return e.conn.Close() }

func (e *grpcExporter) export(ctx context.Context, r *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, bool, error) {
	if len(e.md) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, e.md)
	}
	resp, err := e.client.Export(ctx, r)
	if err != nil {
		return nil, retryableGRPC(status.Convert(err)), fmt.Errorf("export: %w", err)
	}
	return resp, false, nil
}

// retryableGRPC is OTLP/gRPC's rule: these codes may succeed later;
// RESOURCE_EXHAUSTED only when the server says when to retry.
func retryableGRPC(st *status.Status) bool {
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
		return true
	case codes.ResourceExhausted:
		for _, d := range st.Details() {
			if _, ok := d.(*errdetails.RetryInfo); ok {
				return true
			}
		}
	}
	return false
}
