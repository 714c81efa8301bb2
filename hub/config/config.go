// Package config loads the hub's settings the way falcosidekick does: an
// optional YAML file (-c) whose values environment variables override, the
// variable name being the upper-cased key path joined with "_"
// (listenport → LISTENPORT, tlsserver.certfile → TLSSERVER_CERTFILE).
//
// The hub's own settings are parsed into Config. Everything else (forwarder
// settings such as SLACK_WEBHOOKURL) is left raw and read through
// Config.Lookup / Config.LookupMap by the package that owns it, so one file
// and one set of variable names serve every part.
package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults.
const (
	DefaultListenPort     = 2801
	DefaultUIPort         = 2802
	DefaultNoTLSPort      = 2810
	DefaultBodyLimit      = 1 << 20  // 1 MiB for one alert (sidekick has none)
	DefaultBatchBodyLimit = 32 << 20 // 32 MiB for a batch
	DefaultBatchMaxEvents = 10000
)

// Config is the hub's configuration.
type Config struct {
	ListenAddress string // LISTENADDRESS; "" = all interfaces
	ListenPort    int    // LISTENPORT (2801); 0 picks a free port (tests)
	Debug         bool   // DEBUG
	// PprofAddress serves net/http/pprof when set (PPROF_ADDRESS, e.g.
	// 127.0.0.1:6060); off by default. Keep it on loopback: profiles
	// expose internals.
	PprofAddress string

	UI UI // the dashboard's listener, used by web/

	TLSServer TLSServer

	Redis Redis
	// DataDir holds the embedded store when no Redis is configured
	// (SAKER_DATA_DIR, datadir).
	DataDir   string
	Retention Retention

	BodyLimit      int64 // BODYLIMIT: max bytes of a single alert body → 413
	BatchBodyLimit int64 // BATCH_BODYLIMIT: max bytes of a batch body → 413
	BatchMaxEvents int   // BATCH_MAXEVENTS: max alerts in one batch → 400

	K8sAudit K8sAudit

	// Enrichment, as in falcosidekick.
	CustomFields      map[string]string // CUSTOMFIELDS k:v,…; a "%VAR" value reads $VAR
	TemplatedFields   map[string]string // TEMPLATEDFIELDS k:{{template}},…
	CustomTags        []string          // CUSTOMTAGS a,b
	BracketReplacer   string            // BRACKETREPLACER
	OutputFieldFormat string            // OUTPUTFIELDFORMAT

	src  source
	yaml map[string]any
}

// YAML returns the parsed configuration file (nil without one), for
// packages that read their own sections (forwarders/config).
func (c *Config) YAML() map[string]any { return c.yaml }

// LookupEnv returns the environment lookup the config was loaded with, so
// every part reads the same (possibly test-provided) environment.
func (c *Config) LookupEnv() func(string) (string, bool) { return c.src.env }

// K8sAudit is the Kubernetes audit input: POST /k8s-audit on LISTENPORT,
// evaluated against k8s_audit rules.
type K8sAudit struct {
	Enabled bool // K8SAUDIT_ENABLED (true)
	// RulesFiles are k8s_audit rules files (K8SAUDIT_RULESFILES a,b);
	// none = Falco's k8s_audit_rules.yaml, embedded.
	RulesFiles []string
	// RuleMatching is first or all (K8SAUDIT_RULEMATCHING).
	RuleMatching string
	// ListenPort, when set, also serves /k8s-audit alone on a plain-HTTP
	// port (K8SAUDIT_LISTENPORT; Falco's k8saudit plugin uses 9765).
	ListenPort int
	// BodyLimit bounds one webhook body (K8SAUDIT_BODYLIMIT) → 413.
	BodyLimit int64
}

// UI is where the dashboard listens.
type UI struct {
	Address string // UI_ADDRESS (or FALCOSIDEKICK_UI_ADDR); "" = all interfaces
	Port    int    // UI_LISTENPORT (or FALCOSIDEKICK_UI_PORT), 2802
}

