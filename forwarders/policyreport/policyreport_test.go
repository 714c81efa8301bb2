package policyreport_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/policyreport"
	"github.com/saker-sec/saker/hub/alert"
)

// apiServer is a loopback Kubernetes API server for the resources the
// output uses: namespaces (GET) and wgpolicyk8s.io/v1alpha2 policyreports
// and clusterpolicyreports (GET, POST, PUT). It checks the REST wire
// format as the real one does: bearer token, JSON content type, path,
// apiVersion/kind/name/namespace of the body matching the URL,
// resourceVersion on update (409 Conflict when stale), AlreadyExists on a
// second create, and answers errors as metav1.Status.
type apiServer struct {
	mu         sync.Mutex
	namespaces map[string]bool
	objects    map[string]map[string]any // path → object
	rv         int
	// beforePut, when set, runs once before the next PUT is handled: a
	// concurrent writer.
	beforePut func()
	status    int // when set, every report request gets this status
	writes    int
}

func newAPIServer(namespaces ...string) *apiServer {
	s := &apiServer{namespaces: map[string]bool{}, objects: map[string]map[string]any{}}
	for _, ns := range namespaces {
		s.namespaces[ns] = true
	}
	return s
}

func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code})
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer t0k" {
		writeStatus(w, 401, "Unauthorized", "Unauthorized")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	p := r.URL.Path
	if ns, ok := strings.CutPrefix(p, "/api/v1/namespaces/"); ok && r.Method == http.MethodGet && !strings.Contains(ns, "/") {
		if !s.namespaces[ns] {
			writeStatus(w, 404, "NotFound", fmt.Sprintf("namespaces %q not found", ns))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
		return
	}
	const group = "/apis/wgpolicyk8s.io/v1alpha2/"
	rest, ok := strings.CutPrefix(p, group)
	if !ok {
		writeStatus(w, 404, "NotFound", "the server could not find the requested resource")
		return
	}
	if s.status != 0 {
		writeStatus(w, s.status, http.StatusText(s.status), "injected")
		return
	}
	// namespaces/{ns}/policyreports[/{name}] or clusterpolicyreports[/{name}]
	parts := strings.Split(rest, "/")
	var ns, kind, collection string
	switch {
	case len(parts) >= 3 && parts[0] == "namespaces" && parts[2] == "policyreports":
		ns, kind, collection, parts = parts[1], "PolicyReport", group+"namespaces/"+parts[1]+"/policyreports", parts[3:]
	case parts[0] == "clusterpolicyreports":
		kind, collection, parts = "ClusterPolicyReport", group+"clusterpolicyreports", parts[1:]
	default:
		writeStatus(w, 404, "NotFound", "the server could not find the requested resource")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			writeStatus(w, 415, "UnsupportedMediaType", "want application/json")
			return
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			writeStatus(w, 400, "BadRequest", err.Error())
			return
		}
		md, _ := body["metadata"].(map[string]any)
		if body["apiVersion"] != "wgpolicyk8s.io/v1alpha2" || body["kind"] != kind || md == nil || (ns != "" && md["namespace"] != ns) {
			writeStatus(w, 400, "BadRequest", "object does not match the URL")
			return
		}
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 1:
		obj, ok := s.objects[collection+"/"+parts[0]]
		if !ok {
			writeStatus(w, 404, "NotFound", fmt.Sprintf("%s %q not found", kind, parts[0]))
			return
		}
		_ = json.NewEncoder(w).Encode(obj)
	case r.Method == http.MethodPost && len(parts) == 0:
		name, _ := body["metadata"].(map[string]any)["name"].(string)
		if _, exists := s.objects[collection+"/"+name]; exists {
			writeStatus(w, 409, "AlreadyExists", fmt.Sprintf("%s %q already exists", kind, name))
			return
		}
		s.store(collection+"/"+name, body)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(body)
	case r.Method == http.MethodPut && len(parts) == 1:
		if s.beforePut != nil {
			f := s.beforePut
			s.beforePut = nil
			f()
		}
		key := collection + "/" + parts[0]
		old, ok := s.objects[key]
		if !ok {
			writeStatus(w, 404, "NotFound", "not found")
			return
		}
		if body["metadata"].(map[string]any)["resourceVersion"] != old["metadata"].(map[string]any)["resourceVersion"] {
			writeStatus(w, 409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again")
			return
		}
		s.store(key, body)
		_ = json.NewEncoder(w).Encode(body)
	default:
		writeStatus(w, 405, "MethodNotAllowed", r.Method)
	}
}

