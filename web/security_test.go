package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/redistest"
	"github.com/saker-sec/saker/web/loginlimit"
	"github.com/saker-sec/saker/web/session"
)

// The security suite: one test per finding of issue 12. Each failed on the
// dashboard as it was before the access work.

const secretOutput = "secret command line: mysql -psup3rs3cret"

// seedSecret stores one alert whose output must never reach an anonymous
// reader, through the real ingestion API, and returns its id.
func seedSecret(t *testing.T, b backend) string {
	t.Helper()
	postAlertOutput(t, b.ingestURL, secretOutput)
	res, err := b.store.Query(t.Context(), storeQueryAll())
	if err != nil || len(res.Events) == 0 {
		t.Fatalf("seed: %v %v", err, res)
	}
	return res.Events[0].ID
}

// TestSecurityIngestPortServesNoReads: the ingestion port (:2801), which
// Falco nodes post to and compose publishes on 0.0.0.0, answers no query
// of stored alerts, and its health output shows no store address.
func TestSecurityIngestPortServesNoReads(t *testing.T) {
	b := startBackend(t)
	id := seedSecret(t, b)
	base := strings.TrimSuffix(b.ingestURL, "/")
	anon := client(t)
	for _, p := range []string{"/api/v1/events", "/api/v1/events/" + id, "/api/v1/stats", "/api/v1/events?q=mysql"} {
		res, body := get(t, anon, base+p)
		if res.StatusCode == http.StatusOK || strings.Contains(body, "sup3rs3cret") {
			t.Errorf("anonymous GET %s on the ingestion port: %d %.200s", p, res.StatusCode, body)
		}
	}
	res, body := get(t, anon, base+"/healthz")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d %s", res.StatusCode, body)
	}
	detail := b.store.Health(t.Context()).Detail
	if detail == "" || strings.Contains(body, detail) || strings.Contains(body, "/") {
		t.Errorf("healthz on the ingestion port shows the store's location: %s", body)
	}
}

// TestSecurityDashboardAnonymousReads: every read of stored alerts on the
// dashboard port needs a login.
func TestSecurityDashboardAnonymousReads(t *testing.T) {
	b := startBackend(t)
	id := seedSecret(t, b)
	_, hs := newTestServer(t, b.store, Options{Auth: Auth{User: "alice", Password: "s3cret"}})
	anon := client(t)
	for _, p := range []string{"/api/v1/events", "/api/v1/events/" + id, "/api/v1/stats", "/api/v1/info", "/api/v1/ws", "/api/v1/export?format=csv", "/api/v1/export?format=json", "/healthz"} {
		res, body := get(t, anon, hs.URL+p)
		if strings.Contains(body, "sup3rs3cret") || (p != "/healthz" && res.StatusCode != http.StatusUnauthorized) {
			t.Errorf("anonymous GET %s: %d %.200s", p, res.StatusCode, body)
		}
		if p == "/healthz" && strings.Contains(body, "embedded store at") {
			t.Errorf("anonymous /healthz shows the store location: %s", body)
		}
	}
}

// TestSecurityHostHeader: a request naming another host (DNS rebinding from
// a web page) is refused even with a valid session or auth disabled.
func TestSecurityHostHeader(t *testing.T) {
	b := startBackend(t)
	seedSecret(t, b)
	for _, o := range []Options{{Auth: Auth{User: "alice", Password: "s3cret"}}, {Auth: Auth{Disabled: true}}} {
		_, hs := newTestServer(t, b.store, o)
		c := client(t)
		login(t, c, hs.URL, "alice", "s3cret")
		u, _ := url.Parse(hs.URL)
		for _, host := range []string{"evil.example", "evil.example:80", "rebind.attacker.test:" + strings.Split(hs.URL, ":")[2]} {
			for _, p := range []string{"/api/v1/events", "/events", "/api/v1/stats"} {
				req, _ := http.NewRequest("GET", hs.URL+p, nil)
				req.Host = host
				// The jar files cookies under the Host name: send the
				// session explicitly, as a rebinding page's browser would.
				for _, ck := range c.Jar.Cookies(u) {
					req.AddCookie(ck)
				}
				res, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode < 400 || strings.Contains(string(b), "sup3rs3cret") {
					t.Errorf("disabled=%v Host %s %s: %d", o.Auth.Disabled, host, p, res.StatusCode)
				}
			}
		}
		// The names people do use keep working.
		for _, host := range []string{"localhost", "127.0.0.1", "[::1]"} {
			req, _ := http.NewRequest("GET", hs.URL+"/api/v1/events", nil)
			req.Host = host + ":" + strings.Split(hs.URL, ":")[2]
			for _, ck := range c.Jar.Cookies(u) {
				req.AddCookie(ck)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("Host %s: %d", req.Host, res.StatusCode)
			}
		}
	}
}

