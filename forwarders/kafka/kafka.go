// Package kafka produces each alert's Falco JSON payload as a record (no
// key) to a Kafka topic with franz-go, configured by falcosidekick's
// KAFKA_* settings. A batch is produced at once and each record is
// acknowledged only when the brokers confirm it.
package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Config is the Kafka output's configuration (KAFKA_*).
type Config struct {
	HostPort []string // KAFKA_HOSTPORT (comma-separated seed brokers); enables the output
	Topic    string   // KAFKA_TOPIC
	// SASL is PLAIN, SCRAM_SHA256 or SCRAM_SHA512 ("" = none), with
	// KAFKA_USERNAME and KAFKA_PASSWORD.
	SASL               string
	Username, Password string
	TLS                bool   // KAFKA_TLS: TLS with the system CAs (and TLSCLIENT_CACERTFILE)
	Balancer           string // KAFKA_BALANCER (round_robin)
	ClientID           string // KAFKA_CLIENTID
	Compression        string // KAFKA_COMPRESSION: NONE, GZIP, SNAPPY, LZ4, ZSTD
	// RequiredACKs is NONE, ONE or ALL. falcosidekick's default is NONE;
	// Saker's is ALL, because an alert is acknowledged in the store only
	// once the brokers confirm it, and with NONE they never do.
	RequiredACKs  string
	TopicCreation bool // KAFKA_TOPICCREATION: let the brokers auto-create the topic
	settings.Common
}

// Balancers accepted in KAFKA_BALANCER (falcosidekick's names). Records
// carry no key, so the hash balancers spread like a sticky random one.
var balancers = []string{"round_robin", "least_bytes", "crc32", "crc32_random", "murmur2", "murmur2_random", "hash"}

// Load reads the Kafka settings; enabled is false without KAFKA_HOSTPORT.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.HostPort = src.List("kafka.hostport")
	if len(cfg.HostPort) == 0 {
		return cfg, false
	}
	cfg.Topic = src.String("kafka.topic", "")
	if cfg.Topic == "" {
		src.Errorf("kafka.topic", "KAFKA_TOPIC is required with KAFKA_HOSTPORT")
	}
	cfg.SASL = strings.ToUpper(src.String("kafka.sasl", ""))
	switch cfg.SASL {
	case "", "PLAIN", "SCRAM_SHA256", "SCRAM_SHA512":
	default:
		src.Errorf("kafka.sasl", "unsupported SASL mechanism %q (want PLAIN, SCRAM_SHA256 or SCRAM_SHA512)", cfg.SASL)
	}
	cfg.Username = src.String("kafka.username", "")
	cfg.Password = src.String("kafka.password", "")
	cfg.TLS = src.Bool("kafka.tls", false)
	cfg.Balancer = src.Enum("kafka.balancer", "round_robin", balancers...)
	cfg.ClientID = src.String("kafka.clientid", "")
	cfg.Compression = strings.ToUpper(src.Enum("kafka.compression", "none", "none", "gzip", "snappy", "lz4", "zstd"))
	cfg.RequiredACKs = strings.ToUpper(src.Enum("kafka.requiredacks", "all", "none", "one", "all"))
	if src.Bool("kafka.async", false) {
		src.Warnf("kafka.async", "ignored: every alert is confirmed by the brokers before it is acknowledged (batches keep throughput)")
	}
	cfg.TopicCreation = src.Bool("kafka.topiccreation", false)
	cfg.Common = src.Common("kafka")
	return cfg, true
}

// Forwarder produces alerts to Kafka.
type Forwarder struct {
	client *kgo.Client
}

// New builds a Kafka forwarder. The client connects lazily: a broker down
// at start-up is a delivery failure to retry, not a start-up error.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.HostPort...),
		kgo.DefaultProduceTopic(cfg.Topic),
		// The dispatcher owns retries and their limits: one produce call
		// must end within its timeout, not retry forever inside franz-go.
		kgo.RecordRetries(3),
		kgo.ProducerLinger(0),
	}
	if cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(cfg.ClientID))
	}
	// A client certificate is only presented over TLS: MUTUALTLS alone
	// must not leave the connection in plaintext.
	if cfg.TLS || cfg.MutualTLS {
		httpOpts.CheckCert, httpOpts.MutualTLS = cfg.CheckCert, cfg.MutualTLS
		tlsCfg, err := outhttp.TLSConfig(httpOpts)
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	switch cfg.SASL {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: cfg.Username, Pass: cfg.Password}.AsMechanism()))
	case "SCRAM_SHA256":
		opts = append(opts, kgo.SASL(scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha256Mechanism()))
	case "SCRAM_SHA512":
		opts = append(opts, kgo.SASL(scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha512Mechanism()))
	}
	switch cfg.Balancer {
	case "least_bytes":
		opts = append(opts, kgo.RecordPartitioner(kgo.LeastBackupPartitioner()))
	case "round_robin", "":
		opts = append(opts, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	default:
		opts = append(opts, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	}
	switch cfg.Compression {
	case "GZIP":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "SNAPPY":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "LZ4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "ZSTD":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	switch cfg.RequiredACKs {
	case "NONE":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case "ONE":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if cfg.TopicCreation {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	c, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return &Forwarder{client: c}, nil
}

// Close closes the client.
func (f *Forwarder) Close() { f.client.Close() }

// Forward produces the batch and waits for every record's result; the
// records that failed are reported in a PartialError.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	recs := make([]*kgo.Record, len(alerts))
	for i := range alerts {
		v, err := json.Marshal(&alerts[i])
		if err != nil {
			return false, fmt.Errorf("encode alert: %w", err)
		}
		recs[i] = &kgo.Record{Value: v}
	}
	results := f.client.ProduceSync(ctx, recs...)
	var pe batch.PartialError
	for i, r := range results {
		if r.Err != nil {
			pe.Failures = append(pe.Failures, batch.Failure{Index: i, Retry: Retryable(r.Err), Err: r.Err})
		}
	}
	switch {
	case len(pe.Failures) == 0:
		return false, nil
	case len(alerts) == 1:
		return pe.Failures[0].Retry, pe.Failures[0].Err
	}
	retry := false
	for _, fl := range pe.Failures {
		retry = retry || fl.Retry
	}
	return retry, &pe
}

// Retryable says whether a produce error may pass later: broker errors
// Kafka marks retriable, and connection or timeout errors, may; a record
// too large, a topic the client may not write, or bad credentials won't.
func Retryable(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	return true
}
