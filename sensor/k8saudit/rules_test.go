package k8saudit

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/rules"
)

// ev is an audit.k8s.io/v1 Event under construction, shaped as a
// kube-apiserver logs it at level RequestResponse.
type ev map[string]any

// base is a successful request by user alice (who is in no allowed list).
func base(verb, resource, ns, name string) ev {
	uri := "/api/v1/"
	if ns != "" {
		uri += "namespaces/" + ns + "/"
	}
	uri += resource
	if name != "" && verb != "create" {
		uri += "/" + name
	}
	ref := map[string]any{"resource": resource, "name": name, "apiVersion": "v1"}
	if ns != "" {
		ref["namespace"] = ns
	}
	code := 200
	if verb == "create" {
		code = 201
	}
	return ev{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
		"auditID": "6f2c0f4e-8a0b-4e38-9bd4-0b3a5c1d2e3f", "stage": "ResponseComplete",
		"requestURI": uri, "verb": verb,
		"user":      map[string]any{"username": "alice", "uid": "u-1", "groups": []any{"developers", "system:authenticated"}},
		"sourceIPs": []any{"10.0.0.5"}, "userAgent": "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
		"objectRef":                ref,
		"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": code},
		"requestReceivedTimestamp": "2026-11-30T12:00:00.000000Z",
		"stageTimestamp":           "2026-11-30T12:00:00.012345Z",
		"annotations": map[string]any{
			"authorization.k8s.io/decision": "allow",
			"authorization.k8s.io/reason":   `RBAC: allowed by ClusterRoleBinding "dev" of ClusterRole "edit" to Group "developers"`,
		},
	}
}

func (e ev) set(path string, v any) ev {
	keys := strings.Split(path, ".")
	m := map[string]any(e)
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
	return e
}

func (e ev) del(key string) ev { delete(e, key); return e }

func (e ev) user(name string) ev { return e.set("user.username", name) }
func (e ev) code(c int) ev       { return e.set("responseStatus.code", c) }
func (e ev) sub(s string) ev {
	e.set("objectRef.subresource", s)
	e["requestURI"] = e["requestURI"].(string) + "/" + s
	return e
}

// pod is a pod create carrying a requestObject with the given spec.
func pod(ns string, spec map[string]any) ev {
	e := base("create", "pods", ns, "web-1")
	e["requestObject"] = map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": map[string]any{"name": "web-1", "namespace": ns}, "spec": spec}
	e["responseObject"] = map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": map[string]any{"name": "web-1", "namespace": ns, "uid": "p-1"}}
	return e
}

func ctr(image string, sc map[string]any) map[string]any {
	c := map[string]any{"name": "c", "image": image}
	if sc != nil {
		c["securityContext"] = sc
	}
	return c
}

func ctrs(cs ...map[string]any) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = c
	}
	return out
}

func role(kind string, verbs, resources []any) ev {
	e := base("create", kind, "", "r1")
	if kind == "roles" {
		e = base("create", kind, "dev", "r1")
	}
	e["requestObject"] = map[string]any{"kind": "ClusterRole", "metadata": map[string]any{"name": "r1"},
		"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": resources, "verbs": verbs}}}
	return e
}

