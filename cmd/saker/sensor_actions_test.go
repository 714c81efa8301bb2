package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saker-sec/saker/sensor/response"
	"github.com/saker-sec/saker/sensor/response/k8spod/k8spodtest"
)

// TestSensorActionsFlag: --actions is read and validated before the
// sensor starts (here -L stops after loading).
func TestSensorActionsFlag(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "actions.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("- match:\n    rule: Terminal shell in container\n  action: kill\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("- match: {rule: x}\n  action: kill\n  signal: NOPE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runSensorCmd(context.Background(), io.Discard, []string{"--actions", good, "-L"}); err != nil {
		t.Fatalf("good actions file: %v", err)
	}
	err := runSensorCmd(context.Background(), io.Discard, []string{"--actions", bad, "-L"})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `signal "NOPE"`) {
		t.Fatalf("bad actions file: %v", err)
	}
	err = runSensorCmd(context.Background(), io.Discard, []string{"--actions", filepath.Join(dir, "missing.yaml"), "-L"})
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing actions file: %v", err)
	}
}

// TestPodClient: the pod actions' client comes from KUBECONFIG or the
// in-cluster variables, and only when a pod action is configured.
func TestPodClient(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	kill, err := response.Parse([]byte("- {match: {rule: x}, action: kill}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := podClient(kill, env(nil)); c != nil || err != nil {
		t.Fatalf("no pod action: %v, %v", c, err)
	}
	del, err := response.Parse([]byte("- {match: {rule: x}, action: pod_delete}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := podClient(del, env(nil)); err == nil || !strings.Contains(err.Error(), "KUBECONFIG") {
		t.Fatalf("pod action outside a cluster without KUBECONFIG: %v", err)
	}
	api := k8spodtest.New(t, "shop/web-1")
	c, err := podClient(del, env(map[string]string{"KUBECONFIG": api.Kubeconfig}))
	if err != nil || c == nil {
		t.Fatalf("with KUBECONFIG: %v", err)
	}
	if err := c.Delete(context.Background(), "shop", "web-1", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := api.Pod("shop/web-1"); ok {
		t.Fatal("pod not deleted through the KUBECONFIG client")
	}
}
