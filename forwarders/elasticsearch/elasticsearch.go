// Package elasticsearch indexes alerts with go-elasticsearch's bulk indexer:
// one _bulk request per batch, each document the Falco payload plus
// @timestamp, in the index falcosidekick would use ({index}-{suffix}).
//
// Documents are created with the alert's uuid as _id, so a batch retried
// after a partial failure or a hub crash does not index duplicates: ES
// answers 409 for the ones already there, which counts as delivered.
package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/hub/alert"
)

// Forwarder indexes alerts into Elasticsearch.
type Forwarder struct {
	cfg    Config
	client *es.Client
	logger *slog.Logger

	mu              sync.Mutex
	templateEnsured bool
}

// New builds an Elasticsearch forwarder. It does not contact the cluster.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	httpOpts.CheckCert, httpOpts.MutualTLS = cfg.CheckCert, cfg.MutualTLS
	hc, err := outhttp.NewClient(httpOpts)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	header := http.Header{}
	header.Set("User-Agent", outhttp.UserAgent)
	for k, v := range cfg.CustomHeaders {
		header.Set(k, v)
	}
	c, err := es.NewClient(es.Config{
		Addresses:           []string{strings.TrimRight(cfg.HostPort, "/")},
		Username:            cfg.Username,
		Password:            cfg.Password,
		APIKey:              cfg.APIKey,
		Header:              header,
		Transport:           timeoutTransport{base: hc.Transport, timeout: hc.Timeout},
		DisableRetry:        true, // the dispatcher retries with backoff
		CompressRequestBody: cfg.EnableCompression,
	})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Forwarder{cfg: cfg, client: c, logger: logger}, nil
}

// timeoutTransport bounds each request, as http.Client.Timeout would (the
// ES client takes a RoundTripper, not a client).
type timeoutTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t timeoutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), t.timeout)
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelBody) Close() error { err := b.ReadCloser.Close(); b.cancel(); return err }

// IndexName is the index an alert goes to. The date is the alert's time
// (UTC), so an alert delivered late after an outage lands in its day's
// index (falcosidekick uses the send time; with no queue they coincide).
func IndexName(cfg *Config, t time.Time) string {
	t = t.UTC()
	switch cfg.Suffix {
	case SuffixNone:
		return cfg.Index
	case SuffixMonthly:
		return cfg.Index + "-" + t.Format("2006.01")
	case SuffixAnnually:
		return cfg.Index + "-" + t.Format("2006")
	}
	return cfg.Index + "-" + t.Format("2006.01.02")
}

// Document is the indexed body: the payload plus @timestamp (the alert's
// time), output field names flattened when configured.
func Document(cfg *Config, a *alert.Alert) ([]byte, error) {
	doc := *a
	if cfg.FlattenFields || cfg.CreateIndexTemplate {
		doc.OutputFields = make(map[string]any, len(a.OutputFields))
		for k, v := range a.OutputFields {
			doc.OutputFields[strings.ReplaceAll(k, ".", "_")] = v
		}
	}
	return json.Marshal(struct {
		alert.Alert
		Timestamp time.Time `json:"@timestamp"`
	}{doc, a.Time})
}

