// Package nats publishes each alert's Falco JSON payload to NATS with
// nats.go, on a subject built from falcosidekick's NATS_SUBJECTTEMPLATE
// (falco.<priority>.<rule>, the rule slugged). Unlike falcosidekick, which
// connects per alert and cannot tell whether the server got it, one
// connection is kept and a batch is confirmed by a flush round trip.
package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	gonats "github.com/nats-io/nats.go"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// DefaultSubjectTemplate is falcosidekick's default subject.
const DefaultSubjectTemplate = "falco.<priority>.<rule>"

// Config is the NATS output's configuration (NATS_*).
type Config struct {
	HostPort        string // NATS_HOSTPORT (nats://host:4222, tls:// for TLS); enables the output
	SubjectTemplate string // NATS_SUBJECTTEMPLATE
	settings.Common
}

// Load reads the NATS settings; enabled is false without NATS_HOSTPORT.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.HostPort = src.String("nats.hostport", "")
	if cfg.HostPort == "" {
		return cfg, false
	}
	cfg.SubjectTemplate = src.String("nats.subjecttemplate", DefaultSubjectTemplate)
	cfg.Common = src.Common("nats")
	return cfg, true
}

var slug = regexp.MustCompile("[^a-z0-9]+")

// Subject returns the subject of one alert: <priority> lower-cased, <rule>
// lower-cased with every run of other characters turned into "_".
func Subject(template string, a *alert.Alert) string {
	if template == "" {
		template = DefaultSubjectTemplate
	}
	s := strings.ReplaceAll(template, "<priority>", strings.ToLower(a.Priority.String()))
	return strings.ReplaceAll(s, "<rule>", strings.Trim(slug.ReplaceAllString(strings.ToLower(a.Rule), "_"), "_"))
}

// Forwarder publishes alerts to NATS.
type Forwarder struct {
	cfg  Config
	opts []gonats.Option
	mu   sync.Mutex
	conn *gonats.Conn
}

// New builds a NATS forwarder; it connects on first use, so a server down
// at start-up is a delivery failure to retry.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*Forwarder, error) {
	opts := []gonats.Option{gonats.Name("saker"), gonats.MaxReconnects(-1)}
	if strings.HasPrefix(cfg.HostPort, "tls://") || cfg.MutualTLS {
		httpOpts.CheckCert, httpOpts.MutualTLS = cfg.CheckCert, cfg.MutualTLS
		tc, err := outhttp.TLSConfig(httpOpts)
		if err != nil {
			return nil, fmt.Errorf("nats: %w", err)
		}
		opts = append(opts, gonats.Secure(tc))
	}
	return &Forwarder{cfg: cfg, opts: opts}, nil
}

func (f *Forwarder) connect() (*gonats.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil && !f.conn.IsClosed() {
		return f.conn, nil
	}
	c, err := gonats.Connect(f.cfg.HostPort, f.opts...)
	if err != nil {
		return nil, err
	}
	f.conn = c
	return c, nil
}

// Close closes the connection.
func (f *Forwarder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil {
		f.conn.Close()
	}
}

// Forward publishes the batch and waits for the server to have read it
// (a PING/PONG flush); a batch not confirmed is retried whole.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	c, err := f.connect()
	if err != nil {
		return true, fmt.Errorf("nats connect %s: %w", settings.Redact(f.cfg.HostPort), err)
	}
	for i := range alerts {
		body, err := json.Marshal(&alerts[i])
		if err != nil {
			return false, fmt.Errorf("encode alert: %w", err)
		}
		if err := c.Publish(Subject(f.cfg.SubjectTemplate, &alerts[i]), body); err != nil {
			// Payload over the server's max_payload will never pass.
			return err != gonats.ErrMaxPayload, fmt.Errorf("nats publish: %w", err)
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		// nats.go needs a deadline; the dispatcher always sets one.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if err := c.FlushWithContext(ctx); err != nil {
		return true, fmt.Errorf("nats flush: %w", err)
	}
	return false, nil
}
