package openobserve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/openobserve"
	"github.com/saker-sec/saker/hub/alert"
)

// ingest answers as OpenObserve's POST /api/{org}/{stream}/_multi: 401
// without the right basic auth, 400 unless the body is one JSON object per
// line, else 200 with the per-stream counts.
func ingest(records *[]map[string]any) func(testpeer.Request) (int, string) {
	return func(r testpeer.Request) (int, string) {
		if r.Method != http.MethodPost || r.Path != "/api/acme/alerts/_multi" {
			return http.StatusNotFound, ""
		}
		if u, pw, ok := (&http.Request{Header: r.Header}).BasicAuth(); !ok || u != "root@example.com" || pw != "Complexpass#123" {
			return http.StatusUnauthorized, `{"code":401,"message":"Unauthorized Access"}`
		}
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		n := 0
		for {
			var rec map[string]any
			err := dec.Decode(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				return http.StatusBadRequest, `{"code":400,"message":"Invalid json"}`
			}
			*records = append(*records, rec)
			n++
		}
		b, _ := json.Marshal(map[string]any{"code": 200, "status": []any{map[string]any{"name": "alerts", "successful": n, "failed": 0}}})
		return 0, string(b)
	}
}

func TestForwardBatch(t *testing.T) {
	p := testpeer.New(t)
	var records []map[string]any
	p.Check = ingest(&records)
	src := testpeer.Env(map[string]string{"OPENOBSERVE_HOSTPORT": p.URL + "/", "OPENOBSERVE_ORGANIZATIONNAME": "acme",
		"OPENOBSERVE_STREAMNAME": "alerts", "OPENOBSERVE_USERNAME": "root@example.com", "OPENOBSERVE_PASSWORD": "Complexpass#123"})
	cfg, ok := openobserve.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := openobserve.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := testpeer.Sample(), testpeer.Sample()
	b.Rule = "Other"
	if _, err := f.Forward(context.Background(), []alert.Alert{a, b}); err != nil {
		t.Fatal(err)
	}
	p.Only(t)
	if len(records) != 2 || records[1]["rule"] != "Other" {
		t.Fatalf("records %v", records)
	}
	got, _ := json.Marshal(records[0])
	want, _ := json.Marshal(&a)
	testpeer.JSONEqual(t, got, string(want))
}

func TestDefaultsAndAuth(t *testing.T) {
	cfg, ok := openobserve.Load(testpeer.Env(map[string]string{"OPENOBSERVE_HOSTPORT": "http://o2:5080"}))
	if !ok || cfg.URL() != "http://o2:5080/api/default/falco/_multi" {
		t.Fatalf("defaults: %+v, URL %s", cfg, cfg.URL())
	}
	p := testpeer.New(t)
	var records []map[string]any
	p.Check = ingest(&records)
	f, _ := openobserve.New(openobserve.Config{HostPort: p.URL, OrganizationName: "acme", StreamName: "alerts", Username: "root@example.com"}, outhttp.Options{}, nil)
	retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
	if err == nil || retry || p.Only(t).Header.Get("Authorization") != "" {
		t.Fatalf("user without password: Forward = %v, %v; want no auth sent (as falcosidekick) and a final 401", retry, err)
	}
}
