package hub

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/testutil"
)

// auditEvent is one audit.k8s.io/v1 Event as a kube-apiserver's webhook
// backend sends it (level RequestResponse).
func auditEvent(id, verb, resource, sub, user string, code int, extra string) string {
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":%q,"stage":"ResponseComplete",`+
		`"requestURI":"/api/v1/namespaces/dev/%s","verb":%q,"user":{"username":%q,"groups":["system:authenticated"]},`+
		`"impersonatedUser":{"username":"system:serviceaccount:dev:deployer"},"sourceIPs":["10.0.0.5"],"userAgent":"kubectl/v1.29.2",`+
		`"objectRef":{"resource":%q,"namespace":"dev","name":"web-1","subresource":%q,"apiVersion":"v1"},`+
		`"responseStatus":{"metadata":{},"code":%d},%s`+
		`"requestReceivedTimestamp":"2026-11-30T12:00:00.000000Z","stageTimestamp":"2026-11-30T12:00:00.002000Z",`+
		`"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`,
		id, resource, verb, user, resource, sub, code, extra)
}

// auditBatch is the EventList the webhook backend POSTs.
func auditBatch(items ...string) []byte {
	return []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`)
}

func postAudit(t *testing.T, url string, body []byte, gz bool) (int, string) {
	t.Helper()
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// TestK8sAuditWebhookEndToEnd posts EventLists to a running hub as an API
// server's audit webhook does (plain and gzip'd, on :LISTENPORT/k8s-audit
// and on the Falco-compatible K8SAUDIT_LISTENPORT) and finds the alerts the
// official k8s_audit rules raise in the store, with source k8s_audit.
func TestK8sAuditWebhookEndToEnd(t *testing.T) {
	port := testutil.FreePort(t)
	h := startHub(t, testConfig(t, map[string]string{"SAKER_DATA_DIR": t.TempDir(), "K8SAUDIT_LISTENPORT": fmt.Sprint(port), "K8SAUDIT_BODYLIMIT": "65536"}))
	main := "http://" + h.Addr() + "/k8s-audit"
	falcoPort := "http://" + h.K8sAuditAddr() + "/k8s-audit"

	exec := auditEvent("a-1", "create", "pods/exec", "exec", "alice", 101, "")
	exec = strings.Replace(exec, `"stage":"ResponseComplete"`, `"stage":"ResponseStarted"`, 1)
	secret := auditEvent("a-2", "get", "secrets", "", "system:serviceaccount:kube-system:replicaset-controller", 200, "")
	secret = strings.Replace(secret, `"resource":"secrets","namespace":"dev","name":"web-1","subresource":""`, `"resource":"secrets","namespace":"dev","name":"db"`, 1)
	quiet := auditEvent("a-3", "watch", "endpoints", "", "system:kube-controller-manager", 200, "")
	// kubectl exec's objectRef is resource pods, subresource exec.
	exec = strings.Replace(exec, `"resource":"pods/exec"`, `"resource":"pods"`, 1)

	for _, c := range []struct {
		url string
		gz  bool
	}{{main, false}, {main, true}, {falcoPort, true}} {
		code, body := postAudit(t, c.url, auditBatch(exec, secret, quiet), c.gz)
		if code != http.StatusOK || !strings.Contains(body, `"events":3`) || !strings.Contains(body, `"alerts":2`) {
			t.Fatalf("POST %s gzip=%v: %d %s", c.url, c.gz, code, body)
		}
	}
	p, err := h.Store().Query(context.Background(), store.Query{Filter: store.Filter{Sources: []string{"k8s_audit"}}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 6 {
		t.Fatalf("%d k8s_audit alerts stored, want 6", len(p.Events))
	}
	var rules []string
	for _, e := range p.Events {
		rules = append(rules, e.Rule)
		if e.Source != "k8s_audit" || e.OutputFields["ka.user.name"] == nil {
			t.Errorf("alert %+v", e.Alert)
		}
	}
	for _, want := range []string{"Attach/Exec Pod", "K8s Secret Get Successfully"} {
		if !slices.Contains(rules, want) {
			t.Errorf("no %q alert in %v", want, rules)
		}
	}
	b, _ := json.Marshal(p.Events[0].Alert)
	if !strings.Contains(string(b), `"source":"k8s_audit"`) {
		t.Errorf("stored JSON %s", b)
	}

	// Bad input: 4xx with a JSON message, nothing stored.
	for _, c := range []struct {
		body []byte
		code int
	}{
		{[]byte(`{"kind":"EventList","items":[{"kind":`), http.StatusBadRequest},
		{[]byte(`{"kind":"Pod","apiVersion":"v1"}`), http.StatusBadRequest},
		{auditBatch(slices.Repeat([]string{secret}, 100)...), http.StatusRequestEntityTooLarge},
	} {
		code, body := postAudit(t, main, c.body, false)
		if code != c.code || !strings.Contains(body, `"error"`) {
			t.Errorf("POST %.40s: %d %s, want %d with an error", c.body, code, body, c.code)
		}
	}
	// The Falco-compatible port serves nothing else.
	if code, _ := postAudit(t, "http://"+h.K8sAuditAddr()+"/", []byte(alertBody("x")), false); code != http.StatusNotFound {
		t.Errorf("POST / on the audit port: %d, want 404", code)
	}
	p, _ = h.Store().Query(context.Background(), store.Query{Limit: 100})
	if len(p.Events) != 6 {
		t.Errorf("%d alerts stored after bad requests, want 6", len(p.Events))
	}
}

// TestK8sAuditDisabled: K8SAUDIT_ENABLED=false leaves /k8s-audit to the
// sidekick catch-all, which rejects an EventList as a Falco payload.
func TestK8sAuditDisabled(t *testing.T) {
	h := startHub(t, testConfig(t, map[string]string{"SAKER_DATA_DIR": t.TempDir(), "K8SAUDIT_ENABLED": "false"}))
	code, _ := postAudit(t, "http://"+h.Addr()+"/k8s-audit", auditBatch(), false)
	if code != http.StatusBadRequest {
		t.Errorf("POST /k8s-audit with the input off: %d, want 400", code)
	}
}

// BenchmarkK8sAuditWebhook measures the whole audit path of a running hub
// (embedded store) on loopback: one API-server-like client POSTing gzip'd
// EventLists of 100 events to /k8s-audit, of which 10 raise an alert (a
// secret read by a user) that is stored before the 200. It reports audit
// events/s (wall) and per CPU-second of the process (client included).
func BenchmarkK8sAuditWebhook(b *testing.B) {
	h := startHub(b, testConfig(b, map[string]string{"SAKER_DATA_DIR": b.TempDir()}))
	items := make([]string, 0, 100)
	for i := range 100 {
		if i%10 == 0 {
			items = append(items, auditEvent(fmt.Sprint(i), "get", "secrets", "", "alice", 200, ""))
		} else {
			items = append(items, auditEvent(fmt.Sprint(i), "watch", "endpoints", "", "system:kube-controller-manager", 200, ""))
		}
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(auditBatch(items...))
	zw.Close()
	body := zb.Bytes()
	url := "http://" + h.Addr() + "/k8s-audit"
	client := &http.Client{}
	b.ResetTimer()
	cpu0 := processCPU()
	for range b.N {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	n := float64(b.N * len(items))
	b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
	if cpu := (processCPU() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(n/cpu, "events/cpu-s")
	}
}

// processCPU is the process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
