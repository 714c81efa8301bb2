package k8spod

import (
	"testing"

	"github.com/saker-sec/saker/sensor/response/k8spod/k8spodtest"
)

// The client is not throttled by client-go's default limiter (5 QPS,
// burst 10), which delayed the hub's actions by ~200 ms each after ten
// (BenchmarkStoredToPodLabelled in hub/actions).
func TestNoClientSideThrottling(t *testing.T) {
	s := k8spodtest.New(t)
	rc, err := restConfig(Config{Kubeconfig: s.Kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	if rc.QPS >= 0 || rc.RateLimiter != nil {
		t.Fatalf("QPS %v, rate limiter %v: want client-go's throttling off (QPS < 0)", rc.QPS, rc.RateLimiter)
	}
}
