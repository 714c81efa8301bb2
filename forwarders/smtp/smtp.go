// Package smtp emails each alert with emersion/go-smtp, configured by
// falcosidekick's SMTP_* settings: STARTTLS (SMTP_TLS, the default), SASL
// authentication (PLAIN, OAUTHBEARER, EXTERNAL, ANONYMOUS or none), and an
// HTML-with-text or text-only body.
//
// Unlike falcosidekick, the message is a standard MIME message (CRLF
// lines, quoted-printable parts, an encoded Subject, a Message-ID from the
// alert's uuid so clients can spot a redelivery), the alerts of a batch
// share one connection, and a refused message is a delivery failure the
// dispatcher retries (4xx) or dead-letters (5xx) instead of a log line.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Config is the SMTP output's configuration (SMTP_*).
type Config struct {
	HostPort string // SMTP_HOSTPORT (host:port); with From and To, enables the output
	// TLS is SMTP_TLS (true): upgrade with STARTTLS, or implicit TLS when
	// the port is 465 (a Saker addition; falcosidekick only does STARTTLS).
	TLS bool
	// AuthMechanism is SMTP_AUTHMECHANISM: plain (default), oauthbearer,
	// external, anonymous or none. plain without SMTP_USER sends no AUTH
	// (a local relay); falcosidekick fails every mail then.
	AuthMechanism  string
	User, Password string          // SMTP_USER, SMTP_PASSWORD (plain, oauthbearer's user)
	Token          string          // SMTP_TOKEN (oauthbearer)
	Identity       string          // SMTP_IDENTITY (plain, external)
	Trace          string          // SMTP_TRACE (anonymous)
	From           *mail.Address   // SMTP_FROM
	To             []*mail.Address // SMTP_TO, comma-separated
	OutputFormat   string          // SMTP_OUTPUTFORMAT: html (HTML and text parts) or text
	settings.Common
}

// Load reads the SMTP settings. As in falcosidekick the output is enabled
// by SMTP_HOSTPORT with SMTP_FROM and SMTP_TO; without either of those it
// stays off with a warning.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.HostPort = src.String("smtp.hostport", "")
	if cfg.HostPort == "" {
		return cfg, false
	}
	from, to := src.String("smtp.from", ""), src.String("smtp.to", "")
	if from == "" || to == "" {
		src.Warnf("smtp.hostport", "SMTP_FROM and SMTP_TO are required with SMTP_HOSTPORT; SMTP output disabled")
		return cfg, false
	}
	if _, port, err := net.SplitHostPort(cfg.HostPort); err != nil || port == "" {
		src.Errorf("smtp.hostport", "%q is not host:port", cfg.HostPort)
	}
	var err error
	if cfg.From, err = mail.ParseAddress(from); err != nil {
		src.Errorf("smtp.from", "%q is not an email address: %v", from, err)
	}
	if cfg.To, err = mail.ParseAddressList(to); err != nil {
		src.Errorf("smtp.to", "%q is not a list of email addresses: %v", to, err)
	}
	cfg.TLS = src.Bool("smtp.tls", true)
	cfg.AuthMechanism = src.Enum("smtp.authmechanism", "plain", "plain", "oauthbearer", "external", "anonymous", "none")
	cfg.User = src.String("smtp.user", "")
	cfg.Password = src.Secret("smtp.password", "")
	cfg.Token = src.Secret("smtp.token", "")
	cfg.Identity = src.String("smtp.identity", "")
	cfg.Trace = src.String("smtp.trace", "")
	cfg.OutputFormat = src.Enum("smtp.outputformat", "html", "html", "text")
	cfg.Common = src.Common("smtp")
	return cfg, true
}

// Forwarder emails alerts.
type Forwarder struct {
	cfg     Config
	host    string
	tls     *tls.Config
	timeout time.Duration
}

