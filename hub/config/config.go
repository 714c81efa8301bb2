// Package config is Saker's one configuration model. Source (source.go)
// merges the YAML file (-c) and the environment under one precedence rule
// and records what every part reads; each part decodes its own typed
// section from it (the hub's here, Decode; the dashboard's login in web;
// each forwarder's in its package), so values are parsed once and passed
// down as typed structs. cmd/saker builds the Source from the process
// environment: no package below cmd reads the environment itself.
//
// Names are falcosidekick's: the upper-cased key path joined with "_"
// (listenport → LISTENPORT, tlsserver.certfile → TLSSERVER_CERTFILE).
package config

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/saker-sec/saker/hub/metrics"
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
	Fsync     Fsync

	BodyLimit      int64 // BODYLIMIT: max bytes of a single alert body → 413
	BatchBodyLimit int64 // BATCH_BODYLIMIT: max bytes of a batch body → 413
	BatchMaxEvents int   // BATCH_MAXEVENTS: max alerts in one batch → 400

	K8sAudit K8sAudit

	// Actions are the hub's response actions (hub/actions).
	Actions Actions

	// Enrichment, as in falcosidekick.
	CustomFields      map[string]string // CUSTOMFIELDS k:v,…; a "%VAR" value reads $VAR
	TemplatedFields   []TemplatedField  // TEMPLATEDFIELDS k:{{template}},…, parsed once, by name
	CustomTags        []string          // CUSTOMTAGS a,b
	BracketReplacer   string            // BRACKETREPLACER
	OutputFieldFormat string            // OUTPUTFIELDFORMAT

	// PrometheusExtraLabels (PROMETHEUS_EXTRALABELS) are output fields that
	// label falcosidekick's falco_events counter besides the global fields.
	PrometheusExtraLabels []string
}

// TemplatedField is one TEMPLATEDFIELDS entry, parsed once at load.
type TemplatedField struct {
	Name     string
	Template *template.Template // executed over output_fields; missing keys give ""
}

// ParseTemplatedFields parses TEMPLATEDFIELDS values, sorted by name.
func ParseTemplatedFields(m map[string]string) ([]TemplatedField, error) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]TemplatedField, 0, len(names))
	for _, k := range names {
		t, err := template.New(k).Option("missingkey=zero").Parse(m[k])
		if err != nil {
			return nil, fmt.Errorf("field %q: bad template: %w", k, err)
		}
		out = append(out, TemplatedField{Name: k, Template: t})
	}
	return out, nil
}

// GlobalFields names the fields enrichment adds to every alert
// (CUSTOMFIELDS, then TEMPLATEDFIELDS, each sorted), which outputs such as
// Loki turn into labels.
func (c *Config) GlobalFields() []string {
	var out []string
	for k := range c.CustomFields {
		out = append(out, k)
	}
	sort.Strings(out)
	for _, t := range c.TemplatedFields {
		out = append(out, t.Name)
	}
	return out
}

// EventFields are the output fields labelling falco_events: CUSTOMFIELDS
// and TEMPLATEDFIELDS (any value), then PROMETHEUS_EXTRALABELS (string
// values), as falcosidekick labels it.
func (c *Config) EventFields() []metrics.EventField {
	var out []metrics.EventField
	for _, f := range c.GlobalFields() {
		out = append(out, metrics.EventField{Name: f, AnyValue: true})
	}
	for _, f := range c.PrometheusExtraLabels {
		out = append(out, metrics.EventField{Name: f})
	}
	return out
}

// warnEventLabels warns about each field that cannot label falco_events
// (falcosidekick logs the same and leaves it out).
func warnEventLabels(src *Source, c *Config) {
	key := map[bool]string{true: "CUSTOMFIELDS", false: "PROMETHEUS_EXTRALABELS"}
	templated := map[string]bool{}
	for _, t := range c.TemplatedFields {
		templated[t.Name] = true
	}
	seen := map[string]bool{}
	for _, f := range c.EventFields() {
		k := key[f.AnyValue]
		if templated[f.Name] {
			k = "TEMPLATEDFIELDS"
		}
		l, ok := metrics.FieldLabel(f.Name)
		switch {
		case !ok:
			src.Warnf(k, "%q is not a valid Prometheus label name (or is one of falco_events' own labels); left out of falcosecurity_falcosidekick_falco_events_total, as falcosidekick does", f.Name)
		case seen[l]:
			src.Warnf(k, "%q labels falco_events already (as %s); counted once", f.Name, l)
		}
		seen[l] = true
	}
}

