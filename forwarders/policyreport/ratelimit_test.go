package policyreport_test

import (
	"net/http/httptest"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/policyreport"
)

// The client is not throttled by client-go's default limiter (5 QPS,
// burst 10), which held each report write past the tenth ~200 ms longer
// than the one before; the output's own delivery settings bound the calls.
func TestNoClientSideThrottling(t *testing.T) {
	srv := httptest.NewTLSServer(newAPIServer())
	t.Cleanup(srv.Close)
	rc, err := policyreport.RestConfig(policyreport.Config{Enabled: true, Kubeconfig: kubeconfig(t, srv)}, outhttp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.QPS >= 0 || rc.RateLimiter != nil {
		t.Fatalf("QPS %v, burst %v, rate limiter %v: want client-go's throttling off (QPS < 0)", rc.QPS, rc.Burst, rc.RateLimiter)
	}
}
