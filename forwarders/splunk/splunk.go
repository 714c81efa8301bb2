// Package splunk sends alerts to Splunk's HTTP Event Collector (HEC) in
// falcosidekick's shape: each event is {"event": <Falco payload>,
// "sourcetype": "falcosidekick"}, authenticated by "Authorization: Splunk
// <token>". Unlike falcosidekick (one request per alert), a batch goes in
// one request as concatenated event objects, which HEC documents; and each
// event carries the alert's time, so alerts delivered late after an outage
// are indexed at the time they happened rather than the time they arrived.
package splunk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// SourceType is falcosidekick's sourcetype.
const SourceType = "falcosidekick"

// Config is the Splunk output's configuration (SPLUNK_*).
type Config struct {
	// Host is the full HEC URL (SPLUNK_HOST, e.g.
	// https://splunk:8088/services/collector/event); enables the output.
	Host  string
	Token string // SPLUNK_TOKEN -> Authorization: Splunk <token>
	settings.Common
}

// Load reads the Splunk settings; enabled is false without SPLUNK_HOST.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.Host = src.String("splunk.host", "")
	if cfg.Host == "" {
		return cfg, false
	}
	src.URL("splunk.host", cfg.Host)
	cfg.Token = src.String("splunk.token", "")
	cfg.Common = src.Common("splunk")
	return cfg, true
}

// Event is one HEC event.
type Event struct {
	// Time is the alert's time in epoch seconds (HEC's "time").
	Time       json.Number  `json:"time"`
	Event      *alert.Alert `json:"event"`
	SourceType string       `json:"sourcetype"`
}

// Build returns the HEC event of one alert.
func Build(a *alert.Alert) Event {
	ms := a.Time.UnixMilli()
	return Event{Time: json.Number(fmt.Sprintf("%d.%03d", ms/1000, ms%1000)), Event: a, SourceType: SourceType}
}

// Encode concatenates the HEC events of alerts (HEC's batch format).
func Encode(alerts []alert.Alert) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range alerts {
		if err := enc.Encode(Build(&alerts[i])); err != nil {
			return nil, fmt.Errorf("encode alert %d: %w", i, err)
		}
	}
	return buf.Bytes(), nil
}

// Forwarder sends alerts to a Splunk HEC.
type Forwarder struct {
	poster *outhttp.Poster
}

// New builds a Splunk forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*Forwarder, error) {
	p, err := outhttp.NewPoster(cfg.Host, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("splunk: %w", err)
	}
	if cfg.Token != "" {
		p.Header = http.Header{"Authorization": {"Splunk " + cfg.Token}}
	}
	return &Forwarder{poster: p}, nil
}

// reply is HEC's answer body; InvalidEvent is the 0-based index of the
// event that stopped a batch (HEC indexes the events before it).
type reply struct {
	Text         string `json:"text"`
	Code         int    `json:"code"`
	InvalidEvent *int   `json:"invalid-event-number"`
}

// Forward sends the batch in one request. When HEC refuses one event of the
// batch, the ones before it are delivered, it is a final failure and the
// ones after it are sent again.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	body, err := Encode(alerts)
	if err != nil {
		return false, err
	}
	retry, err := f.poster.Send(ctx, body)
	var se *outhttp.StatusError
	if err == nil || len(alerts) < 2 || !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		return retry, err
	}
	var r reply
	if json.Unmarshal([]byte(se.Body), &r) != nil || r.InvalidEvent == nil || *r.InvalidEvent < 0 || *r.InvalidEvent >= len(alerts) {
		return retry, err
	}
	n := *r.InvalidEvent
	pe := &batch.PartialError{Failures: []batch.Failure{{Index: n, Err: err}}}
	for j := n + 1; j < len(alerts); j++ {
		pe.Failures = append(pe.Failures, batch.Failure{Index: j, Retry: true, Skipped: true, Err: fmt.Errorf("not indexed after event %d was refused: %w", n, err)})
	}
	return false, pe
}