// New builds an SMTP forwarder; it does not connect (a server down at
// start-up is a delivery failure to retry).
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*Forwarder, error) {
	host, _, err := net.SplitHostPort(cfg.HostPort)
	if err != nil {
		return nil, fmt.Errorf("smtp: SMTP_HOSTPORT %q: %w", cfg.HostPort, err)
	}
	httpOpts.CheckCert, httpOpts.MutualTLS = cfg.CheckCert, cfg.MutualTLS
	tlsCfg, err := outhttp.TLSConfig(httpOpts)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	tlsCfg.ServerName = host
	timeout := httpOpts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Forwarder{cfg: cfg, host: host, tls: tlsCfg, timeout: timeout}, nil
}

// Forward sends one email per alert over one connection, stopping at the
// first refused one (the rest are retried).
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	c, err := f.connect(ctx)
	if err != nil {
		return retryable(err), fmt.Errorf("smtp %s: %w", f.cfg.HostPort, err)
	}
	defer c.Close()
	to := make([]string, len(f.cfg.To))
	for i, a := range f.cfg.To {
		to[i] = a.Address
	}
	retry, err := batch.Each(ctx, alerts, func(_ context.Context, a *alert.Alert) (bool, error) {
		msg, err := Message(a, f.cfg.From, f.cfg.To, f.cfg.OutputFormat)
		if err != nil {
			return false, err
		}
		if err := c.SendMail(f.cfg.From.Address, to, strings.NewReader(msg)); err != nil {
			return retryable(err), fmt.Errorf("smtp %s: %w", f.cfg.HostPort, err)
		}
		return false, nil
	})
	if err == nil {
		_ = c.Quit()
	}
	return retry, err
}

// connect dials the server within ctx, upgrades to TLS as configured and
// authenticates.
func (f *Forwarder) connect(ctx context.Context) (*gosmtp.Client, error) {
	d := net.Dialer{Timeout: f.timeout}
	conn, err := d.DialContext(ctx, "tcp", f.cfg.HostPort)
	if err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(f.timeout)
	}
	_ = conn.SetDeadline(deadline)
	var c *gosmtp.Client
	switch {
	case f.cfg.TLS && strings.HasSuffix(f.cfg.HostPort, ":465"):
		tc := tls.Client(conn, f.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		c = gosmtp.NewClient(tc)
	case f.cfg.TLS:
		c, err = gosmtp.NewClientStartTLS(conn, f.tls)
		if err != nil {
			conn.Close()
			if strings.Contains(err.Error(), "STARTTLS") {
				return nil, &configError{fmt.Errorf("%w (set SMTP_TLS=false for a server without TLS)", err)}
			}
			return nil, err
		}
	default:
		c = gosmtp.NewClient(conn)
	}
	auth, err := f.auth()
	if err != nil {
		c.Close()
		return nil, err
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			c.Close()
			return nil, fmt.Errorf("authenticate (%s): %w", f.cfg.AuthMechanism, err)
		}
	}
	return c, nil
}

// auth is the SASL client of SMTP_AUTHMECHANISM (nil: no AUTH).
func (f *Forwarder) auth() (sasl.Client, error) {
	switch f.cfg.AuthMechanism {
	case "plain":
		if f.cfg.User == "" {
			return nil, nil
		}
		return sasl.NewPlainClient(f.cfg.Identity, f.cfg.User, f.cfg.Password), nil
	case "oauthbearer":
		_, portStr, _ := net.SplitHostPort(f.cfg.HostPort)
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, &configError{fmt.Errorf("SMTP_HOSTPORT port %q: %w", portStr, err)}
		}
		return sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: f.cfg.User, Token: f.cfg.Token, Host: f.host, Port: port}), nil
	case "external":
		return sasl.NewExternalClient(f.cfg.Identity), nil
	case "anonymous":
		return sasl.NewAnonymousClient(f.cfg.Trace), nil
	}
	return nil, nil
}

// configError is a failure only a settings change can fix.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// retryable says whether a failure may pass later: a 4xx answer
// (temporary: greylisting, mailbox busy, rate limit) or a connection
// failure may; a 5xx answer (refused login, unknown recipient, message
// too large), a bad certificate or a settings mismatch will not.
func retryable(err error) bool {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		return se.Code < 500
	}
	var ce *configError
	var certErr *tls.CertificateVerificationError
	return !errors.As(err, &ce) && !errors.As(err, &certErr)
}