// sameSite reports whether a Location header keeps the browser on this
// site, reading it as a browser does (tabs and newlines removed,
// backslashes as slashes).
func sameSite(loc string) bool {
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(loc)
	loc = strings.ReplaceAll(loc, "\\", "/")
	u, err := url.Parse(loc)
	return err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//")
}

// TestSecurityOpenRedirect: ?next= only ever leads to a path of this site,
// after login and when already logged in.
func TestSecurityOpenRedirect(t *testing.T) {
	st := newTestStore(t)
	_, hs := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}})
	evil := []string{"/\t/example.com", "/%09/example.com", "/\n/example.com", "/\\/example.com", "//example.com", "\\\\example.com",
		"https://example.com", "/ /example.com", "javascript:alert(1)", "/\r\n/example.com", "http:/example.com", "/%5Cexample.com"}
	for _, next := range evil {
		c := client(t)
		res, err := c.PostForm(hs.URL+"/login", url.Values{"username": {"alice"}, "password": {"s3cret"}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc := res.Header.Get("Location"); !sameSite(loc) {
			t.Errorf("after login, next=%q redirected to %q", next, loc)
		}
		// Logged in: GET /login?next=… redirects at once.
		res, _ = get(t, c, hs.URL+"/login?next="+url.QueryEscape(next))
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !sameSite(loc) {
			t.Errorf("logged in, /login?next=%q redirected to %q", next, loc)
		}
	}
	// The raw form of the report, as a browser sends it.
	c := client(t)
	login(t, c, hs.URL, "alice", "s3cret")
	res, _ := get(t, c, hs.URL+"/login?next=/%09/example.com")
	if loc := res.Header.Get("Location"); !sameSite(loc) {
		t.Errorf("/login?next=/%%09/example.com redirected to %q", loc)
	}
	// Same-site paths survive, query included.
	res, _ = get(t, c, hs.URL+"/login?next="+url.QueryEscape("/events?priority=warning&tags=a,b"))
	if loc := res.Header.Get("Location"); loc != "/events?priority=warning&tags=a,b" {
		t.Errorf("same-site next became %q", loc)
	}
}

// TestSecurityRevokedCookie: a cookie copied before logout no longer works
// after it.
func TestSecurityRevokedCookie(t *testing.T) {
	st := newTestStore(t)
	_, hs := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}})
	c := client(t)
	login(t, c, hs.URL, "alice", "s3cret")
	u, _ := url.Parse(hs.URL)
	copied := c.Jar.Cookies(u)
	req, _ := http.NewRequest("POST", hs.URL+"/logout", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	thief := client(t)
	thief.Jar.SetCookies(u, copied)
	for _, p := range []string{"/api/v1/events", "/api/v1/stats"} {
		if res, _ := get(t, thief, hs.URL+p); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("copied cookie after logout: GET %s = %d", p, res.StatusCode)
		}
	}
	if _, res, err := dialWS(t.Context(), thief, hs.URL); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("copied cookie after logout opens the websocket")
	}
}

// TestSecurityLogoutEndsLiveFeed: a websocket opened with a session is
// closed once the session is revoked, not left streaming alerts.
func TestSecurityLogoutEndsLiveFeed(t *testing.T) {
	st := newTestStore(t)
	_, hs := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}, SessionRecheck: 50 * time.Millisecond})
	c := client(t)
	login(t, c, hs.URL, "alice", "s3cret")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, _, err := dialWS(ctx, c, hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", hs.URL+"/logout", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for {
		_, _, err := ws.Read(ctx)
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) != closeSessionEnded {
			t.Fatalf("websocket after logout: %v, want close %d", err, closeSessionEnded)
		}
		return
	}
}

