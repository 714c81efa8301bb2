// Package elasticsearch indexes alerts with go-elasticsearch's _bulk API:
// one request per batch, each document the Falco payload plus @timestamp,
// in the index falcosidekick would use ({index}-{suffix}). It works with
// Elasticsearch (6 to 9), OpenSearch and proxies alike: the client's
// product check is off.
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
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/hub/alert"
)

// Forwarder indexes alerts into Elasticsearch.
type Forwarder struct {
	cfg    Config
	client *elastictransport.Client
	logger *slog.Logger
	// Now is the clock dating the index suffix (by send time, as
	// falcosidekick, unless Config.SuffixDate is "alert"); nil is time.Now.
	Now func() time.Time

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
	u, err := url.Parse(strings.TrimRight(cfg.HostPort, "/"))
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	// esapi over the bare transport, without go-elasticsearch's root client:
	// that client adds a product check (below) and pulls in its typed API,
	// hundreds of packages Saker does not use.
	c, err := elastictransport.New(elastictransport.Config{
		URLs:                []*url.URL{u},
		UserAgent:           outhttp.UserAgent,
		Username:            cfg.Username,
		Password:            cfg.Password,
		APIKey:              cfg.APIKey,
		Header:              header,
		Transport:           transport{base: hc.Transport, timeout: hc.Timeout},
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

// transport bounds each request, as http.Client.Timeout would (the ES
// transport takes a RoundTripper, not a client).
//
// There is no product check: go-elasticsearch's client refuses any answer
// without "X-Elastic-Product: Elasticsearch", which OpenSearch,
// Elasticsearch before 7.14 and many proxies do not send although they
// store the documents (falcosidekick, plain HTTP, works with all of them).
// The _bulk and _index_template APIs Saker uses are the same on all of them.
type transport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
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

// IndexName is the index an alert goes to, dated (UTC) by t: the send time
// by default as in falcosidekick, the alert's time with
// ELASTICSEARCH_SUFFIXDATE=alert.
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
// time), output field names flattened when configured. Output fields named
// in drop (after flattening), or below them, are left out: they are the
// ones the index's mapping refused.
func Document(cfg *Config, a *alert.Alert, drop ...string) ([]byte, error) {
	doc := *a
	flatten := cfg.FlattenFields || cfg.CreateIndexTemplate
	if flatten || len(drop) > 0 {
		doc.OutputFields = make(map[string]any, len(a.OutputFields))
		for k, v := range a.OutputFields {
			if flatten {
				k = strings.ReplaceAll(k, ".", "_")
			}
			if !dropped(k, drop) {
				doc.OutputFields[k] = v
			}
		}
	}
	return json.Marshal(struct {
		alert.Alert
		Timestamp time.Time `json:"@timestamp"`
	}{doc, a.Time})
}

func dropped(key string, drop []string) bool {
	for _, d := range drop {
		if key == d || strings.HasPrefix(key, d+".") {
			return true
		}
	}
	return false
}

// maxFieldDrops bounds how many refused fields are removed from one
// document before it is given up on (falcosidekick removes one).
const maxFieldDrops = 5

// Forward indexes the batch with a _bulk request. A document the index
// refuses for a mapping conflict on an output field is sent again without
// that field, as falcosidekick does, so the alert is not lost for one
// field of the wrong type; the field left out is logged.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	if err := f.ensureTemplate(ctx); err != nil {
		return true, err
	}
	sendTime := time.Now()
	if f.Now != nil {
		sendTime = f.Now()
	}
	var failures []batch.Failure
	drops := make([][]string, len(alerts))
	pending := make([]int, 0, len(alerts))
	for i := range alerts {
		pending = append(pending, i)
	}
	for round := 0; len(pending) > 0; round++ {
		var body bytes.Buffer
		sent := pending[:0:0]
		for _, i := range pending {
			at := sendTime
			if f.cfg.SuffixDate == SuffixDateAlert {
				at = alerts[i].Time
			}
			doc, err := Document(&f.cfg, &alerts[i], drops[i]...)
			if err != nil {
				failures = append(failures, batch.Failure{Index: i, Err: fmt.Errorf("encode alert: %w", err)})
				continue
			}
			f.writeAction(&body, IndexName(&f.cfg, at), alerts[i].UUID)
			body.Write(doc)
			body.WriteByte('\n')
			sent = append(sent, i)
		}
		if len(sent) == 0 {
			break
		}
		items, retry, err := f.bulk(ctx, &body, len(sent))
		if err != nil {
			if round == 0 && len(alerts) == 1 {
				return retry, err
			}
			if round == 0 && len(failures) == 0 {
				return retry, fmt.Errorf("elasticsearch bulk: %w", err)
			}
			for _, i := range sent {
				failures = append(failures, batch.Failure{Index: i, Retry: retry, Err: err})
			}
			break
		}
		pending = pending[:0]
		for k, i := range sent {
			it := items[k]
			if it.Status < 300 || it.Status == http.StatusConflict {
				continue // 409: already indexed by an earlier attempt
			}
			if field := conflictField(it); field != "" && len(drops[i]) < maxFieldDrops && !slices.Contains(drops[i], field) {
				drops[i] = append(drops[i], field)
				pending = append(pending, i)
				f.logger.Warn("elasticsearch refused an output field; sending the alert without it",
					"uuid", alerts[i].UUID, "field", field, "index", it.Index, "reason", batch.Snippet(it.Error.Reason, 300))
				continue
			}
			failures = append(failures, batch.Failure{Index: i, Retry: outhttp.RetryableStatus(it.Status),
				Err: fmt.Errorf("index %s: HTTP %d %s: %s", it.Index, it.Status, it.Error.Type, batch.Snippet(it.Error.Reason, 300))})
		}
	}
	switch {
	case len(failures) == 0:
		return false, nil
	case len(failures) == len(alerts) && len(alerts) == 1:
		return failures[0].Retry, failures[0].Err
	}
	slices.SortFunc(failures, func(a, b batch.Failure) int { return a.Index - b.Index })
	retry := false
	for _, fl := range failures {
		retry = retry || fl.Retry
	}
	return retry, &batch.PartialError{Failures: failures}
}

// writeAction writes a _bulk "create" line. _type is sent only for a
// custom ELASTICSEARCH_TYPE (Elasticsearch 6 and older need it; 8 refuses
// it, so the default "_doc" is left implicit).
func (f *Forwarder) writeAction(w *bytes.Buffer, index, id string) {
	meta := map[string]string{"_index": index}
	if id != "" {
		meta["_id"] = id
	}
	if f.cfg.Type != "" && f.cfg.Type != DefaultType {
		meta["_type"] = f.cfg.Type
	}
	b, _ := json.Marshal(map[string]any{"create": meta})
	w.Write(b)
	w.WriteByte('\n')
}

// bulkItem is one item of a _bulk answer.
type bulkItem struct {
	Index  string `json:"_index"`
	Status int    `json:"status"`
	Error  struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	} `json:"error"`
}

