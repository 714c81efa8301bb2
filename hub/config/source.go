package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Source is the one merged view of the YAML file and the environment that
// every part decodes its typed section from. It is built once, in cmd, and
// is the only thing below cmd that sees the environment.
//
// Precedence, the same for every key of every part (falcosidekick's, which
// uses viper): a variable that is set to a non-empty value overrides the
// YAML value; an empty variable counts as unset; an empty or missing YAML
// value means the part's default. A key may be named by its env name
// ("SLACK_WEBHOOKURL") or its YAML path ("slack.webhookurl"): the env name
// is the upper-cased path with "." replaced by "_". YAML keys match case-
// insensitively, and nested ("slack: {webhookurl: …}") and flat
// ("slack_webhookurl: …") spellings are the same key.
//
// Every value read is recorded (with where it came from) for
// --print-config. A value that cannot be parsed is an error on a strict
// Source (the hub's own listener and store settings) and a warning plus the
// default on a lenient one (forwarder settings, as falcosidekick accepts
// them): see Lenient.
type Source struct {
	env     func(string) (string, bool)
	environ func() []string
	flat    map[string]string            // YAML scalars and lists by env name
	maps    map[string]map[string]string // YAML mappings of scalars by env name
	lenient bool
	rec     *record
}

// record is shared by a Source and its Lenient view.
type record struct {
	mu       sync.Mutex
	read     map[string]Setting
	errs     []error
	warns    []string
	sections map[string]bool // env prefixes ("SLACK") whose unread variables are reported
}

// Origins of a Setting's value.
const (
	FromEnv     = "env"
	FromFile    = "file"
	FromDefault = "default"
	// FromFallback marks a default used in place of a value that could
	// not be used (with a warning).
	FromFallback = "default (set value ignored)"
)

// Setting is one effective value, for --print-config and the Info page.
type Setting struct {
	Key    string `json:"key"`    // env name, e.g. SLACK_MINIMUMPRIORITY
	Value  string `json:"value"`  // effective value; masked when Secret
	Origin string `json:"origin"` // env, file or default
	Secret bool   `json:"secret,omitempty"`
}

// NewSource returns a Source over a parsed YAML document (nil for none)
// and an environment. lookupEnv nil means an empty environment; environ
// (used only to list unread variables) may be nil.
func NewSource(doc map[string]any, lookupEnv func(string) (string, bool), environ func() []string) *Source {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	if environ == nil {
		environ = func() []string { return nil }
	}
	s := &Source{env: lookupEnv, environ: environ, flat: map[string]string{}, maps: map[string]map[string]string{},
		rec: &record{read: map[string]Setting{}, sections: map[string]bool{}}}
	s.flatten("", doc)
	return s
}

// ReadFile reads a YAML configuration file.
func ReadFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	return doc, nil
}

// Lenient returns a view of s that records parse problems as warnings and
// falls back to the default, as falcosidekick does for its outputs (a
// typo must not stop a drop-in from starting where the original started).
// Problems recorded with Errorf stay errors.
func (s *Source) Lenient() *Source {
	c := *s
	c.lenient = true
	return &c
}

// EnvName is the environment variable name of a key path.
func EnvName(key string) string {
	return strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func (s *Source) flatten(prefix string, v any) {
	switch t := v.(type) {
	case map[string]any:
		m := map[string]string{}
		for k, vv := range t {
			name := strings.ToUpper(k)
			if prefix != "" {
				name = prefix + "_" + name
			}
			s.flatten(name, vv)
			if sv, ok := scalar(vv); ok {
				m[k] = sv
			}
		}
		if prefix != "" {
			s.maps[prefix] = m
		}
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, vv := range t {
			m[fmt.Sprint(k)] = vv
		}
		s.flatten(prefix, m)
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			if sv, ok := scalar(e); ok {
				parts = append(parts, sv)
			}
		}
		s.flat[prefix] = strings.Join(parts, ",")
	default:
		if sv, ok := scalar(v); ok && prefix != "" {
			s.flat[prefix] = sv
		}
	}
}

func scalar(v any) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", true
	case string:
		return t, true
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(t), true
	case time.Time:
		return t.Format(time.RFC3339), true
	}
	return "", false
}

// Raw returns a key's trimmed value and origin under the precedence rule;
// ok is false when it is unset or empty everywhere.
func (s *Source) Raw(key string) (val, origin string, ok bool) {
	name := EnvName(key)
	if v, set := s.env(name); set && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), FromEnv, true
	}
	if v, set := s.flat[name]; set && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), FromFile, true
	}
	return "", "", false
}