// Actions configures the response actions the hub runs on stored alerts.
type Actions struct {
	// File is an actions file in the sensor's format, with only the
	// actions the hub can run (SAKER_ACTIONS_FILE); "" runs none.
	File string
	// Kubeconfig reaches the cluster of the pod actions (KUBECONFIG);
	// "" uses APIServer with the pod's service account.
	Kubeconfig string
	// APIServer is the in-cluster API server, from KUBERNETES_SERVICE_HOST
	// and KUBERNETES_SERVICE_PORT ("" outside a pod).
	APIServer string
}

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

// MaxRedisShards bounds REDIS_SHARDS.
const MaxRedisShards = 256

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
	// Shards is REDIS_SHARDS (1): alerts are spread over this many
	// shards, each under its own hash tag, so a Redis Cluster holds them
	// on several masters. 1 keeps the single {saker} layout.
	Shards int
}

// Retention bounds the stored alerts. Zero values let the store choose.
type Retention struct {
	MaxAge    time.Duration // RETENTION_MAXAGE (e.g. 168h, 7d)
	MaxEvents int64         // RETENTION_MAXEVENTS
	MaxBytes  int64         // RETENTION_MAXBYTES: embedded store's disk bound
}

// Fsync is when the embedded store makes appended alerts durable.
type Fsync struct {
	// Policy (SAKER_FSYNC): FsyncInterval (default), a 200 means written (a
	// hub crash or kill -9 loses nothing, an OS crash or power cut up to
	// Interval), like Redis's appendfsync everysec; FsyncAlways, a 200
	// means fsynced (a power cut loses nothing either).
	Policy string
	// Interval (SAKER_FSYNC_INTERVAL) is the longest time between fsyncs
	// under FsyncInterval; 0 lets the store choose (1 s).
	Interval time.Duration
}

// SAKER_FSYNC values.
const (
	FsyncAlways   = "always"
	FsyncInterval = "interval"
)

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

