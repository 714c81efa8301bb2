// Package alertmanager posts alerts to Prometheus Alertmanager's v2 API
// (POST /api/v2/alerts) with falcosidekick's labels and annotations: every
// string or numeric output field becomes a label (name sanitised), plus
// source=falco, rule, alertname, eventsource, hostname, tags, priority and
// severity; the output is the info and description annotations, the rule
// the summary. Unlike falcosidekick, which posts one alert per request, a
// whole batch goes in one request (the API takes a list).
package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/hub/alert"
)

// PostableAlert is one element of Alertmanager's POST /api/v2/alerts body.
type PostableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    *time.Time        `json:"startsAt,omitempty"`
	EndsAt      *time.Time        `json:"endsAt,omitempty"`
}

// defaultSeverity maps priorities to falcosidekick's default severities.
var defaultSeverity = map[alert.Priority]string{
	alert.PriorityDebug:         "information",
	alert.PriorityInformational: "information",
	alert.PriorityNotice:        "information",
	alert.PriorityWarning:       "warning",
	alert.PriorityError:         "warning",
	alert.PriorityCritical:      "critical",
	alert.PriorityAlert:         "critical",
	alert.PriorityEmergency:     "critical",
}

// Forwarder posts alerts to one or more Alertmanagers.
type Forwarder struct {
	cfg    Config
	poster *outhttp.Poster
	urls   []string
	logger *slog.Logger
}

// New builds an Alertmanager forwarder.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	if len(cfg.HostPorts) == 0 {
		return nil, fmt.Errorf("alertmanager: no ALERTMANAGER_HOSTPORT")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	p, err := outhttp.NewPoster("", cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("alertmanager: %w", err)
	}
	f := &Forwarder{cfg: cfg, poster: p, logger: logger}
	for _, hp := range cfg.HostPorts {
		f.urls = append(f.urls, strings.TrimRight(hp, "/")+cfg.Endpoint)
	}
	return f, nil
}

// SafeLabel turns an output field name into a label name: characters
// outside [a-zA-Z0-9_] become "_", runs of "__" are halved and leading and
// trailing "_" dropped ("k8s.ns.name" -> "k8s_ns_name").
func SafeLabel(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	s := strings.ReplaceAll(string(b), "__", "_")
	return strings.Trim(s, "_")
}

// Build returns the Alertmanager alert for one Falco alert. It is pure.
func Build(cfg *Config, a *alert.Alert) PostableAlert {
	prio := a.Priority
	labels := map[string]string{}
	for k, v := range a.OutputFields {
		if strings.HasPrefix(k, "n_evts") {
			continue // a delta of events, not an identity: would split alerts
		}
		if strings.HasPrefix(k, "n_drop") {
			if grade, p, ok := dropGrade(cfg, v); ok {
				labels[k] = grade
				prio = max(prio, p)
			}
			continue
		}
		switch x := v.(type) {
		case string:
			labels[SafeLabel(k)] = x
		case json.Number:
			labels[SafeLabel(k)] = x.String()
		case float64:
			labels[SafeLabel(k)] = strconv.FormatFloat(x, 'f', -1, 64)
		}
	}
	labels["source"] = "falco"
	labels["rule"] = a.Rule
	// Prometheus' own alerts all carry alertname; routing and templates
	// downstream expect it.
	labels["alertname"] = a.Rule
	labels["eventsource"] = a.Source
	if a.Hostname != "" {
		labels["hostname"] = a.Hostname
	}
	if t := render.Tags(a, ","); t != "" {
		labels["tags"] = t
	}
	labels["priority"] = prio.String()
	if sev, ok := cfg.CustomSeverityMap[prio]; ok {
		labels["severity"] = sev
	} else {
		labels["severity"] = defaultSeverity[prio]
	}
	for k, v := range cfg.ExtraLabels {
		labels[k] = v
	}
	ann := map[string]string{"info": a.Output, "description": a.Output, "summary": a.Rule}
	for k, v := range cfg.ExtraAnnotations {
		ann[k] = v
	}
	pa := PostableAlert{Labels: labels, Annotations: ann}
	if cfg.ExpiresAfter > 0 {
		end := a.Time.Add(time.Duration(cfg.ExpiresAfter) * time.Second)
		pa.EndsAt = &end
	}
	return pa
}

// dropGrade grades an n_drop* count: "0" for none (at least Warning), a
// ">threshold" bucket with its priority, or the count itself with the
// default priority. Bucketing keeps the label's cardinality low, so
// Alertmanager groups the drops instead of opening an alert per count.
func dropGrade(cfg *Config, v any) (string, alert.Priority, bool) {
	s := fmt.Sprint(v)
	d, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", 0, false
	}
	if d == 0 {
		return "0", alert.PriorityWarning, true
	}
	for _, t := range cfg.DropEventThresholds {
		if d > t.Value {
			return ">" + strconv.FormatInt(t.Value, 10), t.Priority, true
		}
	}
	return s, cfg.DropEventDefaultPriority, true
}

// Forward posts the whole batch to every configured Alertmanager. A
// failure at any of them fails the batch: re-posting identical alerts to
// the others is harmless, Alertmanager merges them by label set.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	body := make([]PostableAlert, len(alerts))
	for i := range alerts {
		body[i] = Build(&f.cfg, &alerts[i])
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return false, fmt.Errorf("encode alerts: %w", err)
	}
	var (
		retry    bool
		firstErr error
	)
	for _, u := range f.urls {
		r, err := f.poster.SendTo(ctx, u, raw)
		if err != nil && firstErr == nil {
			retry, firstErr = r, err
		} else if err != nil {
			retry = retry || r
		}
	}
	return retry, firstErr
}
