package elasticsearch

import (
	"time"

	"github.com/saker-sec/saker/forwarders/internal/settings"
)

// Index suffixes (ELASTICSEARCH_SUFFIX).
const (
	SuffixDaily    = "daily"
	SuffixMonthly  = "monthly"
	SuffixAnnually = "annually"
	SuffixNone     = "none"
)

// What dates the index suffix (ELASTICSEARCH_SUFFIXDATE).
const (
	// SuffixDateSend dates by the time of sending, as falcosidekick does.
	SuffixDateSend = "send"
	// SuffixDateAlert dates by the alert's time, so alerts delivered late
	// after an outage land in their own day's index.
	SuffixDateAlert = "alert"
)

// DefaultType is ELASTICSEARCH_TYPE's default, implicit in every
// Elasticsearch from 7 on.
const DefaultType = "_doc"

// Config is the Elasticsearch output's configuration (ELASTICSEARCH_*).
type Config struct {
	HostPort            string // ELASTICSEARCH_HOSTPORT; enables the output
	Index               string // default falco
	Suffix              string // daily | monthly | annually | none
	SuffixDate          string // send (default) | alert: what dates the suffix
	Type                string // ELASTICSEARCH_TYPE, sent as _type unless "_doc" (Elasticsearch ≤ 6)
	Pipeline            string
	Username, Password  string
	APIKey              string
	FlattenFields       bool // "." -> "_" in output field names; forced by CreateIndexTemplate
	CreateIndexTemplate bool
	NumberOfShards      int // index template settings (3/3 as falcosidekick)
	NumberOfReplicas    int
	EnableCompression   bool
	Batching            Batching
	settings.Common
}

// Batching is ELASTICSEARCH_BATCHING_*. Saker always sends _bulk requests
// of what is queued; with Enabled it also waits up to FlushInterval for a
// batch to fill and caps each request at BatchSize bytes, as falcosidekick.
type Batching struct {
	Enabled       bool
	BatchSize     int           // bytes; default 5242880
	FlushInterval time.Duration // default 1s
}

// Load reads the Elasticsearch settings; enabled is false when
// ELASTICSEARCH_HOSTPORT is unset.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.HostPort = src.String("elasticsearch.hostport", "")
	if cfg.HostPort == "" {
		return cfg, false
	}
	src.URL("elasticsearch.hostport", cfg.HostPort)
	cfg.Index = src.String("elasticsearch.index", "falco")
	cfg.Suffix = src.Enum("elasticsearch.suffix", SuffixDaily, SuffixDaily, SuffixMonthly, SuffixAnnually, SuffixNone)
	cfg.SuffixDate = src.Enum("elasticsearch.suffixdate", SuffixDateSend, SuffixDateSend, SuffixDateAlert)
	cfg.Type = src.String("elasticsearch.type", DefaultType)
	cfg.Pipeline = src.String("elasticsearch.pipeline", "")
	cfg.Username = src.String("elasticsearch.username", "")
	cfg.Password = src.String("elasticsearch.password", "")
	cfg.APIKey = src.String("elasticsearch.apikey", "")
	cfg.FlattenFields = src.Bool("elasticsearch.flattenfields", false)
	cfg.CreateIndexTemplate = src.Bool("elasticsearch.createindextemplate", false)
	cfg.NumberOfShards = src.Int("elasticsearch.numberofshards", 3, 1)
	cfg.NumberOfReplicas = src.Int("elasticsearch.numberofreplicas", 3, 0)
	cfg.EnableCompression = src.Bool("elasticsearch.enablecompression", false)
	cfg.Batching = Batching{
		Enabled:       src.Bool("elasticsearch.batching.enabled", false),
		BatchSize:     src.Int("elasticsearch.batching.batchsize", 5242880, 1),
		FlushInterval: src.Duration("elasticsearch.batching.flushinterval", time.Second),
	}
	cfg.Common = src.Common("elasticsearch")
	return cfg, true
}
