package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/internal/testpki"
	"github.com/saker-sec/saker/forwarders/webhook"
	"github.com/saker-sec/saker/hub/alert"
)

func sample() alert.Alert {
	return alert.Alert{
		UUID: "5b4e1a8c-2c3f-4a53-9a77-1b2c3d4e5f60", Output: "Shell spawned in container (user=root)",
		Priority: alert.PriorityWarning, Rule: "Terminal shell in container",
		Time:         time.Date(2026, 11, 23, 9, 0, 0, 123456789, time.UTC),
		OutputFields: map[string]any{"proc.name": "bash", "evt.time": json.Number("1763888400123456789")},
		Source:       "syscalls", Tags: []string{"shell", "container"}, Hostname: "node-1",
	}
}

const sampleJSON = `{"uuid":"5b4e1a8c-2c3f-4a53-9a77-1b2c3d4e5f60","output":"Shell spawned in container (user=root)","priority":"Warning","rule":"Terminal shell in container","time":"2026-11-23T09:00:00.123456789Z","output_fields":{"evt.time":1763888400123456789,"proc.name":"bash"},"source":"syscalls","tags":["shell","container"],"hostname":"node-1"}`

// received is one request the peer saw.
type received struct {
	method, path, contentType, ua, auth string
	body                                string
}

// peer is a webhook receiver that records requests and answers status.
type peer struct {
	mu     sync.Mutex
	got    []received
	status int
}

func (p *peer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.got = append(p.got, received{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), r.Header.Get("Authorization"), string(b)})
	st := p.status
	p.mu.Unlock()
	if st == 0 {
		st = http.StatusOK
	}
	w.WriteHeader(st)
}

func TestBody(t *testing.T) {
	a := sample()
	b, err := webhook.Body(&a)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != sampleJSON {
		t.Fatalf("body\n got %s\nwant %s", b, sampleJSON)
	}
}

func TestForward(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		status    int
		headers   map[string]string
		wantRetry bool
		wantErr   string
	}{
		{name: "post ok", method: "POST", status: 200, headers: map[string]string{"Authorization": "Bearer s3cret"}},
		{name: "put no content", method: "PUT", status: 204},
		{name: "server error retries", method: "POST", status: 503, wantRetry: true, wantErr: "HTTP 503"},
		{name: "throttled retries", method: "POST", status: 429, wantRetry: true, wantErr: "HTTP 429"},
		{name: "bad request is final", method: "POST", status: 400, wantErr: "HTTP 400"},
		{name: "auth refused is final", method: "POST", status: 401, wantErr: "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &peer{status: tt.status}
			srv := httptest.NewServer(p)
			defer srv.Close()
			f, err := webhook.New(webhook.Config{Address: srv.URL + "/falco", Method: tt.method,
				Common: settings.Common{CheckCert: true, CustomHeaders: tt.headers}}, outhttp.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			retry, err := f.Forward(context.Background(), []alert.Alert{sample()})
			if retry != tt.wantRetry || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Forward = %v, %v; want retry %v, err containing %q", retry, err, tt.wantRetry, tt.wantErr)
			}
			if len(p.got) != 1 {
				t.Fatalf("peer got %d requests, want 1", len(p.got))
			}
			g := p.got[0]
			want := received{tt.method, "/falco", "application/json; charset=utf-8", "Saker", tt.headers["Authorization"], sampleJSON}
			if g != want {
				t.Fatalf("request\n got %+v\nwant %+v", g, want)
			}
		})
	}
}

func TestForwardBatchStopsAtFirstFailure(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 2 {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	f, _ := webhook.New(webhook.Config{Address: srv.URL, Method: "POST", Common: settings.Common{CheckCert: true}}, outhttp.Options{}, nil)
	retry, err := f.Forward(context.Background(), []alert.Alert{sample(), sample(), sample()})
	if !retry || err == nil || !strings.Contains(err.Error(), "2 alert(s) not delivered") {
		t.Fatalf("Forward = %v, %v; want a retryable partial error for alerts 2 and 3", retry, err)
	}
	if n != 2 {
		t.Fatalf("peer saw %d requests, want 2 (stop after the failure)", n)
	}
}

func TestTLS(t *testing.T) {
	pki := testpki.New(t)
	tests := []struct {
		name                 string
		requireClient        bool
		checkCert, mutualTLS bool
		wantErr              bool
	}{
		{name: "self-signed refused with checkcert", checkCert: true, wantErr: true},
		{name: "self-signed accepted without checkcert", checkCert: false},
		{name: "mutual TLS", requireClient: true, checkCert: false, mutualTLS: true},
		{name: "client cert required but mutualtls off", requireClient: true, checkCert: false, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &peer{}
			srv := httptest.NewUnstartedServer(p)
			srv.TLS = pki.ServerTLS(tt.requireClient)
			srv.StartTLS()
			defer srv.Close()
			f, err := webhook.New(webhook.Config{Address: srv.URL, Method: "POST",
				Common: settings.Common{CheckCert: tt.checkCert, MutualTLS: tt.mutualTLS}},
				outhttp.Options{TLS: settings.TLS{MutualTLSFilesPath: pki.Dir}, Timeout: 5 * time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Forward(context.Background(), []alert.Alert{sample()})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Forward err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && len(p.got) != 1 {
				t.Fatalf("peer got %d requests", len(p.got))
			}
		})
	}
}

func TestMutualTLSMissingFilesFailsAtStart(t *testing.T) {
	_, err := webhook.New(webhook.Config{Address: "https://127.0.0.1:1", Method: "POST", Common: settings.Common{MutualTLS: true}},
		outhttp.Options{TLS: settings.TLS{MutualTLSFilesPath: t.TempDir()}}, nil)
	if err == nil || !strings.Contains(err.Error(), "client.crt") {
		t.Fatalf("New err = %v, want one naming the missing client.crt", err)
	}
}
