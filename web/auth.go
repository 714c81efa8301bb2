package web

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/web/loginlimit"
	"github.com/saker-sec/saker/web/session"
)

// Auth configures who may reach the dashboard and its API: one user, like
// falcosidekick-ui, plus API tokens for scripts.
type Auth struct {
	User     string // login name; "" with Disabled false means "admin"
	Password string // password; "" with Disabled false means "admin"
	// Disabled serves everything without a login (trusted networks only).
	Disabled bool
	// SessionTTL is how long a login lasts; 0 means 24 h.
	SessionTTL time.Duration
	// APITokens are accepted as "Authorization: Bearer <token>" on the
	// API (scripts); "Authorization: Basic" with User/Password works too.
	APITokens []string
	// AllowedHosts are the names the dashboard is reached by (Host
	// header), besides IP addresses, localhost and the machine's name;
	// "*.example.com" matches subdomains, "*" any name.
	AllowedHosts []string
	// SecureCookies marks the session cookie Secure although the
	// dashboard itself serves plain HTTP (TLS ends at a proxy in front).
	SecureCookies bool
	// TrustedProxies are the reverse proxies in front of the dashboard
	// whose X-Forwarded-For names the client (for login limits and
	// logs). From any other peer the header is ignored: a client could
	// otherwise pick a fresh address for every guess.
	TrustedProxies []netip.Prefix
}

// LoadAuth decodes the login settings from the hub's configuration
// Source (YAML file or environment, config.Source's precedence), accepting
// falcosidekick-ui's names so its deployments keep working:
//
//	SAKER_UI_USER or FALCOSIDEKICK_UI_USER              "user:password" (default admin:admin)
//	SAKER_UI_DISABLEAUTH or FALCOSIDEKICK_UI_DISABLEAUTH "true" disables the login
//	SAKER_UI_SESSION_TTL                                 login lifetime (e.g. 12h; default 24h)
//	SAKER_UI_API_TOKENS                                  comma-separated bearer tokens for scripts
//	SAKER_UI_ALLOWED_HOSTS                               comma-separated names the dashboard is reached by
//	SAKER_UI_SECURE_COOKIES                              "true" when TLS ends at a proxy in front
//	SAKER_UI_TRUSTED_PROXIES                             comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For is believed
//
// A value that does not parse is a warning and the default is used, as
// falcosidekick-ui does.
func LoadAuth(src *config.Source) Auth {
	src = src.Lenient()
	var a Auth
	cred := src.Secret(src.First("SAKER_UI_USER", "FALCOSIDEKICK_UI_USER"), "admin:admin")
	a.User, a.Password, _ = strings.Cut(cred, ":")
	a.Disabled = src.Bool(src.First("SAKER_UI_DISABLEAUTH", "FALCOSIDEKICK_UI_DISABLEAUTH"), false)
	a.SessionTTL = src.Duration("SAKER_UI_SESSION_TTL", 0)
	a.APITokens = splitList(src.Secret("SAKER_UI_API_TOKENS", ""))
	a.AllowedHosts = src.List("SAKER_UI_ALLOWED_HOSTS", nil)
	a.SecureCookies = src.Bool("SAKER_UI_SECURE_COOKIES", false)
	for _, v := range src.List("SAKER_UI_TRUSTED_PROXIES", nil) {
		p, err := parsePrefix(v)
		if err != nil {
			// Skipping an entry trusts less, never more.
			src.Warnf("SAKER_UI_TRUSTED_PROXIES", "%q is not an address or CIDR (10.0.0.0/8, 192.0.2.1, fd00::/8); ignored", v)
			continue
		}
		a.TrustedProxies = append(a.TrustedProxies, p)
	}
	return a
}

// parsePrefix reads a CIDR or a single address (a /32 or /128).
func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return p, err
		}
		addr, bits := p.Addr(), p.Bits()
		if addr.Is4In6() { // ::ffff:10.0.0.0/104 is 10.0.0.0/8: peers are unmapped
			if bits < 96 {
				return netip.Prefix{}, fmt.Errorf("%s mixes IPv6 and IPv4-mapped addresses", v)
			}
			addr, bits = addr.Unmap(), bits-96
		}
		return netip.PrefixFrom(addr, bits).Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// sessionCookie is the name of the session cookie. Its value is a random
