package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/saker-sec/saker/sensor"
)

// Neither helm nor kubeconform is packaged in Debian 12 (apt-cache policy
// finds no candidate), so these render tests are the manifests' check in CI:
// they decode every document into the subset of the Kubernetes and Compose
// schemas that matters for a working deployment and check it.

// --- Kubernetes subset ------------------------------------------------------

type meta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type keyRef struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional bool   `yaml:"optional"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
		ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
		FieldRef        *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

type envFrom struct {
	ConfigMapRef *keyRef `yaml:"configMapRef"`
	SecretRef    *keyRef `yaml:"secretRef"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"` // number or port name
	} `yaml:"httpGet"`
	Exec *struct {
		Command []string `yaml:"command"`
	} `yaml:"exec"`
}

type securityContext struct {
	Privileged               *bool `yaml:"privileged"`
	RunAsUser                *int  `yaml:"runAsUser"`
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	Capabilities             *struct {
		Add  []string `yaml:"add"`
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type container struct {
	Name            string           `yaml:"name"`
	Image           string           `yaml:"image"`
	ImagePullPolicy string           `yaml:"imagePullPolicy"`
	Command         []string         `yaml:"command"`
	Args            []string         `yaml:"args"`
	Env             []envVar         `yaml:"env"`
	EnvFrom         []envFrom        `yaml:"envFrom"`
	Ports           []containerPort  `yaml:"ports"`
	ReadinessProbe  *probe           `yaml:"readinessProbe"`
	LivenessProbe   *probe           `yaml:"livenessProbe"`
	SecurityContext *securityContext `yaml:"securityContext"`
	VolumeMounts    []volumeMount    `yaml:"volumeMounts"`
}

type volume struct {
	Name     string `yaml:"name"`
	HostPath *struct {
		Path string `yaml:"path"`
		Type string `yaml:"type"`
	} `yaml:"hostPath"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
	} `yaml:"secret"`
	EmptyDir any `yaml:"emptyDir"`
}

type podSpec struct {
	HostPID     bool        `yaml:"hostPID"`
	HostNetwork bool        `yaml:"hostNetwork"`
	Containers  []container `yaml:"containers"`
	Volumes     []volume    `yaml:"volumes"`
	Tolerations []struct {
		Key      string `yaml:"key"`
		Operator string `yaml:"operator"`
		Effect   string `yaml:"effect"`
	} `yaml:"tolerations"`
	SecurityContext *securityContext `yaml:"securityContext"`
}

type podTemplate struct {
	Metadata meta    `yaml:"metadata"`
	Spec     podSpec `yaml:"spec"`
}

// object is any manifest document; Spec fields cover Deployment, DaemonSet,
// StatefulSet, Service and PodDisruptionBudget.
type object struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   meta              `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas             *int                      `yaml:"replicas"`
		Selector             yaml.Node                 `yaml:"selector"` // labelSelector, or a plain map for Services
		Template             *podTemplate              `yaml:"template"`
		ServiceName          string                    `yaml:"serviceName"`
		VolumeClaimTemplates []struct{ Metadata meta } `yaml:"volumeClaimTemplates"`
		Ports                []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`

	file string
}

func (o *object) id() string { return o.Kind + "/" + o.Metadata.Name + " (" + o.file + ")" }

// podSelector returns the labels a workload or PDB selects (matchLabels) or
// a Service selects (a plain map).
func (o *object) podSelector(t *testing.T) map[string]string {
	t.Helper()
	if o.Spec.Selector.Kind == 0 {
		return nil
	}
	if o.Kind == "Service" {
		var m map[string]string
		if err := o.Spec.Selector.Decode(&m); err != nil {
			t.Fatalf("%s: selector: %v", o.id(), err)
		}
		return m
	}
	var s labelSelector
	if err := o.Spec.Selector.Decode(&s); err != nil {
		t.Fatalf("%s: selector: %v", o.id(), err)
	}
	return s.MatchLabels
}

const k8sDir = "k8s"

// loadManifests decodes every YAML document under k8s/ except kustomize files.
func loadManifests(t *testing.T) []*object {
	t.Helper()
	var out []*object
	err := filepath.WalkDir(k8sDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || d.Name() == "kustomization.yaml" {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		for {
			o := &object{file: path}
			err := dec.Decode(o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if o.Kind == "" && o.APIVersion == "" {
				continue // empty document
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no manifests found under k8s/")
	}
	return out
}

func find(objs []*object, kind, name string) *object {
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	return nil
}

func mustFind(t *testing.T, objs []*object, kind, name string) *object {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		t.Fatalf("no %s/%s in k8s/", kind, name)
	}
	return o
}

var (
	dns1123     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	clusterWide = map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "PriorityClass": true}
)

func TestManifestsWellFormed(t *testing.T) {
	objs := loadManifests(t)
	seen := map[string]string{}
	for _, o := range objs {
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Errorf("%s: apiVersion, kind and metadata.name are required", o.id())
		}
		if !dns1123.MatchString(o.Metadata.Name) || len(o.Metadata.Name) > 63 {
			t.Errorf("%s: name %q is not a DNS-1123 label", o.id(), o.Metadata.Name)
		}
		if !clusterWide[o.Kind] && o.Metadata.Namespace != "saker" {
			t.Errorf("%s: namespace %q, want saker", o.id(), o.Metadata.Namespace)
		}
		if o.Metadata.Labels["app.kubernetes.io/part-of"] != "saker" {
			t.Errorf("%s: missing label app.kubernetes.io/part-of=saker", o.id())
		}
		key := o.Kind + "/" + o.Metadata.Name
		if prev, dup := seen[key]; dup {
			t.Errorf("%s defined twice (%s and %s)", key, prev, o.file)
		}
		seen[key] = o.file
	}
}

func TestKustomizations(t *testing.T) {
	type kustomization struct {
		Resources []string `yaml:"resources"`
	}
	files, err := filepath.Glob(filepath.Join(k8sDir, "*", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(k8sDir, "overlays", "*", "kustomization.yaml"))
	files = append(files, more...)
	if len(files) < 3 {
		t.Fatalf("want base and two overlays, found %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var k kustomization
		if err := yaml.Unmarshal(b, &k); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range k.Resources {
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), r)); err != nil {
				t.Errorf("%s: resource %s: %v", f, r, err)
			}
		}
		if filepath.Base(filepath.Dir(f)) == "base" {
			// every manifest in base/ must be applied by `kubectl apply -k`
			yamls, _ := filepath.Glob(filepath.Join(filepath.Dir(f), "*.yaml"))
			for _, y := range yamls {
				if n := filepath.Base(y); n != "kustomization.yaml" && !slices.Contains(k.Resources, n) {
					t.Errorf("%s does not list %s", f, n)
				}
			}
		}
	}
}

// podWorkloads returns the Deployments, DaemonSets and StatefulSets.
func podWorkloads(objs []*object) []*object {
	var out []*object
	for _, o := range objs {
		if o.Spec.Template != nil {
			out = append(out, o)
		}
	}
	return out
}

func TestWorkloadsSelectorsImagesEnvVolumes(t *testing.T) {
	objs := loadManifests(t)
	wl := podWorkloads(objs)
	if len(wl) < 3 {
		t.Fatalf("want hub, sensor and redis workloads, found %d", len(wl))
	}
	for _, o := range wl {
		sel := o.podSelector(t)
		if len(sel) == 0 {
			t.Errorf("%s: empty selector", o.id())
		}
		for k, v := range sel {
			if o.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the pod template labels %v", o.id(), k, v, o.Spec.Template.Metadata.Labels)
			}
		}
		spec := o.Spec.Template.Spec
		vols := map[string]volume{}
		for _, v := range spec.Volumes {
			vols[v.Name] = v
			if v.ConfigMap != nil && find(objs, "ConfigMap", v.ConfigMap.Name) == nil {
				t.Errorf("%s: volume %s: no ConfigMap %s", o.id(), v.Name, v.ConfigMap.Name)
			}
			if v.Secret != nil && find(objs, "Secret", v.Secret.SecretName) == nil {
				t.Errorf("%s: volume %s: no Secret %s", o.id(), v.Name, v.Secret.SecretName)
			}
		}
		for _, c := range o.Spec.VolumeClaimTemplates {
			vols[c.Metadata.Name] = volume{Name: c.Metadata.Name}
		}
		if len(spec.Containers) == 0 {
			t.Errorf("%s: no containers", o.id())
		}
		for _, c := range spec.Containers {
			where := o.id() + " container " + c.Name
			if c.Image == "" || strings.HasPrefix(c.Image, ":") {
				t.Errorf("%s: no image", where)
			}
			if c.ImagePullPolicy == "" {
				t.Errorf("%s: set imagePullPolicy explicitly", where)
			}
			for _, e := range c.Env {
				checkEnvVar(t, objs, where, e)
			}
			for _, ef := range c.EnvFrom {
				checkEnvFrom(t, objs, where, ef)
			}
			mounted := map[string]bool{}
			for _, m := range c.VolumeMounts {
				if _, ok := vols[m.Name]; !ok {
					t.Errorf("%s: mount %s refers to no volume", where, m.Name)
				}
				if mounted[m.MountPath] {
					t.Errorf("%s: %s mounted twice", where, m.MountPath)
				}
				mounted[m.MountPath] = true
			}
			if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil && (sc.Privileged == nil || !*sc.Privileged) {
				t.Errorf("%s: securityContext must set allowPrivilegeEscalation", where)
			}
		}
	}
}

func checkEnvVar(t *testing.T, objs []*object, where string, e envVar) {
	t.Helper()
	if !envName.MatchString(e.Name) {
		t.Errorf("%s: env name %q is not a valid variable name", where, e.Name)
	}
	if e.ValueFrom == nil {
		return
	}
	for kind, ref := range map[string]*keyRef{"Secret": e.ValueFrom.SecretKeyRef, "ConfigMap": e.ValueFrom.ConfigMapKeyRef} {
		if ref == nil {
			continue
		}
		src := find(objs, kind, ref.Name)
		if src == nil {
			t.Errorf("%s: env %s: no %s %s", where, e.Name, kind, ref.Name)
			continue
		}
		if _, ok := src.Data[ref.Key]; !ok {
			if _, ok := src.StringData[ref.Key]; !ok {
				t.Errorf("%s: env %s: %s %s has no key %s", where, e.Name, kind, ref.Name, ref.Key)
			}
		}
	}
}

func checkEnvFrom(t *testing.T, objs []*object, where string, ef envFrom) {
	t.Helper()
	for kind, ref := range map[string]*keyRef{"Secret": ef.SecretRef, "ConfigMap": ef.ConfigMapRef} {
		if ref == nil {
			continue
		}
		src := find(objs, kind, ref.Name)
		if src == nil {
			if !ref.Optional {
				t.Errorf("%s: envFrom: no %s %s", where, kind, ref.Name)
			}
			continue
		}
		// Keys that are not valid variable names are silently dropped by
		// the kubelet: the setting would never reach the hub.
		for k := range src.Data {
			if !envName.MatchString(k) {
				t.Errorf("%s: envFrom %s %s: key %q is not a valid variable name", where, kind, ref.Name, k)
			}
		}
		for k := range src.StringData {
			if !envName.MatchString(k) {
				t.Errorf("%s: envFrom %s %s: key %q is not a valid variable name", where, kind, ref.Name, k)
			}
		}
	}
}

func portOf(c container, ref any) (int, bool) {
	switch v := ref.(type) {
	case int:
		return v, true
	case string:
		for _, p := range c.Ports {
			if p.Name == v {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

func TestHubDeployment(t *testing.T) {
	objs := loadManifests(t)
	d := mustFind(t, objs, "Deployment", "saker-hub")
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("hub replicas unset or < 2, want >= 2 (several hubs share one Redis)")
	}
	c := d.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "hub") {
		t.Errorf("hub container args %v do not run `saker hub`", c.Args)
	}
	ports := map[int]bool{}
	for _, p := range c.Ports {
		ports[p.ContainerPort] = true
	}
	if !ports[2801] || !ports[2802] {
		t.Errorf("hub container ports %v, want 2801 and 2802", c.Ports)
	}
	for name, pr := range map[string]*probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if pr == nil || pr.HTTPGet == nil {
			t.Errorf("hub %s probe must be an httpGet", name)
			continue
		}
		if p, ok := portOf(c, pr.HTTPGet.Port); !ok || p != 2801 {
			t.Errorf("hub %s probe port %v, want 2801", name, pr.HTTPGet.Port)
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("hub readiness path %q, want /healthz (includes store health)", c.ReadinessProbe.HTTPGet.Path)
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/ping" {
		t.Errorf("hub liveness path %q, want /ping (a Redis outage must not restart hubs)", c.LivenessProbe.HTTPGet.Path)
	}
	psc := d.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("hub pods must run as a non-root user (runAsNonRoot, runAsUser != 0)")
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("hub container: want readOnlyRootFilesystem and capabilities.drop [ALL]")
	}
	// The hub must be told where Redis is and how to log in.
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = true
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil {
			if cm := find(objs, "ConfigMap", ef.ConfigMapRef.Name); cm != nil {
				for k := range cm.Data {
					env[k] = true
				}
			}
		}
	}
	for _, want := range []string{"REDIS_ADDRESS", "REDIS_PASSWORD", "LISTENPORT", "UI_LISTENPORT"} {
		if !env[want] {
			t.Errorf("hub container gets no %s", want)
		}
	}
	pdb := mustFind(t, objs, "PodDisruptionBudget", "saker-hub")
	for k, v := range pdb.podSelector(t) {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("PodDisruptionBudget selector %s=%s does not select the hub", k, v)
		}
	}
}

func TestServices(t *testing.T) {
	objs := loadManifests(t)
	want := map[string]int{"saker-hub": 2801, "saker-dashboard": 2802, "saker-redis": 6379}
	for name, port := range want {
		s := mustFind(t, objs, "Service", name)
		found := false
		for _, p := range s.Spec.Ports {
			if p.Port == port {
				found = true
			}
		}
		if !found {
			t.Errorf("Service %s does not expose %d", name, port)
		}
	}
	for _, s := range objs {
		if s.Kind != "Service" {
			continue
		}
		sel := s.podSelector(t)
		var target *object
		for _, w := range podWorkloads(objs) {
			match := len(sel) > 0
			for k, v := range sel {
				if w.Spec.Template.Metadata.Labels[k] != v {
					match = false
				}
			}
			if match {
				target = w
			}
		}
		if target == nil {
			t.Errorf("%s: selector %v matches no pod template", s.id(), sel)
			continue
		}
		for _, p := range s.Spec.Ports {
			tp := p.TargetPort
			if tp == nil {
				tp = p.Port
			}
			if _, ok := portOf(target.Spec.Template.Spec.Containers[0], tp); !ok {
				t.Errorf("%s: targetPort %v is not a port of %s", s.id(), tp, target.id())
			}
		}
	}
}

func TestSensorDaemonSet(t *testing.T) {
	objs := loadManifests(t)
	ds := mustFind(t, objs, "DaemonSet", "saker-sensor")
	spec := ds.Spec.Template.Spec
	if !spec.HostPID {
		t.Error("sensor needs hostPID: true")
	}
	everywhere := false
	for _, tol := range spec.Tolerations {
		if tol.Operator == "Exists" && tol.Key == "" && tol.Effect == "" {
			everywhere = true
		}
	}
	if !everywhere {
		t.Error("sensor must tolerate every taint (operator: Exists, no key, no effect) to run on all nodes")
	}
	c := spec.Containers[0]
	if !slices.Contains(c.Args, "sensor") {
		t.Errorf("sensor args %v do not run `saker sensor`", c.Args)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("sensor needs an explicit capability set")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("the base sensor must not be privileged (overlays/privileged is the opt-in)")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("sensor must run as root (runAsUser: 0): the image defaults to the hub's non-root user")
	}
	// KILL: the kill action and the guard's resume signal other users' processes.
	for _, capName := range []string{"BPF", "PERFMON", "SYS_ADMIN", "SYS_PTRACE", "KILL"} {
		if !slices.Contains(sc.Capabilities.Add, capName) {
			t.Errorf("sensor capabilities lack %s", capName)
		}
	}
	if slices.Contains(sc.Capabilities.Add, "SYS_RESOURCE") {
		t.Error("sensor must not need SYS_RESOURCE (memcg-accounted BPF memory on 5.11+; some hosts withhold it)")
	}
	// host path -> where the sensor expects it, read-only
	wantMounts := map[string]string{
		"/sys/kernel/btf":                 "/sys/kernel/btf",
		"/sys/kernel/tracing":             "/sys/kernel/tracing",
		"/sys/kernel/debug":               "/sys/kernel/debug",
		"/proc":                           "/host/proc",
		"/etc":                            "/host/etc",
		"/var/run/docker.sock":            "/var/run/docker.sock",
		"/run/containerd/containerd.sock": "/run/containerd/containerd.sock",
		"/sys/fs/cgroup":                  "/host/sys/fs/cgroup",
	}
	vols := map[string]volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	got := map[string]volumeMount{}
	for _, m := range c.VolumeMounts {
		if v, ok := vols[m.Name]; ok && v.HostPath != nil {
			got[v.HostPath.Path] = m
		}
	}
	// block_network pins its blocks on the node's bpffs: read-write.
	if m, ok := got["/sys/fs/bpf"]; !ok || m.MountPath != "/sys/fs/bpf" || m.ReadOnly {
		t.Errorf("sensor must mount the node's /sys/fs/bpf read-write at /sys/fs/bpf (got %+v)", m)
	}
	for host, inCtr := range wantMounts {
		m, ok := got[host]
		switch {
		case !ok:
			t.Errorf("sensor does not mount host %s", host)
		case m.MountPath != inCtr:
			t.Errorf("sensor mounts host %s at %s, want %s", host, m.MountPath, inCtr)
		case !m.ReadOnly:
			t.Errorf("sensor mounts host %s read-write, want readOnly", host)
		}
	}
	// Files named on the command line come from mounted ConfigMaps.
	for i, a := range c.Args {
		if (a == "-c" || a == "-r") && i+1 < len(c.Args) {
			if _, ok := configMapFileAt(objs, spec, c, c.Args[i+1]); !ok {
				t.Errorf("sensor %s %s: no ConfigMap key is mounted there", a, c.Args[i+1])
			}
		}
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil {
		t.Error("sensor needs an httpGet liveness probe (its metrics endpoint)")
	} else if _, ok := portOf(c, c.LivenessProbe.HTTPGet.Port); !ok {
		t.Errorf("sensor liveness probe port %v is not a container port", c.LivenessProbe.HTTPGet.Port)
	}
}

// imageRulesFile is where the image ships the sensor's default rules
// (deploy/Dockerfile and build-image.sh copy sensor/defaultrules there).
const imageRulesFile = "/etc/saker/saker_rules.yaml"

// TestSensorConfigAndRules loads the DaemonSet's sensor.yaml with the
// sensor's own config loader, then every rules file it names — the image's
// default rules and the saker-rules ConfigMap — with the sensor's own rules
// loader and compiler, as the pod would at start.
func TestSensorConfigAndRules(t *testing.T) {
	objs := loadManifests(t)
	ds := mustFind(t, objs, "DaemonSet", "saker-sensor")
	spec := ds.Spec.Template.Spec
	c := spec.Containers[0]
	cm := mustFind(t, objs, "ConfigMap", "saker-sensor-config")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "sensor.yaml")
	if err := os.WriteFile(cfgFile, []byte(cm.Data["sensor.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := sensor.LoadConfig(cfgFile, nil)
	if err != nil {
		t.Fatalf("sensor.yaml in ConfigMap saker-sensor-config: %v", err)
	}
	if !cfg.HTTPOutput.Enabled || !strings.Contains(cfg.HTTPOutput.URL, "saker-hub") || !strings.Contains(cfg.HTTPOutput.URL, ":2801") {
		t.Errorf("sensor http_output %+v must be enabled and point at the saker-hub Service on 2801", cfg.HTTPOutput)
	}
	if sd := cfg.HTTPOutput.SpoolDir; sd == "" || !slices.ContainsFunc(c.VolumeMounts, func(m volumeMount) bool {
		return !m.ReadOnly && strings.HasPrefix(sd, m.MountPath)
	}) {
		t.Errorf("http_output.spool_dir %q must be on a writable volume (the root filesystem is read-only)", sd)
	}
	if len(cfg.RulesFiles) < 2 || cfg.RulesFiles[0] != imageRulesFile {
		t.Errorf("rules_files %v: want the image's %s first, then local rules", cfg.RulesFiles, imageRulesFile)
	}
	// Map each in-pod path to a file here.
	var local []string
	for i, f := range cfg.RulesFiles {
		if f == imageRulesFile {
			cfg.RulesFiles[i] = "../sensor/defaultrules/saker_rules.yaml"
			continue
		}
		content, ok := configMapFileAt(objs, spec, c, f)
		if !ok {
			t.Errorf("rules file %s: no ConfigMap key is mounted there", f)
			continue
		}
		p := filepath.Join(dir, "rules-"+filepath.Base(f))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg.RulesFiles[i] = p
		local = append(local, p)
	}
	rs, err := sensor.LoadRules(cfg)
	if err != nil {
		t.Fatalf("the sensor would not start with these rules: %v", err)
	}
	names := map[string]bool{}
	for _, r := range rs.Rules {
		names[r.Name] = true
	}
	for _, want := range []string{"Terminal shell in container", "Shell in kube-system pod"} {
		if !names[want] {
			t.Errorf("rule %q not loaded (have %d rules)", want, len(rs.Rules))
		}
	}
	if len(local) == 0 {
		t.Error("no local rules file from the saker-rules ConfigMap")
	}
	// The image must really ship the default rules where rules_files says.
	for _, f := range []string{"Dockerfile", "build-image.sh"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "sensor/defaultrules/saker_rules.yaml") {
			t.Errorf("%s does not copy sensor/defaultrules/saker_rules.yaml into the image", f)
		}
	}
}

// configMapFileAt returns the content of the ConfigMap key the container sees
// at path (a subPath mount, or a key under a directory mount).
func configMapFileAt(objs []*object, spec podSpec, c container, path string) (string, bool) {
	for _, m := range c.VolumeMounts {
		var cmName string
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cmName = v.ConfigMap.Name
			}
		}
		cm := find(objs, "ConfigMap", cmName)
		if cm == nil {
			continue
		}
		if m.SubPath != "" && m.MountPath == path {
			v, ok := cm.Data[m.SubPath]
			return v, ok
		}
		if m.SubPath == "" && filepath.Dir(path) == m.MountPath {
			v, ok := cm.Data[filepath.Base(path)]
			return v, ok
		}
	}
	return "", false
}

func TestRedisStatefulSet(t *testing.T) {
	objs := loadManifests(t)
	ss := mustFind(t, objs, "StatefulSet", "saker-redis")
	if find(objs, "Service", ss.Spec.ServiceName) == nil {
		t.Errorf("StatefulSet serviceName %q has no Service", ss.Spec.ServiceName)
	}
	c := ss.Spec.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	if !strings.Contains(args, "--appendonly yes") {
		t.Errorf("redis args %q: want AOF on", args)
	}
	if len(ss.Spec.VolumeClaimTemplates) == 0 {
		t.Error("redis needs a volumeClaimTemplate for its data")
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Error("redis needs readiness and liveness probes")
	}
}

// --- docker-compose.yml -------------------------------------------------------

type composeService struct {
	Image       string             `yaml:"image"`
	Command     []string           `yaml:"command"`
	User        string             `yaml:"user"`
	Ports       []string           `yaml:"ports"`
	Environment map[string]*string `yaml:"environment"`
	Volumes     []string           `yaml:"volumes"`
	CapAdd      []string           `yaml:"cap_add"`
	CapDrop     []string           `yaml:"cap_drop"`
	Privileged  bool               `yaml:"privileged"`
	Pid         string             `yaml:"pid"`
	Restart     string             `yaml:"restart"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

func loadCompose(t *testing.T) (composeFile, []byte) {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(false)
	if err := dec.Decode(&cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return cf, b
}

func TestCompose(t *testing.T) {
	cf, _ := loadCompose(t)
	for _, name := range []string{"redis", "hub", "sensor"} {
		s, ok := cf.Services[name]
		if !ok {
			t.Fatalf("docker-compose.yml has no %s service", name)
		}
		if s.Image == "" {
			t.Errorf("%s: no image", name)
		}
		if s.Restart == "" {
			t.Errorf("%s: no restart policy", name)
		}
		if s.Privileged {
			t.Errorf("%s: privileged: true fails on hosts without every capability; use cap_add", name)
		}
		for k := range s.Environment {
			if !envName.MatchString(k) {
				t.Errorf("%s: environment %q is not a valid variable name", name, k)
			}
		}
	}
	redis := cf.Services["redis"]
	if redis.Image != "${REDIS_IMAGE:-redis:7-alpine}" {
		t.Errorf("redis image %q, want ${REDIS_IMAGE:-redis:7-alpine}", redis.Image)
	}
	if cmd := strings.Join(redis.Command, " "); !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("redis command %q: want AOF on", cmd)
	}
	checkNamedVolume(t, cf, "redis", "/data")
	if redis.Healthcheck == nil || len(redis.Healthcheck.Test) == 0 {
		t.Error("redis: no healthcheck")
	}

	hub := cf.Services["hub"]
	if hub.DependsOn["redis"].Condition != "service_healthy" {
		t.Error("hub must depend on redis with condition service_healthy")
	}
	for _, p := range []string{":2801", ":2802"} {
		if !slices.ContainsFunc(hub.Ports, func(s string) bool { return strings.HasSuffix(s, p) }) {
			t.Errorf("hub does not publish container port %s", p)
		}
	}
	if hub.Healthcheck == nil || !strings.Contains(strings.Join(hub.Healthcheck.Test, " "), "/healthz") {
		t.Error("hub healthcheck must query /healthz")
	}
	if hub.Environment["REDIS_ADDRESS"] == nil || !strings.HasPrefix(*hub.Environment["REDIS_ADDRESS"], "redis:") {
		t.Error("hub REDIS_ADDRESS must point at the redis service")
	}
	for _, fwd := range []string{"SLACK_WEBHOOKURL", "ELASTICSEARCH_HOSTPORT", "LOKI_HOSTPORT", "WEBHOOK_ADDRESS"} {
		v, ok := hub.Environment[fwd]
		if !ok {
			t.Errorf("hub does not pass %s through", fwd)
		} else if v != nil {
			t.Errorf("hub sets %s=%q; leave it bare so an unset variable stays unset", fwd, *v)
		}
	}
	if hub.Build == nil || hub.Build.Dockerfile != "deploy/Dockerfile" {
		t.Error("hub build must use deploy/Dockerfile")
	}

	sen := cf.Services["sensor"]
	if sen.Pid != "host" {
		t.Error("sensor needs pid: host")
	}
	if sen.User != "0:0" && sen.User != "0" && sen.User != "root" {
		t.Errorf("sensor user %q: must be root (the image defaults to the hub's user)", sen.User)
	}
	// SYS_ADMIN stands in for BPF and PERFMON: Docker 20.10 (Debian 12)
	// rejects those two names, and the kernel accepts SYS_ADMIN for both.
	for _, c := range []string{"SYS_ADMIN", "SYS_PTRACE", "KILL"} {
		if !slices.Contains(sen.CapAdd, c) {
			t.Errorf("sensor cap_add lacks %s", c)
		}
	}
	for _, c := range []string{"BPF", "PERFMON", "CHECKPOINT_RESTORE"} {
		if slices.Contains(sen.CapAdd, c) {
			t.Errorf("sensor cap_add has %s, which Docker 20.10 rejects (unknown capability)", c)
		}
	}
	if slices.Contains(sen.CapAdd, "SYS_RESOURCE") {
		t.Error("sensor must not need SYS_RESOURCE")
	}
	if !slices.Contains(sen.CapDrop, "ALL") {
		t.Error("sensor should drop every capability it does not add")
	}
	wantVols := []string{
		"/sys/kernel/btf:/sys/kernel/btf:ro",
		"/sys/kernel/tracing:/sys/kernel/tracing:ro",
		"/sys/kernel/debug:/sys/kernel/debug:ro",
		"/proc:/host/proc:ro",
		"/etc:/host/etc:ro",
		"/var/run/docker.sock:/var/run/docker.sock:ro",
		// block_network: pins on the host's bpffs (read-write), the
		// host's cgroup tree to attach through.
		"/sys/fs/bpf:/sys/fs/bpf",
		"/sys/fs/cgroup:/host/sys/fs/cgroup:ro",
	}
	for _, v := range wantVols {
		if !slices.Contains(sen.Volumes, v) {
			t.Errorf("sensor lacks volume %s", v)
		}
	}
	if sen.Healthcheck == nil || len(sen.Healthcheck.Test) == 0 {
		t.Error("sensor: no healthcheck")
	}
	checkNamedVolume(t, cf, "sensor", "/var/lib/saker")
	if !slices.ContainsFunc(sen.Command, func(s string) bool { return strings.Contains(s, "http_output.url=http://hub:2801") }) {
		t.Errorf("sensor command %v must send to http://hub:2801", sen.Command)
	}
}

func checkNamedVolume(t *testing.T, cf composeFile, svc, path string) {
	t.Helper()
	for _, v := range cf.Services[svc].Volumes {
		src, dst, _ := strings.Cut(v, ":")
		if strings.HasPrefix(dst, path) && !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, ".") {
			if _, ok := cf.Volumes[src]; !ok {
				t.Errorf("%s: volume %s is not declared at the top level", svc, src)
			}
			return
		}
	}
	t.Errorf("%s: %s is not on a named volume", svc, path)
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// TestEnvExampleDocumentsCompose: every variable the compose file reads, by
// interpolation or as a bare pass-through, is documented in .env.example.
func TestEnvExampleDocumentsCompose(t *testing.T) {
	cf, raw := loadCompose(t)
	used := map[string]bool{}
	for _, m := range interpolation.FindAllSubmatch(raw, -1) {
		used[string(m[1])] = true
	}
	for _, s := range cf.Services {
		for k, v := range s.Environment {
			if v == nil {
				used[k] = true
			}
		}
	}
	f, err := os.Open("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	documented := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || !envName.MatchString(k) {
			t.Errorf(".env.example:%d: %q is not NAME=value", n, line)
			continue
		}
		if documented[k] {
			t.Errorf(".env.example:%d: %s twice", n, k)
		}
		documented[k] = true
	}
	var missing []string
	for k := range used {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf(".env.example does not document %v", missing)
	}
}

// --- Dockerfiles --------------------------------------------------------------

type instruction struct {
	cmd, args string
	line      int
}

var knownInstructions = map[string]bool{
	"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "EXPOSE": true, "ENV": true, "ADD": true,
	"COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true, "WORKDIR": true, "ARG": true,
	"ONBUILD": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true,
}

// parseDockerfile splits a Dockerfile into instructions, joining "\"
// continuations and dropping comments, and rejects unknown instructions.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(l)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue // comment inside a continuation
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cmd = strings.ToUpper(cmd)
		if !knownInstructions[cmd] {
			t.Errorf("%s:%d: unknown instruction %q", path, start, cmd)
		}
		out = append(out, instruction{cmd, strings.TrimSpace(args), start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Errorf("%s: ends inside a line continuation", path)
	}
	return out
}

func TestDockerfiles(t *testing.T) {
	for _, path := range []string{"Dockerfile", "Dockerfile.prebuilt"} {
		t.Run(path, func(t *testing.T) {
			ins := parseDockerfile(t, path)
			lastFrom := -1
			for i, in := range ins {
				if in.cmd == "FROM" {
					lastFrom = i
				}
			}
			if lastFrom < 0 {
				t.Fatal("no FROM")
			}
			if f := strings.Fields(ins[lastFrom].args); f[0] != "scratch" {
				t.Errorf("final stage FROM %s, want scratch (nothing to pull, nothing but saker inside)", f[0])
			}
			var user, entry string
			for _, in := range ins[lastFrom:] {
				switch in.cmd {
				case "USER":
					user = in.args
				case "ENTRYPOINT":
					entry = in.args
				}
			}
			if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
				t.Errorf("final stage USER %q: the hub must run as a non-root user", user)
			}
			if !strings.Contains(entry, "/usr/bin/saker") {
				t.Errorf("ENTRYPOINT %q, want /usr/bin/saker", entry)
			}
			if path == "Dockerfile" && !slices.ContainsFunc(ins, func(in instruction) bool {
				return in.cmd == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "./cmd/saker")
			}) {
				t.Error("build stage must build ./cmd/saker with CGO_ENABLED=0 (static, runs on scratch)")
			}
		})
	}
	// Repository files the source build copies must exist.
	for _, in := range parseDockerfile(t, "Dockerfile") {
		for _, w := range strings.Fields(in.args) {
			if strings.HasPrefix(w, "deploy/") || strings.HasPrefix(w, "sensor/") || strings.HasPrefix(w, "./cmd/") {
				if _, err := os.Stat(filepath.Join("..", w)); err != nil {
					t.Errorf("Dockerfile:%d uses %s: %v", in.line, w, err)
				}
			}
		}
	}
	// The prebuilt Dockerfile's COPY sources are what build-image.sh stages.
	script, err := os.ReadFile("build-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range parseDockerfile(t, "Dockerfile.prebuilt") {
		if in.cmd != "COPY" {
			continue
		}
		f := strings.Fields(in.args)
		for _, src := range f[:len(f)-1] {
			if strings.HasPrefix(src, "--") {
				continue
			}
			if !strings.Contains(string(script), `"$ctx/`+strings.TrimSuffix(src, "/")) {
				t.Errorf("Dockerfile.prebuilt copies %s, which build-image.sh does not stage", src)
			}
		}
	}
}
