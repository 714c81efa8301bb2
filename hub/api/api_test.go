package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/hub/ingest"
	"github.com/saker-sec/saker/hub/listen"
	"github.com/saker-sec/saker/hub/metrics"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/embedded"
	redisstore "github.com/saker-sec/saker/hub/store/redis"
	"github.com/saker-sec/saker/hub/store/redistest"
)

const good = `{"output":"o","priority":"Warning","rule":"r","time":"2026-11-23T09:00:00Z","output_fields":{"evt.time":1795425121123456789}}`

type fixture struct {
	st  store.Store
	url string // the server's base URL
}

func newFixture(t *testing.T) *fixture { return newFixtureOn(t, "embedded") }

// transports serve the ingestion port: fasthttp as the hub does (native
// ingestion routes, the rest adapted) and the net/http Handler alone.
var transports = []string{"fasthttp", "net/http"}

// viaEachTransport runs test against a fixture served by each transport:
// both answer every request the same.
func viaEachTransport(t *testing.T, test func(*testing.T, *fixture)) {
	for _, via := range transports {
		t.Run(strings.ReplaceAll(via, "/", "-"), func(t *testing.T) { test(t, newFixtureVia(t, "embedded", via)) })
	}
}

// newFixtureOn serves the API over a real store: "embedded" or "redis" (a
// throw-away redis-server).
func newFixtureOn(t *testing.T, kind string) *fixture { return newFixtureVia(t, kind, "net/http") }

