package metrics

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSourceLabelBounded checks a client sending endless distinct sources
// cannot create endless series.
func TestSourceLabelBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	for i := 0; i < 1000; i++ {
		m.Alerts.WithLabelValues("Warning", m.Source(fmt.Sprintf("src%d", i))).Inc()
	}
	m.Alerts.WithLabelValues("Warning", m.Source(strings.Repeat("x", 100))).Inc()
	if got := m.Source("src3"); got != "src3" {
		t.Fatal(got)
	}
	if got := m.Source("src999"); got != "other" {
		t.Fatal(got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "saker_hub_alerts_total" && len(mf.Metric) != maxSources+1 {
			t.Fatalf("%d series, want %d", len(mf.Metric), maxSources+1)
		}
	}
}
