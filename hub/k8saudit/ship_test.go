package k8saudit

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestShipperDeliversAuditLog follows a log file written as the API
// server's log backend writes it and checks the hub side receives every
// event once, as gzip'd EventLists, across a hub outage (503).
func TestShipperDeliversAuditLog(t *testing.T) {
	ev, err := New(Options{Hostname: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var calls, events, alerts atomic.Int64
	got := make(chan struct{}, 10)
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, `{"error":"store down"}`, http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path != "/k8s-audit" || r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s %s encoding %q", r.Method, r.URL.Path, r.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		body, _ := io.ReadAll(zr)
		n, as, err := ev.Evaluate(body)
		if err != nil {
			t.Errorf("evaluate: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		events.Add(int64(n))
		alerts.Add(int64(len(as)))
		got <- struct{}{}
	}))
	defer hub.Close()

	path := filepath.Join(t.TempDir(), "audit.log")
	secretRead := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/dev/secrets/db","verb":"get","user":{"username":"system:serviceaccount:dev:app"},"objectRef":{"resource":"secrets","namespace":"dev","name":"db","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"stageTimestamp":"2026-11-30T12:00:00.000000Z"}`
	appendFile(t, path, secretRead+"\n{torn line\n"+secretRead+"\n"+secretRead+"\n")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var skipped atomic.Int64
	s := &Shipper{URL: hub.URL + "/k8s-audit", MaxBatch: 2, Linger: 5 * time.Millisecond}
	go func() {
		done <- s.Run(ctx, path, FollowOptions{FromStart: true, Poll: 2 * time.Millisecond, Skipped: func(string) { skipped.Add(1) }})
	}()
	for events.Load() < 3 {
		select {
		case <-got:
		case <-time.After(20 * time.Second):
			t.Fatalf("hub received %d events, want 3", events.Load())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if events.Load() != 3 || alerts.Load() != 3 || skipped.Load() != 1 || calls.Load() < 3 {
		t.Errorf("events %d alerts %d skipped %d calls %d; want 3, 3, 1, ≥3", events.Load(), alerts.Load(), skipped.Load(), calls.Load())
	}
}
