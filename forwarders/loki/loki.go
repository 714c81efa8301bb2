// Package loki pushes alerts to Grafana Loki's push API: one request per
// batch, alerts grouped into streams by their label set, labels as
// falcosidekick builds them.
package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/hub/alert"
)

// Payload is Loki's push request body.
type Payload struct {
	Streams []Stream `json:"streams"`
}

// Stream is one label set and its entries ([unix-ns, line]).
type Stream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// Forwarder pushes alerts to Loki.
type Forwarder struct {
	cfg    Config
	url    string
	client *http.Client
	logger *slog.Logger
}

// New builds a Loki forwarder.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	httpOpts.CheckCert, httpOpts.MutualTLS = cfg.CheckCert, cfg.MutualTLS
	c, err := outhttp.NewClient(httpOpts)
	if err != nil {
		return nil, fmt.Errorf("loki: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Forwarder{cfg: cfg, url: cfg.URL(), client: c, logger: logger}, nil
}

// labelName turns an output field name into a label name as falcosidekick
// does: "." becomes "_", brackets are dropped.
func labelName(field string) string {
	return strings.NewReplacer(".", "_", "[", "", "]", "").Replace(field)
}

// Labels returns the stream labels of one alert: rule, source, priority,
// k8s_ns_name, k8s_pod_name, hostname, tags (sorted, comma-joined) and the
// string output fields named by CUSTOMFIELDS, TEMPLATEDFIELDS and
// LOKI_EXTRALABELS.
func Labels(cfg *Config, a *alert.Alert) map[string]string {
	s := map[string]string{
		"rule":     a.Rule,
		"source":   a.Source,
		"priority": a.Priority.String(),
	}
	if v, ok := a.Field("k8s.ns.name"); ok {
		s["k8s_ns_name"] = v
	}
	if v, ok := a.Field("k8s.pod.name"); ok {
		s["k8s_pod_name"] = v
	}
	for _, names := range [][]string{cfg.GlobalLabels, cfg.ExtraLabels} {
		for _, k := range names {
			if v, ok := a.Field(k); ok {
				s[labelName(k)] = strings.ReplaceAll(v, `"`, "")
			}
		}
	}
	if a.Hostname != "" {
		s["hostname"] = a.Hostname
	}
	if len(a.Tags) > 0 {
		tags := append([]string(nil), a.Tags...)
		sort.Strings(tags)
		s["tags"] = strings.Join(tags, ",")
	}
	return s
}

// Line is an alert's log line: its output, or its JSON payload with
// LOKI_FORMAT=json.
func Line(cfg *Config, a *alert.Alert) (string, error) {
	if cfg.Format == "json" {
		b, err := json.Marshal(a)
		if err != nil {
			return "", fmt.Errorf("encode alert: %w", err)
		}
		return string(b), nil
	}
	return a.Output, nil
}

// BuildPayload groups alerts into streams (first-seen order), entries in
// time order within a stream. It is pure and tested without a network.
func BuildPayload(cfg *Config, alerts []alert.Alert) (Payload, error) {
	var p Payload
	index := map[string]int{}
	for i := range alerts {
		a := &alerts[i]
		labels := Labels(cfg, a)
		key := labelKey(labels)
		n, ok := index[key]
		if !ok {
			n = len(p.Streams)
			index[key] = n
			p.Streams = append(p.Streams, Stream{Stream: labels})
		}
		line, err := Line(cfg, a)
		if err != nil {
			return Payload{}, err
		}
		p.Streams[n].Values = append(p.Streams[n].Values, [2]string{strconv.FormatInt(a.Time.UnixNano(), 10), line})
	}
	for i := range p.Streams {
		v := p.Streams[i].Values
		sort.SliceStable(v, func(x, y int) bool {
			return len(v[x][0]) < len(v[y][0]) || (len(v[x][0]) == len(v[y][0]) && v[x][0] < v[y][0])
		})
	}
	return p, nil
}

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(l[k])
		b.WriteByte(0)
	}
	return b.String()
}

// Forward pushes the whole batch in one request.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	p, err := BuildPayload(&f.cfg, alerts)
	if err != nil {
		return false, err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode loki payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", outhttp.UserAgent)
	if f.cfg.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", f.cfg.Tenant)
	}
	if f.cfg.User != "" && f.cfg.APIKey != "" {
		req.SetBasicAuth(f.cfg.User, f.cfg.APIKey)
	}
	outhttp.SetHeaders(req.Header, f.cfg.CustomHeaders)
	return outhttp.Do(ctx, f.client, req)
}
