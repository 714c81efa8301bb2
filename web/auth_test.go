package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/web/session"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newTestServer serves the dashboard over st on a real loopback listener.
func newTestServer(t *testing.T, st Store, o Options) (*Server, *httptest.Server) {
	t.Helper()
	o.Store = st
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return s, hs
}

// client is an HTTP client with a cookie jar that does not follow redirects.
func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func login(t *testing.T, c *http.Client, base, user, pass string) *http.Response {
	t.Helper()
	res, err := c.PostForm(base+"/login", url.Values{"username": {user}, "password": {pass}, "next": {"/events?priority=warning"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// dialWS opens the live websocket with the client's cookies.
func dialWS(ctx context.Context, c *http.Client, base string) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws"
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c})
}

func TestAuth(t *testing.T) {
	st := newTestStore(t)
	_, hs := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	anon := client(t)
	t.Run("page redirects to login", func(t *testing.T) {
		res, _ := get(t, anon, hs.URL+"/events?rule=x")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next="+url.QueryEscape("/events?rule=x") {
			t.Fatalf("got %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		res, body := get(t, anon, hs.URL+"/login")
		if res.StatusCode != 200 || !strings.Contains(body, `name="password"`) {
			t.Fatalf("login page: %d", res.StatusCode)
		}
	})
	for _, p := range []string{"/api/v1/events", "/api/v1/events/1-0", "/api/v1/stats", "/api/v1/info", "/api/v1/auth", "/api/v1/ws"} {
		t.Run("401 "+p, func(t *testing.T) {
			res, body := get(t, anon, hs.URL+p)
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "login required") {
				t.Fatalf("got %d %s", res.StatusCode, body)
			}
		})
	}
	t.Run("websocket refused without session", func(t *testing.T) {
		_, res, err := dialWS(ctx, anon, hs.URL)
		if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial without session: err=%v res=%v", err, res)
		}
	})
	t.Run("bad password", func(t *testing.T) {
		for _, cred := range [][2]string{{"alice", "wrong"}, {"bob", "s3cret"}, {"", ""}, {"alice", "s3cret "}} {
			c := client(t)
			res := login(t, c, hs.URL, cred[0], cred[1])
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?error=1") {
				t.Fatalf("%v: got %d %q", cred, res.StatusCode, res.Header.Get("Location"))
			}
			if len(res.Cookies()) != 0 {
				t.Fatalf("%v: cookie set on failure", cred)
			}
			if r, _ := get(t, c, hs.URL+"/api/v1/events"); r.StatusCode != 401 {
				t.Fatalf("%v: API after failed login: %d", cred, r.StatusCode)
			}
		}
	})

	c := client(t)
	t.Run("login sets a hardened cookie and redirects", func(t *testing.T) {
		res := login(t, c, hs.URL, "alice", "s3cret")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/events?priority=warning" {
			t.Fatalf("got %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		var ck *http.Cookie
		for _, x := range res.Cookies() {
			if x.Name == sessionCookie {
				ck = x
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge <= 0 {
			t.Fatalf("cookie %+v", ck)
		}
	})
	t.Run("session opens pages, API and websocket", func(t *testing.T) {
		res, body := get(t, c, hs.URL+"/events")
		if res.StatusCode != 200 || !strings.Contains(body, "/app.js") || res.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("index: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
		}
		for _, p := range []string{"/api/v1/events", "/api/v1/stats", "/api/v1/info", "/api/v1/auth"} {
			if res, body := get(t, c, hs.URL+p); res.StatusCode != 200 {
				t.Fatalf("%s: %d %s", p, res.StatusCode, body)
			}
		}
		_, body = get(t, c, hs.URL+"/api/v1/auth")
		if !strings.Contains(body, `"user":"alice"`) {
			t.Fatalf("auth: %s", body)
		}
		ws, _, err := dialWS(ctx, c, hs.URL)
		if err != nil {
			t.Fatal(err)
		}
		ws.CloseNow()
		// Logged in, the login page sends the user on.
		if res, _ := get(t, c, hs.URL+"/login?next=/info"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/info" {
			t.Fatalf("login page when logged in: %d %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
	t.Run("forged, tampered, expired and foreign cookies are refused", func(t *testing.T) {
		// Another dashboard (its own session store) issued this one.
		_, hs2 := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}})
		c2 := client(t)
		login(t, c2, hs2.URL, "alice", "s3cret")
		u2, _ := url.Parse(hs2.URL)
		foreign := c2.Jar.Cookies(u2)[0].Value

		sessions := &session.Memory{}
		s3, hs3 := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "s3cret"}, Sessions: sessions})
		u3, _ := url.Parse(hs3.URL)
		valid, _, err := s3.auth.open(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		// An expired session still in the store.
		expired := "expired-cookie-value"
		sessions.Put(t.Context(), sessionKey(expired), session.Session{User: "alice", Gen: s3.auth.gen, Expires: time.Now().Add(time.Hour)})
		s3.auth.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		for name, v := range map[string]string{
			"other server": foreign,
			"tampered":     tamper(valid),
			"expired":      expired,
			"store key":    sessionKey(valid),
			"empty":        "",
			"garbage":      "!!!.???",
		} {
			c3 := client(t)
			c3.Jar.SetCookies(u3, []*http.Cookie{{Name: sessionCookie, Value: v}})
			if res, _ := get(t, c3, hs3.URL+"/api/v1/events"); res.StatusCode != 401 {
				t.Errorf("%s cookie: %d", name, res.StatusCode)
			}
		}
		s3.auth.now = time.Now
		c3 := client(t)
		c3.Jar.SetCookies(u3, []*http.Cookie{{Name: sessionCookie, Value: valid}})
		if res, _ := get(t, c3, hs3.URL+"/api/v1/events"); res.StatusCode != 200 {
			t.Errorf("valid session cookie: %d", res.StatusCode)
		}
		// A password change ends sessions opened with the old one, though
		// they are still in the shared store.
		_, hs4 := newTestServer(t, st, Options{Auth: Auth{User: "alice", Password: "new"}, Sessions: sessions})
		u4, _ := url.Parse(hs4.URL)
		c4 := client(t)
		c4.Jar.SetCookies(u4, []*http.Cookie{{Name: sessionCookie, Value: valid}})
		if res, _ := get(t, c4, hs4.URL+"/api/v1/events"); res.StatusCode != 401 {
			t.Errorf("session survived a password change: %d", res.StatusCode)
		}
	})
	t.Run("logout clears the session", func(t *testing.T) {
		req, _ := http.NewRequest("POST", hs.URL+"/logout", nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Fatalf("logout: %d", res.StatusCode)
		}
		if r, _ := get(t, c, hs.URL+"/api/v1/events"); r.StatusCode != 401 {
			t.Fatalf("API after logout: %d", r.StatusCode)
		}
	})
	t.Run("open redirect refused", func(t *testing.T) {
		for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
			c := client(t)
			res, err := c.PostForm(hs.URL+"/login", url.Values{"username": {"alice"}, "password": {"s3cret"}, "next": {next}})
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.Header.Get("Location") != "/" {
				t.Errorf("next=%q redirected to %q", next, res.Header.Get("Location"))
			}
		}
	})
	t.Run("JSON login", func(t *testing.T) {
		c := client(t)
		res, err := c.Post(hs.URL+"/login", "application/json", strings.NewReader(`{"username":"alice","password":"nope"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Fatalf("bad JSON login: %d", res.StatusCode)
		}
		res, err = c.Post(hs.URL+"/login", "application/json", strings.NewReader(`{"username":"alice","password":"s3cret"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("JSON login: %d", res.StatusCode)
		}
	})
}

func TestDisableAuth(t *testing.T) {
	_, hs := newTestServer(t, newTestStore(t), Options{Auth: Auth{Disabled: true}})
	c := client(t)
	for _, p := range []string{"/", "/events", "/api/v1/events", "/api/v1/info"} {
		if res, _ := get(t, c, hs.URL+p); res.StatusCode != 200 {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := dialWS(ctx, c, hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	ws.CloseNow()
}

func TestLoadAuth(t *testing.T) {
	for _, tc := range []struct {
		env        map[string]string
		user, pass string
		disabled   bool
		tokens     int
	}{
		{env: nil, user: "admin", pass: "admin"},
		{env: map[string]string{"FALCOSIDEKICK_UI_USER": "bob:pa:ss"}, user: "bob", pass: "pa:ss"},
		{env: map[string]string{"FALCOSIDEKICK_UI_USER": "bob:x", "SAKER_UI_USER": "carol:y"}, user: "carol", pass: "y"},
		{env: map[string]string{"FALCOSIDEKICK_UI_DISABLEAUTH": "true"}, user: "admin", pass: "admin", disabled: true},
		{env: map[string]string{"SAKER_UI_DISABLEAUTH": "1", "SAKER_UI_API_TOKENS": "a, b,"}, user: "admin", pass: "admin", disabled: true, tokens: 2},
	} {
		a := LoadAuth(config.NewSource(nil, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, nil))
		if a.User != tc.user || a.Password != tc.pass || a.Disabled != tc.disabled || len(a.APITokens) != tc.tokens {
			t.Errorf("%v: got %+v", tc.env, a)
		}
	}
	if _, err := New(Options{Store: newTestStore(t), Auth: Auth{User: "x"}}); err == nil {
		t.Error("user without password accepted")
	}
}

func TestAssetsCaching(t *testing.T) {
	s, hs := newTestServer(t, newTestStore(t), Options{Auth: Auth{Disabled: true}})
	c := client(t)
	res, body := get(t, c, hs.URL+"/")
	if res.Header.Get("Cache-Control") != "no-cache" || !strings.Contains(body, "/assets/"+s.assets.hash+"/app.js") {
		t.Fatalf("index: %q", res.Header.Get("Cache-Control"))
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	for _, f := range []string{"app.js", "api.js", "charts.js", "util.js", "style.css", "login.js", "theme.js"} {
		req, _ := http.NewRequest("GET", hs.URL+"/assets/"+s.assets.hash+"/"+f, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || res.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: %d %q %q", f, res.StatusCode, res.Header.Get("Cache-Control"), res.Header.Get("Content-Encoding"))
		}
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") && !strings.Contains(ct, "css") {
			t.Errorf("%s: content type %q", f, ct)
		}
	}
	if res, _ := get(t, c, hs.URL+"/assets/0123456789ab/app.js"); res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("stale hash cached: %q", res.Header.Get("Cache-Control"))
	}
	for _, p := range []string{"/assets/" + s.assets.hash + "/nope.js", "/assets/" + s.assets.hash + "/index.html"} {
		if res, _ := get(t, c, hs.URL+p); res.StatusCode != 404 {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
}

// tamper changes the first character of a signed cookie's payload.
func tamper(v string) string {
	c := byte('A')
	if v[0] == 'A' {
		c = 'B'
	}
	return string(c) + v[1:]
}