func binding(role string) ev {
	e := base("create", "clusterrolebindings", "", "b1")
	e["requestObject"] = map[string]any{"kind": "ClusterRoleBinding", "metadata": map[string]any{"name": "b1"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
		"subjects": []any{map[string]any{"kind": "User", "name": "mallory"}}}
	return e
}

// ruleCases: for every rule of k8s_audit_rules.yaml, an event that fires it
// and one, as close as possible, that does not. needsOverride marks the
// rules the official file ships switched off (always/never-true macros):
// they fire only with testdata/enable_all.yaml loaded after it.
var ruleCases = []struct {
	rule          string
	fire, nofire  ev
	needsOverride bool
}{
	{"Disallowed K8s User", base("get", "pods", "dev", "web-1"), base("get", "pods", "dev", "web-1").user("kubernetes-admin"), false},
	{"Create Disallowed Pod", pod("dev", map[string]any{"containers": ctrs(ctr("docker.io/evil/miner:latest", nil))}),
		pod("dev", map[string]any{"containers": ctrs(ctr("my-registry.example.com/allowed:1.2", nil))}), true},
	// A trusted image next to an untrusted one does not exempt the pod:
	// "in" on a list field needs every element in the list.
	{"Create Privileged Pod", pod("dev", map[string]any{
		"containers": ctrs(ctr("falcosecurity/falco:0.39", nil), ctr("docker.io/evil/miner:latest", map[string]any{"privileged": true}))}),
		pod("dev", map[string]any{"containers": ctrs(ctr("falcosecurity/falco:0.39", map[string]any{"privileged": true}))}), false},
	{"Create Sensitive Mount Pod", pod("dev", map[string]any{"containers": ctrs(ctr("nginx:1.25", nil)),
		"volumes": []any{map[string]any{"name": "cfg", "configMap": map[string]any{"name": "cfg"}}, map[string]any{"name": "sock", "hostPath": map[string]any{"path": "/var/run/docker.sock"}}}}),
		pod("dev", map[string]any{"containers": ctrs(ctr("nginx:1.25", nil)),
			"volumes": []any{map[string]any{"name": "data", "hostPath": map[string]any{"path": "/data"}}}}), false},
	{"Create HostNetwork Pod", pod("dev", map[string]any{"hostNetwork": true, "containers": ctrs(ctr("nginx:1.25", nil))}),
		pod("dev", map[string]any{"hostNetwork": true, "containers": ctrs(ctr("gke.gcr.io/kube-proxy:v1.29", nil))}), false},
	{"Create HostPid Pod", pod("dev", map[string]any{"hostPID": true, "containers": ctrs(ctr("nginx:1.25", nil))}),
		pod("dev", map[string]any{"hostPID": false, "containers": ctrs(ctr("nginx:1.25", nil))}), false},
	{"Create HostIPC Pod", pod("dev", map[string]any{"hostIPC": true, "containers": ctrs(ctr("nginx:1.25", nil))}),
		pod("dev", map[string]any{"containers": ctrs(ctr("nginx:1.25", nil))}), false},
	{"Create NodePort Service", base("create", "services", "dev", "web").set("requestObject.spec.type", "NodePort"),
		base("create", "services", "dev", "web").set("requestObject.spec.type", "ClusterIP"), false},
	{"Create/Modify Configmap With Private Credentials", base("update", "configmaps", "dev", "app").set("requestObject.data", map[string]any{"DB_URL": "postgres://db", "db_password": "hunter2"}),
		base("update", "configmaps", "dev", "app").set("requestObject.data", map[string]any{"color": "blue"}), false},
	{"Anonymous Request Allowed", base("get", "secrets", "dev", "").user("system:anonymous"),
		base("get", "", "", "").user("system:anonymous").set("requestURI", "/healthz?verbose"), false},
	{"Attach/Exec Pod", base("create", "pods", "dev", "web-1").sub("exec").set("stage", "ResponseStarted").set("requestURI", "/api/v1/namespaces/dev/pods/web-1/exec?command=sh&container=c&stdin=true&tty=true"),
		base("get", "pods", "dev", "web-1").sub("log").set("stage", "ResponseStarted"), false},
	{"port-forward", base("create", "pods", "dev", "web-1").sub("portforward"), base("create", "pods", "dev", "web-1").sub("status"), false},
	{"EphemeralContainers Created", base("patch", "pods", "dev", "web-1").sub("ephemeralcontainers"), base("get", "pods", "dev", "web-1").sub("ephemeralcontainers"), false},
	{"Create Disallowed Namespace", base("create", "namespaces", "", "crypto"), base("create", "namespaces", "", "default"), false},
	{"Pod Created in Kube Namespace", pod("kube-system", map[string]any{"containers": ctrs(ctr("docker.io/evil/miner:latest", nil))}),
		pod("kube-system", map[string]any{"containers": ctrs(ctr("registry.k8s.io/kube-apiserver:v1.29.2", nil))}), false},
	{"Service Account Created in Kube Namespace", base("create", "serviceaccounts", "kube-system", "backdoor"), base("create", "serviceaccounts", "kube-system", "coredns"), false},
	{"System ClusterRole Modified/Deleted", base("delete", "clusterroles", "", "system:node"), base("delete", "clusterroles", "", "system:coredns"), false},
	{"Attach to cluster-admin Role", binding("cluster-admin"), binding("view"), false},
	{"ClusterRole With Wildcard Created", role("clusterroles", []any{"get"}, []any{"*"}), role("clusterroles", []any{"get"}, []any{"pods"}), false},
	{"ClusterRole With Write Privileges Created", role("roles", []any{"get", "patch"}, []any{"pods"}), role("roles", []any{"get", "list"}, []any{"pods"}), false},
	{"ClusterRole With Pod Exec Created", role("clusterroles", []any{"create"}, []any{"pods/exec"}), role("clusterroles", []any{"create"}, []any{"pods"}), false},
	{"K8s Deployment Created", base("create", "deployments", "dev", "web"), base("create", "deployments", "dev", "web").code(409), false},
	{"K8s Deployment Deleted", base("delete", "deployments", "dev", "web"), base("delete", "deployments", "dev", "web").code(404), false},
	{"K8s Service Created", base("create", "services", "dev", "web"), base("create", "services", "dev", "web").code(422), false},
	{"K8s Service Deleted", base("delete", "services", "dev", "web"), base("delete", "services", "dev", "web").code(403), false},
	{"K8s ConfigMap Created", base("create", "configmaps", "dev", "cfg"), base("get", "configmaps", "dev", "cfg"), false},
	{"K8s ConfigMap Deleted", base("delete", "configmaps", "dev", "cfg"), base("delete", "configmaps", "dev", "cfg").code(403), false},
	{"K8s Namespace Created", base("create", "namespaces", "", "team-a"), base("create", "namespaces", "", "team-a").code(409), false},
	{"K8s Namespace Deleted", base("delete", "namespaces", "", "team-a"), base("delete", "namespaces", "", "team-a").user("system:serviceaccount:kube-system:namespace-controller"), false},
	{"K8s Serviceaccount Created", base("create", "serviceaccounts", "dev", "ci"), base("create", "serviceaccounts", "dev", "ci").code(403), false},
	{"K8s Serviceaccount Deleted", base("delete", "serviceaccounts", "dev", "ci"), base("delete", "serviceaccounts", "dev", "ci").code(403), false},
	{"K8s Role Created", role("roles", []any{"get"}, []any{"pods"}), role("roles", []any{"get"}, []any{"pods"}).code(403), false},
	{"K8s Role Deleted", base("delete", "roles", "dev", "r1"), base("delete", "roles", "dev", "r1").code(404), false},
	{"K8s ClusterRole Created", role("clusterroles", []any{"get"}, []any{"pods"}), role("clusterroles", []any{"get"}, []any{"pods"}).code(403), false},
	{"K8s ClusterRole Deleted", base("delete", "clusterroles", "", "r1"), base("delete", "clusterroles", "", "r1").code(403), false},
	{"K8s RoleBinding Created", base("create", "rolebindings", "dev", "b1"), base("create", "rolebindings", "dev", "b1").code(403), false},
	{"K8s RoleBinding Deleted", base("delete", "rolebindings", "dev", "b1"), base("delete", "rolebindings", "dev", "b1").code(403), false},
	{"K8s ClusterRoleBinding Created", binding("view"), binding("view").code(403), false},
	{"K8s ClusterRoleBinding Deleted", base("delete", "clusterrolebindings", "", "b1"), base("delete", "clusterrolebindings", "", "b1").code(403), false},
	{"K8s Secret Created", base("create", "secrets", "dev", "tls"), base("create", "secrets", "kube-system", "tls"), false},
	{"K8s Secret Deleted", base("delete", "secrets", "dev", "tls"), base("delete", "secrets", "dev", "tls").user("system:serviceaccount:dev:cleaner"), false},
	{"K8s Secret Get Successfully", base("get", "secrets", "dev", "tls"), base("get", "secrets", "dev", "tls").code(403), false},
	{"K8s Secret Get Unsuccessfully Tried", base("get", "secrets", "dev", "tls").code(403), base("get", "secrets", "dev", "tls"), false},
	{"All K8s Audit Events", base("list", "pods", "dev", ""), base("list", "pods", "dev", "").set("stage", "RequestReceived"), true},
	{"Full K8s Administrative Access", base("list", "pods", "dev", "").user("kubernetes-admin"), base("list", "pods", "dev", "").user("bob"), true},
	{"Ingress Object without TLS Certificate Created", base("create", "ingresses", "dev", "web").set("requestObject.spec.rules", []any{map[string]any{"host": "web.example.com"}}),
		base("create", "ingresses", "dev", "web").set("requestObject.spec.tls", []any{map[string]any{"hosts": []any{"web.example.com"}, "secretName": "web-tls"}}), false},
	{"Untrusted Node Successfully Joined the Cluster", base("create", "nodes", "", "node-7").user("system:node:node-7"), base("create", "nodes", "", "node-7").user("system:node:node-7").code(403), true},
	{"Untrusted Node Unsuccessfully Tried to Join the Cluster", base("create", "nodes", "", "node-7").user("system:node:node-7").code(403).set("responseStatus.reason", "Forbidden"), base("create", "nodes", "", "node-7").user("system:node:node-7"), true},
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fired evaluates one event with every rule (rule_matching: all).
func fired(t *testing.T, e *Engine, x ev) []alert.Alert {
	t.Helper()
	var p fastjson.Parser
	evs, err := Decode(&p, mustJSON(t, x), time.Now(), nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("decode: %v (%d events)", err, len(evs))
	}
	return e.Eval(nil, &evs[0])
}

func ruleNames(as []alert.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Rule)
	}
	return out
}

