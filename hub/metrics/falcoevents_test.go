package metrics

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/hub/alert"
)

// BenchmarkFalcoEventsInc is the per-alert cost the falco_events counter
// adds to ingestion (default labels plus two fields).
func BenchmarkFalcoEventsInc(b *testing.B) {
	m := NewWith(prometheus.NewRegistry(), Options{EventFields: []EventField{{Name: "cluster", AnyValue: true}, {Name: "proc.name"}}})
	a := alert.Alert{Rule: "Terminal shell in container", Priority: alert.PriorityWarning, Source: "syscall", Hostname: "node-1",
		Time: time.Now(), OutputFields: map[string]any{"k8s.ns.name": "prod", "k8s.pod.name": "api-1", "proc.name": "bash",
			"cluster": "eu", "evt.num": json.Number("42")}}
	b.ReportAllocs()
	for b.Loop() {
		m.FalcoEvents.Inc(&a)
	}
}

// TestFalcoEventsSkipsBadAndDuplicateLabels: a field that is not a label
// name, clashes with a fixed label or repeats another is left out instead
// of panicking the registry.
func TestFalcoEventsSkipsBadAndDuplicateLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewWith(reg, Options{EventFields: []EventField{{Name: "a.b"}, {Name: "a_b"}, {Name: "bad-name"}, {Name: "rule"}}})
	m.FalcoEvents.Inc(&alert.Alert{Rule: "R", Priority: alert.PriorityError, OutputFields: map[string]any{"a.b": "x"}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != FalcoEventsName {
			continue
		}
		labels := map[string]string{}
		for _, l := range mf.Metric[0].Label {
			labels[l.GetName()] = l.GetValue()
		}
		if len(labels) != 8 || labels["a_b"] != "x" || labels["rule"] != "R" || labels["priority"] != "5" || labels["hostname"] != "unknown" {
			t.Fatalf("labels %v", labels)
		}
		return
	}
	t.Fatal("no falco_events series")
}
