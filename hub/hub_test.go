package hub

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/testutil"
)

// testConfig is the default configuration on a free loopback port.
func testConfig(t testing.TB, env map[string]string) *config.Config {
	t.Helper()
	m := map[string]string{"LISTENADDRESS": "127.0.0.1", "LISTENPORT": "0"}
	for k, v := range env {
		m[k] = v
	}
	cfg, err := config.LoadWith("", func(k string) (string, bool) { v, ok := m[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func startHub(t testing.TB, cfg *config.Config) *Hub {
	t.Helper()
	h, err := New(cfg, quietLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Stop(context.Background()) })
	return h
}

func alertBody(id string) string {
	return `{"uuid":"` + id + `","output":"load test","priority":"Notice","rule":"Load","time":"` +
		time.Now().UTC().Format(time.RFC3339Nano) + `","output_fields":{"evt.time":1795425121123456789,"n":"` + id + `"},"source":"syscall","hostname":"load"}`
}

// allUUIDs pages through the whole store.
func allUUIDs(t testing.TB, st store.Store) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	q := store.Query{Limit: store.MaxLimit}
	for i := 0; i < 10000; i++ {
		p, err := st.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			seen[e.UUID] = true
		}
		if p.Next == "" {
			break
		}
		q.Before = p.Next
	}
	return seen
}

// TestStopUnderLoadLosesNothing runs concurrent POSTs (single and batch)
// against a real hub, stops it mid-run, restarts it on the same data and
// checks every alert that was answered 200 is there.
func TestStopUnderLoadLosesNothing(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		testStopUnderLoad(t, map[string]string{"SAKER_DATA_DIR": t.TempDir()})
	})
	t.Run("redis", func(t *testing.T) {
		testStopUnderLoad(t, redisEnv(t))
	})
}

func testStopUnderLoad(t *testing.T, env map[string]string) {
	cfg := testConfig(t, env)
	h, err := New(cfg, quietLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	url := "http://" + h.Addr()

	var mu sync.Mutex
	acked := map[string]bool{}
	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var ids []string
				var body, path string
				if w%4 == 3 { // some workers send batches
					var b strings.Builder
					for j := 0; j < 10; j++ {
						id := uuid.NewString()
						ids = append(ids, id)
						b.WriteString(alertBody(id) + "\n")
					}
					body, path = b.String(), "/api/v1/events"
				} else {
					id := uuid.NewString()
					ids, body, path = []string{id}, alertBody(id), "/"
				}
				sent.Add(int64(len(ids)))
				resp, err := client.Post(url+path, "application/json", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					if errorsAfterStop(stop) {
						return
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					for _, id := range ids {
						acked[id] = true
					}
					mu.Unlock()
				}
			}
		}(w)
	}
	// Stop in the middle of the load: once enough alerts are acknowledged
	// to prove something, whatever the machine's speed.
	testutil.Eventually(t, 20*time.Second, "200 acknowledged alerts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	if err := h.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	cancel()
	close(stop)
	wg.Wait()

	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 50 {
		t.Fatalf("only %d alerts acknowledged before stop; load too light to prove anything", n)
	}

	h2 := startHub(t, cfg)
	seen := allUUIDs(t, h2.Store())
	var lost []string
	for id := range acked {
		if !seen[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged alerts lost after restart (e.g. %s)", len(lost), n, lost[0])
	}
	t.Logf("acknowledged %d of %d sent alerts before stop; all present after restart (%d requests failed after stop)", n, sent.Load(), failed.Load())
}

func errorsAfterStop(stop chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		time.Sleep(time.Millisecond)
		return false
	}
}

