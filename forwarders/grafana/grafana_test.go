package grafana_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/saker-sec/saker/forwarders/grafana"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

// annotations answers as Grafana's POST /api/annotations: 401 without the
// bearer token, 400 for a body that is not the documented schema, else
// 200 {"message":"Annotation added","id":1}.
func annotations(r testpeer.Request) (int, string) {
	if r.Method != http.MethodPost || r.Path != grafana.Path {
		return http.StatusNotFound, `{"message":"Not found"}`
	}
	if r.Header.Get("Authorization") != "Bearer glsa_tok" {
		return http.StatusUnauthorized, `{"message":"invalid API key"}`
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return http.StatusBadRequest, `{"message":"bad request data"}`
	}
	var a grafana.Annotation
	if err := testpeer.Strict(r.Body, &a); err != nil || a.Text == "" || a.Time == 0 {
		return http.StatusBadRequest, `{"message":"bad request data"}`
	}
	return 0, `{"message":"Annotation added","id":1}`
}

func TestForwardPerAlert(t *testing.T) {
	p := testpeer.New(t)
	p.Check = annotations
	src := testpeer.Env(map[string]string{"GRAFANA_HOSTPORT": p.URL, "GRAFANA_APIKEY": "glsa_tok", "GRAFANA_DASHBOARDID": "7", "GRAFANA_PANELID": "2"})
	cfg, ok := grafana.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := grafana.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := testpeer.Sample(), testpeer.Sample()
	b.Hostname = ""
	if _, err := f.Forward(context.Background(), []alert.Alert{a, b}); err != nil {
		t.Fatal(err)
	}
	reqs := p.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want one annotation per alert", len(reqs))
	}
	testpeer.JSONEqual(t, reqs[0].Body, `{"dashboardId":7,"panelId":2,"time":1795424400123,"timeEnd":1795424400123,`+
		`"tags":["falco","Warning","Terminal shell in container","syscalls","node-1"],"text":"Shell spawned in container (user=root)"}`)
	testpeer.JSONEqual(t, reqs[1].Body, `{"dashboardId":7,"panelId":2,"time":1795424400123,"timeEnd":1795424400123,`+
		`"tags":["falco","Warning","Terminal shell in container","syscalls"],"text":"Shell spawned in container (user=root)"}`)
}

func TestAllFieldsAsTags(t *testing.T) {
	a := testpeer.Sample()
	got := grafana.Build(&grafana.Config{AllFieldsAsTags: true}, &a).Tags
	want := []string{"falco", "Warning", "Terminal shell in container", "syscalls", "node-1",
		"1763888400123456789", "prod", "api-1", "bash", "shell", "container", "T1059"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tags\n got %q\nwant %q", got, want)
	}
}

func TestNeedsAPIKey(t *testing.T) {
	src := testpeer.Env(map[string]string{"GRAFANA_HOSTPORT": "http://grafana:3000"})
	if _, ok := grafana.Load(src); ok || len(src.Warnings()) != 1 {
		t.Fatalf("GRAFANA_HOSTPORT alone: enabled %v, warnings %q; want off with a warning", ok, src.Warnings())
	}
	p := testpeer.New(t)
	p.Check = annotations
	f, _ := grafana.New(grafana.Config{HostPort: p.URL, APIKey: "wrong"}, outhttp.Options{}, nil)
	if retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err == nil || retry {
		t.Fatalf("wrong key: Forward = %v, %v; want a final 401", retry, err)
	}
}