func engineFor(t *testing.T, extra ...string) *Engine {
	t.Helper()
	paths := append([]string{"k8s_audit_rules.yaml"}, extra...)
	rs, err := LoadRules(rules.Config{}, paths...)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rs, Options{All: true, Hostname: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEveryRuleFiresAndHolds proves each rule of the official file on a
// synthesized audit event that fires it and one that does not.
func TestEveryRuleFiresAndHolds(t *testing.T) {
	official := engineFor(t)
	enabled := engineFor(t, "testdata/enable_all.yaml")

	covered := map[string]bool{}
	for _, c := range ruleCases {
		covered[c.rule] = true
	}
	for _, r := range official.Rules() {
		if !covered[r.Name] {
			t.Errorf("rule %q has no test case", r.Name)
		}
	}
	if got := len(official.Rules()); got != 48 {
		t.Errorf("official file: %d enabled k8s_audit rules, want 48", got)
	}

	for _, c := range ruleCases {
		t.Run(c.rule, func(t *testing.T) {
			e := official
			if c.needsOverride {
				// Shipped switched off: the fire event does not fire
				// with the official file alone.
				if got := ruleNames(fired(t, official, c.fire)); slices.Contains(got, c.rule) {
					t.Errorf("fires without the override: %v", got)
				}
				e = enabled
			}
			as := fired(t, e, c.fire)
			i := slices.IndexFunc(as, func(a alert.Alert) bool { return a.Rule == c.rule })
			if i < 0 {
				t.Fatalf("did not fire; fired %v", ruleNames(as))
			}
			a := as[i]
			if a.Source != Source || a.Hostname != "test" || strings.Contains(a.Output, "%ka.") {
				t.Errorf("alert: source %q hostname %q output %q", a.Source, a.Hostname, a.Output)
			}
			if got := ruleNames(fired(t, e, c.nofire)); slices.Contains(got, c.rule) {
				t.Errorf("fired on the negative event; fired %v", got)
			}
		})
	}
}
