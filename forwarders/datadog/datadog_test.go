package datadog_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/saker-sec/saker/forwarders/datadog"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

// eventsAPI answers as POST /api/v1/events: 403 without a DD-API-KEY,
// 400 without a title and text, else 202.
func eventsAPI(r testpeer.Request) (int, string) {
	if r.Method != http.MethodPost || r.Path != datadog.Path {
		return http.StatusNotFound, ""
	}
	if r.Header.Get("DD-API-KEY") == "" {
		return http.StatusForbidden, `{"errors":["Forbidden"]}`
	}
	var e datadog.Event
	if err := testpeer.Strict(r.Body, &e); err != nil || e.Title == "" || e.Text == "" {
		return http.StatusBadRequest, `{"errors":["bad event"]}`
	}
	return 0, ""
}

const want = `{"title":"Terminal shell in container","text":"Shell spawned in container (user=root)","alert_type":"warning","source_type_name":"falco","tags":["k8s.ns.name:prod","k8s.pod.name:api-1","proc.name:bash","source:syscalls","source:falco","hostname:node-1","T1059","container","shell"]}`

func TestForward(t *testing.T) {
	p := testpeer.New(t)
	p.Check, p.Status = eventsAPI, http.StatusAccepted
	src := testpeer.Env(map[string]string{"DATADOG_APIKEY": "k3y", "DATADOG_HOST": p.URL + "/"})
	cfg, ok := datadog.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := datadog.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err != nil {
		t.Fatal(err)
	}
	r := p.Only(t)
	if r.Header.Get("DD-API-KEY") != "k3y" || r.RawQuery != "" {
		t.Fatalf("request %+v: the key belongs in the header only", r)
	}
	testpeer.JSONEqual(t, r.Body, want)
}

func TestAlertType(t *testing.T) {
	if datadog.AlertType(alert.PriorityCritical) != "error" || datadog.AlertType(alert.PriorityWarning) != "warning" || datadog.AlertType(alert.PriorityNotice) != "info" {
		t.Fatal("alert types differ from falcosidekick's")
	}
}
