package elasticsearch_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders/elasticsearch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func mk(uuid string) alert.Alert {
	return alert.Alert{UUID: uuid, Output: "out " + uuid, Priority: alert.PriorityWarning, Rule: "R", Time: t0,
		OutputFields: map[string]any{"proc.name": "bash", "fd.num": json.Number("3")}, Source: "syscalls", Hostname: "node-1"}
}

type bulkReq struct {
	path, query, contentType, auth string
	header                         http.Header
	lines                          []string
}

// esPeer answers like Elasticsearch 8: every response carries
// X-Elastic-Product (the client refuses servers without it), _bulk takes
// NDJSON action/document pairs and reports per-item status.
type esPeer struct {
	mu        sync.Mutex
	bulks     []bulkReq
	itemCode  map[string]int // _id -> status for its item (default 201)
	status    int            // whole-request status (0 = 200)
	templates map[string]string
	calls     []string
	// noProduct answers without X-Elastic-Product, as OpenSearch,
	// Elasticsearch before 7.14 and some proxies do.
	noProduct bool
	// longFields are output fields mapped as long: a document with a
	// non-numeric value there is refused as Elasticsearch 8 does.
	longFields map[string]bool
	stored     map[string]string // _index/_id -> document
}

func newPeer() *esPeer {
	return &esPeer{itemCode: map[string]int{}, templates: map[string]string{}, longFields: map[string]bool{}, stored: map[string]string{}}
}

func (p *esPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, r.Method+" "+r.URL.Path)
	if !p.noProduct {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/_index_template/"):
		name := strings.TrimPrefix(r.URL.Path, "/_index_template/")
		switch r.Method {
		case http.MethodHead:
			if _, ok := p.templates[name]; !ok {
				w.WriteHeader(http.StatusNotFound)
			}
		case http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			p.templates[name] = string(b)
			io.WriteString(w, `{"acknowledged":true}`)
		}
		return
	case r.URL.Path == "/_bulk" && r.Method == http.MethodPost:
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"type":"illegal_argument_exception"},"status":404}`)
		return
	}
	if p.status != 0 {
		w.WriteHeader(p.status)
		fmt.Fprintf(w, `{"error":{"type":"es_rejected_execution_exception","reason":"busy"},"status":%d}`, p.status)
		return
	}
	br := bulkReq{path: r.URL.Path, query: r.URL.RawQuery, contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization"), header: r.Header.Clone()}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		br.lines = append(br.lines, sc.Text())
	}
	p.bulks = append(p.bulks, br)
	var items []string
	errorsSeen := false
	for i := 0; i+1 < len(br.lines); i += 2 {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal([]byte(br.lines[i]), &action); err != nil {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"type":"parse_exception"},"status":400}`)
			return
		}
		a := action["create"]
		code := p.itemCode[a.ID]
		if code == 0 {
			code = 201
		}
		item := fmt.Sprintf(`{"create":{"_index":%q,"_id":%q,"_version":1,"result":"created","status":%d}}`, a.Index, a.ID, code)
		var doc struct {
			OutputFields map[string]any `json:"output_fields"`
		}
		_ = json.Unmarshal([]byte(br.lines[i+1]), &doc)
		for k, v := range doc.OutputFields {
			if _, isNum := v.(float64); p.longFields[k] && !isNum && code < 300 {
				code = 400
				item = fmt.Sprintf(`{"create":{"_index":%q,"_id":%q,"status":400,"error":{"type":"document_parsing_exception","reason":"[1:42] failed to parse field [output_fields.%s] of type [long] in document with id '%s'. Preview of field's value: '%v'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"%v\""}}}}`, a.Index, a.ID, k, a.ID, v, v)
				errorsSeen = true
			}
		}
		if code < 300 {
			p.stored[a.Index+"/"+a.ID] = br.lines[i+1]
		}
		if code > 299 && !strings.Contains(item, "document_parsing_exception") {
			errorsSeen = true
			item = fmt.Sprintf(`{"create":{"_index":%q,"_id":%q,"status":%d,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [output_fields.fd.num]"}}}`, a.Index, a.ID, code)
		}
		items = append(items, item)
	}
	fmt.Fprintf(w, `{"took":3,"errors":%v,"items":[%s]}`, errorsSeen, strings.Join(items, ","))
}

