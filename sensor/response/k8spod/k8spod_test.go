package k8spod_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saker-sec/saker/sensor/response/k8spod"
	"github.com/saker-sec/saker/sensor/response/k8spod/k8spodtest"
)

func client(t *testing.T, s *k8spodtest.Server) *k8spod.Client {
	t.Helper()
	c, err := k8spod.New(k8spod.Config{Kubeconfig: s.Kubeconfig, UserAgent: "saker-test"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLabelAndAnnotateSendMergePatches(t *testing.T) {
	s := k8spodtest.New(t, "shop/web-1")
	c := client(t, s)
	ctx := context.Background()
	if err := c.Label(ctx, "shop", "web-1", map[string]string{"saker.dev/quarantine": "true"}); err != nil {
		t.Fatal(err)
	}
	call := <-s.Calls
	if call.Method != "PATCH" || call.Path != "/api/v1/namespaces/shop/pods/web-1" || call.ContentType != "application/merge-patch+json" {
		t.Fatalf("label call = %s %s (%s)", call.Method, call.Path, call.ContentType)
	}
	if got, want := string(call.Body), `{"metadata":{"labels":{"saker.dev/quarantine":"true"}}}`; got != want {
		t.Fatalf("label patch = %s, want %s", got, want)
	}
	if !strings.Contains(call.Query, "fieldManager=saker") {
		t.Errorf("query %q: want fieldManager=saker", call.Query)
	}
	if err := c.Annotate(ctx, "shop", "web-1", map[string]string{"saker.dev/alert": "Terminal shell in container"}); err != nil {
		t.Fatal(err)
	}
	call = <-s.Calls
	if got, want := string(call.Body), `{"metadata":{"annotations":{"saker.dev/alert":"Terminal shell in container"}}}`; got != want || call.Method != "PATCH" {
		t.Fatalf("annotate = %s %s, want PATCH %s", call.Method, got, want)
	}
	p, _ := s.Pod("shop/web-1")
	if p.Labels["app"] != "demo" || p.Labels["saker.dev/quarantine"] != "true" || p.Annotations["saker.dev/alert"] == "" {
		t.Fatalf("pod after patches = %+v (existing labels must stay)", p)
	}
}

func TestDeleteSendsGracePeriod(t *testing.T) {
	s := k8spodtest.New(t, "shop/web-1", "shop/web-2")
	c := client(t, s)
	ctx := context.Background()
	zero := int64(0)
	if err := c.Delete(ctx, "shop", "web-1", &zero); err != nil {
		t.Fatal(err)
	}
	call := <-s.Calls
	if call.Method != "DELETE" || call.Path != "/api/v1/namespaces/shop/pods/web-1" {
		t.Fatalf("delete call = %s %s", call.Method, call.Path)
	}
	var opts map[string]any
	if err := json.Unmarshal(call.Body, &opts); err != nil {
		t.Fatalf("delete body %q: %v", call.Body, err)
	}
	if g, ok := opts["gracePeriodSeconds"]; !ok || g.(float64) != 0 || opts["kind"] != "DeleteOptions" {
		t.Fatalf("delete options = %s, want kind DeleteOptions and gracePeriodSeconds 0", call.Body)
	}
	if _, ok := s.Pod("shop/web-1"); ok {
		t.Fatal("pod still there")
	}
	// No grace period: the pod's own applies (the field is absent).
	if err := c.Delete(ctx, "shop", "web-2", nil); err != nil {
		t.Fatal(err)
	}
	call = <-s.Calls
	if strings.Contains(string(call.Body), "gracePeriodSeconds") {
		t.Fatalf("delete without grace period sent %s", call.Body)
	}
	// A pod already gone is ErrGone, which callers report as such.
	if err := c.Delete(ctx, "shop", "web-2", nil); !errors.Is(err, k8spod.ErrGone) {
		t.Fatalf("second delete: %v, want ErrGone", err)
	}
}

func TestUnauthorizedIsAnError(t *testing.T) {
	s := k8spodtest.New(t, "shop/web-1")
	b, err := os.ReadFile(s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(b), k8spodtest.Token, "wrong", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := k8spod.New(k8spod.Config{Kubeconfig: bad})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Label(context.Background(), "shop", "web-1", map[string]string{"a": "b"})
	if err == nil || !strings.Contains(err.Error(), "shop/web-1") {
		t.Fatalf("label with a wrong token: %v", err)
	}
}

func TestNewNeedsAClusterOrKubeconfig(t *testing.T) {
	if _, err := k8spod.New(k8spod.Config{}); err == nil {
		t.Fatal("New without kubeconfig or API server succeeded")
	}
	if _, err := k8spod.New(k8spod.Config{Kubeconfig: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("New with a missing kubeconfig succeeded")
	}
	if got := k8spod.InClusterURL("10.0.0.1", "443"); got != "https://10.0.0.1:443" {
		t.Fatalf("InClusterURL = %s", got)
	}
}

func TestValidateLabels(t *testing.T) {
	for _, tc := range []struct {
		m  map[string]string
		ok bool
	}{
		{map[string]string{"saker.dev/quarantine": "true"}, true},
		{map[string]string{"quarantine": ""}, true},
		{map[string]string{"bad key!": "x"}, false},
		{map[string]string{"k": "has spaces"}, false},
	} {
		if err := k8spod.ValidateLabels(tc.m); (err == nil) != tc.ok {
			t.Errorf("ValidateLabels(%v) = %v, want ok %v", tc.m, err, tc.ok)
		}
	}
	if err := k8spod.ValidateAnnotationKeys(map[string]string{"saker.dev/alert": "any text at all"}); err != nil {
		t.Error(err)
	}
	if err := k8spod.ValidateAnnotationKeys(map[string]string{"no spaces please": "x"}); err == nil {
		t.Error("bad annotation key accepted")
	}
}

// KUBECONFIG may list several files, merged as kubectl does: here the
// cluster and user in one, the context in another.
func TestKubeconfigList(t *testing.T) {
	s := k8spodtest.New(t, "shop/web-1")
	b, err := os.ReadFile(s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	full := string(b)
	i := strings.Index(full, "contexts:")
	dir := t.TempDir()
	clusters, contexts := filepath.Join(dir, "clusters"), filepath.Join(dir, "contexts")
	if err := os.WriteFile(clusters, []byte(full[:i]), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(contexts, []byte("apiVersion: v1\nkind: Config\n"+full[i:]), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := k8spod.New(k8spod.Config{Kubeconfig: filepath.Join(dir, "missing") + string(os.PathListSeparator) + contexts + string(os.PathListSeparator) + clusters})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Label(context.Background(), "shop", "web-1", map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	if call := <-s.Calls; call.Method != "PATCH" {
		t.Fatalf("call %+v", call)
	}
}