// session id; the server keeps sessions (by a hash of the id), so logout
// and password changes end them for every copy of the cookie.
const sessionCookie = "saker_session"

type authenticator struct {
	cfg      Auth
	sessions session.Store
	limit    *loginLimits
	proxies  proxies
	now      func() time.Time
	// gen ties sessions to the configured credentials: a session opened
	// with another password is dead. It is a slow hash, since session
	// stores are less guarded than the configuration.
	gen string

	// known caches sessions this process verified, for an answer while
	// the session store is unreachable (the outage is then shown instead
	// of a login page). A revoked session is dropped on the next answer.
	mu    sync.Mutex
	known map[string]session.Session
}

// defaultCredentials reports whether the login is the shipped admin:admin.
func (a Auth) defaultCredentials() bool {
	return !a.Disabled && a.User == "admin" && a.Password == "admin"
}

func newAuthenticator(a Auth, sessions session.Store, limits *loginLimits, now func() time.Time) (*authenticator, error) {
	if !a.Disabled {
		if a.User == "" && a.Password == "" {
			a.User, a.Password = "admin", "admin"
		}
		if a.User == "" || a.Password == "" {
			return nil, errors.New("auth: user and password must both be set (user:password)")
		}
	}
	if a.SessionTTL <= 0 {
		a.SessionTTL = 24 * time.Hour
	}
	if sessions == nil {
		sessions = &session.Memory{}
	}
	gen, err := pbkdf2.Key(sha256.New, a.User+"\x00"+a.Password, []byte("saker dashboard session generation"), 50000, 12)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &authenticator{
		cfg: a, sessions: sessions, limit: limits, proxies: proxies(a.TrustedProxies), now: now,
		gen: base64.RawURLEncoding.EncodeToString(gen), known: map[string]session.Session{},
	}, nil
}

// sessionKey is what the store keeps for a cookie value: its hash, so the
// store's content cannot be replayed as cookies.
func sessionKey(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// open creates a session for user and returns the cookie value.
func (a *authenticator) open(ctx context.Context, user string) (string, time.Time, error) {
	var id [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", time.Time{}, err
	}
	v := base64.RawURLEncoding.EncodeToString(id[:])
	s := session.Session{User: user, Gen: a.gen, Expires: a.now().Add(a.cfg.SessionTTL)}
	if err := a.sessions.Put(ctx, sessionKey(v), s); err != nil {
		return "", time.Time{}, err
	}
	a.mu.Lock()
	a.known[sessionKey(v)] = s
	a.mu.Unlock()
	return v, s.Expires, nil
}

// revoke ends the session of a cookie value everywhere.
func (a *authenticator) revoke(ctx context.Context, cookie string) error {
	k := sessionKey(cookie)
	a.mu.Lock()
	delete(a.known, k)
	a.mu.Unlock()
	return a.sessions.Delete(ctx, k)
}

// verify returns the user of a live session cookie value.
func (a *authenticator) verify(ctx context.Context, cookie string) (string, bool) {
	if cookie == "" || len(cookie) > 200 {
		return "", false
	}
	k := sessionKey(cookie)
	s, err := a.sessions.Get(ctx, k)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case errors.Is(err, session.ErrNotFound):
		delete(a.known, k)
		return "", false
	case err != nil:
		var ok bool
		if s, ok = a.known[k]; !ok {
			return "", false
		}
	default:
		if len(a.known) > 10000 {
			clear(a.known)
		}
		a.known[k] = s
	}
	if s.Gen != a.gen || !a.now().Before(s.Expires) {
		delete(a.known, k)
		return "", false
	}
	return s.User, true
}

// verdict is how a request authenticated.
type verdict int

const (
	denied verdict = iota
	allowed
	limited // too many failed logins from this client
)

// user returns the user of a request: a session cookie, a bearer token or
// basic auth (scripts). With auth disabled every request is "anonymous".
func (a *authenticator) user(r *http.Request) (string, bool) {
	u, v, _ := a.authenticate(r)
	return u, v == allowed
}