func newForwarder(t *testing.T, url string, mod func(*elasticsearch.Config)) *elasticsearch.Forwarder {
	t.Helper()
	cfg := elasticsearch.Config{HostPort: url, Index: "falco", Suffix: elasticsearch.SuffixDaily, NumberOfShards: 3, NumberOfReplicas: 3,
		Common: settings.Common{CheckCert: true}}
	if mod != nil {
		mod(&cfg)
	}
	f, err := elasticsearch.New(cfg, outhttp.Options{Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Now = func() time.Time { return t0.Add(time.Minute) }
	return f
}

func TestBulkWireFormat(t *testing.T) {
	p := newPeer()
	srv := httptest.NewServer(p)
	defer srv.Close()
	f := newForwarder(t, srv.URL, func(c *elasticsearch.Config) {
		c.Username, c.Password, c.Pipeline = "elastic", "changeme", "falco-pipeline"
		c.CustomHeaders = map[string]string{"X-Tenant": "blue"}
	})
	if retry, err := f.Forward(context.Background(), []alert.Alert{mk("u-1"), mk("u-2")}); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	if len(p.bulks) != 1 {
		t.Fatalf("got %d bulk requests, want 1", len(p.bulks))
	}
	b := p.bulks[0]
	doc := `{"uuid":"%s","output":"out %s","priority":"Warning","rule":"R","time":"2026-11-23T09:00:00Z","output_fields":{"fd.num":3,"proc.name":"bash"},"source":"syscalls","hostname":"node-1","@timestamp":"2026-11-23T09:00:00Z"}`
	want := []string{
		`{"create":{"_id":"u-1","_index":"falco-2026.11.23"}}`, fmt.Sprintf(doc, "u-1", "u-1"),
		`{"create":{"_id":"u-2","_index":"falco-2026.11.23"}}`, fmt.Sprintf(doc, "u-2", "u-2"),
	}
	if strings.Join(b.lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("NDJSON\n got %s\nwant %s", strings.Join(b.lines, "\n"), strings.Join(want, "\n"))
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:changeme"))
	if b.auth != wantAuth || b.query != "pipeline=falco-pipeline" || b.contentType != "application/json" || b.header.Get("X-Tenant") != "blue" {
		t.Fatalf("request auth=%q query=%q content-type=%q header=%v", b.auth, b.query, b.contentType, b.header)
	}
}

func TestAPIKey(t *testing.T) {
	p := newPeer()
	srv := httptest.NewServer(p)
	defer srv.Close()
	f := newForwarder(t, srv.URL, func(c *elasticsearch.Config) { c.APIKey = "a2V5OnNlY3JldA==" })
	if _, err := f.Forward(context.Background(), []alert.Alert{mk("u-1")}); err != nil {
		t.Fatal(err)
	}
	if got := p.bulks[0].auth; got != "APIKey a2V5OnNlY3JldA==" {
		t.Fatalf("Authorization = %q", got)
	}
}

func TestIndexName(t *testing.T) {
	ts := time.Date(2026, 1, 2, 23, 30, 0, 0, time.FixedZone("X", -3600))
	for _, tt := range []struct{ suffix, want string }{
		{"daily", "falco-2026.01.03"}, {"monthly", "falco-2026.01"}, {"annually", "falco-2026"}, {"none", "falco"},
	} {
		if got := elasticsearch.IndexName(&elasticsearch.Config{Index: "falco", Suffix: tt.suffix}, ts); got != tt.want {
			t.Errorf("IndexName(%s) = %q, want %q", tt.suffix, got, tt.want)
		}
	}
}

func TestFlattenFields(t *testing.T) {
	a := mk("u")
	b, err := elasticsearch.Document(&elasticsearch.Config{FlattenFields: true}, &a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"output_fields":{"fd_num":3,"proc_name":"bash"}`)) {
		t.Fatalf("document %s", b)
	}
	if a.OutputFields["proc.name"] != "bash" {
		t.Fatal("Document modified the alert")
	}
}

func TestPartialFailure(t *testing.T) {
	p := newPeer()
	p.itemCode["dup"] = 409         // already indexed by an earlier attempt: delivered
	p.itemCode["busy"] = 429        // retry
	p.itemCode["bad-mapping"] = 400 // give up
	srv := httptest.NewServer(p)
	defer srv.Close()
	f := newForwarder(t, srv.URL, nil)
	retry, err := f.Forward(context.Background(), []alert.Alert{mk("ok"), mk("dup"), mk("busy"), mk("bad-mapping")})
	pe, ok := err.(interface{ Error() string })
	if !retry || !ok {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	got := fmt.Sprint(pe)
	if !strings.Contains(got, "2 alert(s) not delivered") {
		t.Fatalf("err = %v, want 2 failures", err)
	}
}

func TestWholeRequestErrors(t *testing.T) {
	for _, tt := range []struct {
		status    int
		wantRetry bool
	}{{503, true}, {429, true}, {401, false}, {413, false}} {
		p := newPeer()
		p.status = tt.status
		srv := httptest.NewServer(p)
		f := newForwarder(t, srv.URL, nil)
		retry, err := f.Forward(context.Background(), []alert.Alert{mk("u-1")})
		srv.Close()
		if err == nil || retry != tt.wantRetry {
			t.Errorf("status %d: Forward = %v, %v; want retry %v", tt.status, retry, err, tt.wantRetry)
		}
	}
}

// OpenSearch, Elasticsearch before 7.14 and proxies answer without
// X-Elastic-Product; go-elasticsearch refused their answers, so every alert
// was dead-lettered although the server had stored it.
func TestServerWithoutProductHeader(t *testing.T) {
	p := newPeer()
	p.noProduct = true
	srv := httptest.NewServer(p)
	defer srv.Close()
	f := newForwarder(t, srv.URL, func(c *elasticsearch.Config) { c.CreateIndexTemplate = true })
	for _, id := range []string{"u-1", "u-2"} {
		if retry, err := f.Forward(context.Background(), []alert.Alert{mk(id)}); err != nil {
			t.Fatalf("Forward %s = %v, %v", id, retry, err)
		}
	}
	if len(p.stored) != 2 || p.templates["falco"] == "" {
		t.Fatalf("stored %d documents, template %q", len(p.stored), p.templates["falco"])
	}
}

// A document refused for a mapping conflict on an output field is indexed
// again without that field (falcosidekick does the same); the other
// documents of the batch are indexed once.
func TestMappingConflictResentWithoutField(t *testing.T) {
	p := newPeer()
	p.longFields["fd.num"] = true
	srv := httptest.NewServer(p)
	defer srv.Close()
	f := newForwarder(t, srv.URL, nil)
	bad := mk("bad")
	bad.Priority = alert.PriorityCritical
	bad.OutputFields = map[string]any{"proc.name": "bash", "fd.num": "<NA>", "fd.num.extra": "x"}
	if retry, err := f.Forward(context.Background(), []alert.Alert{mk("ok"), bad}); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	if len(p.bulks) != 2 || len(p.bulks[1].lines) != 2 {
		t.Fatalf("bulk requests %d, second %v; want the refused document alone again", len(p.bulks), p.bulks)
	}
	doc := p.stored["falco-2026.11.23/bad"]
	if !strings.Contains(doc, `"output_fields":{"proc.name":"bash"}`) || !strings.Contains(doc, `"priority":"Critical"`) {
		t.Fatalf("stored document %s", doc)
	}
	// A refusal naming no output field is final.
	p.itemCode["other"] = 400
	if retry, err := f.Forward(context.Background(), []alert.Alert{mk("other")}); err == nil || retry {
		t.Fatalf("Forward = %v, %v; want a final error", retry, err)
	}
}

// ELASTICSEARCH_SUFFIX dates the index by the send time, as falcosidekick
// does; ELASTICSEARCH_SUFFIXDATE=alert dates it by the alert's time.
func TestSuffixDate(t *testing.T) {
	sendTime := time.Date(2026, 12, 1, 0, 5, 0, 0, time.UTC)
	for _, tt := range []struct{ by, want string }{
		{"", "falco-2026.12.01"}, {elasticsearch.SuffixDateSend, "falco-2026.12.01"}, {elasticsearch.SuffixDateAlert, "falco-2026.11.23"},
	} {
		p := newPeer()
		srv := httptest.NewServer(p)
		f := newForwarder(t, srv.URL, func(c *elasticsearch.Config) { c.SuffixDate = tt.by })
		f.Now = func() time.Time { return sendTime }
		_, err := f.Forward(context.Background(), []alert.Alert{mk("u-1")})
		srv.Close()
		if err != nil || p.stored[tt.want+"/u-1"] == "" {
			t.Errorf("SuffixDate %q: err %v, stored %v; want index %s", tt.by, err, p.stored, tt.want)
		}
	}
}

// ELASTICSEARCH_TYPE is sent as _type when it is not the default "_doc"
// (Elasticsearch 6 needs it; 8 refuses _type).
func TestType(t *testing.T) {
	for _, tt := range []struct{ typ, want string }{
		{"_doc", `{"create":{"_id":"u-1","_index":"falco"}}`},
		{"falco", `{"create":{"_id":"u-1","_index":"falco","_type":"falco"}}`},
	} {
		p := newPeer()
		srv := httptest.NewServer(p)
		f := newForwarder(t, srv.URL, func(c *elasticsearch.Config) { c.Type, c.Suffix = tt.typ, elasticsearch.SuffixNone })
		_, err := f.Forward(context.Background(), []alert.Alert{mk("u-1")})
		srv.Close()
		if err != nil || p.bulks[0].lines[0] != tt.want {
			t.Errorf("type %q: err %v, action %s; want %s", tt.typ, err, p.bulks[0].lines[0], tt.want)
		}
	}
}

func TestCreateIndexTemplate(t *testing.T) {
	p := newPeer()
	srv := httptest.NewServer(p)
	defer srv.Close()
	f := newForwarder(t, srv.URL, func(c *elasticsearch.Config) {
		c.CreateIndexTemplate, c.NumberOfShards, c.NumberOfReplicas = true, 1, 0
	})
	for i := 0; i < 2; i++ {
		if _, err := f.Forward(context.Background(), []alert.Alert{mk(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	want := "HEAD /_index_template/falco,PUT /_index_template/falco,POST /_bulk,POST /_bulk"
	if got := strings.Join(p.calls, ","); got != want {
		t.Fatalf("calls %s, want %s", got, want)
	}
	var tmpl struct {
		Patterns []string `json:"index_patterns"`
		Template struct {
			Settings map[string]int `json:"settings"`
		} `json:"template"`
	}
	if err := json.Unmarshal([]byte(p.templates["falco"]), &tmpl); err != nil || tmpl.Patterns[0] != "falco-*" ||
		tmpl.Template.Settings["number_of_shards"] != 1 || tmpl.Template.Settings["number_of_replicas"] != 0 {
		t.Fatalf("template %s (%v)", p.templates["falco"], err)
	}
	// Flattened output fields are forced with the template.
	if !strings.Contains(p.bulks[0].lines[1], `"proc_name":"bash"`) {
		t.Fatalf("document not flattened: %s", p.bulks[0].lines[1])
	}
}