// store keeps obj with a new resourceVersion.
func (s *apiServer) store(key string, obj map[string]any) {
	s.rv++
	s.writes++
	obj["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(s.rv)
	s.objects[key] = obj
}

// bump is another writer updating the object.
func (s *apiServer) bump(key string) {
	obj := s.objects[key]
	res, _ := obj["results"].([]any)
	obj["results"] = append(res, map[string]any{"source": "Falco", "policy": "other-hub", "result": "warn"})
	s.rv++
	obj["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(s.rv)
}

func (s *apiServer) report(t *testing.T, key string) map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.objects["/apis/wgpolicyk8s.io/v1alpha2/"+key]
	if !ok {
		t.Fatalf("no report %s; have %v", key, s.objects)
	}
	b, _ := json.Marshal(obj)
	var cp map[string]any
	_ = json.Unmarshal(b, &cp)
	return cp
}

// kubeconfig names the server and its CA and a bearer token (clientcmd
// sends credentials only over TLS, as a real cluster is reached).
func kubeconfig(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: saker
  user:
    token: t0k
contexts:
- name: test
  context:
    cluster: test
    user: saker
current-context: test
`, srv.URL, ca)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func forwarder(t *testing.T, s *apiServer, extra map[string]string) *policyreport.Forwarder {
	t.Helper()
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	vars := map[string]string{"POLICYREPORT_ENABLED": "true", "POLICYREPORT_KUBECONFIG": kubeconfig(t, srv), "POLICYREPORT_FALCONAMESPACE": "falco"}
	for k, v := range extra {
		vars[k] = v
	}
	src := testpeer.Env(vars)
	cfg, ok := policyreport.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := policyreport.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRecordsIntoReports(t *testing.T) {
	s := newAPIServer("prod", "falco")
	f := forwarder(t, s, map[string]string{"POLICYREPORT_MAXEVENTS": "3"})
	pod := testpeer.Sample() // k8s.ns.name prod, k8s.pod.name api-1
	gone := testpeer.Sample()
	gone.OutputFields = map[string]any{"k8s.ns.name": "gone", "k8s.pod.name": "p"}
	host := testpeer.Sample()
	host.OutputFields, host.Priority = map[string]any{"proc.name": "sshd"}, alert.PriorityCritical
	if _, err := f.Forward(context.Background(), []alert.Alert{pod, gone, host}); err != nil {
		t.Fatal(err)
	}
	if s.writes != 3 {
		t.Fatalf("%d writes, want one per report", s.writes)
	}
	prod := s.report(t, "namespaces/prod/policyreports/falco-policy-report")
	md := prod["metadata"].(map[string]any)
	if md["labels"].(map[string]any)["app.kubernetes.io/managed-by"] != "saker" {
		t.Fatalf("metadata %v", md)
	}
	b, _ := json.Marshal(prod["results"])
	testpeer.JSONEqual(t, b, `[{"source":"Falco","policy":"syscalls","rule":"Terminal shell in container",
		"category":"SI - System and Information Integrity","severity":"medium","result":"warn",
		"timestamp":{"seconds":1795424400,"nanos":123456789},
		"resources":[{"kind":"Pod","namespace":"prod","name":"api-1","apiVersion":"v1"}],
		"message":"Shell spawned in container (user=root)",
		"properties":{"proc.name":"bash","evt.time":"1763888400123456789","k8s.ns.name":"prod","k8s.pod.name":"api-1","container.image.tag":""}}]`)
	b, _ = json.Marshal(prod["summary"])
	testpeer.JSONEqual(t, b, `{"pass":0,"fail":0,"warn":1,"error":0,"skip":0}`)

	// A namespace that does not exist: the fallback namespace's report,
	// the subject moved there, as falcosidekick does.
	fb := s.report(t, "namespaces/falco/policyreports/falco-policy-report")
	if r := fb["results"].([]any)[0].(map[string]any)["resources"].([]any)[0].(map[string]any); r["namespace"] != "falco" {
		t.Fatalf("fallback subject %v", r)
	}
	cl := s.report(t, "clusterpolicyreports/falco-cluster-policy-report")
	if r := cl["results"].([]any)[0].(map[string]any); r["severity"] != "critical" || r["result"] != "fail" || r["resources"] != nil {
		t.Fatalf("cluster result %v", r)
	}

	// Later alerts are appended; past POLICYREPORT_MAXEVENTS the oldest go.
	var more []alert.Alert
	for i := 0; i < 3; i++ {
		a := testpeer.Sample()
		a.Rule = fmt.Sprintf("R%d", i)
		more = append(more, a)
	}
	if _, err := f.Forward(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	prod = s.report(t, "namespaces/prod/policyreports/falco-policy-report")
	var rules []string
	for _, r := range prod["results"].([]any) {
		rules = append(rules, r.(map[string]any)["rule"].(string))
	}
	if strings.Join(rules, ",") != "R0,R1,R2" {
		t.Fatalf("results after pruning %v", rules)
	}
}

// TestConcurrentWriterNotOverwritten: another hub updates the report
// between our read and write; the write is refused (stale
// resourceVersion), read again and retried, and both results stay.
func TestConcurrentWriterNotOverwritten(t *testing.T) {
	s := newAPIServer("prod")
	f := forwarder(t, s, nil)
	if _, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err != nil {
		t.Fatal(err)
	}
	s.beforePut = func() { s.bump("/apis/wgpolicyk8s.io/v1alpha2/namespaces/prod/policyreports/falco-policy-report") }
	if _, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err != nil {
		t.Fatal(err)
	}
	res := s.report(t, "namespaces/prod/policyreports/falco-policy-report")["results"].([]any)
	if len(res) != 3 || res[1].(map[string]any)["policy"] != "other-hub" {
		t.Fatalf("results %v; want ours, the other hub's, ours", res)
	}
}

func TestAnswers(t *testing.T) {
	for _, tt := range []struct {
		status    int
		wantRetry bool
	}{{403, false}, {404, false}, {503, true}, {429, true}} {
		s := newAPIServer("prod")
		s.status = tt.status
		f := forwarder(t, s, nil)
		retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
		if err == nil || retry != tt.wantRetry {
			t.Errorf("status %d: Forward = %v, %v; want retry %v", tt.status, retry, err, tt.wantRetry)
		}
	}
}

func TestPruneByPriority(t *testing.T) {
	s := newAPIServer("prod")
	f := forwarder(t, s, map[string]string{"POLICYREPORT_MAXEVENTS": "2", "POLICYREPORT_PRUNEBYPRIORITY": "true"})
	var as []alert.Alert
	for _, p := range []alert.Priority{alert.PriorityCritical, alert.PriorityNotice, alert.PriorityError} {
		a := testpeer.Sample()
		a.Priority = p
		as = append(as, a)
	}
	if _, err := f.Forward(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	var sev []string
	for _, r := range s.report(t, "namespaces/prod/policyreports/falco-policy-report")["results"].([]any) {
		sev = append(sev, r.(map[string]any)["severity"].(string))
	}
	if strings.Join(sev, ",") != "critical,high" {
		t.Fatalf("kept %v; want the two most severe", sev)
	}
}

func TestLoadNeedsACluster(t *testing.T) {
	src := testpeer.Env(map[string]string{"POLICYREPORT_ENABLED": "true"})
	if _, ok := policyreport.Load(src); !ok || src.Err() == nil {
		t.Fatalf("enabled without kubeconfig or pod: err %v", src.Err())
	}
	src = testpeer.Env(map[string]string{"POLICYREPORT_ENABLED": "true", "KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"})
	cfg, _ := policyreport.Load(src)
	if src.Err() != nil || cfg.APIServer != "https://10.0.0.1:443" || cfg.MaxEvents != 1000 {
		t.Fatalf("in cluster: %+v, %v", cfg, src.Err())
	}
	if _, ok := policyreport.Load(testpeer.Env(nil)); ok {
		t.Fatal("enabled by default")
	}
}