// TestTailSeesIngestedAlerts checks that an alert answered 200 is visible to
// Store.Tail from "$", the read the dashboard's live feed is built on.
func TestTailSeesIngestedAlerts(t *testing.T) {
	h := startHub(t, testConfig(t, map[string]string{"SAKER_DATA_DIR": t.TempDir()}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type result struct {
		evs []store.Event
		err error
	}
	got := make(chan result, 1)
	go func() {
		evs, err := h.Store().Tail(ctx, "$", 10, 4*time.Second)
		got <- result{evs, err}
	}()
	// Post until the waiting Tail answers: an alert posted before Tail
	// began waiting at "$" is rightly not seen, so no sleep has to guess
	// when that is; every later one must wake it.
	posted := map[string]bool{}
	var r result
	for done := false; !done; {
		id := uuid.NewString()
		resp, err := http.Post("http://"+h.Addr()+"/", "application/json", strings.NewReader(alertBody(id)))
		if err != nil || resp.StatusCode != 200 {
			t.Fatal(err, resp)
		}
		resp.Body.Close()
		posted[id] = true
		select {
		case r = <-got:
			done = true
		case <-time.After(20 * time.Millisecond):
		}
	}
	if r.err != nil || len(r.evs) == 0 || !posted[r.evs[0].UUID] {
		t.Fatalf("tail: %v %+v, want one of the %d posted alerts", r.err, r.evs, len(posted))
	}
	if !h.Health(ctx).OK {
		t.Fatal("unhealthy")
	}
}

// TestMutualTLS serves ingestion over TLS requiring client certificates,
// with /ping on the plain port.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := makeCert(t, dir, "ca", nil, nil)
	makeCert(t, dir, "server", ca, caKey)
	makeCert(t, dir, "client", ca, caKey)
	plainPort := testutil.FreePort(t)
	cfg := testConfig(t, map[string]string{
		"SAKER_DATA_DIR":       filepath.Join(dir, "data"),
		"TLSSERVER_DEPLOY":     "true",
		"TLSSERVER_MUTUALTLS":  "true",
		"TLSSERVER_CERTFILE":   filepath.Join(dir, "server.crt"),
		"TLSSERVER_KEYFILE":    filepath.Join(dir, "server.key"),
		"TLSSERVER_CACERTFILE": filepath.Join(dir, "ca.crt"),
		"TLSSERVER_NOTLSPORT":  fmt.Sprint(plainPort),
		"TLSSERVER_NOTLSPATHS": "/ping,/healthz",
	})
	h := startHub(t, cfg)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	clientCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(c *http.Client) (int, error) {
		resp, err := c.Post("https://"+h.Addr()+"/", "application/json", strings.NewReader(alertBody(uuid.NewString())))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}}}}
	if code, err := post(withCert); err != nil || code != 200 {
		t.Fatalf("with client cert: %d %v", code, err)
	}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if _, err := post(noCert); err == nil {
		t.Fatal("accepted a client without certificate")
	}
	plain := fmt.Sprintf("http://127.0.0.1:%d", plainPort)
	resp, err := http.Get(plain + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "pong\n" {
		t.Fatalf("plain /ping: %q", b)
	}
	resp, err = http.Post(plain+"/", "application/json", strings.NewReader(alertBody(uuid.NewString())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("plain POST / = %d, want 404 (ingestion is TLS-only)", resp.StatusCode)
	}
}

func makeCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

// PPROF_ADDRESS opens a separate profiling listener; without it there is
// none and the ingestion port does not serve profiles.
func TestPprofListenerOptIn(t *testing.T) {
	off := startHub(t, testConfig(t, map[string]string{"SAKER_DATA_DIR": t.TempDir()}))
	if off.PprofAddr() != "" {
		t.Fatalf("pprof listener on by default at %s", off.PprofAddr())
	}
	if resp, err := http.Get("http://" + off.Addr() + "/debug/pprof/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("ingestion port serves /debug/pprof/")
		}
	}
	on := startHub(t, testConfig(t, map[string]string{"SAKER_DATA_DIR": t.TempDir(), "PPROF_ADDRESS": "127.0.0.1:0"}))
	resp, err := http.Get("http://" + on.PprofAddr() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("pprof: %d %.200s", resp.StatusCode, body)
	}
}

// TestStopRightAfterStart stops hubs the moment they listen: Stop must
// return even when the ingestion server's goroutine has not yet taken its
// listener (fasthttp's Shutdown closes only the listeners Serve took).
func TestStopRightAfterStart(t *testing.T) {
	for i := 0; i < 20; i++ {
		h, err := New(testConfig(t, map[string]string{"SAKER_DATA_DIR": t.TempDir()}), quietLogger(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		stopped := make(chan error, 1)
		go func() { stopped <- h.Stop(context.Background()) }()
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("hub %d: Stop did not return", i)
		}
	}
}
