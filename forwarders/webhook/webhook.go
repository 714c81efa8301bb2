// Package webhook forwards each alert as its Falco JSON payload to an HTTP
// endpoint, as falcosidekick's webhook output does.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/hub/alert"
)

// Forwarder posts alerts to a webhook.
type Forwarder struct {
	cfg    Config
	client *http.Client
	logger *slog.Logger
}

// New builds a webhook forwarder.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	httpOpts.CheckCert, httpOpts.MutualTLS = cfg.CheckCert, cfg.MutualTLS
	c, err := outhttp.NewClient(httpOpts)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Forwarder{cfg: cfg, client: c, logger: logger}, nil
}

// Body is the request body for one alert: the Falco payload.
func Body(a *alert.Alert) ([]byte, error) {
	return json.Marshal(a)
}

// Forward sends each alert in its own request, in order.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	return batch.Each(ctx, alerts, f.send)
}

func (f *Forwarder) send(ctx context.Context, a *alert.Alert) (bool, error) {
	body, err := Body(a)
	if err != nil {
		return false, fmt.Errorf("encode alert: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, f.cfg.Method, f.cfg.Address, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", outhttp.ContentTypeJSON)
	req.Header.Set("User-Agent", outhttp.UserAgent)
	outhttp.SetHeaders(req.Header, f.cfg.CustomHeaders)
	return outhttp.Do(ctx, f.client, req)
}
