package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Auth configures the dashboard login: one user, like falcosidekick-ui.
type Auth struct {
	User     string // login name; "" with Disabled false means "admin"
	Password string // password; "" with Disabled false means "admin"
	// Disabled serves everything without a login (trusted networks only).
	Disabled bool
	// SessionKey signs session cookies. Hub replicas behind one load
	// balancer must share it; nil means a random key per process (sessions
	// end when the hub restarts).
	SessionKey []byte
	// SessionTTL is how long a login lasts; 0 means 24 h.
	SessionTTL time.Duration
}

// AuthFromEnv reads the login settings from the environment, accepting
// falcosidekick-ui's names so its deployments keep working:
//
//	SAKER_UI_USER or FALCOSIDEKICK_UI_USER              "user:password" (default admin:admin)
//	SAKER_UI_DISABLEAUTH or FALCOSIDEKICK_UI_DISABLEAUTH "true" disables the login
//	SAKER_UI_SESSION_KEY                                 cookie signing key shared by replicas
//	SAKER_UI_SESSION_TTL                                 login lifetime (Go duration, default 24h)
func AuthFromEnv() Auth {
	var a Auth
	cred := firstEnv("SAKER_UI_USER", "FALCOSIDEKICK_UI_USER")
	if cred == "" {
		cred = "admin:admin"
	}
	a.User, a.Password, _ = strings.Cut(cred, ":")
	if v, err := strconv.ParseBool(firstEnv("SAKER_UI_DISABLEAUTH", "FALCOSIDEKICK_UI_DISABLEAUTH")); err == nil {
		a.Disabled = v
	}
	if k := os.Getenv("SAKER_UI_SESSION_KEY"); k != "" {
		a.SessionKey = []byte(k)
	}
	if d, err := time.ParseDuration(os.Getenv("SAKER_UI_SESSION_TTL")); err == nil && d > 0 {
		a.SessionTTL = d
	}
	return a
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// sessionCookie is the name of the signed session cookie.
const sessionCookie = "saker_session"

type authenticator struct {
	cfg Auth
	key []byte
	// gen ties sessions to the configured credentials: changing the
	// password invalidates every cookie signed for the old one.
	gen string
}

func newAuthenticator(a Auth) (*authenticator, error) {
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
	key := a.SessionKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("auth: session key: %w", err)
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gen\x00" + a.User + "\x00" + a.Password))
	return &authenticator{cfg: a, key: key, gen: base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:9])}, nil
}

// sign returns a cookie value "<payload>.<mac>" where payload carries the
// user, expiry and credentials generation.
func (a *authenticator) sign(user string, exp time.Time) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(user + "|" + strconv.FormatInt(exp.Unix(), 10) + "|" + a.gen))
	return payload + "." + a.mac(payload)
}

func (a *authenticator) mac(payload string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the user of a valid, unexpired session cookie value.
func (a *authenticator) verify(v string, now time.Time) (string, bool) {
	payload, mac, ok := strings.Cut(v, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(a.mac(payload))) {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", false
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[2] != a.gen {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() >= exp {
		return "", false
	}
	return parts[0], true
}

// user returns the logged-in user of a request; with auth disabled every
// request is "anonymous".
func (a *authenticator) user(r *http.Request) (string, bool) {
	if a.cfg.Disabled {
		return "anonymous", true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	return a.verify(c.Value, time.Now())
}

// check compares credentials in constant time.
func (a *authenticator) check(user, password string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(a.cfg.User))
	p := subtle.ConstantTimeCompare([]byte(password), []byte(a.cfg.Password))
	return u&p == 1
}

// requireAPI answers 401 JSON to API and websocket requests without a session.
func (a *authenticator) requireAPI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := a.user(r); !ok {
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

func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
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
	if !a.cfg.Disabled && !a.check(user, pass) {
		s.log.Warn("dashboard login failed", "user", user, "remote", r.RemoteAddr)
		// A short pause makes password guessing slow without a lockout
		// that an attacker could use to lock the admin out.
		time.Sleep(200 * time.Millisecond)
		if isJSON {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong user or password"})
			return
		}
		http.Redirect(w, r, "/login?error=1&next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	if a.cfg.Disabled {
		user = "anonymous"
	}
	exp := time.Now().Add(a.cfg.SessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: a.sign(user, exp), Path: "/", Expires: exp,
		MaxAge: int(a.cfg.SessionTTL.Seconds()), HttpOnly: true, Secure: secureRequest(r),
		SameSite: http.SameSiteLaxMode,
	})
	if isJSON {
		writeJSON(w, http.StatusOK, map[string]any{"user": user, "next": next})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout clears the session cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
	if strings.HasPrefix(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps post-login redirects on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") {
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