// Section declares a key prefix ("slack") that a part owns: a set
// environment variable under it ("SLACK_CHANEL") that no part reads is
// reported as ignored by Effective, as unread file keys are.
func (s *Source) Section(prefix string) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.sections[EnvName(prefix)] = true
}

// Env reads one environment variable as is (CUSTOMFIELDS' "%VAR" values).
func (s *Source) Env(name string) (string, bool) { return s.env(name) }

// note records the effective value of key.
func (s *Source) note(key, val, origin string, secret bool) {
	name := EnvName(key)
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if _, ok := s.rec.read[name]; ok && origin == FromDefault {
		return // two parts with different defaults: keep the first
	}
	s.rec.read[name] = Setting{Key: name, Value: val, Origin: origin, Secret: secret || looksSecret(name)}
}

// Fallback records that a part replaced key's value by val (after a
// Warnf saying why), so the effective configuration shows what is used.
func (s *Source) Fallback(key, val string) {
	name := EnvName(key)
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.read[name] = Setting{Key: name, Value: val, Origin: FromFallback, Secret: looksSecret(name)}
}

// Errorf records a problem that stops start-up, naming the key's variable.
func (s *Source) Errorf(key, format string, args ...any) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.errs = append(s.rec.errs, fmt.Errorf("%s: %s", EnvName(key), fmt.Sprintf(format, args...)))
}

// Warnf records a problem that start-up survives: logged loudly at start
// and listed by --print-config.
func (s *Source) Warnf(key, format string, args ...any) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.warns = append(s.rec.warns, fmt.Sprintf("%s: %s", EnvName(key), fmt.Sprintf(format, args...)))
}

// invalid records a value that does not parse: an error on a strict
// Source, a warning naming the fallback on a lenient one.
func (s *Source) invalid(key, val, want string, def any) {
	if s.lenient {
		s.Warnf(key, "%q is not %s; using %v instead", val, want, fallbackText(def))
		return
	}
	s.Errorf(key, "%q: want %s", val, want)
}

func fallbackText(def any) string {
	if str, ok := def.(string); ok && str == "" {
		return `"" (unset)`
	}
	return fmt.Sprint(def)
}

// Err joins every error recorded so far, nil when there is none.
func (s *Source) Err() error {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return errors.Join(s.rec.errs...)
}

// Warnings lists the warnings recorded so far.
func (s *Source) Warnings() []string {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return append([]string(nil), s.rec.warns...)
}

// String returns a string setting, or def when unset.
func (s *Source) String(key, def string) string { return s.str(key, def, false) }

// Secret is String for a password, token or key: --print-config masks it.
func (s *Source) Secret(key, def string) string { return s.str(key, def, true) }

func (s *Source) str(key, def string, secret bool) string {
	v, origin, ok := s.Raw(key)
	if !ok {
		v, origin = def, FromDefault
	}
	s.note(key, v, origin, secret)
	return v
}

// First returns the first of several alias keys that is set (e.g.
// UI_LISTENPORT, FALCOSIDEKICK_UI_PORT), or "" and the first key.
func (s *Source) First(keys ...string) string {
	for _, k := range keys {
		if _, _, ok := s.Raw(k); ok {
			return k
		}
	}
	return keys[0]
}

// Bool returns a boolean setting (strconv.ParseBool's spellings).
func (s *Source) Bool(key string, def bool) bool {
	v, origin, ok := s.Raw(key)
	if !ok {
		s.note(key, strconv.FormatBool(def), FromDefault, false)
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		s.invalid(key, v, "true or false", def)
		s.Fallback(key, strconv.FormatBool(def))
		return def
	}
	s.note(key, v, origin, false)
	return b
}

// Int returns an integer setting that must be at least min.
func (s *Source) Int(key string, def, min int) int {
	return s.intIn(key, def, min, math.MaxInt, fmt.Sprintf("an integer >= %d", min))
}

// Port returns a TCP port number (0 picks a free port).
func (s *Source) Port(key string, def int) int {
	return s.intIn(key, def, 0, 65535, "a port number 0-65535")
}