// TLSServer is sidekick's TLS listener configuration.
type TLSServer struct {
	Deploy     bool     // TLSSERVER_DEPLOY: serve :LISTENPORT over TLS
	CertFile   string   // TLSSERVER_CERTFILE (/etc/certs/server/server.crt)
	KeyFile    string   // TLSSERVER_KEYFILE (/etc/certs/server/server.key)
	MutualTLS  bool     // TLSSERVER_MUTUALTLS: require client certificates
	CACertFile string   // TLSSERVER_CACERTFILE (/etc/certs/server/ca.crt)
	NoTLSPort  int      // TLSSERVER_NOTLSPORT (2810): plain HTTP for NoTLSPaths
	NoTLSPaths []string // TLSSERVER_NOTLSPATHS (/ping): served on NoTLSPort
}

// Redis selects the Redis store. An empty Address means the embedded store.
type Redis struct {
	Addresses  []string // REDIS_ADDRESS host:port[,host:port…] (several = cluster)
	MasterName string   // REDIS_MASTERNAME: Sentinel master; Addresses are sentinels
	Username   string   // REDIS_USERNAME
	Password   string   // REDIS_PASSWORD
	DB         int      // REDIS_DB (alias REDIS_DATABASE)
	TLS        bool     // REDIS_TLS
	CACertFile string   // REDIS_CACERTFILE
	CheckCert  bool     // REDIS_CHECKCERT (true)
	KeyPrefix  string   // REDIS_KEYPREFIX: prefix for every key (several hubs sets on one Redis)
}

// Retention bounds the stored alerts. Zero values let the store choose.
type Retention struct {
	MaxAge    time.Duration // RETENTION_MAXAGE (e.g. 168h, 7d)
	MaxEvents int64         // RETENTION_MAXEVENTS
	MaxBytes  int64         // RETENTION_MAXBYTES: embedded store's disk bound
}

// Addr is the ingestion listen address.
func (c *Config) Addr() string {
	return joinHostPort(c.ListenAddress, c.ListenPort)
}

// UIAddr is the dashboard listen address.
func (c *Config) UIAddr() string { return joinHostPort(c.UI.Address, c.UI.Port) }

func joinHostPort(h string, p int) string {
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		h = "[" + h + "]"
	}
	return h + ":" + strconv.Itoa(p)
}

// Lookup returns a raw setting by its environment variable name
// ("SLACK_WEBHOOKURL"): the variable when set, else the YAML value at the
// matching key path (slack.webhookurl). Lists in YAML are joined with ",".
func (c *Config) Lookup(key string) (string, bool) { return c.src.lookup(key) }

// LookupMap returns a map setting ("CUSTOMFIELDS", "ELASTICSEARCH_CUSTOMHEADERS"):
// the variable parsed as k:v,k2:v2 when set, else the YAML mapping.
func (c *Config) LookupMap(key string) (map[string]string, bool) { return c.src.lookupMap(key) }

