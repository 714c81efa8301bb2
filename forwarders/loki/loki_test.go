package loki_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/loki"
	"github.com/saker-sec/saker/hub/alert"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func mk(rule string, p alert.Priority, sec int, fields map[string]any) alert.Alert {
	return alert.Alert{UUID: rule, Output: rule + " happened", Priority: p, Rule: rule, Time: t0.Add(time.Duration(sec) * time.Second),
		OutputFields: fields, Source: "syscalls", Tags: []string{"b", "a"}, Hostname: "node-1"}
}

// lokiPeer speaks Loki's push API: POST application/json to the push path,
// 204 on success, 400 with a reason for a malformed push.
type lokiPeer struct {
	mu      sync.Mutex
	pushes  []loki.Payload
	raw     []string
	headers []http.Header
}

func (p *lokiPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/loki/api/v1/push" {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "unsupported Content-Type", http.StatusUnsupportedMediaType)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var pl loki.Payload
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pl); err != nil || len(pl.Streams) == 0 {
		http.Error(w, "loghttp: error parsing push request", http.StatusBadRequest)
		return
	}
	for _, s := range pl.Streams {
		if len(s.Stream) == 0 || len(s.Values) == 0 {
			http.Error(w, "error at least one label pair is required per stream", http.StatusBadRequest)
			return
		}
	}
	p.mu.Lock()
	p.pushes = append(p.pushes, pl)
	p.raw = append(p.raw, string(b))
	p.headers = append(p.headers, r.Header.Clone())
	p.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func TestLabels(t *testing.T) {
	cfg := loki.Config{ExtraLabels: []string{"proc.name", "container.image.repository"}, GlobalLabels: []string{"env", "fd[0].name"}}
	a := mk("R", alert.PriorityError, 0, map[string]any{
		"k8s.ns.name": "prod", "k8s.pod.name": "api-7f", "proc.name": "ba\"sh", "env": "staging",
		"fd[0].name": "/etc/shadow", "container.image.repository": json.Number("1"), "user.name": "root",
	})
	got := loki.Labels(&cfg, &a)
	want := map[string]string{
		"rule": "R", "source": "syscalls", "priority": "Error", "k8s_ns_name": "prod", "k8s_pod_name": "api-7f",
		"proc_name": "bash", "env": "staging", "fd0_name": "/etc/shadow", "hostname": "node-1", "tags": "a,b",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("labels\n got %v\nwant %v", got, want)
	}
}

func TestPushWireFormat(t *testing.T) {
	p := &lokiPeer{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	cfg := loki.Config{HostPort: srv.URL, Endpoint: loki.DefaultEndpoint, User: "123456", APIKey: "glc_key", Tenant: "team-a",
		Format: "text", Common: settings.Common{CheckCert: true, CustomHeaders: map[string]string{"X-Org": "saker"}}}
	f, err := loki.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	alerts := []alert.Alert{
		mk("A", alert.PriorityWarning, 2, map[string]any{}),
		mk("B", alert.PriorityCritical, 1, map[string]any{}),
		mk("A", alert.PriorityWarning, 1, map[string]any{}),
	}
	if retry, err := f.Forward(context.Background(), alerts); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	if len(p.pushes) != 1 {
		t.Fatalf("got %d pushes, want one batched push", len(p.pushes))
	}
	const want = `{"streams":[` +
		`{"stream":{"hostname":"node-1","priority":"Warning","rule":"A","source":"syscalls","tags":"a,b"},"values":[["1795424401000000000","A happened"],["1795424402000000000","A happened"]]},` +
		`{"stream":{"hostname":"node-1","priority":"Critical","rule":"B","source":"syscalls","tags":"a,b"},"values":[["1795424401000000000","B happened"]]}]}`
	if p.raw[0] != want {
		t.Fatalf("body\n got %s\nwant %s", p.raw[0], want)
	}
	h := p.headers[0]
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("123456:glc_key"))
	if h.Get("X-Scope-OrgID") != "team-a" || h.Get("Authorization") != wantAuth || h.Get("X-Org") != "saker" {
		t.Fatalf("headers %v", h)
	}
}

func TestJSONFormat(t *testing.T) {
	cfg := loki.Config{Format: "json"}
	a := mk("A", alert.PriorityWarning, 0, map[string]any{"proc.name": "bash"})
	line, err := loki.Line(&cfg, &a)
	if err != nil {
		t.Fatal(err)
	}
	var back alert.Alert
	if err := json.Unmarshal([]byte(line), &back); err != nil || back.Rule != "A" || back.OutputFields["proc.name"] != "bash" {
		t.Fatalf("json line %s -> %+v, %v", line, back, err)
	}
}

func TestURL(t *testing.T) {
	for _, tt := range []struct{ host, ep, want string }{
		{"http://loki:3100", "", "http://loki:3100/loki/api/v1/push"},
		{"http://loki:3100/", "/loki/api/v1/push", "http://loki:3100/loki/api/v1/push"},
		{"https://logs.example", "api/prom/push", "https://logs.example/api/prom/push"},
	} {
		c := loki.Config{HostPort: tt.host, Endpoint: tt.ep}
		if got := c.URL(); got != tt.want {
			t.Errorf("URL(%q,%q) = %q, want %q", tt.host, tt.ep, got, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		status    int
		wantRetry bool
	}{{400, false}, {429, true}, {500, true}, {401, false}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tt.status) }))
		f, _ := loki.New(loki.Config{HostPort: srv.URL}, outhttp.Options{}, nil)
		retry, err := f.Forward(context.Background(), []alert.Alert{mk("A", alert.PriorityWarning, 0, nil)})
		srv.Close()
		if err == nil || retry != tt.wantRetry {
			t.Errorf("status %d: Forward = %v, %v; want retry %v", tt.status, retry, err, tt.wantRetry)
		}
	}
}
