package alertmanager_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders/alertmanager"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

// postableAlert is Alertmanager's v2 OpenAPI PostableAlert
// (api/v2/openapi.yaml): labels required, the rest optional, no other
// properties.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *time.Time        `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// checkV2 answers as Alertmanager's POST /api/v2/alerts does: 400 for a
// body that is not a list of PostableAlerts with non-empty labels whose
// names are valid label names.
func checkV2(r testpeer.Request) (int, string) {
	if r.Method != http.MethodPost || r.Path != "/api/v2/alerts" {
		return http.StatusNotFound, "not found"
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return http.StatusUnsupportedMediaType, "want JSON"
	}
	var alerts []postableAlert
	if err := testpeer.Strict(r.Body, &alerts); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	for _, a := range alerts {
		if len(a.Labels) == 0 {
			return http.StatusBadRequest, "labels in body is required"
		}
		for k := range a.Labels {
			if k != alertmanager.SafeLabel(k) && !strings.HasPrefix(k, "n_drop") {
				return http.StatusBadRequest, "invalid label name " + k
			}
		}
	}
	return 0, ""
}

func TestBuild(t *testing.T) {
	a := testpeer.Sample()
	cfg := alertmanager.Config{ExtraLabels: map[string]string{"team": "sec"}, ExtraAnnotations: map[string]string{"runbook": "https://x"}}
	got := alertmanager.Build(&cfg, &a)
	want := alertmanager.PostableAlert{
		Labels: map[string]string{
			"proc_name": "bash", "evt_time": "1763888400123456789", "k8s_ns_name": "prod", "k8s_pod_name": "api-1",
			"source": "falco", "rule": a.Rule, "alertname": a.Rule, "eventsource": "syscalls", "hostname": "node-1",
			"tags": "T1059,container,shell", "priority": "Warning", "severity": "warning", "team": "sec",
		},
		Annotations: map[string]string{"info": a.Output, "description": a.Output, "summary": a.Rule, "runbook": "https://x"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Build\n got %+v\nwant %+v", got, want)
	}
}

func TestBuildDropsAndSeverity(t *testing.T) {
	th, bad := alertmanager.ParseThresholds(alertmanager.DefaultDropEventThresholds)
	if len(bad) != 0 {
		t.Fatal(bad)
	}
	cfg := alertmanager.Config{DropEventThresholds: th, DropEventDefaultPriority: alert.PriorityCritical,
		CustomSeverityMap: map[alert.Priority]string{alert.PriorityCritical: "page"}, ExpiresAfter: 90}
	tests := []struct {
		drops      any
		label      string
		prio, sev  string
		debugStart bool
	}{
		{json.Number("0"), "0", "Warning", "warning", true},
		{json.Number("5"), ">1", "Warning", "warning", true},
		{json.Number("50"), ">10", "Warning", "warning", true},
		{json.Number("500"), ">100", "Critical", "page", true},
		{json.Number("1"), "1", "Critical", "page", true}, // not above any threshold: default priority
		{json.Number("20000"), ">10000", "Critical", "page", true},
	}
	for _, tt := range tests {
		a := alert.Alert{Rule: "Falco internal: syscall event drop", Priority: alert.PriorityDebug, Time: time.Unix(100, 0).UTC(),
			OutputFields: map[string]any{"n_drops": tt.drops, "n_evts": json.Number("123")}}
		got := alertmanager.Build(&cfg, &a)
		if got.Labels["n_drops"] != tt.label || got.Labels["priority"] != tt.prio || got.Labels["severity"] != tt.sev {
			t.Errorf("drops %v: labels n_drops=%q priority=%q severity=%q; want %q %q %q", tt.drops,
				got.Labels["n_drops"], got.Labels["priority"], got.Labels["severity"], tt.label, tt.prio, tt.sev)
		}
		if _, ok := got.Labels["n_evts"]; ok {
			t.Errorf("n_evts must not be a label")
		}
		if got.EndsAt == nil || !got.EndsAt.Equal(time.Unix(190, 0)) {
			t.Errorf("endsAt = %v, want time+90s", got.EndsAt)
		}
	}
}

func TestParseThresholds(t *testing.T) {
	th, bad := alertmanager.ParseThresholds("1:warning, 100:critical,10:error")
	if len(bad) != 0 {
		t.Fatal(bad)
	}
	want := []alertmanager.Threshold{{100, alert.PriorityCritical}, {10, alert.PriorityError}, {1, alert.PriorityWarning}}
	if !reflect.DeepEqual(th, want) {
		t.Fatalf("got %v want %v", th, want)
	}
	// A bad entry is left out and the others kept, as falcosidekick does.
	th, bad = alertmanager.ParseThresholds("x:warning, 10, 10:loud, 5:error")
	if len(bad) != 3 || !reflect.DeepEqual(th, []alertmanager.Threshold{{5, alert.PriorityError}}) {
		t.Errorf("ParseThresholds = %v, %v; want 5:error kept and 3 entries reported", th, bad)
	}
}

func TestForwardBatchToEveryAlertmanager(t *testing.T) {
	am1, am2 := testpeer.New(t), testpeer.New(t)
	am1.Check, am2.Check = checkV2, checkV2
	f, err := alertmanager.New(alertmanager.Config{HostPorts: []string{am1.URL, am2.URL + "/"},
		Common: settings.Common{CheckCert: true, CustomHeaders: map[string]string{"X-Tenant": "a"}}}, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := testpeer.Sample(), testpeer.Sample()
	b.Rule = "Other"
	if retry, err := f.Forward(context.Background(), []alert.Alert{a, b}); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	for i, p := range []*testpeer.Peer{am1, am2} {
		r := p.Only(t)
		var got []postableAlert
		if err := json.Unmarshal(r.Body, &got); err != nil || len(got) != 2 {
			t.Fatalf("am%d: body %s (%v), want 2 alerts", i+1, r.Body, err)
		}
		if got[1].Labels["alertname"] != "Other" || r.Header.Get("X-Tenant") != "a" || r.Header.Get("User-Agent") != "Saker" {
			t.Fatalf("am%d: got %+v headers %v", i+1, got[1], r.Header)
		}
	}
}

func TestForwardClassifiesAnswers(t *testing.T) {
	tests := []struct {
		status, retryAfter int
		wantRetry          bool
	}{
		{400, 0, false}, {401, 0, false}, {429, 7, true}, {500, 0, true}, {503, 2, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			ok, failing := testpeer.New(t), testpeer.New(t)
			failing.Status, failing.RetryAfter = tt.status, tt.retryAfter
			f, _ := alertmanager.New(alertmanager.Config{HostPorts: []string{ok.URL, failing.URL}, Common: settings.Common{CheckCert: true}}, outhttp.Options{}, nil)
			retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
			var se *outhttp.StatusError
			if retry != tt.wantRetry || !errors.As(err, &se) || se.Code != tt.status {
				t.Fatalf("Forward = %v, %v; want retry %v with HTTP %d", retry, err, tt.wantRetry, tt.status)
			}
			if se.RetryAfter != time.Duration(tt.retryAfter)*time.Second {
				t.Fatalf("RetryAfter = %v, want %ds", se.RetryAfter, tt.retryAfter)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	env := map[string]string{
		"ALERTMANAGER_HOSTPORT":            "http://am1:9093,http://am2:9093",
		"ALERTMANAGER_EXTRALABELS":         "team:sec,bad-name:x",
		"ALERTMANAGER_CUSTOMSEVERITYMAP":   "critical:page,warning:ticket,loud:x",
		"ALERTMANAGER_MINIMUMPRIORITY":     "error",
		"ALERTMANAGER_DROPEVENTTHRESHOLDS": "10000:critical, oops",
	}
	src := settings.New(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	cfg, ok := alertmanager.Load(src)
	if !ok || len(cfg.HostPorts) != 2 || cfg.Endpoint != "/api/v2/alerts" || cfg.MinimumPriority != alert.PriorityError ||
		cfg.CustomSeverityMap[alert.PriorityCritical] != "page" || cfg.ExtraLabels["team"] != "sec" ||
		cfg.DropEventDefaultPriority != alert.PriorityCritical || len(cfg.DropEventThresholds) != 1 || len(cfg.ExtraLabels) != 1 {
		t.Fatalf("Load = %+v, %v", cfg, ok)
	}
	// falcosidekick starts with these and leaves each bad entry out: so
	// must a drop-in, warning about each.
	if err := src.Err(); err != nil {
		t.Fatalf("a bad label name, severity entry or threshold stopped start-up: %v", err)
	}
	w := strings.Join(src.Warnings(), "\n")
	for _, want := range []string{"ALERTMANAGER_EXTRALABELS", "bad-name", "ALERTMANAGER_CUSTOMSEVERITYMAP", "loud", "ALERTMANAGER_DROPEVENTTHRESHOLDS", "oops"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q do not name %s", w, want)
		}
	}
}
