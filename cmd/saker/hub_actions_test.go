package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/testutil"
	"github.com/saker-sec/saker/sensor/response"
	"github.com/saker-sec/saker/sensor/response/k8spod/k8spodtest"
)

// falcoShell is an alert as Falco's http_output posts it (no uuid: the hub
// gives it one), raised in pod shop/web-1.
const falcoShell = `{"output":"12:00:00.000000000: Notice A shell was spawned in a container (user=root k8s.ns=shop k8s.pod=web-1)",
"priority":"Notice","rule":"Terminal shell in container","time":"2026-11-30T12:00:00.000000000Z","source":"syscall",
"hostname":"falco-node-1","tags":["container","shell","mitre_execution"],
"output_fields":{"container.id":"0123456789ab","k8s.ns.name":"shop","k8s.pod.name":"web-1","proc.name":"bash","user.name":"root"}}`

// TestHubActionsOnFalcoAlert: a Falco node posts an alert to `saker hub`
// run with SAKER_ACTIONS_FILE and KUBECONFIG; the hub answers 200, then
// labels and deletes the pod through the (loopback, TLS) API server and
// calls the webhook, and the records of those actions are found through
// the dashboard's query API by the alert's uuid.
func TestHubActionsOnFalcoAlert(t *testing.T) {
	api := k8spodtest.New(t, "shop/web-1")
	hooked := make(chan string, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct{ UUID string }
		_ = json.NewDecoder(r.Body).Decode(&a)
		hooked <- a.UUID
	}))
	defer hook.Close()
	file := filepath.Join(t.TempDir(), "actions.yaml")
	if err := os.WriteFile(file, []byte(`matching: all
actions:
- {match: {rule: Terminal shell in container}, action: pod_label, labels: {saker.dev/quarantine: "true"}}
- {match: {rule: Terminal shell in container}, action: pod_delete, grace_period: 0}
- {match: {tags: [shell]}, action: webhook, url: "`+hook.URL+`/respond"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	port, uiPort := runHubWith(t, map[string]string{"SAKER_UI_USER": "alice:s3cret",
		"SAKER_ACTIONS_FILE": file, "KUBECONFIG": api.Kubeconfig, "KUBERNETES_SERVICE_HOST": ""})
	testutil.WaitDial(t, 15*time.Second, fmt.Sprintf("127.0.0.1:%d", port)).Close()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/", port), "application/json", strings.NewReader(falcoShell))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST alert: %s", resp.Status)
	}

	label, del := <-api.Calls, <-api.Calls
	if label.Method != "PATCH" || label.Path != "/api/v1/namespaces/shop/pods/web-1" || label.ContentType != "application/merge-patch+json" ||
		string(label.Body) != `{"metadata":{"labels":{"saker.dev/quarantine":"true"}}}` {
		t.Fatalf("label call: %s %s %s %s", label.Method, label.Path, label.ContentType, label.Body)
	}
	if del.Method != "DELETE" || del.Path != "/api/v1/namespaces/shop/pods/web-1" || !strings.Contains(string(del.Body), `"gracePeriodSeconds":0`) {
		t.Fatalf("delete call: %s %s %s", del.Method, del.Path, del.Body)
	}
	alertID := <-hooked

	testutil.WaitDial(t, 15*time.Second, fmt.Sprintf("127.0.0.1:%d", uiPort)).Close()
	type event struct {
		UUID         string         `json:"uuid"`
		Rule         string         `json:"rule"`
		OutputFields map[string]any `json:"output_fields"`
	}
	query := func(q url.Values) []event {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/v1/events?%s", uiPort, q.Encode()), nil)
		req.SetBasicAuth("alice", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET events?%s: %s %s", q.Encode(), resp.Status, b)
		}
		var body struct{ Events []event }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Events
	}
	alerts := query(url.Values{"rule": {"Terminal shell in container"}})
	if len(alerts) != 1 || alerts[0].UUID == "" || alerts[0].UUID != alertID {
		t.Fatalf("stored alerts %+v; the webhook got uuid %q", alerts, alertID)
	}
	var recs []event
	testutil.Eventually(t, 10*time.Second, "three action records", func() bool {
		recs = query(url.Values{"source": {response.Source}, "field": {"response.alert_id=" + alertID}})
		return len(recs) >= 3
	})
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprint(r.OutputFields["response.action"], "/", r.OutputFields["response.result"], "/", r.OutputFields["response.runner"]))
	}
	sort.Strings(got)
	if want := "[pod_delete/done/hub pod_label/done/hub webhook/done/hub]"; fmt.Sprint(got) != want {
		t.Fatalf("records %v, want %s", got, want)
	}
	if _, ok := api.Pod("shop/web-1"); ok {
		t.Fatal("pod not deleted")
	}
	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, a := range []string{"pod_label", "pod_delete", "webhook"} {
		if want := `saker_hub_response_actions_total{action="` + a + `",result="done"} 1`; !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// A hub actions file with a node-local action stops the hub at start,
// naming the file and line.
func TestHubActionsFileRejectsNodeLocal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "actions.yaml")
	if err := os.WriteFile(file, []byte("- match: {rule: Terminal shell in container}\n  action: kill\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SAKER_ACTIONS_FILE", file)
	t.Setenv("SAKER_DATA_DIR", t.TempDir())
	t.Setenv("REDIS_ADDRESS", "")
	t.Setenv("LISTENADDRESS", "127.0.0.1")
	t.Setenv("LISTENPORT", "0")
	err := runHub(context.Background(), "hub", nil, false, io.Discard)
	if err == nil || !strings.Contains(err.Error(), file+":1: actions[0]: kill runs on the node") {
		t.Fatalf("runHub with kill in the hub's actions file: %v", err)
	}
}