// bulk sends one _bulk request of n documents and returns its items in
// order, or the request's failure with whether retrying may help.
func (f *Forwarder) bulk(ctx context.Context, body *bytes.Buffer, n int) ([]bulkItem, bool, error) {
	res, err := esapi.BulkRequest{Body: body, Pipeline: f.cfg.Pipeline}.Do(ctx, f.client)
	if err != nil {
		return nil, outhttp.TransportRetryable(err), err
	}
	defer res.Body.Close()
	if res.IsError() {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		se := &outhttp.StatusError{Code: res.StatusCode, Body: strings.TrimSpace(string(b))}
		if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && ra >= 0 {
			se.RetryAfter = time.Duration(ra) * time.Second
		}
		return nil, outhttp.RetryableStatus(res.StatusCode), se
	}
	var reply struct {
		Items []map[string]bulkItem `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&reply); err != nil {
		return nil, true, fmt.Errorf("decode _bulk answer: %w", err)
	}
	if len(reply.Items) != n {
		return nil, true, fmt.Errorf("_bulk answered %d items for %d documents", len(reply.Items), n)
	}
	items := make([]bulkItem, n)
	for k, m := range reply.Items {
		for _, it := range m { // one key: the action
			items[k] = it
		}
	}
	return items, false, nil
}

// mappingField finds the output field a mapping error names:
// "failed to parse field [output_fields.fd.num] of type [long]…",
// "object mapping for [output_fields.k8s] tried to parse field…".
var mappingField = regexp.MustCompile(`\[output_fields\.([^\]\s]+)\]`)

// conflictField returns the output field a refused document's mapping
// error names, or "" when the refusal is something else.
func conflictField(it bulkItem) string {
	if it.Status != http.StatusBadRequest {
		return ""
	}
	switch it.Error.Type {
	case "mapper_parsing_exception", "document_parsing_exception", "illegal_argument_exception":
	default:
		return ""
	}
	for _, reason := range []string{it.Error.Reason, it.Error.CausedBy.Reason} {
		if m := mappingField.FindStringSubmatch(reason); m != nil {
			return m[1]
		}
	}
	return ""
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
