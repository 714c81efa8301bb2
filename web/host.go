package web

import (
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
)

// hostPolicy decides which Host headers the dashboard answers. A web page
// on another site can point its own DNS name at the dashboard's address
// (DNS rebinding) and then read it as same-origin; its requests carry the
// attacker's name in Host, so naming the allowed hosts stops it. IP
// literals and localhost are always allowed: rebinding needs a name.
type hostPolicy struct {
	any   bool
	exact map[string]bool
	wild  []string // suffixes such as ".example.com" from "*.example.com"
}

func newHostPolicy(allowed []string) hostPolicy {
	p := hostPolicy{exact: map[string]bool{}}
	add := func(h string) {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		switch {
		case h == "":
		case h == "*":
			p.any = true
		case strings.HasPrefix(h, "*."):
			p.wild = append(p.wild, h[1:])
		default:
			p.exact[h] = true
		}
	}
	for _, h := range allowed {
		add(h)
	}
	// The machine's own name is what people type on a LAN.
	if hn, err := os.Hostname(); err == nil {
		add(hn)
		if short, _, ok := strings.Cut(hn, "."); ok {
			add(short)
		}
	}
	return p
}

func (p hostPolicy) allows(hostport string) bool {
	if p.any {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || p.exact[host] {
		return true
	}
	for _, w := range p.wild {
		if strings.HasSuffix(host, w) {
			return true
		}
	}
	return false
}

// check refuses requests for a host the dashboard was not configured for.
func (p hostPolicy) check(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.allows(r.Host) {
			writeJSON(w, http.StatusMisdirectedRequest, map[string]string{
				"error": "host " + r.Host + " is not one of the dashboard's names; add it to SAKER_UI_ALLOWED_HOSTS",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}
