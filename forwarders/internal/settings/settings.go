// Package settings reads forwarder configuration the way falcosidekick does:
// a YAML document whose keys are case-insensitive paths ("slack.webhookurl")
// overridden by environment variables named after the upper-cased path with
// "." replaced by "_" ("SLACK_WEBHOOKURL"). Every problem is recorded with
// the variable name so start-up can report them all at once (errors.Join).
package settings

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// Source is one configuration source: env lookups over a YAML document.
type Source struct {
	lookup func(string) (string, bool)
	yaml   map[string]any
	errs   []error
}

// New returns a Source. lookup is usually os.LookupEnv; yaml may be nil.
func New(lookup func(string) (string, bool), yaml map[string]any) *Source {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	return &Source{lookup: lookup, yaml: yaml}
}

// EnvName is the environment variable overriding a key path.
func EnvName(key string) string {
	return strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Lookup returns the raw value of an env variable (used for "%VAR" indirection).
func (s *Source) Lookup(name string) (string, bool) { return s.lookup(name) }

// raw returns the env value (non-empty wins, as viper does) or the YAML value.
func (s *Source) raw(key string) (any, bool) {
	if v, ok := s.lookup(EnvName(key)); ok && v != "" {
		return v, true
	}
	var cur any = s.yaml
	for _, part := range strings.Split(key, ".") {
		m, ok := asMap(cur)
		if !ok {
			return nil, false
		}
		found := false
		for k, v := range m {
			if strings.EqualFold(k, part) {
				cur, found = v, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	if cur == nil {
		return nil, false
	}
	return cur, true
}

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

// Errorf records a problem with a key, naming its env variable.
func (s *Source) Errorf(key, format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf("%s: %s", EnvName(key), fmt.Sprintf(format, args...)))
}

// Err joins every recorded problem, nil when there is none.
func (s *Source) Err() error { return errors.Join(s.errs...) }

// String returns a string setting, or def when unset or empty.
func (s *Source) String(key, def string) string {
	v, ok := s.raw(key)
	if !ok {
		return def
	}
	str := strings.TrimSpace(fmt.Sprint(v))
	if str == "" {
		return def
	}
	return str
}

// Bool returns a boolean setting; a value strconv.ParseBool rejects is an error.
func (s *Source) Bool(key string, def bool) bool {
	v, ok := s.raw(key)
	if !ok {
		return def
	}
	if b, ok := v.(bool); ok {
		return b
	}
	str := strings.TrimSpace(fmt.Sprint(v))
	if str == "" {
		return def
	}
	b, err := strconv.ParseBool(str)
	if err != nil {
		s.Errorf(key, "not a boolean: %q", str)
		return def
	}
	return b
}

// Int returns an integer setting that must be at least min.
func (s *Source) Int(key string, def, min int) int {
	v, ok := s.raw(key)
	if !ok {
		return def
	}
	str := strings.TrimSpace(fmt.Sprint(v))
	if str == "" {
		return def
	}
	n, err := strconv.Atoi(str)
	if err != nil || n < min {
		s.Errorf(key, "want an integer >= %d, got %q", min, str)
		return def
	}
	return n
}

// Duration returns a duration setting ("1s", "500ms"); a bare number is seconds.
func (s *Source) Duration(key string, def time.Duration) time.Duration {
	v, ok := s.raw(key)
	if !ok {
		return def
	}
	str := strings.TrimSpace(fmt.Sprint(v))
	if str == "" {
		return def
	}
	if n, err := strconv.ParseFloat(str, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second))
	}
	d, err := time.ParseDuration(str)
	if err != nil || d < 0 {
		s.Errorf(key, "not a duration: %q", str)
		return def
	}
	return d
}

// Map returns a map setting: "k:v,k2:v2" in env, a mapping in YAML. Only
// the first ":" splits, so values may contain colons (URLs, "Bearer x:y").
func (s *Source) Map(key string) map[string]string {
	v, ok := s.raw(key)
	if !ok {
		return nil
	}
	out := map[string]string{}
	if m, ok := asMap(v); ok {
		for k, val := range m {
			out[k] = fmt.Sprint(val)
		}
		return out
	}
	for _, pair := range strings.Split(fmt.Sprint(v), ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			s.Errorf(key, "want key:value pairs separated by commas, got %q", pair)
			continue
		}
		out[k] = strings.TrimSpace(val)
	}
	return out
}

// List returns a comma-separated list (or a YAML sequence), trimmed, without empties.
func (s *Source) List(key string) []string {
	v, ok := s.raw(key)
	if !ok {
		return nil
	}
	var parts []string
	if l, ok := v.([]any); ok {
		for _, e := range l {
			parts = append(parts, fmt.Sprint(e))
		}
	} else {
		parts = strings.Split(fmt.Sprint(v), ",")
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Priority returns a minimum priority; "" means every alert (PriorityUnset).
func (s *Source) Priority(key string) alert.Priority {
	str := s.String(key, "")
	if str == "" {
		return alert.PriorityUnset
	}
	p, err := alert.ParsePriority(str)
	if err != nil {
		s.Errorf(key, "%v", err)
		return alert.PriorityUnset
	}
	return p
}

// Enum returns one of the allowed lower-case values.
func (s *Source) Enum(key, def string, allowed ...string) string {
	str := strings.ToLower(s.String(key, def))
	for _, a := range allowed {
		if str == a {
			return str
		}
	}
	s.Errorf(key, "unknown value %q (want one of %s)", str, strings.Join(allowed, ", "))
	return def
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

// Common reads <prefix>.minimumpriority, checkcert, mutualtls,
// customheaders and maxconcurrentrequests.
func (s *Source) Common(prefix string) Common {
	return Common{
		MinimumPriority:       s.Priority(prefix + ".minimumpriority"),
		CheckCert:             s.Bool(prefix+".checkcert", true),
		MutualTLS:             s.Bool(prefix+".mutualtls", false),
		CustomHeaders:         s.Map(prefix + ".customheaders"),
		MaxConcurrentRequests: s.Int(prefix+".maxconcurrentrequests", 1, 1),
	}
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
