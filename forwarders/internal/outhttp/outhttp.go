// Package outhttp holds what the HTTP forwarders share: an http.Client
// built from falcosidekick's TLS settings (CHECKCERT, MUTUALTLS and the
// global certificate files) and the single place where an HTTP response
// status becomes a retry decision.
package outhttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/settings"
)

// UserAgent is sent with every request.
const UserAgent = "Saker"

// ContentTypeJSON is falcosidekick's default request content type.
const ContentTypeJSON = "application/json; charset=utf-8"

// Options configures a client.
type Options struct {
	CheckCert bool
	MutualTLS bool
	TLS       settings.TLS
	// Timeout bounds one request end to end; a hung target cannot stall the
	// forwarder longer than this. 0 means 10s.
	Timeout time.Duration
}

// NewClient builds an http.Client. Missing or unreadable certificate files
// are start-up errors.
func NewClient(o Options) (*http.Client, error) {
	cfg, err := TLSConfig(o)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.MaxIdleConnsPerHost = 4
	tr.ResponseHeaderTimeout = 0
	tr.TLSClientConfig = cfg
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// TLSConfig builds the client TLS configuration of o (CHECKCERT, MUTUALTLS
// and the global certificate files), for outputs that are not HTTP
// (Kafka, NATS, syslog over TLS).
func TLSConfig(o Options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if o.TLS.CACertFile != "" {
		if err := appendPEM(pool, o.TLS.CACertFile); err != nil {
			return nil, fmt.Errorf("TLSCLIENT_CACERTFILE: %w", err)
		}
	}
	if o.MutualTLS {
		certFile := pick(o.TLS.ClientCertFile, o.TLS.MutualTLSFilesPath, "client.crt")
		keyFile := pick(o.TLS.ClientKeyFile, o.TLS.MutualTLSFilesPath, "client.key")
		caFile := pick(o.TLS.ClientCACertFile, o.TLS.MutualTLSFilesPath, "ca.crt")
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("mutual TLS client certificate %s / %s: %w", certFile, keyFile, err)
		}
		if err := appendPEM(pool, caFile); err != nil {
			return nil, fmt.Errorf("mutual TLS CA: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	} else if !o.CheckCert {
		// As in falcosidekick: with mutual TLS the server is always verified.
		cfg.InsecureSkipVerify = true // #nosec G402 -- explicit CHECKCERT=false
	}
	cfg.RootCAs = pool
	return cfg, nil
}

func pick(explicit, dir, name string) string {
	if explicit != "" {
		return explicit
	}
	return filepath.Join(dir, name)
}

func appendPEM(pool *x509.CertPool, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !pool.AppendCertsFromPEM(b) {
		return fmt.Errorf("%s: no PEM certificate found", file)
	}
	return nil
}

// StatusError is a non-2xx answer from a target.
type StatusError struct {
	Code       int
	Body       string        // start of the response body, for the log and dead letters
	RetryAfter time.Duration // from a Retry-After header, 0 if none
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// RetryableStatus is the one place deciding whether an HTTP status is worth
// retrying: throttling, timeouts, conflicts on locks and server errors are;
// other client errors (bad payload, auth, not found) will fail again.
func RetryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests,
		code == http.StatusTooEarly, code == http.StatusLocked:
		return true
	case code >= 500:
		return code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported
	}
	return false
}

// Check turns a response into (retry, err): nil error for 2xx. It drains
// and closes the body.
func Check(resp *http.Response) (bool, error) {
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return false, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	e := &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	e.RetryAfter = RetryAfter(resp.Header)
	return RetryableStatus(e.Code), e
}

// RetryAfter is a Retry-After header's delay in seconds (0 if none).
func RetryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// TransportRetryable reports whether an error from http.Client.Do (not a
// status) may succeed later: connection refused, resets and timeouts may;
// a cancelled parent context means shutdown and is retried too, by the
// next process.
func TransportRetryable(err error) bool {
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return false // a bad certificate will not fix itself
	}
	return true
}

// Do sends req and classifies the outcome.
func Do(ctx context.Context, c *http.Client, req *http.Request) (bool, error) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return TransportRetryable(err), err
	}
	return Check(resp)
}

// SetHeaders applies custom headers (falcosidekick sets them last, so they
// may override Content-Type or Authorization).
func SetHeaders(h http.Header, custom map[string]string) {
	for k, v := range custom {
		h.Set(k, v)
	}
}
