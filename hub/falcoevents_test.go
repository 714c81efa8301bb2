package hub

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/saker-sec/saker/hub/metrics"
)

// TestFalcoEventsMetric posts alerts as Falco does and scrapes /metrics:
// falcosidekick's falco_events counter with its labels, CUSTOMFIELDS and
// TEMPLATEDFIELDS values, PROMETHEUS_EXTRALABELS (string values only, ""
// otherwise), and a bad extra label left out instead of failing the hub.
func TestFalcoEventsMetric(t *testing.T) {
	cfg := testConfig(t, map[string]string{
		"SAKER_DATA_DIR":         t.TempDir(),
		"CUSTOMFIELDS":           "cluster:prod",
		"TEMPLATEDFIELDS":        `who:{{ index . "user.name" }}`,
		"PROMETHEUS_EXTRALABELS": "proc.name, evt.num, bad-label, hostname",
	})
	h := startHub(t, cfg)
	post := func(body string) {
		t.Helper()
		resp, err := http.Post("http://"+h.Addr()+"/", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatal(err, resp)
		}
		resp.Body.Close()
	}
	shell := `{"output":"shell","priority":"Warning","rule":"Terminal shell","time":"2026-11-23T09:00:00Z","source":"syscall","hostname":"node-1",` +
		`"output_fields":{"proc.name":"bash","evt.num":42,"user.name":"root","k8s.ns.name":"prod","k8s.pod.name":"api-1"}}`
	post(shell)
	post(shell)
	post(`{"output":"x","priority":"Critical","rule":"Other","time":"2026-11-23T09:00:00Z","output_fields":{"proc.name":7}}`)

	resp, err := http.Get("http://" + h.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, metrics.FalcoEventsName+"{") {
			lines = append(lines, l)
		}
	}
	want := []string{
		metrics.FalcoEventsName + `{cluster="prod",evt_num="",hostname="node-1",k8s_ns_name="prod",k8s_pod_name="api-1",priority="4",priority_raw="warning",proc_name="bash",rule="Terminal shell",source="syscall",who="root"} 2`,
		metrics.FalcoEventsName + `{cluster="prod",evt_num="",hostname="unknown",k8s_ns_name="",k8s_pod_name="",priority="6",priority_raw="critical",proc_name="",rule="Other",source="syscall",who="<no value>"} 1`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("falco_events series\n got %s\nwant %s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