// newFixtureVia is newFixtureOn served by the given transport.
func newFixtureVia(t *testing.T, kind, via string) *fixture {
	t.Helper()
	var st store.Store
	var err error
	if kind == "redis" {
		st, err = redisstore.New(context.Background(), redisstore.Options{Addresses: []string{redistest.Addr(t)}})
	} else {
		st, err = embedded.Open(embedded.Options{Dir: t.TempDir()})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	enr, err := ingest.NewEnricher(ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s := &Server{
		Store: st, Enricher: enr, Metrics: metrics.New(reg), Gatherer: reg,
		BodyLimit: 4096, BatchBodyLimit: 1 << 20, BatchMaxEvents: 5,
	}
	// The read API is served by the dashboard, not on this port: mount it
	// next to the ingestion routes as the dashboard does.
	mux := http.NewServeMux()
	mux.Handle("/", s.Handler())
	q := http.StripPrefix("/api/v1", QueryRoutes(st))
	mux.Handle("GET /api/v1/events", q)
	mux.Handle("GET /api/v1/events/{id}", q)
	mux.Handle("GET /api/v1/stats", q)
	if via == "fasthttp" {
		return &fixture{st: st, url: serveFast(t, s.Fast(mux))}
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{st: st, url: srv.URL}
}

// serveFast serves routes as the hub does, on a loopback port, until the
// test ends.
func serveFast(t *testing.T, routes FastRoutes) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := listen.FastServer(nil, nil)
	routes.Apply(srv)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

func (f *fixture) do(t *testing.T, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (f *fixture) count(t *testing.T) int64 {
	return f.st.Health(context.Background()).Events
}

func errJSON(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b) + "\n"
}

func TestIngestRejects(t *testing.T) { viaEachTransport(t, testIngestRejects) }

func testIngestRejects(t *testing.T, f *fixture) {
	big := `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output":"` + strings.Repeat("x", 5000) + `"}`
	cases := []struct {
		name, method, path, body string
		code                     int
		err                      string
	}{
		{"GET /", "GET", "/", "", 400, "please send with post http method"},
		{"GET unmatched", "GET", "/nothing/here", "", 400, "please send with post http method"},
		{"GET /test", "GET", "/test", "", 400, "please send with post http method"},
		{"empty body", "POST", "/", "", 400, "empty body"},
		{"invalid JSON", "POST", "/", `{"rule":`, 400, "invalid JSON: unexpected end of input"},
		{"trailing garbage", "POST", "/", good + "}", 400, "invalid JSON: unexpected data after the JSON object"},
		{"missing rule", "POST", "/", `{"priority":"Warning","time":"2026-11-23T09:00:00Z"}`, 400, "missing rule"},
		{"missing priority", "POST", "/", `{"rule":"r","time":"2026-11-23T09:00:00Z"}`, 400, "missing priority"},
		{"missing time", "POST", "/", `{"rule":"r","priority":"Warning"}`, 400, "missing time"},
		{"unknown priority", "POST", "/", `{"rule":"r","priority":"loud","time":"2026-11-23T09:00:00Z"}`, 400,
			`unknown priority "loud" (want one of emergency, alert, critical, error, warning, notice, informational, debug)`},
		{"wrong type", "POST", "/", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output_fields":"x"}`, 400, "output_fields must be an object, got a string"},
		{"k8s.ns.name number is fine but tags wrong", "POST", "/", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output_fields":{"k8s.ns.name":3},"tags":[true]}`, 400, "tags[0] must be a string, got a boolean"},
		{"too large", "POST", "/", big, 413, "body larger than 4096 bytes"},
		{"batch empty", "POST", "/api/v1/events", "", 400, "empty body"},
		{"batch invalid item", "POST", "/api/v1/events", "[" + good + "," + good + `,{"rule":"r"}]`, 400, "event 2: missing priority"},
		{"batch ndjson invalid item", "POST", "/api/v1/events", good + "\n" + `{"rule":"r","priority":"x","time":"2026-11-23T09:00:00Z"}` + "\n", 400,
			`event 1: unknown priority "x" (want one of emergency, alert, critical, error, warning, notice, informational, debug)`},
		{"batch too many", "POST", "/api/v1/events", strings.Repeat(good+"\n", 6), 400, "batch has more than 5 events"},
		{"PUT batch", "PUT", "/api/v1/events", good, 405, "method PUT not allowed on /api/v1/events"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, hdr := f.do(t, c.method, c.path, c.body)
			if code != c.code || body != errJSON(c.err) {
				t.Fatalf("got %d %q\nwant %d %q", code, body, c.code, errJSON(c.err))
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content-type %q", ct)
			}
		})
	}
	if n := f.count(t); n != 0 {
		t.Fatalf("%d events stored from rejected requests", n)
	}
}

func TestPingHealthTestMetrics(t *testing.T) { viaEachTransport(t, testPingHealthTestMetrics) }

func testPingHealthTestMetrics(t *testing.T, f *fixture) {
	if code, body, _ := f.do(t, "GET", "/ping", ""); code != 200 || body != "pong\n" {
		t.Fatal(code, body)
	}
	code, body, _ := f.do(t, "GET", "/healthz", "")
	var h Health
	if err := json.Unmarshal([]byte(body), &h); err != nil || code != 200 || h.Status != "ok" || !h.Store.OK || h.Store.Kind != "embedded" {
		t.Fatal(code, body, err)
	}
	code, body, _ = f.do(t, "POST", "/test", "")
	var tr struct{ ID, UUID string }
	if err := json.Unmarshal([]byte(body), &tr); err != nil || code != 200 {
		t.Fatal(code, body)
	}
	ev, err := f.st.Get(context.Background(), tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Rule != "Test rule" || ev.Priority.String() != "Debug" || ev.Source != "internal" ||
		!reflect.DeepEqual(ev.Tags, []string{"example", "test"}) || ev.UUID != tr.UUID {
		t.Fatalf("%+v", ev)
	}
	if code, _, _ := f.do(t, "POST", "/", good); code != 200 {
		t.Fatal(code)
	}
	f.do(t, "POST", "/", "nope")
	_, body, _ = f.do(t, "GET", "/metrics", "")
	for _, want := range []string{
		`saker_hub_inputs_total{source="requests",status="accepted"} 1`,
		`saker_hub_inputs_total{source="requests",status="rejected"} 1`,
		`saker_hub_inputs_total{source="test",status="accepted"} 1`,
		`saker_hub_alerts_total{priority="Debug",source="internal"} 1`,
		`saker_hub_alerts_total{priority="Warning",source="syscall"} 1`,
		`saker_hub_http_request_duration_seconds_count{code="200",route="/"} 1`,
		`saker_hub_store_append_duration_seconds_count 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestFalcoSamplesRoundTrip posts real-shaped Falco payloads (one by one on
// POST /, on an unmatched path, and as a batch) and checks the query API
// returns them unchanged.
func TestFalcoSamplesRoundTrip(t *testing.T) {
	for _, kind := range []string{"embedded", "redis"} {
		t.Run(kind, func(t *testing.T) { testRoundTrip(t, newFixtureOn(t, kind)) })
	}
}

func testRoundTrip(t *testing.T, f *fixture) {
	files, _ := filepath.Glob("../ingest/testdata/falco/*.json")
	if len(files) < 5 {
		t.Fatal("samples missing")
	}
	var bodies [][]byte
	for i, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
		path := "/"
		if i == 1 {
			path = "/falco/alerts" // Falco's http_output.url may carry any path
		}
		if code, body, _ := f.do(t, "POST", path, string(b)); code != 200 || body != "" {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	// The batch carries the same alerts as new ones: a payload keeping its
	// uuid would be the same alert sent again, stored once.
	var batch bytes.Buffer
	var batchBodies [][]byte
	for _, b := range bodies {
		b = bytes.ReplaceAll(b, []byte("0b7b6c1e-5d0a-4a47-9a3e-2f4f1c9d8e11"), []byte("0b7b6c1e-5d0a-4a47-9a3e-2f4f1c9d8e12"))
		batchBodies = append(batchBodies, b)
		batch.Write(bytes.TrimSpace(b))
		batch.WriteByte('\n')
	}
	// A sender's retry of an alert with a uuid is stored once.
	if code, body, _ := f.do(t, "POST", "/", string(bodies[len(bodies)-1])); code != 200 || body != "" {
		t.Fatalf("retry: %d %s", code, body)
	}
	code, body, _ := f.do(t, "POST", "/api/v1/events", batch.String())
	if code != 200 || !strings.HasPrefix(body, `{"count":5,"ids":[`) {
		t.Fatal(code, body)
	}

	_, body, _ = f.do(t, "GET", "/api/v1/events?limit=100", "")
	var page struct {
		Events []map[string]any `json:"events"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&page); err != nil || len(page.Events) != 2*len(bodies) {
		t.Fatalf("%v %d", err, len(page.Events))
	}
	// Query order: the alerts' own time, newest first; among equal times
	// the later arrival (a batch copy) first.
	type sent struct {
		at      time.Time
		arrival int
		file    string
		body    []byte
	}
	var want []sent
	for round, bs := range [][][]byte{bodies, batchBodies} {
		for i, b := range bs {
			at, _ := time.Parse(time.RFC3339Nano, decodeMap(t, b)["time"].(string))
			want = append(want, sent{at.Truncate(time.Millisecond), round*len(bodies) + i, files[i], b})
		}
	}
	sort.Slice(want, func(i, j int) bool {
		if !want[i].at.Equal(want[j].at) {
			return want[i].at.After(want[j].at)
		}
		return want[i].arrival > want[j].arrival
	})
	for i, w := range want {
		compareAlert(t, w.file, decodeMap(t, w.body), page.Events[i])
	}
	// The single-event route returns the same document.
	id := page.Events[0]["id"].(string)
	_, body, _ = f.do(t, "GET", "/api/v1/events/"+id, "")
	one := decodeMap(t, []byte(body))
	if !reflect.DeepEqual(one, page.Events[0]) {
		t.Fatalf("GET /events/{id}:\n%v\n%v", one, page.Events[0])
	}
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func compareAlert(t *testing.T, name string, want, got map[string]any) {
	t.Helper()
	if id, _ := got["id"].(string); id == "" {
		t.Fatalf("%s: no id", name)
	}
	if u, ok := want["uuid"]; ok && got["uuid"] != u {
		t.Fatalf("%s: uuid %v, want %v", name, got["uuid"], u)
	}
	if u, _ := got["uuid"].(string); len(u) != 36 {
		t.Fatalf("%s: uuid %q", name, u)
	}
	wt, _ := time.Parse(time.RFC3339Nano, want["time"].(string))
	gt, _ := time.Parse(time.RFC3339Nano, got["time"].(string))
	if !wt.Equal(gt) {
		t.Fatalf("%s: time %v, want %v", name, gt, wt)
	}
	for _, k := range []string{"output", "priority", "rule", "source", "hostname", "tags", "output_fields"} {
		if !reflect.DeepEqual(want[k], got[k]) {
			t.Fatalf("%s: %s changed:\n got %#v\nwant %#v", name, k, got[k], want[k])
		}
	}
}

func TestQueryAPI(t *testing.T) {
	for _, kind := range []string{"embedded", "redis"} {
		t.Run(kind, func(t *testing.T) { testQueryAPI(t, newFixtureOn(t, kind)) })
	}
}

func testQueryAPI(t *testing.T, f *fixture) {
	for _, b := range []string{
		`{"rule":"A","priority":"Debug","time":"2026-11-23T09:00:00Z","hostname":"h1","tags":["x"],"output":"alpha"}`,
		`{"rule":"B","priority":"Critical","time":"2026-11-23T09:00:01Z","hostname":"h2","tags":["x","y"],"output":"beta","source":"k8s_audit","output_fields":{"n":2,"k":"v=w"}}`,
		`{"rule":"A","priority":"Warning","time":"2026-11-23T09:00:02Z","hostname":"h1","output":"gamma"}`,
	} {
		if code, body, _ := f.do(t, "POST", "/", b); code != 200 {
			t.Fatal(code, body)
		}
	}
	rules := func(path string) string {
		code, body, _ := f.do(t, "GET", path, "")
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		var p store.Page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range p.Events {
			out = append(out, e.Rule+":"+e.Output)
		}
		return strings.Join(out, ",")
	}
	for path, want := range map[string]string{
		"/api/v1/events":                                      "A:gamma,B:beta,A:alpha",
		"/api/v1/events?priority=warning":                     "A:gamma,B:beta",
		"/api/v1/events?priorities=warning,debug":             "A:gamma,A:alpha",
		"/api/v1/events?priorities=debug&priorities=CRITICAL": "B:beta,A:alpha",
		"/api/v1/events?priorities=debug&priority=warning":    "",
		"/api/v1/events?priorities=info":                      "",
		"/api/v1/events?field=n=2":                            "B:beta",
		"/api/v1/events?field=n=2&field=k=v":                  "",
		"/api/v1/events?field=n=2&field=n=3":                  "B:beta",
		"/api/v1/events?field=n=3":                            "",
		"/api/v1/events?source=k8s_audit&field=k=v%3Dw":       "B:beta",
		"/api/v1/events?field=k=v=w":                          "B:beta",
		"/api/v1/events?rule=A":                               "A:gamma,A:alpha",
		"/api/v1/events?hostname=h2,h9":                       "B:beta",
		"/api/v1/events?source=k8s_audit":                     "B:beta",
		"/api/v1/events?tags=x,y":                             "B:beta",
		"/api/v1/events?q=ALPHA":                              "A:alpha",
		"/api/v1/events?since=1h":                             "", // by the alerts' own time, a week ago
		"/api/v1/events?since=2026-11-23T09:00:01Z":           "A:gamma,B:beta",
		"/api/v1/events?until=2000-01-01T00:00:00Z":           "",
	} {
		if got := rules(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	// By uuid (the ingest assigned one to each).
	_, all, _ := f.do(t, "GET", "/api/v1/events?rule=B", "")
	var pb store.Page
	if err := json.Unmarshal([]byte(all), &pb); err != nil || len(pb.Events) != 1 || pb.Events[0].UUID == "" {
		t.Fatalf("rule=B: %s", all)
	}
	if got := rules("/api/v1/events?uuid=" + pb.Events[0].UUID + ",no-such-uuid"); got != "B:beta" {
		t.Errorf("uuid= %q, want B:beta", got)
	}
	// Paging with the cursor.
	_, body, _ := f.do(t, "GET", "/api/v1/events?limit=2", "")
	var p store.Page
	json.Unmarshal([]byte(body), &p)
	if len(p.Events) != 2 || p.Next == "" {
		t.Fatalf("page 1: %s", body)
	}
	if got := rules("/api/v1/events?limit=2&before=" + p.Next); got != "A:alpha" {
		t.Fatalf("page 2 = %q", got)
	}
	// Each event's cursor pages on from just after it: exactly the events
	// that follow it, whatever the page it came on.
	var listed struct {
		Events []struct {
			ID, Output, Cursor string
		}
	}
	_, body, _ = f.do(t, "GET", "/api/v1/events", "")
	if err := json.Unmarshal([]byte(body), &listed); err != nil || len(listed.Events) != 3 {
		t.Fatalf("events: %v %s", err, body)
	}
	for i, e := range listed.Events {
		if e.Cursor == "" {
			t.Fatalf("event %s has no cursor: %s", e.ID, body)
		}
		var want []string
		for _, o := range listed.Events[i+1:] {
			want = append(want, o.Output)
		}
		got := rules("/api/v1/events?before=" + url.QueryEscape(e.Cursor))
		if got = strings.NewReplacer("A:", "", "B:", "").Replace(got); got != strings.Join(want, ",") {
			t.Errorf("before=%s (cursor of %s) = %q, want %q", e.Cursor, e.Output, got, strings.Join(want, ","))
		}
		_, one, _ := f.do(t, "GET", "/api/v1/events/"+e.ID, "")
		if !strings.Contains(one, `"cursor":"`+e.Cursor+`"`) {
			t.Errorf("events/%s has not cursor %s: %s", e.ID, e.Cursor, one)
		}
	}

	if code, body, _ := f.do(t, "GET", "/api/v1/stats?priorities=debug,critical", ""); code != 200 || !strings.Contains(body, `"total":2,`) || strings.Contains(body, `"Warning"`) {
		t.Errorf("stats?priorities=debug,critical: %d %s", code, body)
	}
	code, body, _ := f.do(t, "GET", "/api/v1/stats?bucket=1m", "")
	var st store.Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 || st.Total != 3 || st.ByPriority["Critical"] != 1 {
		t.Fatal(code, body)
	}

	for _, c := range []struct{ path, err string }{
		{"/api/v1/events?priority=loud", `priority: unknown priority "loud" (want one of emergency, alert, critical, error, warning, notice, informational, debug)`},
		{"/api/v1/events?priorities=warning,loud", `priorities: unknown priority "loud" (want one of emergency, alert, critical, error, warning, notice, informational, debug)`},
		{"/api/v1/stats?priorities=x", `priorities: unknown priority "x" (want one of emergency, alert, critical, error, warning, notice, informational, debug)`},
		{"/api/v1/events?field=novalue", `field: want name=value, such as response.alert_id=<uuid>, got "novalue"`},
		{"/api/v1/events?since=yesterday", `since: want an RFC 3339 time or a duration such as 15m or 24h, got "yesterday"`},
		{"/api/v1/events?since=1h&until=2h", "until is before since"},
		{"/api/v1/events?limit=0", `limit must be a positive integer, got "0"`},
		{"/api/v1/events?before=abc", `before must be a page's next cursor, got "abc"`},
		{"/api/v1/stats?bucket=30s", `bucket must be a whole number of minutes such as 1m, 5m or 1h, got "30s"`},
		{"/api/v1/events/xyz", `bad event id "xyz"`},
	} {
		if code, body, _ := f.do(t, "GET", c.path, ""); code != 400 || body != errJSON(c.err) {
			t.Errorf("%s: %d %s", c.path, code, body)
		}
	}
	if code, body, _ := f.do(t, "GET", "/api/v1/events/1-0", ""); code != 404 || body != errJSON("event 1-0 not found") {
		t.Errorf("404: %d %s", code, body)
	}
}

// TestQueryRoutesMount checks the routes work mounted the way the
// dashboard mounts them.
func TestQueryRoutesMount(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/", good)
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", QueryRoutes(f.st)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/events?priority=warning")
	if err != nil {
		t.Fatal(err)
	}
	var p store.Page
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(p.Events) != 1 {
		t.Fatal(resp.StatusCode, p)
	}
}

// TestIngestAccepts covers payloads sidekick accepts (or mishandles) that
// must be stored.
func TestIngestAccepts(t *testing.T) { viaEachTransport(t, testIngestAccepts) }

func testIngestAccepts(t *testing.T, f *fixture) {
	for name, body := range map[string]string{
		"no output, no hostname": `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z"}`,
		"info priority":          `{"rule":"r","priority":"info","time":"2026-11-23T09:00:00Z"}`,
		"non-string k8s.ns.name": `{"rule":"r","priority":"ERROR","time":"2026-11-23T09:00:00Z","output_fields":{"k8s.ns.name":3,"k8s.pod.name":null}}`,
		"trailing newline":       good + "\n",
		"null tags":              `{"rule":"r","priority":"Debug","time":"2026-11-23T09:00:00Z","tags":null}`,
	} {
		if code, resp, _ := f.do(t, "POST", "/", body); code != 200 || resp != "" {
			t.Errorf("%s: %d %s", name, code, resp)
		}
	}
	if n := f.count(t); n != 5 {
		t.Fatalf("stored %d, want 5", n)
	}
	// A chunked body (no Content-Length) over the limit is cut off too.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output":"`))
		pw.Write(bytes.Repeat([]byte("x"), 8192))
		pw.Write([]byte(`"}`))
		pw.Close()
	}()
	resp, err := http.Post(f.url+"/", "application/json", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || string(b) != errJSON("body larger than 4096 bytes") {
		t.Fatalf("chunked: %d %s", resp.StatusCode, b)
	}
}

func TestGzipBodies(t *testing.T) { viaEachTransport(t, testGzipBodies) }

func testGzipBodies(t *testing.T, f *fixture) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	post := func(body []byte, enc string) (int, string) {
		req, _ := http.NewRequest("POST", f.url+"/", bytes.NewReader(body))
		req.Header.Set("Content-Encoding", enc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(gz(good), "gzip"); code != 200 {
		t.Fatal(code, body)
	}
	bomb := `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output":"` + strings.Repeat("x", 100000) + `"}`
	if code, body := post(gz(bomb), "gzip"); code != 413 || body != errJSON("body larger than 4096 bytes") {
		t.Fatal(code, body)
	}
	if code, body := post([]byte(good), "gzip"); code != 400 || !strings.HasPrefix(body, `{"error":"gzip body: `) {
		t.Fatal(code, body)
	}
	if code, body := post([]byte(good), "br"); code != 415 || body != errJSON(`unsupported Content-Encoding "br" (want gzip or none)`) {
		t.Fatal(code, body)
	}
	if n := f.count(t); n != 1 {
		t.Fatal(n)
	}
}

// TestExpectContinueAndKeepAlive speaks HTTP/1.1 on a raw connection the
// way libcurl (Falco's http_output) does for bodies over 1 KiB: headers
// with Expect: 100-continue, the body once the server said 100 Continue,
// then a second request on the same connection. The 200 has an empty body
// and no Content-Type, as falcosidekick's.
func TestExpectContinueAndKeepAlive(t *testing.T) {
	viaEachTransport(t, func(t *testing.T, f *fixture) {
		c, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(good))
			line, err := br.ReadString('\n')
			if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
				t.Fatalf("request %d: %q %v, want 100 Continue", i, line, err)
			}
			if blank, _ := br.ReadString('\n'); blank != "\r\n" {
				t.Fatalf("after 100 Continue: %q", blank)
			}
			if _, err := io.WriteString(c, good); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != 0 || resp.Header.Get("Content-Type") != "" || resp.Close {
				t.Fatalf("request %d: %d %q length %d type %q close %v", i, resp.StatusCode, b, resp.ContentLength, resp.Header.Get("Content-Type"), resp.Close)
			}
		}
		if n := f.count(t); n != 2 {
			t.Fatalf("stored %d, want 2", n)
		}
	})
}

// TestIngestedFieldsIndexed: the output fields stores and metrics read at
// append time (container name and image for stats, Kubernetes namespace
// and pod for falco_events) are found in alerts as ingest decodes them,
// output_fields indexed rather than in a map, on both stores.
func TestIngestedFieldsIndexed(t *testing.T) {
	for _, kind := range []string{"embedded", "redis"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixtureOn(t, kind)
			body := `{"output":"o","priority":"Warning","rule":"r","time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `",` +
				`"output_fields":{"container.name":"web","container.image.repository":"nginx","k8s.ns.name":"prod","k8s.pod.name":"api-1","evt.time":1,"x":{"y":[1]}}}`
			for _, path := range []string{"/", "/api/v1/events"} {
				if code, resp, _ := f.do(t, "POST", path, body); code != 200 {
					t.Fatalf("%s: %d %s", path, code, resp)
				}
			}
			_, stats, _ := f.do(t, "GET", "/api/v1/stats", "")
			for _, want := range []string{`"containers":[{"key":"web","count":2}]`, `"images":[{"key":"nginx","count":2}]`} {
				if !strings.Contains(stats, want) {
					t.Errorf("stats lack %s: %s", want, stats)
				}
			}
			_, page, _ := f.do(t, "GET", "/api/v1/events?q=nginx&field=k8s.pod.name=api-1", "")
			if strings.Count(page, `"rule":"r"`) != 2 {
				t.Errorf("events by field and text: %s", page)
			}
			_, m, _ := f.do(t, "GET", "/metrics", "")
			if !strings.Contains(m, `k8s_ns_name="prod",k8s_pod_name="api-1",priority="4"`) {
				t.Errorf("falco_events lack the pod's labels:\n%s", m)
			}
		})
	}
}