// LoadWith reads the YAML file at path (none when path is "") and applies
// the given environment over it: the hub's part only, for tests and
// embedding. The saker command builds one Source and decodes every part
// from it. environ may be nil.
func LoadWith(path string, lookupEnv func(string) (string, bool), environ func() []string) (*Config, error) {
	var doc map[string]any
	if path != "" {
		var err error
		if doc, err = ReadFile(path); err != nil {
			return nil, err
		}
	}
	c, err := Decode(NewSource(doc, lookupEnv, environ))
	if err != nil && path != "" {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, err
}

// Decode reads the hub's own settings (listeners, store, limits,
// enrichment) from src. Any bad value is an error: the hub does not start
// on a listener or store it cannot honour.
func Decode(src *Source) (*Config, error) {
	c := &Config{
		ListenAddress: src.String("LISTENADDRESS", ""),
		ListenPort:    src.Port("LISTENPORT", DefaultListenPort),
		Debug:         src.Bool("DEBUG", false),
		PprofAddress:  src.String("PPROF_ADDRESS", ""),
		UI: UI{
			Address: src.String(src.First("UI_ADDRESS", "FALCOSIDEKICK_UI_ADDR"), ""),
			Port:    src.Port(src.First("UI_LISTENPORT", "UI_PORT", "FALCOSIDEKICK_UI_PORT"), DefaultUIPort),
		},
		TLSServer: TLSServer{
			Deploy:     src.Bool("TLSSERVER_DEPLOY", false),
			CertFile:   src.String("TLSSERVER_CERTFILE", "/etc/certs/server/server.crt"),
			KeyFile:    src.String("TLSSERVER_KEYFILE", "/etc/certs/server/server.key"),
			MutualTLS:  src.Bool("TLSSERVER_MUTUALTLS", false),
			CACertFile: src.String("TLSSERVER_CACERTFILE", "/etc/certs/server/ca.crt"),
			NoTLSPort:  src.Port("TLSSERVER_NOTLSPORT", DefaultNoTLSPort),
			NoTLSPaths: src.List("TLSSERVER_NOTLSPATHS", []string{"/ping"}),
		},
		Redis: Redis{
			Addresses:  src.List("REDIS_ADDRESS", nil),
			MasterName: src.String("REDIS_MASTERNAME", ""),
			Username:   src.String("REDIS_USERNAME", ""),
			Password:   src.Secret("REDIS_PASSWORD", ""),
			DB:         src.Int(src.First("REDIS_DB", "REDIS_DATABASE"), 0, 0),
			TLS:        src.Bool("REDIS_TLS", false),
			CACertFile: src.String("REDIS_CACERTFILE", ""),
			CheckCert:  src.Bool("REDIS_CHECKCERT", true),
			KeyPrefix:  src.String("REDIS_KEYPREFIX", ""),
			Shards:     src.intIn("REDIS_SHARDS", 1, 1, MaxRedisShards, fmt.Sprintf("an integer 1-%d", MaxRedisShards)),
		},
		DataDir: src.String(src.First("SAKER_DATA_DIR", "DATADIR"), ""),
		Retention: Retention{
			MaxAge:    src.Duration("RETENTION_MAXAGE", 0),
			MaxEvents: int64(src.Int("RETENTION_MAXEVENTS", 0, 0)),
			MaxBytes:  int64(src.Int("RETENTION_MAXBYTES", 0, 0)),
		},
		Fsync: Fsync{
			Policy:   src.Enum("SAKER_FSYNC", FsyncInterval, FsyncAlways, FsyncInterval),
			Interval: src.Duration("SAKER_FSYNC_INTERVAL", 0),
		},
		BodyLimit:      int64(src.Int("BODYLIMIT", DefaultBodyLimit, 1)),
		BatchBodyLimit: int64(src.Int("BATCH_BODYLIMIT", DefaultBatchBodyLimit, 1)),
		BatchMaxEvents: src.Int("BATCH_MAXEVENTS", DefaultBatchMaxEvents, 1),
		K8sAudit: K8sAudit{
			Enabled:      src.Bool("K8SAUDIT_ENABLED", true),
			RulesFiles:   src.List("K8SAUDIT_RULESFILES", nil),
			RuleMatching: src.Enum("K8SAUDIT_RULEMATCHING", "first", "first", "all"),
			ListenPort:   src.Port("K8SAUDIT_LISTENPORT", 0),
			BodyLimit:    int64(src.Int("K8SAUDIT_BODYLIMIT", DefaultBatchBodyLimit, 1)),
		},
		Actions: Actions{
			File:       src.String("SAKER_ACTIONS_FILE", ""),
			Kubeconfig: src.String("KUBECONFIG", ""),
		},

		CustomFields:      src.Map("CUSTOMFIELDS"),
		CustomTags:        src.List("CUSTOMTAGS", nil),
		BracketReplacer:   src.String("BRACKETREPLACER", ""),
		OutputFieldFormat: src.String("OUTPUTFIELDFORMAT", ""),
	}
	if c.CustomFields == nil {
		c.CustomFields = map[string]string{}
	}
	for k, v := range c.CustomFields {
		// Sidekick: a value "%VAR" is read from the environment, so
		// secrets or node names can come from the pod spec.
		if name, ok := strings.CutPrefix(v, "%"); ok {
			c.CustomFields[k], _ = src.Env(name)
		}
	}
	tf, err := ParseTemplatedFields(src.Map("TEMPLATEDFIELDS"))
	if err != nil {
		src.Errorf("TEMPLATEDFIELDS", "%v", err)
	}
	c.TemplatedFields = tf
	c.PrometheusExtraLabels = src.List("PROMETHEUS_EXTRALABELS", nil)
	if host, ok := src.Env("KUBERNETES_SERVICE_HOST"); ok && host != "" {
		if port, ok := src.Env("KUBERNETES_SERVICE_PORT"); ok && port != "" {
			c.Actions.APIServer = "https://" + net.JoinHostPort(host, port)
		}
	}
	warnEventLabels(src, c)
	if c.TLSServer.Deploy && (c.TLSServer.CertFile == "" || c.TLSServer.KeyFile == "") {
		src.Errorf("TLSSERVER_DEPLOY", "needs TLSSERVER_CERTFILE and TLSSERVER_KEYFILE")
	}
	if err := src.Err(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}
