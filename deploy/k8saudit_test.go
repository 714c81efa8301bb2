package deploy

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestK8sAuditFiles checks the control-plane files README tells users to
// install: the webhook kubeconfig points at a /k8s-audit URL on the
// saker-k8s-audit Service port, and the audit policy is an audit.k8s.io/v1
// Policy that never logs secret content.
func TestK8sAuditFiles(t *testing.T) {
	var kc struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Clusters   []struct {
			Cluster struct {
				Server string `yaml:"server"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
		CurrentContext string `yaml:"current-context"`
	}
	readYAML(t, "k8saudit/webhook-config.yaml", &kc)
	if kc.Kind != "Config" || kc.APIVersion != "v1" || len(kc.Clusters) != 1 || kc.CurrentContext == "" {
		t.Fatalf("webhook-config.yaml: %+v", kc)
	}
	u, err := url.Parse(kc.Clusters[0].Cluster.Server)
	if err != nil || u.Path != "/k8s-audit" || u.Port() != "9765" {
		t.Errorf("webhook server %q: want http://<addr>:9765/k8s-audit", kc.Clusters[0].Cluster.Server)
	}
	svc := mustFind(t, loadManifests(t), "Service", "saker-k8s-audit")
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 9765 {
		t.Errorf("saker-k8s-audit ports %+v, want 9765", svc.Spec.Ports)
	}

	var pol struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Rules      []struct {
			Level     string `yaml:"level"`
			Resources []struct {
				Resources []string `yaml:"resources"`
			} `yaml:"resources"`
		} `yaml:"rules"`
	}
	readYAML(t, "k8saudit/audit-policy.yaml", &pol)
	if pol.Kind != "Policy" || pol.APIVersion != "audit.k8s.io/v1" || len(pol.Rules) == 0 {
		t.Fatalf("audit-policy.yaml: %+v", pol)
	}
	// The first rule naming secrets decides their level.
	for _, r := range pol.Rules {
		for _, g := range r.Resources {
			for _, res := range g.Resources {
				if res == "secrets" {
					if r.Level != "Metadata" && r.Level != "None" {
						t.Errorf("secrets logged at %s: their content would reach the hub", r.Level)
					}
					return
				}
			}
		}
	}
	t.Error("audit-policy.yaml does not say how to log secrets")
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if strings.TrimSpace(string(b)) == "" {
		t.Fatalf("%s is empty", path)
	}
}