// TestSecurityLoginRateLimit: guessing from one client locks it out, so
// even the right password is refused until the lock-out passes.
func TestSecurityLoginRateLimit(t *testing.T) {
	st := newTestStore(t)
	s, _ := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}})
	try := func(remote, pass string) int {
		form := url.Values{"username": {"alice"}, "password": {pass}}
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.RemoteAddr = remote
		req.Host = "localhost:2802"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code == http.StatusSeeOther && !strings.Contains(w.Header().Get("Location"), "error") {
			return http.StatusOK
		}
		for _, ck := range w.Result().Cookies() {
			if ck.Name == sessionCookie && ck.Value != "" {
				return http.StatusOK
			}
		}
		if w.Code == http.StatusSeeOther {
			return http.StatusUnauthorized
		}
		return w.Code
	}
	for i := range 20 {
		if code := try("192.0.2.7:4000", "guess"); code == http.StatusOK {
			t.Fatalf("guess %d logged in", i)
		}
	}
	if code := try("192.0.2.7:4001", "s3cret"); code == http.StatusOK {
		t.Fatal("the right password still works after 20 failures from the same client")
	}
	// Another client is not locked out by the first one's guesses.
	if code := try("198.51.100.9:5000", "s3cret"); code != http.StatusOK {
		t.Fatalf("another client: %d", code)
	}
}

func storeQueryAll() store.Query { return store.Query{Limit: store.MaxLimit} }

// postAlertOutput sends one Falco alert with the given output.
func postAlertOutput(t *testing.T, url, output string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"output": output, "priority": "Critical", "rule": "Secret read", "time": time.Now().UTC(),
		"source": "syscall", "hostname": "db-1", "output_fields": map[string]any{"proc.cmdline": output}})
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("POST alert: %d", res.StatusCode)
	}
}

