package outhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Poster sends request bodies to one URL and classifies the outcome: the
// shared core of the outputs that are one documented HTTP call per alert
// or batch (chat webhooks, incident APIs, log intakes).
type Poster struct {
	Client *http.Client
	Method string // POST when empty
	URL    string
	// ContentType defaults to ContentTypeJSON.
	ContentType string
	// Header holds the service's own headers (auth, API keys); Custom
	// (<OUT>_CUSTOMHEADERS) is applied after it and may override it.
	Header http.Header
	Custom map[string]string
	// User and Password set basic auth when User is not empty.
	User, Password string
	// SecretURL hides the URL's path and query in errors: webhook URLs
	// whose path is the credential (Teams, Discord, Google Chat).
	SecretURL bool
}

// NewPoster builds a Poster for url with a client honouring the output's
// CHECKCERT and MUTUALTLS settings.
func NewPoster(url string, c settings.Common, o Options) (*Poster, error) {
	o.CheckCert, o.MutualTLS = c.CheckCert, c.MutualTLS
	client, err := NewClient(o)
	if err != nil {
		return nil, err
	}
	return &Poster{Client: client, URL: url, Custom: c.CustomHeaders}, nil
}

// PostJSON encodes v and sends it.
func (p *Poster) PostJSON(ctx context.Context, v any) (bool, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("encode request body: %w", err)
	}
	return p.Send(ctx, body)
}

// Send sends body; nil error for a 2xx answer.
func (p *Poster) Send(ctx context.Context, body []byte) (bool, error) {
	return p.SendTo(ctx, p.URL, body)
}

// SendTo sends body to another URL of the same service (one Alertmanager
// of several, a per-alert path).
func (p *Poster) SendTo(ctx context.Context, target string, body []byte) (bool, error) {
	method := p.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("build request: %w", p.redact(err))
	}
	ct := p.ContentType
	if ct == "" {
		ct = ContentTypeJSON
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", UserAgent)
	for k, vs := range p.Header {
		req.Header[k] = vs
	}
	if p.User != "" {
		req.SetBasicAuth(p.User, p.Password)
	}
	SetHeaders(req.Header, p.Custom)
	retry, err := Do(ctx, p.Client, req)
	if err != nil {
		return retry, p.redact(err)
	}
	return false, nil
}

// redact replaces a *url.Error's URL by its redacted form, so a secret
// webhook path never reaches logs or dead letters.
func (p *Poster) redact(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	shown := settings.Redact(ue.URL)
	if p.SecretURL {
		shown = settings.RedactPath(ue.URL)
	}
	return fmt.Errorf("%s %s: %w", ue.Op, shown, ue.Err)
}

// PerAlert is a forwarder sending one request per alert, in order, with
// the body Build returns: the shape of every chat webhook and of the
// outputs that take the Falco payload as it is.
type PerAlert struct {
	Poster *Poster
	Build  func(*alert.Alert) any
}

// Forward sends the alerts one by one, stopping at the first failure.
func (f *PerAlert) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	return batch.Each(ctx, alerts, func(ctx context.Context, a *alert.Alert) (bool, error) {
		return f.Poster.PostJSON(ctx, f.Build(a))
	})
}

// WithHeaders wraps a client's transport so that every request a service
// library builds carries <OUT>_CUSTOMHEADERS.
func WithHeaders(c *http.Client, headers map[string]string) *http.Client {
	if len(headers) == 0 {
		return c
	}
	cp := *c
	cp.Transport = headerTransport{base: c.Transport, headers: headers}
	return &cp
}

type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	SetHeaders(r.Header, t.headers)
	return t.base.RoundTrip(r)
}
