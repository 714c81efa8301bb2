// Package testpeer is a loopback HTTP peer for forwarder tests: it records
// each request and answers with a programmable status, so a test checks
// the exact wire format (method, path, headers, body) a service documents
// and how the forwarder classifies the answer.
package testpeer

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Request is one request the peer received.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// Peer records requests and answers them.
type Peer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []Request
	// Status answers every request (200 when 0); RetryAfter, when set, is
	// sent as a Retry-After header; Reply is the response body.
	Status     int
	RetryAfter int
	Reply      string
	// Check, when set, validates a request the way the real service does
	// and returns the status it would answer (0 = accept).
	Check func(Request) (int, string)
}

// New starts a peer on a loopback port; it stops at the end of the test.
func New(t testing.TB) *Peer {
	p := &Peer{}
	p.Server = httptest.NewServer(p)
	t.Cleanup(p.Close)
	return p
}

// NewTLS starts a peer over TLS with httptest's self-signed certificate.
func NewTLS(t testing.TB) *Peer {
	p := &Peer{}
	p.Server = httptest.NewTLSServer(p)
	t.Cleanup(p.Close)
	return p
}

func (p *Peer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: b}
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	status, reply, check := p.Status, p.Reply, p.Check
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	p.mu.Unlock()
	if check != nil {
		if st, msg := check(req); st != 0 {
			status, reply = st, msg
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply)
}

// Requests returns what the peer received so far.
func (p *Peer) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

// Only returns the single request received, failing the test otherwise.
func (p *Peer) Only(t testing.TB) Request {
	t.Helper()
	r := p.Requests()
	if len(r) != 1 {
		t.Fatalf("peer got %d requests, want 1", len(r))
	}
	return r[0]
}

// Strict decodes body into v rejecting unknown fields and trailing data:
// the check a typed server-side decoder of the service's schema makes.
func Strict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// Sample is a typical alert: string, numeric and null output fields,
// tags, a hostname and Kubernetes names.
func Sample() alert.Alert {
	return alert.Alert{
		UUID: "5b4e1a8c-2c3f-4a53-9a77-1b2c3d4e5f60", Output: "Shell spawned in container (user=root)",
		Priority: alert.PriorityWarning, Rule: "Terminal shell in container",
		Time: time.Date(2026, 11, 23, 9, 0, 0, 123456789, time.UTC),
		OutputFields: map[string]any{
			"proc.name": "bash", "evt.time": json.Number("1763888400123456789"),
			"k8s.ns.name": "prod", "k8s.pod.name": "api-1", "container.image.tag": nil,
		},
		Source: "syscalls", Tags: []string{"shell", "container", "T1059"}, Hostname: "node-1",
	}
}

// Env returns a settings source reading the given environment.
func Env(env map[string]string) *settings.Source {
	return settings.New(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
}

// JSONEqual fails the test unless got and want encode the same JSON value.
func JSONEqual(t testing.TB, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("body\n got %s\nwant %s", gb, wb)
	}
}
