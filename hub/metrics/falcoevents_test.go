package metrics

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/hub/alert"
)

// BenchmarkFalcoEventsInc is the per-alert cost the falco_events counter
// adds to ingestion: the fixed labels alone (the default), and with two
// fields.
func BenchmarkFalcoEventsInc(b *testing.B) {
	a := alert.Alert{Rule: "Terminal shell in container", Priority: alert.PriorityWarning, Source: "syscall", Hostname: "node-1",
		Time: time.Now(), OutputFields: map[string]any{"k8s.ns.name": "prod", "k8s.pod.name": "api-1", "proc.name": "bash",
			"cluster": "eu", "evt.num": json.Number("42")}}
	for _, c := range []struct {
		name string
		opts Options
	}{{"fixed", Options{}}, {"fields", Options{EventFields: []EventField{{Name: "cluster", AnyValue: true}, {Name: "proc.name"}}}}} {
		b.Run(c.name, func(b *testing.B) {
			m := NewWith(prometheus.NewRegistry(), c.opts)
			b.ReportAllocs()
			for b.Loop() {
				m.FalcoEvents.Inc(&a)
			}
		})
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

// TestStoredCountsRunsAsSingleAlerts: Stored, which looks a series up once
// per run of alerts with equal labels (in its cache of series when only
// the fixed labels are there), counts exactly what counting each alert in
// the vectors on its own does, whatever the runs, for alerts with their
// fields in a map or indexed as ingest decodes them.
func TestStoredCountsRunsAsSingleAlerts(t *testing.T) {
	mk := func(rule string, p alert.Priority, host, proc string, cluster any) alert.Alert {
		return alert.Alert{Rule: rule, Priority: p, Source: "syscall", Hostname: host,
			OutputFields: map[string]any{"proc.name": proc, "cluster": cluster, "k8s.ns.name": "prod"}}
	}
	indexed := alert.Alert{Rule: "r1", Priority: alert.PriorityWarning, Source: "syscall", Hostname: "h1",
		RawFields: []alert.RawField{{Key: "proc.name", Value: `"bash"`}, {Key: "cluster", Value: `"eu"`}, {Key: "k8s.ns.name", Value: `"prod"`}}}
	a := mk("r1", alert.PriorityWarning, "h1", "bash", "eu")
	var as []alert.Alert
	for _, x := range []alert.Alert{a, a, a, mk("r2", alert.PriorityWarning, "h1", "bash", "eu"), a, indexed,
		mk("r1", alert.PriorityError, "h1", "bash", "eu"), mk("r1", alert.PriorityError, "", "sh", json.Number("3")),
		mk("r1", alert.PriorityError, "unknown", "sh", json.Number("3")),
		mk("r1", alert.PriorityError, "", "sh", json.Number("3")), {Rule: "bare", Priority: alert.PriorityDebug, Source: "k8s_audit"}, a, indexed} {
		as = append(as, x)
	}
	for _, opts := range []Options{{}, {EventFields: []EventField{{Name: "cluster", AnyValue: true}, {Name: "proc.name"}}}} {
		perAlertReg, storedReg := prometheus.NewRegistry(), prometheus.NewRegistry()
		perAlert, stored := NewWith(perAlertReg, opts), NewWith(storedReg, opts)
		for i := range as {
			perAlert.Alerts.WithLabelValues(as[i].Priority.String(), perAlert.Source(as[i].Source)).Inc()
			ev := perAlert.FalcoEvents
			ev.vec.WithLabelValues(ev.values(nil, &as[i])...).Inc()
		}
		stored.Stored(as[:4])
		stored.Stored(as[4:])
		stored.Stored(as[:0])
		want, got := gathered(t, perAlertReg), gathered(t, storedReg)
		if len(want) < 6 || !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v: Stored counted\n%v\nper alert:\n%v", opts, got, want)
		}
	}
}

// gathered is every counter series of reg with its value.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetCounter() == nil {
				continue
			}
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf(" %s=%q", l.GetName(), l.GetValue())
			}
			out[key] = m.GetCounter().GetValue()
		}
	}
	return out
}

// BenchmarkStoredBatch100 is the metrics' cost of a batch of 100 alerts
// from one host and rule (per op: the batch).
func BenchmarkStoredBatch100(b *testing.B) {
	m := NewWith(prometheus.NewRegistry(), Options{})
	a := alert.Alert{Rule: "Terminal shell in container", Priority: alert.PriorityWarning, Source: "syscall", Hostname: "node-1",
		OutputFields: map[string]any{"k8s.ns.name": "prod", "k8s.pod.name": "api-1"}}
	as := make([]alert.Alert, 100)
	for i := range as {
		as[i] = a
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Stored(as)
	}
}