func (a *authenticator) authenticate(r *http.Request) (string, verdict, time.Duration) {
	if a.cfg.Disabled {
		return "anonymous", allowed, 0
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			for _, want := range a.cfg.APITokens {
				if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(want)) == 1 {
					return "api-token", allowed, 0
				}
			}
			return "", denied, 0
		}
		if u, p, ok := r.BasicAuth(); ok {
			client := loginlimit.ClientKey(a.proxies.clientAddr(r))
			if v := a.limit.attempt(r.Context(), client); !v.OK {
				return "", limited, v.Wait
			}
			if !a.check(u, p) {
				return "", denied, 0
			}
			a.limit.succeeded(r.Context(), client)
			return u, allowed, 0
		}
		return "", denied, 0
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", denied, 0
	}
	u, ok := a.verify(r.Context(), c.Value)
	if !ok {
		return "", denied, 0
	}
	return u, allowed, 0
}

// check compares credentials in constant time.
func (a *authenticator) check(user, password string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(a.cfg.User))
	p := subtle.ConstantTimeCompare([]byte(password), []byte(a.cfg.Password))
	return u&p == 1
}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"error": fmt.Sprintf("too many failed logins; try again in %d s", secs), "retry_after": secs,
	})
}

// requireAPI answers 401 JSON to API and websocket requests without a
// session, token or valid basic auth (429 while basic auth is locked out).
func (a *authenticator) requireAPI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, v, wait := a.authenticate(r)
		switch v {
		case limited:
			tooMany(w, wait)
			return
		case denied:
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "login required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requirePage redirects page requests without a session to the login page,
// remembering where the user was going.
func (a *authenticator) requirePage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := a.user(r); !ok {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) secureRequest(r *http.Request) bool {
	return r.TLS != nil || s.auth.cfg.SecureCookies || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// login handles POST /login from the login form (urlencoded) or from a
// script (JSON); a form gets redirected, a script gets JSON.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	a := s.auth
	isJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
	var user, pass, next string
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if isJSON {
		var body struct{ Username, Password, Next string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON"})
			return
		}
		user, pass, next = body.Username, body.Password, body.Next
	} else {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		user, pass, next = r.PostForm.Get("username"), r.PostForm.Get("password"), r.PostForm.Get("next")
	}
	next = safeNext(next)
	if a.cfg.Disabled {
		user = "anonymous"
	} else {
		from := a.proxies.clientAddr(r)
		client := loginlimit.ClientKey(from)
		if v := a.limit.attempt(r.Context(), client); !v.OK {
			wait := v.Wait
			if v.First {
				s.log.Warn("dashboard login locked out: too many failures; further refusals are not logged", "client", from, "retry_after", wait.Round(time.Second))
			}
			if isJSON {
				tooMany(w, wait)
				return
			}
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			http.Redirect(w, r, "/login?error=locked&retry="+strconv.Itoa(int(math.Ceil(wait.Seconds())))+"&next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if !a.check(user, pass) {
			// At most a few per client and lock-out period, so this
			// cannot flood the log.
			s.log.Warn("dashboard login failed", "user", user, "client", from)
			if isJSON {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong user or password"})
				return
			}
			http.Redirect(w, r, "/login?error=1&next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		a.limit.succeeded(r.Context(), client)
	}
	v, exp, err := a.open(r.Context(), user)
	if err != nil {
		s.log.Error("dashboard login: cannot store the session", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "cannot store the session: " + err.Error()})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: v, Path: "/", Expires: exp,
		MaxAge: int(a.cfg.SessionTTL.Seconds()), HttpOnly: true, Secure: s.secureRequest(r),
		SameSite: http.SameSiteLaxMode,
	})
	if isJSON {
		writeJSON(w, http.StatusOK, map[string]any{"user": user, "next": next})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session on the server (every copy of the cookie stops
// working) and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.auth.revoke(r.Context(), c.Value); err != nil {
			s.log.Error("dashboard logout: cannot revoke the session", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "cannot revoke the session: " + err.Error()})
			return
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		HttpOnly: true, Secure: s.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
	if strings.HasPrefix(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps post-login redirects on this site: a plain absolute path
// of printable characters, no scheme or host, no "//" or backslash a
// browser would read as another host (browsers drop tabs and newlines and
// read a backslash as "/", so "/<tab>/evil" means "//evil").
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return "/"
	}
	for _, c := range next {
		if c < 0x21 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(next, "//") {
		return "/"
	}
	// A decoded path with "//" or a backslash is still ambiguous to some
	// servers and proxies in front; nothing of ours needs one.
	if strings.Contains(u.Path, "//") || strings.Contains(u.Path, "\\") || strings.HasPrefix(u.Path, "/login") {
		return "/"
	}
	return next
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