// TestSecurityScriptAccess: scripts read the API with a bearer token or
// basic auth; wrong ones get 401, and basic auth is rate-limited as the
// login form is.
func TestSecurityScriptAccess(t *testing.T) {
	b := startBackend(t)
	seedSecret(t, b)
	_, hs := newTestServer(t, b.store, Options{Auth: Auth{User: "alice", Password: "s3cret", APITokens: []string{"tok-123"}}})
	do := func(set func(*http.Request)) (int, string) {
		req, _ := http.NewRequest("GET", hs.URL+"/api/v1/events", nil)
		set(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := do(func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-123") }); code != 200 || !strings.Contains(body, "sup3rs3cret") {
		t.Errorf("bearer token: %d", code)
	}
	if code, _ := do(func(r *http.Request) { r.SetBasicAuth("alice", "s3cret") }); code != 200 {
		t.Errorf("basic auth: %d", code)
	}
	for name, set := range map[string]func(*http.Request){
		"wrong token":      func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-124") },
		"empty token":      func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") },
		"wrong basic":      func(r *http.Request) { r.SetBasicAuth("alice", "nope") },
		"unknown scheme":   func(r *http.Request) { r.Header.Set("Authorization", "Digest x") },
		"token as cookie":  func(r *http.Request) { r.AddCookie(&http.Cookie{Name: sessionCookie, Value: "tok-123"}) },
		"basic as api key": func(r *http.Request) { r.Header.Set("Authorization", "Bearer alice:s3cret") },
	} {
		if code, body := do(set); code != 401 || strings.Contains(body, "sup3rs3cret") {
			t.Errorf("%s: %d", name, code)
		}
	}
	// Keep guessing over basic auth: locked out with 429, right password too.
	for range 10 {
		do(func(r *http.Request) { r.SetBasicAuth("alice", "guess") })
	}
	if code, _ := do(func(r *http.Request) { r.SetBasicAuth("alice", "s3cret") }); code != http.StatusTooManyRequests {
		t.Errorf("basic auth after 10 failures: %d, want 429", code)
	}
	// Tokens are not password guesses: they still work.
	if code, _ := do(func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-123") }); code != 200 {
		t.Errorf("bearer while basic auth is locked: %d", code)
	}
}

// TestSecurityLockoutOutwaitable: the lock-out ends; a user who waits
// logs in, and each further failure doubles the wait.
func TestSecurityLockoutOutwaitable(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	lim := loginlimit.NewMemory(loginlimit.DefaultPolicy(), func() time.Time { return now })
	s, _ := newTestServer(t, newTestStore(t), Options{Auth: Auth{User: "alice", Password: "s3cret"}, LoginLimiter: lim})
	try := func(pass string) *httptest.ResponseRecorder {
		body, _ := json.Marshal(map[string]string{"username": "alice", "password": pass})
		req := httptest.NewRequest("POST", "/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "203.0.113.5:1234"
		req.Host = "localhost:2802"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w
	}
	for i := range 6 {
		if w := try("guess"); w.Code != 401 {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	w := try("s3cret")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "30" {
		t.Fatalf("locked: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	now = now.Add(31 * time.Second)
	if w := try("guess"); w.Code != 401 {
		t.Fatalf("after the wait: %d", w.Code)
	}
	if w := try("s3cret"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("second lock-out: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	now = now.Add(61 * time.Second)
	if w := try("s3cret"); w.Code != 200 {
		t.Fatalf("right password after waiting: %d %s", w.Code, w.Body)
	}
	// Forgiven: the next mistake is free again.
	if w := try("typo"); w.Code != 401 {
		t.Fatalf("after success: %d", w.Code)
	}
	// Many clients together: the overall budget runs out too.
	lim.Succeeded(t.Context(), loginlimit.ClientKey(netip.MustParseAddr("203.0.113.5")))
	refused := 0
	for i := range 200 {
		body, _ := json.Marshal(map[string]string{"username": "alice", "password": "guess"})
		req := httptest.NewRequest("POST", "/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "10.1." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250) + ":1"
		req.Host = "localhost:2802"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused < 100 {
		t.Fatalf("200 guesses from 200 addresses in no time: only %d refused", refused)
	}
}

// TestSecuritySessionsSharedByReplicas: two hub replicas over one session
// file: a login works on both, a logout on one ends it on the other.
func TestSecuritySessionsSharedByReplicas(t *testing.T) {
	st := newTestStore(t)
	path := filepath.Join(t.TempDir(), "ui-sessions.json")
	open := func() *httptest.Server {
		f, err := session.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, hs := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}, Sessions: f})
		return hs
	}
	a, b := open(), open()
	c := client(t)
	login(t, c, a.URL, "alice", "s3cret")
	ua, _ := url.Parse(a.URL)
	ub, _ := url.Parse(b.URL)
	cookies := c.Jar.Cookies(ua)
	cb := client(t)
	cb.Jar.SetCookies(ub, cookies)
	if res, _ := get(t, cb, b.URL+"/api/v1/events"); res.StatusCode != 200 {
		t.Fatalf("session from replica A on replica B: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("POST", b.URL+"/logout", nil)
	res, err := cb.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res, _ := get(t, c, a.URL+"/api/v1/events"); res.StatusCode != 401 {
		t.Fatalf("logged out on B, still in on A: %d", res.StatusCode)
	}
}

// TestSecurityDefaultCredentialsWarned: admin:admin is shouted in the log
// and flagged to the UI, which shows a banner.
func TestSecurityDefaultCredentialsWarned(t *testing.T) {
	var logBuf bytes.Buffer
	_, hs := newTestServer(t, newTestStore(t), Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if !strings.Contains(logBuf.String(), "DEFAULT LOGIN admin:admin") {
		t.Errorf("no warning in the log: %s", logBuf.String())
	}
	c := client(t)
	login(t, c, hs.URL, "admin", "admin")
	if _, body := get(t, c, hs.URL+"/api/v1/auth"); !strings.Contains(body, `"default_credentials":true`) {
		t.Errorf("auth: %s", body)
	}
	logBuf.Reset()
	_, hs = newTestServer(t, newTestStore(t), Options{Auth: Auth{User: "admin", Password: "long-and-random"}, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	c = client(t)
	login(t, c, hs.URL, "admin", "long-and-random")
	if _, body := get(t, c, hs.URL+"/api/v1/auth"); !strings.Contains(body, `"default_credentials":false`) || strings.Contains(logBuf.String(), "DEFAULT") {
		t.Errorf("warned with a real password: %s %s", body, logBuf.String())
	}
}

// TestSecurityTLS: the dashboard's own TLS setting loads the
// certificate, and cookies set over TLS are Secure.
func TestSecurityTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	env := map[string]string{"UI_TLSSERVER_DEPLOY": "true", "UI_TLSSERVER_CERTFILE": "", "UI_TLSSERVER_KEYFILE": "",
		"TLSSERVER_CERTFILE": certFile, "TLSSERVER_KEYFILE": keyFile}
	set := LoadTLS(config.NewSource(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil))
	if !set.Enabled || set.CertFile != certFile || set.KeyFile != keyFile {
		t.Fatalf("LoadTLS: %+v", set)
	}
	tc, err := set.ServerConfig()
	if err != nil || tc == nil {
		t.Fatal(err)
	}
	if _, err := (TLS{Enabled: true, CertFile: filepath.Join(dir, "nope")}).ServerConfig(); err == nil {
		t.Error("missing key file accepted")
	}
	s, err := New(Options{Store: newTestStore(t), Logger: quietLogger(), Auth: Auth{User: "alice", Password: "s3cret"}, TLS: set})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewUnstartedServer(s)
	hs.TLS = tc
	hs.StartTLS()
	defer hs.Close()
	c := hs.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.PostForm(hs.URL+"/login", url.Values{"username": {"alice"}, "password": {"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var ck *http.Cookie
	for _, x := range res.Cookies() {
		if x.Name == sessionCookie {
			ck = x
		}
	}
	if ck == nil || !ck.Secure || !ck.HttpOnly {
		t.Fatalf("cookie over TLS: %+v", ck)
	}
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over TLS")
	}
}

// TestSecurityHealthz: the dashboard's /healthz shows the store only to a
// logged-in caller.
func TestSecurityHealthz(t *testing.T) {
	_, hs := newTestServer(t, newTestStore(t), Options{Auth: Auth{User: "alice", Password: "s3cret"}})
	c := client(t)
	if _, body := get(t, c, hs.URL+"/healthz"); strings.Contains(body, "store") {
		t.Errorf("anonymous: %s", body)
	}
	login(t, c, hs.URL, "alice", "s3cret")
	if _, body := get(t, c, hs.URL+"/healthz"); !strings.Contains(body, "embedded store at") {
		t.Errorf("logged in: %s", body)
	}
}

func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestSecurityForwardersAPI: the forwarders' dead-letter API is mounted
// behind the login, and a write from another site is refused.
func TestSecurityForwardersAPI(t *testing.T) {
	var got []string
	fw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		w.Write([]byte(`{"ok":true}`))
	})
	_, hs := newTestServer(t, newTestStore(t), Options{Auth: Auth{User: "alice", Password: "s3cret"}, ForwardersAPI: fw})
	if res, _ := get(t, client(t), hs.URL+"/api/v1/forwarders/"); res.StatusCode != 401 {
		t.Fatalf("anonymous: %d", res.StatusCode)
	}
	c := client(t)
	login(t, c, hs.URL, "alice", "s3cret")
	if res, _ := get(t, c, hs.URL+"/api/v1/forwarders/webhook/deadletters?limit=5"); res.StatusCode != 200 {
		t.Fatalf("list: %d", res.StatusCode)
	}
	post := func(origin string) int {
		req, _ := http.NewRequest("POST", hs.URL+"/api/v1/forwarders/webhook/deadletters/replay", strings.NewReader(`{}`))
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post("https://evil.example"); code != http.StatusForbidden {
		t.Errorf("cross-site replay: %d", code)
	}
	if code := post(hs.URL); code != 200 {
		t.Errorf("same-site replay: %d", code)
	}
	if strings.Join(got, ",") != "GET /webhook/deadletters,POST /webhook/deadletters/replay" {
		t.Errorf("forwarded %v", got)
	}
}

// jsonLogin posts a JSON login as if from remote (with an X-Forwarded-For
// header when xff is not empty) and returns the status: 200 logged in,
// 401 wrong password, 429 locked out.
func jsonLogin(t *testing.T, h http.Handler, remote, xff, pass string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": "alice", "password": pass})
	req := httptest.NewRequest("POST", "/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	req.RemoteAddr = remote
	req.Host = "localhost:2802"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code
}

// TestSecurityLoginLimitSharedByReplicas: hub replicas on one Redis count
// failed logins together, so a guesser gains nothing by spreading over
// replicas behind a load balancer. (Each replica counting alone, as
// before, let the right password in on the replica that had seen no
// guesses.)
func TestSecurityLoginLimitSharedByReplicas(t *testing.T) {
	srv := redistest.Start(t)
	st := newTestStore(t)
	replica := func() *Server {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
		t.Cleanup(func() { c.Close() })
		lim := loginlimit.NewRedis(c, "{saker-ui}:login:", loginlimit.DefaultPolicy(), time.Now)
		s, _ := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}, LoginLimiter: lim})
		return s
	}
	a, b, c := replica(), replica(), replica()
	for i := range 9 { // three guesses on each replica, 9 in all
		if code := jsonLogin(t, []*Server{a, b, c}[i%3], "192.0.2.7:4000", "", "guess"); code == 200 {
			t.Fatalf("guess %d logged in", i)
		}
	}
	for name, s := range map[string]*Server{"a": a, "b": b, "c": c} {
		if code := jsonLogin(t, s, "192.0.2.7:4001", "", "s3cret"); code != http.StatusTooManyRequests {
			t.Errorf("replica %s after 9 guesses spread over 3 replicas: %d, want 429", name, code)
		}
	}
	if code := jsonLogin(t, b, "198.51.100.9:5000", "", "s3cret"); code != 200 {
		t.Fatalf("another client: %d", code)
	}
}

// TestSecurityForwardedFor: X-Forwarded-For names the client only when it
// comes from a configured proxy. Without that, a guesser picks a fresh
// address for every guess (the header ignored: locked out all the same),
// and behind a proxy every user shared the proxy's address, so one
// guesser locked everyone out.
func TestSecurityForwardedFor(t *testing.T) {
	st := newTestStore(t)
	// No trusted proxies: the header changes nothing.
	direct, _ := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}})
	for i := range 10 {
		jsonLogin(t, direct, "192.0.2.7:4000", fmt.Sprintf("198.51.100.%d", i), "guess")
	}
	if code := jsonLogin(t, direct, "192.0.2.7:4000", "203.0.113.99", "s3cret"); code != http.StatusTooManyRequests {
		t.Errorf("forged X-Forwarded-For escaped the lock-out: %d, want 429", code)
	}

	// Behind a proxy at 10.0.0.5 (trusted as 10.0.0.0/24) that appends
	// the address it saw.
	behind, _ := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}})
	for i := range 10 {
		// The guesser sends its own header; the proxy appends the real address.
		jsonLogin(t, behind, "10.0.0.5:3000", fmt.Sprintf("203.0.113.%d, 198.51.100.7", i), "guess")
	}
	if code := jsonLogin(t, behind, "10.0.0.5:3000", "198.51.100.7", "s3cret"); code != http.StatusTooManyRequests {
		t.Errorf("guesser behind the proxy: %d, want 429", code)
	}
	if code := jsonLogin(t, behind, "10.0.0.5:3000", "203.0.113.20", "s3cret"); code != 200 {
		t.Errorf("another user behind the same proxy: %d, want 200 (locked out by someone else's guesses)", code)
	}
	// Two proxies in a row, both trusted: the client is the hop before them.
	if code := jsonLogin(t, behind, "10.0.0.5:3000", "198.51.100.7, 10.0.0.9", "s3cret"); code != http.StatusTooManyRequests {
		t.Errorf("guesser behind two proxies: %d, want 429", code)
	}
	// A peer outside the trusted range cannot pose as someone else.
	for i := range 10 {
		jsonLogin(t, behind, "192.0.2.50:1", fmt.Sprintf("203.0.113.%d", 100+i), "guess")
	}
	if code := jsonLogin(t, behind, "192.0.2.50:1", "203.0.113.21", "s3cret"); code != http.StatusTooManyRequests {
		t.Errorf("untrusted peer with a forged header: %d, want 429", code)
	}
}

func TestTrustedProxiesSetting(t *testing.T) {
	src := config.NewSource(nil, func(k string) (string, bool) {
		if k == "SAKER_UI_TRUSTED_PROXIES" {
			return "10.0.0.0/8, 192.0.2.1 ,fd00::/8, ::ffff:172.16.0.0/108, not-an-ip, 10.0.0.0/99", true
		}
		return "", false
	}, nil)
	a := LoadAuth(src)
	var got []string
	for _, p := range a.TrustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.0.2.1/32 fd00::/8 172.16.0.0/12" {
		t.Errorf("trusted proxies %v", got)
	}
	if w := strings.Join(src.Warnings(), "\n"); !strings.Contains(w, `"not-an-ip"`) || !strings.Contains(w, `"10.0.0.0/99"`) {
		t.Errorf("bad entries not warned about: %s", w)
	}
}
