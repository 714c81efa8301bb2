package k8saudit

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/engine"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/rules"
)

// stageTS is base's stageTimestamp.
var stageTS = time.Date(2026, 11, 30, 12, 0, 0, 12345000, time.UTC)

// extractField returns a field's value as text ("(a,b)" for lists), or "<NA>".
func extractField(t *testing.T, x ev, field string) string {
	t.Helper()
	name, arg, hasArg := field, "", false
	if i := strings.IndexByte(field, '['); i > 0 {
		name, arg, hasArg = field[:i], strings.TrimSuffix(field[i+1:], "]"), true
	}
	r, err := Fields{}.Resolve(name, arg, hasArg)
	if err != nil {
		t.Fatalf("%s: %v", field, err)
	}
	var p fastjson.Parser
	evs, err := Decode(&p, mustJSON(t, x), time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := r.Extract(&event.Event{Plugin: &evs[0]})
	switch {
	case !ok:
		return NA
	case v.IsList:
		return "(" + strings.Join(v.List, ",") + ")"
	}
	return v.S
}

func TestFields(t *testing.T) {
	// kubectl exec by an impersonating admin, as the API server logs it.
	exec := base("create", "pods", "dev", "web-1").sub("exec").set("stage", "ResponseStarted").
		set("requestURI", "/api/v1/namespaces/dev/pods/web-1/exec?command=cat&command=%2Fetc%2Fshadow&container=c&stdin=true").
		set("impersonatedUser", map[string]any{"username": "system:serviceaccount:dev:deployer", "groups": []any{"system:serviceaccounts"}}).
		set("responseStatus", map[string]any{"metadata": map[string]any{}, "code": 101})
	priv := pod("dev", map[string]any{
		"securityContext": map[string]any{"runAsUser": 1000},
		"containers": ctrs(
			map[string]any{"name": "app", "image": "registry.example.com/app@sha256:abcd", "securityContext": map[string]any{"privileged": true, "capabilities": map[string]any{"add": []any{"NET_ADMIN", "SYS_TIME"}}}, "ports": []any{map[string]any{"containerPort": 8080, "hostPort": 80}}},
			map[string]any{"name": "side", "image": "nginx:1.25", "securityContext": map[string]any{"runAsUser": 0}, "ports": []any{map[string]any{"containerPort": 9090}}}),
		"initContainers":      ctrs(map[string]any{"name": "init", "image": "busybox:1.36", "command": []any{"sh", "-c", "true"}}),
		"ephemeralContainers": ctrs(map[string]any{"name": "debugger", "image": "busybox:1.36", "securityContext": map[string]any{"privileged": true}}),
		"volumes":             []any{map[string]any{"name": "cfg", "configMap": map[string]any{"name": "cfg"}}, map[string]any{"name": "root", "hostPath": map[string]any{"path": "/etc/kubernetes"}}},
	})
	for _, c := range []struct {
		x     ev
		field string
		want  string
	}{
		{exec, "ka.user.name", "alice"},
		{exec, "ka.impuser.name", "system:serviceaccount:dev:deployer"},
		{base("get", "pods", "dev", "x"), "ka.impuser.name", NA},
		{exec, "ka.user.groups", "(developers,system:authenticated)"},
		{exec, "ka.target.subresource", "exec"},
		{exec, "ka.uri.param[command]", "cat"},
		{exec, "ka.uri.param[nope]", NA},
		{exec, "ka.response.code", "101"},
		{exec, "ka.stage", "ResponseStarted"},
		{exec, "jevt.value[/stage]", "ResponseStarted"},
		{exec, "json.value[/impersonatedUser/groups]", `["system:serviceaccounts"]`},
		{exec, "json.value[/annotations/authorization.k8s.io~1decision]", "allow"},
		{exec, "jevt.rawtime", strconv.FormatInt(stageTS.UnixNano(), 10)},
		{exec, "ka.auth.decision", "allow"},
		{exec, "ka.sourceips", "(10.0.0.5)"},
		{exec, "ka.useragent", "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"},
		{priv, "ka.resp.name", "web-1"},
		{priv, "ka.req.pod.containers.image", "(registry.example.com/app@sha256:abcd,nginx:1.25)"},
		{priv, "ka.req.pod.containers.image.repository", "(registry.example.com/app,nginx)"},
		{priv, "ka.req.pod.containers.image[1]", "(nginx:1.25)"},
		{priv, "ka.req.pod.containers.image[5]", NA},
		{priv, "ka.req.container.image", "registry.example.com/app@sha256:abcd"},
		{priv, "ka.req.container.privileged", "true"},
		{priv, "ka.req.pod.containers.privileged", "(true)"},
		{priv, "ka.req.pod.initContainers.privileged", NA},
		{priv, "ka.req.pod.ephemeralContainers.privileged", "(true)"},
		{priv, "ka.req.pod.initContainers.command", `(["sh","-c","true"])`},
		{priv, "ka.req.pod.containers.add_capabilities", "(NET_ADMIN,SYS_TIME)"},
		{priv, "ka.req.pod.containers.host_port", "(80,9090)"},
		{priv, "ka.req.pod.containers.run_as_user", "(0)"},
		{priv, "ka.req.pod.containers.eff_run_as_user", "(1000,0)"},
		{priv, "ka.req.pod.containers.eff_run_as_group", "(0,0)"},
		{priv, "ka.req.pod.volumes.hostpath", "(/etc/kubernetes)"},
		{priv, "ka.req.volume.hostpath[/etc*]", "true"},
		{priv, "ka.req.volume.hostpath[/etc]", "false"},
		{priv, "ka.req.pod.volumes.volume_type", "(configMap,hostPath)"},
		{priv, "ka.req.pod.host_network", NA},
		{binding("cluster-admin"), "ka.req.binding.role", "cluster-admin"},
		{binding("cluster-admin"), "ka.req.binding.subjects", `({"kind":"User","name":"mallory"})`},
		{role("clusterroles", []any{"get", "list"}, []any{"pods", "pods/exec"}), "ka.req.role.rules.verbs", "(get,list)"},
		{role("clusterroles", []any{"get"}, []any{"pods"}), "ka.req.role.rules.nonResourceURLs", "()"},
		{base("update", "configmaps", "dev", "c").set("requestObject.data", map[string]any{"k": "v"}), "ka.req.configmap.obj", `{"k":"v"}`},
	} {
		if got := extractField(t, c.x, c.field); got != c.want {
			t.Errorf("%s = %q, want %q", c.field, got, c.want)
		}
	}
}

func TestDecode(t *testing.T) {
	one := string(mustJSON(t, base("get", "pods", "dev", "a")))
	now := time.Unix(100, 0)
	for _, c := range []struct {
		name, body string
		n          int
		err        string
	}{
		{"event", one, 1, ""},
		{"list", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + one + `,` + one + `]}`, 2, ""},
		{"empty list", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":null}`, 0, ""},
		{"no kind", `{"auditID":"x","stage":"ResponseComplete","verb":"get"}`, 1, ""},
		{"garbage", `{"kind":`, 0, "invalid JSON"},
		{"array", `[1]`, 0, "must be a JSON object"},
		{"other kind", `{"kind":"Pod","apiVersion":"v1"}`, 0, "unsupported apiVersion"},
		{"other kind same group", `{"kind":"Policy","apiVersion":"audit.k8s.io/v1"}`, 0, "unsupported kind"},
		{"bad items", `{"kind":"EventList","items":{}}`, 0, "items must be an array"},
		{"bad item", `{"kind":"EventList","items":[1]}`, 0, "items[0]"},
		{"bad second item", `{"kind":"EventList","items":[` + one + `,"x"]}`, 0, "items[1]"},
		{"not audit", `{"hello":"world"}`, 0, "not an audit event"},
	} {
		var p fastjson.Parser
		evs, err := Decode(&p, []byte(c.body), now, nil)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || len(evs) != 0 {
				t.Errorf("%s: err %v with %d events, want %q and none", c.name, err, len(evs), c.err)
			}
			continue
		}
		if err != nil || len(evs) != c.n {
			t.Errorf("%s: %d events, err %v; want %d", c.name, len(evs), err, c.n)
		}
	}
	var p fastjson.Parser
	evs, _ := Decode(&p, []byte(`{"auditID":"x","stage":"ResponseComplete"}`), now, nil)
	if evs[0].TS != now.UnixNano() {
		t.Errorf("no timestamp: TS %d, want receipt time", evs[0].TS)
	}
}

// TestAlertShape checks the alert Falco would print for a rule.
func TestAlertShape(t *testing.T) {
	e := engineFor(t)
	as := fired(t, e, binding("cluster-admin"))
	var a *alert.Alert
	for i := range as {
		if as[i].Rule == "Attach to cluster-admin Role" {
			a = &as[i]
		}
	}
	if a == nil {
		t.Fatalf("no alert: %v", ruleNames(as))
	}
	wantOut := `: Warning Cluster Role Binding to cluster-admin role (user=alice subject=({"kind":"User","name":"mallory"}))`
	if !strings.HasSuffix(a.Output, wantOut) {
		t.Errorf("output %q, want suffix %q", a.Output, wantOut)
	}
	if a.Priority != alert.PriorityWarning || !a.Time.Equal(stageTS) {
		t.Errorf("priority %v time %v", a.Priority, a.Time)
	}
	want := map[string]any{"ka.user.name": "alice", "ka.req.binding.subjects": []string{`{"kind":"User","name":"mallory"}`}, "evt.time": stageTS.UnixNano()}
	if !reflect.DeepEqual(a.OutputFields, want) {
		t.Errorf("output_fields %#v, want %#v", a.OutputFields, want)
	}
	if !reflect.DeepEqual(a.Tags, []string{"k8s"}) {
		t.Errorf("tags %v", a.Tags)
	}
}

// TestBothSources loads Falco's syscall rules and the k8s_audit rules
// together, as Falco with the k8saudit plugin does: each engine takes its
// own source's rules.
func TestBothSources(t *testing.T) {
	falco, err := os.ReadFile("../rules/testdata/falco_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := rules.NewLoader(RulesConfig(rules.Config{}))
	if err := l.Load("falco_rules.yaml", falco); err != nil {
		t.Fatal(err)
	}
	if err := l.Load(DefaultRulesName, DefaultRules); err != nil {
		t.Fatal(err)
	}
	rs, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	var sys, k8s int
	for _, r := range rs.Rules {
		switch r.Source {
		case "syscall":
			sys++
		case Source:
			k8s++
		}
	}
	if sys == 0 || k8s != 48 {
		t.Fatalf("%d syscall and %d k8s_audit rules", sys, k8s)
	}
	ke, err := NewEngine(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ke.Rules()) != 48 {
		t.Errorf("k8s engine has %d rules", len(ke.Rules()))
	}
	for _, r := range engine.New(rs, engine.Options{}).Rules() {
		if r.Source != "syscall" {
			t.Errorf("syscall engine took %s rule %q", r.Source, r.Name)
		}
	}
	// Without the k8s_audit source, the file fails like Falco without
	// the plugin.
	l = rules.NewLoader(rules.Config{})
	if err := l.Load(DefaultRulesName, DefaultRules); err == nil || !strings.Contains(err.Error(), "Plugin 'k8saudit' version '0.18.0' is required") {
		t.Errorf("load without the plugin: %v", err)
	}
}
