package deploy

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/saker-sec/saker/hub/actions"
)

// rbacObject is the RBAC subset of a manifest document.
type rbacObject struct {
	Kind     string `yaml:"kind"`
	Metadata meta   `yaml:"metadata"`
	Rules    []struct {
		APIGroups     []string `yaml:"apiGroups"`
		Resources     []string `yaml:"resources"`
		ResourceNames []string `yaml:"resourceNames"`
		Verbs         []string `yaml:"verbs"`
	} `yaml:"rules"`
	RoleRef struct {
		Kind, Name string
	} `yaml:"roleRef"`
	Subjects []struct {
		Kind, Name, Namespace string
	} `yaml:"subjects"`
	AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken"`
}

func loadRBAC(t *testing.T) []rbacObject {
	t.Helper()
	var out []rbacObject
	for _, o := range loadManifests(t) {
		b, err := os.ReadFile(o.file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		for {
			var r rbacObject
			if dec.Decode(&r) != nil {
				break
			}
			if r.Kind == o.Kind && r.Metadata.Name == o.Metadata.Name && !slices.ContainsFunc(out, func(x rbacObject) bool {
				return x.Kind == r.Kind && x.Metadata.Name == r.Metadata.Name
			}) {
				out = append(out, r)
			}
		}
	}
	return out
}

// TestManifestsRBACLeastPrivilege: the only permissions any manifest
// grants are patch and delete (get at most besides) on pods, to the hub's
// service account; the sensor's and the base hub's accounts get no token.
func TestManifestsRBACLeastPrivilege(t *testing.T) {
	objs := loadRBAC(t)
	roles := map[string]bool{}
	for _, o := range objs {
		switch o.Kind {
		case "Role", "ClusterRole":
			roles[o.Kind+"/"+o.Metadata.Name] = true
			if o.Metadata.Name != "saker-pod-actions" {
				t.Errorf("%s %s: unexpected role (only saker-pod-actions is needed)", o.Kind, o.Metadata.Name)
			}
			if len(o.Rules) != 1 {
				t.Fatalf("%s: %d rules, want 1", o.Metadata.Name, len(o.Rules))
			}
			r := o.Rules[0]
			if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.Resources, []string{"pods"}) {
				t.Errorf("%s: apiGroups %q resources %q, want core pods only", o.Metadata.Name, r.APIGroups, r.Resources)
			}
			for _, v := range r.Verbs {
				if v != "get" && v != "patch" && v != "delete" {
					t.Errorf("%s: verb %q beyond get/patch/delete", o.Metadata.Name, v)
				}
			}
			if !slices.Contains(r.Verbs, "patch") || !slices.Contains(r.Verbs, "delete") {
				t.Errorf("%s: verbs %q: pod actions need patch and delete", o.Metadata.Name, r.Verbs)
			}
		}
	}
	bound := 0
	for _, o := range objs {
		if o.Kind != "RoleBinding" && o.Kind != "ClusterRoleBinding" {
			continue
		}
		bound++
		if !roles[o.RoleRef.Kind+"/"+o.RoleRef.Name] {
			t.Errorf("%s: roleRef %s/%s is not a role of these manifests", o.Metadata.Name, o.RoleRef.Kind, o.RoleRef.Name)
		}
		for _, s := range o.Subjects {
			if s.Kind != "ServiceAccount" || s.Name != "saker-hub" || s.Namespace != "saker" {
				t.Errorf("%s: subject %+v, want only the saker-hub service account", o.Metadata.Name, s)
			}
		}
	}
	if bound == 0 {
		t.Error("no binding gives the hub its pod actions")
	}
	for _, sa := range []string{"saker-hub", "saker-sensor"} {
		i := slices.IndexFunc(objs, func(o rbacObject) bool { return o.Kind == "ServiceAccount" && o.Metadata.Name == sa })
		if i < 0 {
			t.Errorf("no ServiceAccount %s", sa)
			continue
		}
		if a := objs[i].AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("ServiceAccount %s: want automountServiceAccountToken: false (tokens only where an overlay needs one)", sa)
		}
	}
	hub := mustFind(t, loadManifests(t), "Deployment", "saker-hub")
	b, _ := os.ReadFile(hub.file)
	if !strings.Contains(string(b), "serviceAccountName: saker-hub") {
		t.Error("the hub Deployment does not run as the saker-hub service account")
	}
}

// TestKustomizePodActionsOverlay: the overlay mounts the saker-actions
// ConfigMap where SAKER_ACTIONS_FILE points, gives the hub its token, and
// its actions file loads as the hub loads it.
func TestKustomizePodActionsOverlay(t *testing.T) {
	dir := filepath.Join(k8sDir, "overlays", "pod-actions")
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Patches []struct{ Patch string } `yaml:"patches"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil || len(k.Patches) != 1 {
		t.Fatalf("kustomization: %v, %d patches", err, len(k.Patches))
	}
	var p struct {
		Kind     string
		Metadata meta
		Spec     struct {
			Template struct {
				Spec struct {
					AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken"`
					podSpec                      `yaml:",inline"`
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(k.Patches[0].Patch), &p); err != nil {
		t.Fatal(err)
	}
	spec := p.Spec.Template.Spec
	if p.Kind != "Deployment" || p.Metadata.Name != "saker-hub" || spec.AutomountServiceAccountToken == nil || !*spec.AutomountServiceAccountToken {
		t.Fatalf("patch %s/%s: want the saker-hub Deployment with automountServiceAccountToken: true", p.Kind, p.Metadata.Name)
	}
	if len(spec.Containers) != 1 || spec.Containers[0].Name != "hub" {
		t.Fatalf("patch containers %+v, want hub", spec.Containers)
	}
	c := spec.Containers[0]
	var file string
	for _, e := range c.Env {
		if e.Name == "SAKER_ACTIONS_FILE" {
			file = e.Value
		}
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == "saker-actions" && path.Dir(file) == m.MountPath {
				mounted = true
			}
		}
	}
	if file == "" || !mounted {
		t.Fatalf("SAKER_ACTIONS_FILE %q is not in the mounted saker-actions ConfigMap", file)
	}
	cm := mustFind(t, loadManifests(t), "ConfigMap", "saker-actions")
	doc, ok := cm.Data[path.Base(file)]
	if !ok {
		t.Fatalf("ConfigMap saker-actions has no key %s", path.Base(file))
	}
	local := filepath.Join(t.TempDir(), path.Base(file))
	if err := os.WriteFile(local, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := actions.LoadFile(local)
	if err != nil {
		t.Fatalf("the overlay's actions file: %v", err)
	}
	if !cfg.DryRun || !slices.Contains(cfg.Allowlist.Namespaces, "kube-system") {
		t.Errorf("the shipped actions file must start in dry_run and protect kube-system: dry_run %v, namespaces %v", cfg.DryRun, cfg.Allowlist.Namespaces)
	}
	// Where kubectl is installed, render the overlay as users apply it.
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl not installed: overlay not rendered")
		return
	}
	out, err := exec.Command(kubectl, "kustomize", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, out)
	}
	for _, want := range []string{"automountServiceAccountToken: true", "name: SAKER_ACTIONS_FILE", "serviceAccountName: saker-hub", "kind: ClusterRoleBinding"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered overlay lacks %q", want)
		}
	}
}