// Keys lists every setting present in the YAML file or the environment
// whose name starts with prefix ("SLACK_"), for validation and debugging.
func (c *Config) Keys(prefix string) []string {
	seen := map[string]bool{}
	for k := range c.src.flat {
		if strings.HasPrefix(k, prefix) {
			seen[k] = true
		}
	}
	for _, kv := range c.src.environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, prefix) {
			seen[k] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Load reads the YAML file at path (none when path is "") and applies the
// process environment over it.
func Load(path string) (*Config, error) {
	return LoadWith(path, os.LookupEnv, os.Environ)
}

// LoadWith is Load with an explicit environment, for tests and embedding.
// environ may be nil.
func LoadWith(path string, lookupEnv func(string) (string, bool), environ func() []string) (*Config, error) {
	src := source{env: lookupEnv, environ: environ, flat: map[string]string{}, maps: map[string]map[string]string{}}
	if environ == nil {
		src.environ = func() []string { return nil }
	}
	var yamlDoc map[string]any
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config %s: %w", path, err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("parse config %s: %w", path, err)
		}
		src.flatten("", doc)
		yamlDoc = doc
	}
	c := &Config{src: src, yaml: yamlDoc}
	if err := c.parse(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

func (c *Config) parse() error {
	p := parser{src: &c.src}
	c.ListenAddress = p.str("", "LISTENADDRESS")
	c.ListenPort = p.port(DefaultListenPort, "LISTENPORT")
	c.Debug = p.boolean(false, "DEBUG")
	c.PprofAddress = p.str("", "PPROF_ADDRESS")
	c.UI.Address = p.str("", "UI_ADDRESS", "FALCOSIDEKICK_UI_ADDR")
	c.UI.Port = p.port(DefaultUIPort, "UI_LISTENPORT", "UI_PORT", "FALCOSIDEKICK_UI_PORT")

	c.TLSServer = TLSServer{
		Deploy:     p.boolean(false, "TLSSERVER_DEPLOY"),
		CertFile:   p.str("/etc/certs/server/server.crt", "TLSSERVER_CERTFILE"),
		KeyFile:    p.str("/etc/certs/server/server.key", "TLSSERVER_KEYFILE"),
		MutualTLS:  p.boolean(false, "TLSSERVER_MUTUALTLS"),
		CACertFile: p.str("/etc/certs/server/ca.crt", "TLSSERVER_CACERTFILE"),
		NoTLSPort:  p.port(DefaultNoTLSPort, "TLSSERVER_NOTLSPORT"),
		NoTLSPaths: p.list([]string{"/ping"}, "TLSSERVER_NOTLSPATHS"),
	}
	c.Redis = Redis{
		Addresses:  p.list(nil, "REDIS_ADDRESS"),
		MasterName: p.str("", "REDIS_MASTERNAME"),
		Username:   p.str("", "REDIS_USERNAME"),
		Password:   p.str("", "REDIS_PASSWORD"),
		DB:         p.integer(0, "REDIS_DB", "REDIS_DATABASE"),
		TLS:        p.boolean(false, "REDIS_TLS"),
		CACertFile: p.str("", "REDIS_CACERTFILE"),
		CheckCert:  p.boolean(true, "REDIS_CHECKCERT"),
		KeyPrefix:  p.str("", "REDIS_KEYPREFIX"),
	}
	c.DataDir = p.str("", "SAKER_DATA_DIR", "DATADIR")
	c.Retention = Retention{
		MaxAge:    p.duration(0, "RETENTION_MAXAGE"),
		MaxEvents: int64(p.integer(0, "RETENTION_MAXEVENTS")),
		MaxBytes:  int64(p.integer(0, "RETENTION_MAXBYTES")),
	}
	c.BodyLimit = int64(p.integer(DefaultBodyLimit, "BODYLIMIT"))
	c.BatchBodyLimit = int64(p.integer(DefaultBatchBodyLimit, "BATCH_BODYLIMIT"))
	c.BatchMaxEvents = p.integer(DefaultBatchMaxEvents, "BATCH_MAXEVENTS")

	c.K8sAudit = K8sAudit{
		Enabled:      p.boolean(true, "K8SAUDIT_ENABLED"),
		RulesFiles:   p.list(nil, "K8SAUDIT_RULESFILES"),
		RuleMatching: p.str("first", "K8SAUDIT_RULEMATCHING"),
		ListenPort:   p.port(0, "K8SAUDIT_LISTENPORT"),
		BodyLimit:    int64(p.integer(DefaultBatchBodyLimit, "K8SAUDIT_BODYLIMIT")),
	}

	c.CustomFields = p.mapping("CUSTOMFIELDS")
	for k, v := range c.CustomFields {
		// Sidekick: a value "%VAR" is read from the environment, so
		// secrets or node names can come from the pod spec.
		if strings.HasPrefix(v, "%") {
			ev, _ := c.src.env(strings.TrimPrefix(v, "%"))
			c.CustomFields[k] = ev
		}
	}
	c.TemplatedFields = p.mapping("TEMPLATEDFIELDS")
	c.CustomTags = p.list(nil, "CUSTOMTAGS")
	c.BracketReplacer = p.str("", "BRACKETREPLACER")
	c.OutputFieldFormat = p.str("", "OUTPUTFIELDFORMAT")

	if p.err != nil {
		return p.err
	}
	switch {
	case c.BodyLimit <= 0:
		return fmt.Errorf("BODYLIMIT must be positive")
	case c.BatchBodyLimit <= 0:
		return fmt.Errorf("BATCH_BODYLIMIT must be positive")
	case c.BatchMaxEvents <= 0:
		return fmt.Errorf("BATCH_MAXEVENTS must be positive")
	case c.K8sAudit.BodyLimit <= 0:
		return fmt.Errorf("K8SAUDIT_BODYLIMIT must be positive")
	case c.K8sAudit.RuleMatching != "first" && c.K8sAudit.RuleMatching != "all":
		return fmt.Errorf("K8SAUDIT_RULEMATCHING must be first or all, not %q", c.K8sAudit.RuleMatching)
	case c.TLSServer.Deploy && (c.TLSServer.CertFile == "" || c.TLSServer.KeyFile == ""):
		return fmt.Errorf("TLSSERVER_DEPLOY needs TLSSERVER_CERTFILE and TLSSERVER_KEYFILE")
	}
	return nil
}

// source is the merged YAML + environment view.
type source struct {
	env     func(string) (string, bool)
	environ func() []string
	flat    map[string]string            // YAML scalars and lists by env name
	maps    map[string]map[string]string // YAML mappings of scalars by env name
}

func (s *source) flatten(prefix string, v any) {
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

func (s *source) lookup(key string) (string, bool) {
	if v, ok := s.env(key); ok {
		return v, true
	}
	v, ok := s.flat[key]
	return v, ok
}

func (s *source) lookupMap(key string) (map[string]string, bool) {
	if v, ok := s.env(key); ok {
		return ParseMap(v), true
	}
	if m, ok := s.maps[key]; ok {
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out, true
	}
	// A YAML string "k:v,k2:v2" is accepted too, as sidekick does.
	if v, ok := s.flat[key]; ok {
		return ParseMap(v), true
	}
	return nil, false
}

// ParseMap parses sidekick's "k:v,k2:v2" map syntax. The value is everything
// after the first ":", so values may contain colons (URLs, templates).
func ParseMap(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, ":")
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// parser reads typed values, remembering the first error.
type parser struct {
	src *source
	err error
}

func (p *parser) raw(keys []string) (string, string, bool) {
	for _, k := range keys {
		if v, ok := p.src.lookup(k); ok && strings.TrimSpace(v) != "" {
			return k, strings.TrimSpace(v), true
		}
	}
	return "", "", false
}

func (p *parser) fail(key, val, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s=%q: want %s", key, val, want)
	}
}

func (p *parser) str(def string, keys ...string) string {
	if _, v, ok := p.raw(keys); ok {
		return v
	}
	return def
}

func (p *parser) integer(def int, keys ...string) int {
	k, v, ok := p.raw(keys)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.fail(k, v, "an integer")
		return def
	}
	return n
}

func (p *parser) port(def int, keys ...string) int {
	k, v, ok := p.raw(keys)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		p.fail(k, v, "a port number 0-65535")
		return def
	}
	return n
}

func (p *parser) boolean(def bool, keys ...string) bool {
	k, v, ok := p.raw(keys)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(k, v, "true or false")
		return def
	}
	return b
}

func (p *parser) duration(def time.Duration, keys ...string) time.Duration {
	k, v, ok := p.raw(keys)
	if !ok {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil {
		p.fail(k, v, "a duration such as 90m, 24h or 7d")
		return def
	}
	return d
}

func (p *parser) list(def []string, keys ...string) []string {
	_, v, ok := p.raw(keys)
	if !ok {
		return def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) mapping(key string) map[string]string {
	m, ok := p.src.lookupMap(key)
	if !ok {
		return map[string]string{}
	}
	return m
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
