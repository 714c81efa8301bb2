package metrics

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/hub/alert"
)

// FalcoEventsName is falcosidekick's per-alert counter: dashboards and
// alert rules written for falcosidekick read it unchanged.
const FalcoEventsName = "falcosecurity_falcosidekick_falco_events_total"

// falcoEventLabels are falcosidekick's fixed labels, in its order.
var falcoEventLabels = []string{"hostname", "rule", "priority", "priority_raw", "source", "k8s_ns_name", "k8s_pod_name"}

var labelName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// FieldLabel is the label name of an output field, as falcosidekick makes
// it ("." becomes "_"), and whether it can be one: a valid Prometheus name
// that is not one of the fixed labels.
func FieldLabel(field string) (string, bool) {
	l := strings.ReplaceAll(field, ".", "_")
	if !labelName.MatchString(l) {
		return l, false
	}
	for _, fixed := range falcoEventLabels {
		if l == fixed {
			return l, false
		}
	}
	return l, true
}

// EventField is an output field that labels falco_events.
type EventField struct {
	Name string
	// AnyValue labels with any value (CUSTOMFIELDS, TEMPLATEDFIELDS, as
	// falcosidekick formats them with %v); otherwise only a string value
	// counts and others give "" (PROMETHEUS_EXTRALABELS).
	AnyValue bool
}

// FalcoEvents counts stored alerts with falcosidekick's labels: hostname
// ("unknown" when empty), rule, priority (its number, 1 = Debug … 8 =
// Emergency), priority_raw (lower-case name), source, k8s_ns_name,
// k8s_pod_name, then one label per EventField. These labels are unbounded
// (every rule, host and pod makes a series), which is what falcosidekick
// users chart; the hub's own saker_hub_alerts_total stays bounded.
type FalcoEvents struct {
	vec    *prometheus.CounterVec
	fields []EventField
	// series remembers the counters of the fixed labels' series, when
	// there are no others (the default).
	series *seriesCache[falcoSeries]
}

// falcoSeries keys a series of the fixed labels: their values but the
// ones derived from others (priority_raw) or defaulted (hostname).
type falcoSeries struct {
	hostname, rule, source, ns, pod string
	priority                        alert.Priority
}

// maxCachedSeries bounds FalcoEvents.series: a series per rule, host and
// pod, of which a busy hub has thousands.
const maxCachedSeries = 16384

func newFalcoEvents(fields []EventField) *FalcoEvents {
	names := append([]string(nil), falcoEventLabels...)
	seen := map[string]bool{}
	var kept []EventField
	for _, f := range fields {
		l, ok := FieldLabel(f.Name)
		if !ok || seen[l] {
			continue // config warns about these; a duplicate would panic the registry
		}
		seen[l] = true
		names = append(names, l)
		kept = append(kept, f)
	}
	return &FalcoEvents{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: FalcoEventsName, Help: "Alerts received, by falcosidekick's labels.",
		}, names),
		fields: kept,
		series: newSeriesCache[falcoSeries](maxCachedSeries),
	}
}

// Inc counts one alert.
func (e *FalcoEvents) Inc(a *alert.Alert) { e.Add(unsafe.Slice(a, 1)) } // a as a one-alert slice, not a copy

// Add counts alerts. Consecutive alerts with the same labels (a batch from
// one host and rule) cost one series lookup, which hashes every label
// value, instead of one each.
func (e *FalcoEvents) Add(as []alert.Alert) {
	if len(e.fields) == 0 {
		e.addFixed(as)
		return
	}
	// Two label buffers, the current run's and the next alert's, swapped
	// as runs change: the vector copies the values of a series it
	// creates, so neither is kept, and for the usual label count both
	// live on the stack.
	var bufs [2][16]string
	run, next := bufs[0][:0], bufs[1][:0]
	n := 0
	for i := range as {
		next = e.values(next[:0], &as[i])
		if n > 0 && slices.Equal(next, run) {
			n++
			continue
		}
		if n > 0 {
			e.vec.WithLabelValues(run...).Add(float64(n))
		}
		run, next, n = next, run, 1
	}
	if n > 0 {
		e.vec.WithLabelValues(run...).Add(float64(n))
	}
}

// addFixed is Add when the fixed labels are all: a run of alerts with
// equal values costs a lookup in series.
func (e *FalcoEvents) addFixed(as []alert.Alert) {
	var run falcoSeries
	n := 0
	for i := range as {
		a := &as[i]
		k := falcoSeries{hostname: a.Hostname, rule: a.Rule, source: a.Source, priority: a.Priority}
		k.ns, _ = a.Field("k8s.ns.name")
		k.pod, _ = a.Field("k8s.pod.name")
		if n > 0 && k == run {
			n++
			continue
		}
		if n > 0 {
			e.counter(&as[i-1], run).Add(float64(n))
		}
		run, n = k, 1
	}
	if n > 0 {
		e.counter(&as[len(as)-1], run).Add(float64(n))
	}
}

// counter is the series of k, a's fixed labels.
func (e *FalcoEvents) counter(a *alert.Alert, k falcoSeries) prometheus.Counter {
	return e.series.get(k, func() prometheus.Counter {
		var buf [8]string
		return e.vec.WithLabelValues(e.values(buf[:0], a)...)
	})
}

// priorityRaw is falcosidekick's priority_raw label of each priority.
var priorityRaw = func() map[alert.Priority]string {
	m := map[alert.Priority]string{}
	for p := alert.PriorityUnset; p <= alert.PriorityEmergency; p++ {
		m[p] = strings.ToLower(p.String())
	}
	return m
}()

// values appends a's label values to dst.
func (e *FalcoEvents) values(dst []string, a *alert.Alert) []string {
	host := a.Hostname
	if host == "" {
		host = "unknown"
	}
	ns, _ := a.Field("k8s.ns.name")
	pod, _ := a.Field("k8s.pod.name")
	raw, ok := priorityRaw[a.Priority]
	if !ok {
		raw = strings.ToLower(a.Priority.String())
	}
	dst = append(dst, host, a.Rule, strconv.Itoa(int(a.Priority)), raw, a.Source, ns, pod)
	for _, f := range e.fields {
		var v string
		if f.AnyValue {
			if raw, ok := a.FieldValue(f.Name); ok && raw != nil {
				v = fmt.Sprint(raw)
			}
		} else {
			v, _ = a.Field(f.Name)
		}
		dst = append(dst, v)
	}
	return dst
}
