// Package k8spodtest is a loopback Kubernetes API server for tests of pod
// actions: it serves the pods endpoints over TLS (with a kubeconfig that
// trusts it and carries a bearer token), keeps pods in memory, applies
// merge patches and deletes as the real server does, and records every
// request so a test can check the exact REST calls made.
package k8spodtest

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Token is the bearer token the kubeconfig carries and the server wants.
const Token = "saker-test-token"

// Call is one request the server received.
type Call struct {
	Method, Path, ContentType, Query string
	Body                             []byte
}

// Pod is a stored pod's metadata.
type Pod struct {
	Labels, Annotations map[string]string
}

// Server is the loopback API server.
type Server struct {
	*httptest.Server
	// Kubeconfig is a kubeconfig file naming the server, its CA and Token.
	Kubeconfig string
	// Calls receives every request as it is served (buffered; tests read
	// it to wait for an action instead of sleeping).
	Calls chan Call

	mu   sync.Mutex
	pods map[string]*Pod // "ns/name"
}

// New starts a server holding the given pods ("namespace/name"); it stops
// when the test ends.
func New(t testing.TB, podNames ...string) *Server {
	t.Helper()
	s := &Server{Calls: make(chan Call, 1024), pods: map[string]*Pod{}}
	for _, p := range podNames {
		s.pods[p] = &Pod{Labels: map[string]string{"app": "demo"}, Annotations: map[string]string{}}
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	s.Kubeconfig = writeKubeconfig(t, s.Server)
	return s
}

// Pod returns a copy of a stored pod, or false once it is deleted.
func (s *Server) Pod(key string) (Pod, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[key]
	if !ok {
		return Pod{}, false
	}
	cp := Pod{Labels: map[string]string{}, Annotations: map[string]string{}}
	for k, v := range p.Labels {
		cp.Labels[k] = v
	}
	for k, v := range p.Annotations {
		cp.Annotations[k] = v
	}
	return cp, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.Calls <- Call{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Query: r.URL.RawQuery, Body: body}
	if r.Header.Get("Authorization") != "Bearer "+Token {
		status(w, http.StatusUnauthorized, "Unauthorized", "")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[1] != "pods" {
		status(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
		return
	}
	ns, name := parts[0], parts[2]
	key := ns + "/" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[key]
	if !ok {
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("pods %q not found", name))
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPatch:
		if r.Header.Get("Content-Type") != "application/merge-patch+json" {
			status(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "want a merge patch")
			return
		}
		var patch struct {
			Metadata struct {
				Labels      map[string]*string `json:"labels"`
				Annotations map[string]*string `json:"annotations"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(body, &patch); err != nil {
			status(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		merge(p.Labels, patch.Metadata.Labels)
		merge(p.Annotations, patch.Metadata.Annotations)
	case http.MethodDelete:
		delete(s.pods, key)
	default:
		status(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": p.Labels, "annotations": p.Annotations},
	})
}

// merge applies RFC 7386 to a flat map: null removes a key.
func merge(dst map[string]string, patch map[string]*string) {
	for k, v := range patch {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = *v
		}
	}
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": msg,
	})
}

// writeKubeconfig names the server, its CA and Token (client-go sends a
// bearer token only over TLS, as to a real cluster).
func writeKubeconfig(t testing.TB, srv *httptest.Server) string {
	t.Helper()
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: loopback
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: saker
  user:
    token: %s
contexts:
- name: loopback
  context:
    cluster: loopback
    user: saker
current-context: loopback
`, srv.URL, ca, Token)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
