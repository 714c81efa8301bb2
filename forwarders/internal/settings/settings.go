// Package settings is what a forwarder package decodes its typed Config
// from: the hub's one configuration Source (hub/config), in its lenient
// form, plus the settings every falcosidekick output shares (Common, TLS).
// Keys are falcosidekick's YAML paths ("slack.webhookurl"), overridden by
// the variable of the same name ("SLACK_WEBHOOKURL"); config.Source
// documents the precedence rule.
//
// Leniency, as in falcosidekick: a value with a safe fallback (an unknown
// priority, method, format or suffix, a bad boolean or number, a bad
// template, a malformed header pair) is a warning, logged at start-up and
// listed by --print-config, and the default is used. A value without which
// an output cannot deliver at all (a malformed address, unreadable TLS
// files) is an error recorded with Errorf and stops start-up, since
// starting would silently drop every alert meant for that output.
package settings

import (
	"net/url"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/config"
)

// Source is the lenient configuration view a forwarder decodes from.
type Source struct {
	*config.Source
}

// From returns the lenient forwarder view of the hub's Source.
func From(src *config.Source) *Source { return &Source{src.Lenient()} }

// New returns a Source over an environment lookup and a parsed YAML
// document (either may be nil), for tests.
func New(lookup func(string) (string, bool), yaml map[string]any) *Source {
	return From(config.NewSource(yaml, lookup, nil))
}

// EnvName is the environment variable overriding a key path.
func EnvName(key string) string { return config.EnvName(key) }

// Lookup returns the raw value of an env variable (used for "%VAR" indirection).
func (s *Source) Lookup(name string) (string, bool) { return s.Env(name) }

// List returns a comma-separated list (or a YAML sequence), trimmed, without empties.
func (s *Source) List(key string) []string { return s.Source.List(key, nil) }

// Priority returns a minimum priority; "" means every alert (PriorityUnset).
// An unknown name also means every alert, with a warning: falcosidekick
// does the same, and forwarding too much beats forwarding nothing.
func (s *Source) Priority(key string) alert.Priority {
	str := s.String(key, "")
	if str == "" {
		return alert.PriorityUnset
	}
	p, err := alert.ParsePriority(str)
	if err != nil {
		s.Warnf(key, "unknown priority %q (want one of emergency, alert, critical, error, warning, notice, informational, debug); forwarding every alert, as falcosidekick does", str)
		s.Fallback(key, "")
		return alert.PriorityUnset
	}
	return p
}

// URL validates an http(s) URL setting and returns it parsed (nil on error).
func (s *Source) URL(key, raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		s.Errorf(key, "malformed URL %q (want http(s)://host[:port][/path])", Redact(raw))
		return nil
	}
	return u
}

// RedactPath keeps only a URL's scheme and host: for webhook URLs whose
// path is the secret (Slack's /services/T…/B…/token).
func RedactPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Redact hides a URL's password and query and, for Slack-like webhook URLs
// whose path is the secret, everything after the first path segment.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if len(raw) > 12 {
			return raw[:12] + "…"
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	if parts := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 2); len(parts) == 2 && strings.Contains(u.Host, "hooks.") {
		u.Path = "/" + parts[0] + "/REDACTED"
	}
	u.RawQuery = ""
	return u.String()
}

// Common holds the settings every HTTP output has in falcosidekick.
type Common struct {
	MinimumPriority alert.Priority
	CheckCert       bool
	MutualTLS       bool
	CustomHeaders   map[string]string
	// MaxConcurrentRequests bounds the output's requests in flight
	// (falcosidekick's default 1).
	MaxConcurrentRequests int
}

// Shared returns the settings every output has, for the forwarders'
// registry (an output's Config embeds Common and so has this method).
func (c Common) Shared() Common { return c }

// Common reads <prefix>.minimumpriority, checkcert, mutualtls,
// customheaders and maxconcurrentrequests.
func (s *Source) Common(prefix string) Common {
	return Common{
		MinimumPriority:       s.Priority(prefix + ".minimumpriority"),
		CheckCert:             s.Bool(prefix+".checkcert", true),
		MutualTLS:             s.Bool(prefix+".mutualtls", false),
		CustomHeaders:         s.Headers(prefix + ".customheaders"),
		MaxConcurrentRequests: s.Int(prefix+".maxconcurrentrequests", 1, 1),
	}
}

// Headers reads a custom-headers map (either falcosidekick form) and drops,
// with a warning, each header Go's HTTP client would refuse to send: one
// bad entry must not fail every delivery of the output.
func (s *Source) Headers(key string) map[string]string {
	m := s.Map(key)
	for k, v := range m {
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			s.Warnf(key, "%q is not a valid header name; header ignored", k)
			delete(m, k)
		case !httpguts.ValidHeaderFieldValue(v):
			s.Warnf(key, "header %q has a value with control characters; header ignored", k)
			delete(m, k)
		}
	}
	return m
}

// TLS holds the global client TLS files shared by every output.
type TLS struct {
	MutualTLSFilesPath string // directory with client.crt, client.key, ca.crt
	ClientCertFile     string
	ClientKeyFile      string
	ClientCACertFile   string
	CACertFile         string // extra CA for server verification (TLSCLIENT_CACERTFILE)
}

// TLS reads the global mTLS settings.
func (s *Source) TLS() TLS {
	return TLS{
		MutualTLSFilesPath: s.String("mutualtlsfilespath", "/etc/certs"),
		ClientCertFile:     s.String("mutualtlsclient.certfile", ""),
		ClientKeyFile:      s.String("mutualtlsclient.keyfile", ""),
		ClientCACertFile:   s.String("mutualtlsclient.cacertfile", ""),
		CACertFile:         s.String("tlsclient.cacertfile", ""),
	}
}

// SortedKeys returns a map's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
