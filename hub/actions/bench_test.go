package actions_test

import (
	"slices"
	"testing"
	"time"

	"github.com/saker-sec/saker/sensor/response/k8spod/k8spodtest"
)

// BenchmarkStoredToPodLabelled measures the hub's action delay: from an
// alert's append to the store (what the ingest does before its 200) to
// the pod_label PATCH reaching the API server (loopback, TLS), over the
// embedded store.
func BenchmarkStoredToPodLabelled(b *testing.B) {
	api := k8spodtest.New(b, "shop/web-1")
	r := newRig(b, api, embeddedIn(b.TempDir()))
	r.start(`rate_limit: {per_second: 1000000, burst: 1000000}
actions:
- {match: {rule: Terminal shell in container}, action: pod_label, labels: {saker.dev/quarantine: "true"}}
`, "bench", 0)
	var delays []time.Duration
	for b.Loop() {
		start := time.Now()
		id, _ := r.store("Terminal shell in container", "shop", "web-1")
		<-api.Calls
		delays = append(delays, time.Since(start))
		r.waitHandled(id) // its record stored before the next round
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds()), "p99-µs")
}
