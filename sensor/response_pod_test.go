//go:build linux

package sensor

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/response"
	"github.com/saker-sec/saker/sensor/response/k8spod"
	"github.com/saker-sec/saker/sensor/response/k8spod/k8spodtest"
)

// TestResponsePodLabel: the real sensor labels the pod of a container
// (its identity from the kubelet's labels, as cri-dockerd sets them) in
// which `docker exec` starts a shell, through client-go and the loopback
// API server; a container of a kube-system pod is left alone.
func TestResponsePodLabel(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("probe hooks are x86-64 syscalls")
	}
	api := k8spodtest.New(t, "shop/web-1", "kube-system/dns-1")
	pods, err := k8spod.New(k8spod.Config{Kubeconfig: api.Kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	cfg := responderConfig(t, `actions:
- {match: {rule: Response test pause}, action: pod_label, labels: {saker.dev/quarantine: "true"}}
`)
	c := startSensorOptions(t, Options{Config: cfg, Pods: pods})
	const image = "busybox:saker-response-e2e"
	requireImage(t, image, "sh", "sleep")

	for _, pod := range []struct{ ns, name, result string }{{"shop", "web-1", response.ResultDone}, {"kube-system", "dns-1", response.ResultSkipped}} {
		ctr := fmt.Sprintf("saker-response-pod-%s-%d", pod.ns, os.Getpid())
		id := runContainer(t, ctr, "--label", "io.kubernetes.pod.name="+pod.name, "--label", "io.kubernetes.pod.namespace="+pod.ns,
			image, "/bin/sleep", "300")
		if out, err := exec.Command("docker", "exec", ctr, "sh", "-c", ": saker-resp-pause").CombinedOutput(); err != nil {
			t.Fatalf("docker exec: %v: %s", err, out)
		}
		rec := c.find(t, "pod_label record", func(a *alert.Alert) bool {
			return a.Rule == response.RecordRule && a.OutputFields["container.id"] == id
		})
		if rec.OutputFields["response.result"] != pod.result || rec.OutputFields["k8s.pod.name"] != pod.name || rec.OutputFields["k8s.ns.name"] != pod.ns {
			t.Fatalf("record for %s/%s: %v, want %s", pod.ns, pod.name, rec.OutputFields, pod.result)
		}
	}
	call := <-api.Calls
	if call.Method != "PATCH" || call.Path != "/api/v1/namespaces/shop/pods/web-1" || string(call.Body) != `{"metadata":{"labels":{"saker.dev/quarantine":"true"}}}` {
		t.Fatalf("API call %s %s %s", call.Method, call.Path, call.Body)
	}
	select {
	case call := <-api.Calls:
		t.Fatalf("API call for the kube-system pod: %s %s", call.Method, call.Path)
	default:
	}
	if p, _ := api.Pod("shop/web-1"); p.Labels["saker.dev/quarantine"] != "true" {
		t.Fatalf("pod labels %v", p.Labels)
	}
}
