package sensor

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/sensor/output"
	"github.com/saker-sec/saker/sensor/prefilter"
	"github.com/saker-sec/saker/sensor/probe"
)

// metricsCollector exports the sensor's counters on each scrape: the probe's
// per-type emitted/dropped counters (read from its per-CPU map), rule
// matches, and the outputs' per-sink counters. Every series of a captured
// type exists from the start, at 0.
type metricsCollector struct {
	p     *probe.Probe
	stats *Stats
	outs  interface{ Stats() []output.SinkStats }

	kernelEvents, kernelDropped, kernelFiltered, events, matches, emitErrors *prometheus.Desc
	sinkSent, sinkFailed, sinkDropped                                        *prometheus.Desc
}

func newMetricsCollector(p *probe.Probe, st *Stats, em Emitter) *metricsCollector {
	c := &metricsCollector{
		p: p, stats: st,
		kernelEvents:   prometheus.NewDesc("saker_sensor_kernel_events_total", "Records the probe wrote to its ring buffer, by event type.", []string{"type"}, nil),
		kernelDropped:  prometheus.NewDesc("saker_sensor_kernel_dropped_total", "Records the probe dropped because the ring buffer was full, by event type.", []string{"type"}, nil),
		kernelFiltered: prometheus.NewDesc("saker_sensor_kernel_filtered_total", "Opens the probe's open filter left in the kernel because no loaded rule could match them, by event type.", []string{"type"}, nil),
		events:         prometheus.NewDesc("saker_sensor_events_total", "Events decoded and evaluated against the rules.", nil, nil),
		matches:        prometheus.NewDesc("saker_sensor_rule_matches_total", "Rule matches (alerts raised).", nil, nil),
		emitErrors:     prometheus.NewDesc("saker_sensor_emit_errors_total", "Alerts the outputs refused.", nil, nil),
		sinkSent:       prometheus.NewDesc("saker_sensor_output_sent_total", "Alerts delivered, by output.", []string{"output"}, nil),
		sinkFailed:     prometheus.NewDesc("saker_sensor_output_failures_total", "Failed deliveries, by output.", []string{"output"}, nil),
		sinkDropped:    prometheus.NewDesc("saker_sensor_output_dropped_total", "Alerts dropped by a full output queue, by output.", []string{"output"}, nil),
	}
	if o, ok := em.(interface{ Stats() []output.SinkStats }); ok {
		c.outs = o
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.kernelEvents, c.kernelDropped, c.kernelFiltered, c.events, c.matches, c.emitErrors, c.sinkSent, c.sinkFailed, c.sinkDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	if counts, err := c.p.Counts(); err == nil {
		for _, t := range c.p.Types() {
			ch <- prometheus.MustNewConstMetric(c.kernelEvents, prometheus.CounterValue, float64(counts.Seen[t]), t.String())
			ch <- prometheus.MustNewConstMetric(c.kernelDropped, prometheus.CounterValue, float64(counts.Dropped[t]), t.String())
			if slices.Contains(prefilter.OpenTypes, t) {
				ch <- prometheus.MustNewConstMetric(c.kernelFiltered, prometheus.CounterValue, float64(counts.Filtered[t]), t.String())
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(c.stats.Events.Load()))
	ch <- prometheus.MustNewConstMetric(c.matches, prometheus.CounterValue, float64(c.stats.Matches.Load()))
	ch <- prometheus.MustNewConstMetric(c.emitErrors, prometheus.CounterValue, float64(c.stats.EmitErrors.Load()))
	if c.outs != nil {
		for _, s := range c.outs.Stats() {
			ch <- prometheus.MustNewConstMetric(c.sinkSent, prometheus.CounterValue, float64(s.Sent), s.Name)
			ch <- prometheus.MustNewConstMetric(c.sinkFailed, prometheus.CounterValue, float64(s.Failed), s.Name)
			ch <- prometheus.MustNewConstMetric(c.sinkDropped, prometheus.CounterValue, float64(s.Dropped), s.Name)
		}
	}
}
