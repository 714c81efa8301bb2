// Package metrics defines the hub's Prometheus metrics. The hub's own
// labels are bounded on purpose: sidekick labels its event counter by rule,
// hostname, pod and namespace, which explodes series count on busy
// clusters (its #1132); saker_hub_alerts_total carries only priority and a
// capped source label, and the rest is answered by the store's stats API.
// falcosidekick's counter is kept beside it (FalcoEvents), unchanged, for
// the dashboards and alert rules written against it.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/hub/alert"
)

// Metrics are the hub's collectors.
type Metrics struct {
	// Inputs counts ingestion requests by input (requests = POST /,
	// batch = POST /api/v1/events, test = POST /test) and status
	// (accepted, rejected, error).
	Inputs *prometheus.CounterVec
	// Alerts counts stored alerts by priority and source.
	Alerts *prometheus.CounterVec
	// Outputs counts forwarder deliveries by destination and status
	// (ok, error, dead); incremented by the forwarders.
	Outputs *prometheus.CounterVec
	// OutputDuration observes forwarder request latency by destination.
	OutputDuration *prometheus.HistogramVec
	// Requests observes HTTP request latency by route pattern and code.
	Requests *prometheus.HistogramVec
	// StoreAppend observes Store.Append latency.
	StoreAppend prometheus.Histogram
	// BatchSize observes alerts per accepted batch.
	BatchSize prometheus.Histogram
	// FalcoEvents is falcosidekick's falco_events counter.
	FalcoEvents *FalcoEvents

	sources sourceSet
	inputs  *seriesCache[[2]string]   // Inputs by source and status
	alerts  *seriesCache[alertSeries] // Alerts by priority and source as sent
}

// alertSeries keys a series of Alerts: the priority and the source as the
// alert has it (Source maps it to the label).
type alertSeries struct {
	priority alert.Priority
	source   string
}

// latencyBuckets cover loopback (sub-millisecond) to a struggling store.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Options are the settings of the hub's metrics.
type Options struct {
	// EventFields are the output fields labelling falco_events
	// (CUSTOMFIELDS, TEMPLATEDFIELDS, PROMETHEUS_EXTRALABELS).
	EventFields []EventField
}

// New creates the collectors with default options and registers them with
// reg (nil: not registered, for tests).
func New(reg prometheus.Registerer) *Metrics { return NewWith(reg, Options{}) }

// NewWith creates the collectors and registers them with reg (nil: not
// registered).
func NewWith(reg prometheus.Registerer, o Options) *Metrics {
	m := &Metrics{
		Inputs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_hub_inputs_total", Help: "Ingestion requests by input and status.",
		}, []string{"source", "status"}),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_hub_alerts_total", Help: "Stored alerts by priority and source.",
		}, []string{"priority", "source"}),
		Outputs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_hub_outputs_total", Help: "Forwarder deliveries by destination and status.",
		}, []string{"destination", "status"}),
		OutputDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "saker_hub_output_duration_seconds", Help: "Forwarder delivery latency.", Buckets: latencyBuckets,
		}, []string{"destination"}),
		Requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "saker_hub_http_request_duration_seconds", Help: "HTTP request latency by route and status code.", Buckets: latencyBuckets,
		}, []string{"route", "code"}),
		StoreAppend: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "saker_hub_store_append_duration_seconds", Help: "Store append latency (durable write).", Buckets: latencyBuckets,
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "saker_hub_batch_size", Help: "Alerts per accepted batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		FalcoEvents: newFalcoEvents(o.EventFields),
		sources:     sourceSet{seen: map[string]bool{}},
		inputs:      newSeriesCache[[2]string](64),
		alerts:      newSeriesCache[alertSeries](1024),
	}
	if reg != nil {
		reg.MustRegister(m.Inputs, m.Alerts, m.Outputs, m.OutputDuration, m.Requests, m.StoreAppend, m.BatchSize, m.FalcoEvents.vec)
	}
	return m
}

// Stored counts stored alerts in Alerts and FalcoEvents. Consecutive
// alerts with the same labels (a batch) cost one series lookup per run.
func (m *Metrics) Stored(as []alert.Alert) {
	for i := 0; i < len(as); {
		j := i + 1
		for j < len(as) && as[j].Priority == as[i].Priority && as[j].Source == as[i].Source {
			j++
		}
		k := alertSeries{as[i].Priority, as[i].Source}
		m.alerts.get(k, func() prometheus.Counter {
			return m.Alerts.WithLabelValues(k.priority.String(), m.Source(k.source))
		}).Add(float64(j - i))
		i = j
	}
	m.FalcoEvents.Add(as)
}

// Input is the Inputs counter of an ingestion request from source
// (requests, batch, test, k8s_audit) ending in status (accepted,
// rejected, error).
func (m *Metrics) Input(source, status string) prometheus.Counter {
	return m.inputs.get([2]string{source, status}, func() prometheus.Counter {
		return m.Inputs.WithLabelValues(source, status)
	})
}

// Source maps an alert source to a bounded label value: Falco's sources and
// the first maxSources others seen keep their name, the rest are "other",
// so a client sending random sources cannot create unbounded series.
func (m *Metrics) Source(s string) string { return m.sources.label(s) }

const maxSources = 32

type sourceSet struct {
	mu   sync.RWMutex // every stored alert reads; a new source writes
	seen map[string]bool
}

func (s *sourceSet) label(v string) string {
	s.mu.RLock()
	known := s.seen[v]
	s.mu.RUnlock()
	if known {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[v] {
		return v
	}
	if len(s.seen) >= maxSources || len(v) > 64 {
		return "other"
	}
	s.seen[v] = true
	return v
}
