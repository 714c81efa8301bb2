package forwarders

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the per-forwarder series, every one labelled "forwarder" and
// created at 0 for each target up front so dashboards and alerts see them
// before the first failure.
type metrics struct {
	sent         *prometheus.CounterVec
	failed       *prometheus.CounterVec
	retried      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	filtered     *prometheus.CounterVec
	lost         *prometheus.CounterVec
	pending      *prometheus.GaugeVec
	oldest       *prometheus.GaugeVec
	up           *prometheus.GaugeVec
	requestDur   *prometheus.HistogramVec
	latency      *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, names []string) (*metrics, error) {
	l := []string{"forwarder"}
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_forwarder_alerts_sent_total", Help: "Alerts the target accepted.",
		}, l),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_forwarder_alerts_failed_total", Help: "Alert delivery attempts that failed (each attempt counts).",
		}, l),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_forwarder_alerts_retried_total", Help: "Alerts scheduled for another attempt after a failure.",
		}, l),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_forwarder_alerts_dead_lettered_total", Help: "Alerts given up on and recorded as dead letters.",
		}, l),
		filtered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_forwarder_alerts_filtered_total", Help: "Alerts below the forwarder's minimum priority, acknowledged without sending.",
		}, l),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_forwarder_alerts_lost_total", Help: "Alerts stored but gone from the store before the forwarder acknowledged them (e.g. Redis restarted without persistence); they can never be delivered.",
		}, l),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "saker_forwarder_queue_depth", Help: "Stored alerts not yet acknowledged by the forwarder (pending plus not yet read).",
		}, l),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "saker_forwarder_lag_seconds", Help: "Age of the oldest alert not yet acknowledged by the forwarder.",
		}, l),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "saker_forwarder_up", Help: "1 when the forwarder's last delivery attempt reached the target and succeeded, else 0.",
		}, l),
		requestDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "saker_forwarder_request_duration_seconds", Help: "Duration of one Forward call (one request or batch) to the target.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, l),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "saker_forwarder_delivery_latency_seconds", Help: "Time from an alert being stored to the target accepting it.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 12),
		}, l),
	}
	for _, n := range names {
		m.sent.WithLabelValues(n)
		m.failed.WithLabelValues(n)
		m.retried.WithLabelValues(n)
		m.deadLettered.WithLabelValues(n)
		m.filtered.WithLabelValues(n)
		m.lost.WithLabelValues(n)
		m.pending.WithLabelValues(n)
		m.oldest.WithLabelValues(n)
		m.up.WithLabelValues(n).Set(1)
		m.requestDur.WithLabelValues(n)
		m.latency.WithLabelValues(n)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.sent, m.failed, m.retried, m.deadLettered, m.filtered, m.lost, m.pending, m.oldest, m.up, m.requestDur, m.latency} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}
