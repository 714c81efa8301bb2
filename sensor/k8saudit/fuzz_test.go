package k8saudit

import (
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/saker-sec/saker/sensor/rules"
)

// FuzzDecodeEval feeds arbitrary webhook bodies through decoding and every
// rule of k8s_audit_rules.yaml (rule_matching: all): no panic, and an
// alert only from a body that decoded.
func FuzzDecodeEval(f *testing.F) {
	f.Add(mustJSON(f, map[string]any(base("get", "secrets", "dev", "db"))))
	f.Add(mustJSON(f, map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": []any{map[string]any(pod("kube-system", map[string]any{
		"hostNetwork": true, "containers": ctrs(ctr("evil:1", map[string]any{"privileged": true})),
		"volumes": []any{map[string]any{"name": "v", "hostPath": map[string]any{"path": "/"}}}}))}}))
	f.Add(mustJSON(f, map[string]any(role("clusterroles", []any{"*"}, []any{"pods/exec"}))))
	f.Add([]byte(`{"kind":"EventList","items":[{"requestObject":{"spec":{"containers":[1,"x",{"ports":7}],"volumes":[null]}}}]}`))
	f.Add([]byte(`{"auditID":"x","stage":"ResponseComplete","requestURI":"%zz?%","objectRef":[],"user":{"username":5}}`))
	rs, err := LoadRules(rules.Config{}, "k8s_audit_rules.yaml", "testdata/enable_all.yaml")
	if err != nil {
		f.Fatal(err)
	}
	e, err := NewEngine(rs, Options{All: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p fastjson.Parser
		evs, err := Decode(&p, body, time.Unix(0, 0), nil)
		if err != nil && len(evs) > 0 {
			t.Fatalf("error %v with %d events", err, len(evs))
		}
		for i := range evs {
			for _, a := range e.Eval(nil, &evs[i]) {
				if a.Source != Source || a.Rule == "" {
					t.Fatalf("alert %+v", a)
				}
			}
		}
	})
}