// Forward indexes the batch in one _bulk request.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	if err := f.ensureTemplate(ctx); err != nil {
		return true, err
	}
	var (
		mu       sync.Mutex
		failures []batch.Failure
		flushErr error
	)
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:        f.client,
		NumWorkers:    1,
		FlushBytes:    64 << 20, // one request per batch: Close flushes
		FlushInterval: time.Hour,
		Pipeline:      f.cfg.Pipeline,
		OnError: func(_ context.Context, err error) {
			mu.Lock()
			if flushErr == nil {
				flushErr = err
			}
			mu.Unlock()
		},
	})
	if err != nil {
		return false, fmt.Errorf("bulk indexer: %w", err)
	}
	for i := range alerts {
		body, err := Document(&f.cfg, &alerts[i])
		if err != nil {
			failures = append(failures, batch.Failure{Index: i, Err: fmt.Errorf("encode alert: %w", err)})
			continue
		}
		idx := i
		item := esutil.BulkIndexerItem{
			Index:      IndexName(&f.cfg, alerts[i].Time),
			Action:     "create",
			DocumentID: alerts[i].UUID,
			Body:       bytes.NewReader(body),
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
				if err == nil && res.Status == http.StatusConflict {
					return // already indexed by an earlier attempt
				}
				fl := batch.Failure{Index: idx}
				if err != nil {
					fl.Retry, fl.Err = true, err
				} else {
					fl.Retry = outhttp.RetryableStatus(res.Status)
					fl.Err = fmt.Errorf("index %s: HTTP %d %s: %s", res.Index, res.Status, res.Error.Type, batch.Snippet(res.Error.Reason, 300))
				}
				mu.Lock()
				failures = append(failures, fl)
				mu.Unlock()
			},
		}
		if err := bi.Add(ctx, item); err != nil {
			_ = bi.Close(ctx)
			return true, fmt.Errorf("bulk add: %w", err)
		}
	}
	if err := bi.Close(ctx); err != nil {
		return true, fmt.Errorf("bulk flush: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if flushErr != nil {
		// The whole request failed: decide from its status when there is one.
		return flushRetry(flushErr), fmt.Errorf("elasticsearch bulk: %w", flushErr)
	}
	switch {
	case len(failures) == 0:
		return false, nil
	case len(failures) == len(alerts) && len(alerts) == 1:
		return failures[0].Retry, failures[0].Err
	}
	retry := false
	for _, fl := range failures {
		retry = retry || fl.Retry
	}
	return retry, &batch.PartialError{Failures: failures}
}

var statusInError = regexp.MustCompile(`\[(\d{3}) `)

// flushRetry classifies a failed _bulk request. esutil reports an HTTP error
// as "flush: [503 Service Unavailable] …"; transport errors carry no status
// and are retryable.
func flushRetry(err error) bool {
	if m := statusInError.FindStringSubmatch(err.Error()); m != nil {
		code, _ := strconv.Atoi(m[1])
		return outhttp.RetryableStatus(code)
	}
	if strings.Contains(err.Error(), "server is not Elasticsearch") {
		return false // not Elasticsearch (product check failed): retrying won't help
	}
	return true
}

// Template is the index template created with
// ELASTICSEARCH_CREATEINDEXTEMPLATE: shards/replicas and the mapping of the
// payload fields (output fields flattened, so they map dynamically).
func Template(cfg *Config) []byte {
	pattern := cfg.Index + "-*"
	if cfg.Suffix == SuffixNone {
		pattern = cfg.Index
	}
	kw := func(ignoreAbove int) map[string]any {
		return map[string]any{"type": "text", "fields": map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": ignoreAbove}}}
	}
	t := map[string]any{
		"index_patterns": []string{pattern},
		"template": map[string]any{
			"settings": map[string]any{"number_of_shards": cfg.NumberOfShards, "number_of_replicas": cfg.NumberOfReplicas},
			"mappings": map[string]any{"properties": map[string]any{
				"@timestamp": map[string]any{"type": "date"},
				"time":       map[string]any{"type": "date"},
				"hostname":   kw(256),
				"output":     kw(2048),
				"priority":   kw(256),
				"rule":       kw(256),
				"source":     kw(256),
				"tags":       kw(256),
				"uuid":       kw(256),
			}},
		},
	}
	b, _ := json.Marshal(t)
	return b
}

// ensureTemplate creates the index template once, when configured.
func (f *Forwarder) ensureTemplate(ctx context.Context) error {
	if !f.cfg.CreateIndexTemplate {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.templateEnsured {
		return nil
	}
	res, err := esapi.IndicesExistsIndexTemplateRequest{Name: f.cfg.Index}.Do(ctx, f.client)
	if err != nil {
		return fmt.Errorf("check index template %s: %w", f.cfg.Index, err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		f.templateEnsured = true
		return nil
	}
	res, err = esapi.IndicesPutIndexTemplateRequest{Name: f.cfg.Index, Body: bytes.NewReader(Template(&f.cfg))}.Do(ctx, f.client)
	if err != nil {
		return fmt.Errorf("create index template %s: %w", f.cfg.Index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("create index template %s: %s", f.cfg.Index, res.String())
	}
	f.templateEnsured = true
	f.logger.Info("elasticsearch index template created", "name", f.cfg.Index)
	return nil
}