func (s *Source) intIn(key string, def, min, max int, want string) int {
	v, origin, ok := s.Raw(key)
	if !ok {
		s.note(key, strconv.Itoa(def), FromDefault, false)
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		s.invalid(key, v, want, def)
		s.Fallback(key, strconv.Itoa(def))
		return def
	}
	s.note(key, v, origin, false)
	return n
}

// Duration returns a duration setting: Go's syntax ("90s", "1h30m"), days
// and weeks ("7d", "2w"), or a bare number of seconds ("1.5").
func (s *Source) Duration(key string, def time.Duration) time.Duration {
	v, origin, ok := s.Raw(key)
	if !ok {
		s.note(key, def.String(), FromDefault, false)
		return def
	}
	d, err := ParseDuration(v)
	if n, ferr := strconv.ParseFloat(v, 64); ferr == nil && n >= 0 {
		d, err = time.Duration(n*float64(time.Second)), nil
	}
	if err != nil {
		s.invalid(key, v, "a duration such as 500ms, 90m, 24h or 7d", def)
		s.Fallback(key, def.String())
		return def
	}
	s.note(key, v, origin, false)
	return d
}

// List returns a comma-separated list (or a YAML sequence), trimmed,
// without empty elements; def when unset.
func (s *Source) List(key string, def []string) []string {
	v, origin, ok := s.Raw(key)
	if !ok {
		s.note(key, strings.Join(def, ","), FromDefault, false)
		return def
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	s.note(key, strings.Join(out, ","), origin, false)
	return out
}

// Enum returns one of the allowed lower-case values, def when unset.
func (s *Source) Enum(key, def string, allowed ...string) string {
	v, origin, ok := s.Raw(key)
	if !ok {
		s.note(key, def, FromDefault, false)
		return def
	}
	v = strings.ToLower(v)
	for _, a := range allowed {
		if v == a {
			s.note(key, v, origin, false)
			return v
		}
	}
	s.invalid(key, v, "one of "+strings.Join(allowed, ", "), def)
	s.Fallback(key, def)
	return def
}

// Map returns a map setting, nil when unset. In the environment (or as a
// YAML string) it takes either falcosidekick form: "k:v,k2:v2", where only
// the first ":" splits so values may hold colons (URLs, "Bearer a:b"), or
// a JSON object {"k":"v"}. In YAML it is a mapping.
func (s *Source) Map(key string) map[string]string {
	name := EnvName(key)
	v, origin, ok := s.Raw(key)
	if !ok {
		m, found := s.maps[name]
		if !found {
			return nil
		}
		out := make(map[string]string, len(m))
		for k, val := range m {
			out[k] = val
		}
		s.noteMap(key, out, FromFile)
		return out
	}
	out, bad := ParseMap(v)
	for _, pair := range bad {
		s.invalid(key, pair, "a key:value pair", "nothing for it")
	}
	s.noteMap(key, out, origin)
	return out
}

func (s *Source) noteMap(key string, m map[string]string, origin string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	secret := looksSecret(EnvName(key))
	for i, k := range keys {
		// Map values are often credentials (Authorization headers).
		if secret || looksSecret(strings.ToUpper(k)) || strings.Contains(strings.ToUpper(EnvName(key)), "HEADERS") {
			parts[i] = k + ":" + Mask
		} else {
			parts[i] = k + ":" + m[k]
		}
	}
	s.note(key, strings.Join(parts, ","), origin, false)
}

// ParseMap parses a map value in either of falcosidekick's forms: a JSON
// object ({"Authorization":"Bearer x"}) or "k:v,k2:v2" (only the first
// ":" of a pair splits). It returns the pairs it could not read.
func ParseMap(v string) (map[string]string, []string) {
	out := map[string]string{}
	if t := strings.TrimSpace(v); strings.HasPrefix(t, "{") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(t), &obj); err == nil {
			for k, val := range obj {
				if sv, ok := scalar(val); ok {
					out[k] = sv
				} else {
					out[k] = fmt.Sprint(val)
				}
			}
			return out, nil
		}
	}
	var bad []string
	for _, pair := range strings.Split(v, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			bad = append(bad, pair)
			continue
		}
		out[k] = strings.TrimSpace(val)
	}
	return out, bad
}

// ParseDuration is time.ParseDuration plus the day and week units ("7d",
// "2w") that retention settings are usually written in.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		v, err := strconv.ParseFloat(s[:n-1], 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		unit := 24 * time.Hour
		if s[n-1] == 'w' {
			unit *= 7
		}
		return time.Duration(v * float64(unit)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}
