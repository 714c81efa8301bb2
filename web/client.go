package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/saker-sec/saker/web/loginlimit"
)

// LoginLimiter counts login attempts (the form and basic auth) per client
// and overall; see package loginlimit. Hub replicas should share one
// (loginlimit.Redis), or each counts alone.
type LoginLimiter interface {
	// Attempt reserves one attempt, counted as a failure until Succeeded.
	Attempt(ctx context.Context, client netip.Prefix) (loginlimit.Verdict, error)
	// Succeeded forgives the client's attempts.
	Succeeded(ctx context.Context, client netip.Prefix) error
}

// loginLimits counts login attempts in the shared limiter when there is
// one and, while that one cannot answer (Redis down), in this process:
// logins stay limited and possible, and the outage is logged once a
// minute at most.
type loginLimits struct {
	shared LoginLimiter // nil: this process only
	local  *loginlimit.Memory
	log    *slog.Logger

	mu     sync.Mutex
	logged time.Time
}

func (l *loginLimits) attempt(ctx context.Context, client netip.Prefix) loginlimit.Verdict {
	if l.shared != nil {
		v, err := l.shared.Attempt(ctx, client)
		if err == nil {
			return v
		}
		l.failed(err)
	}
	v, _ := l.local.Attempt(ctx, client) // in memory: never fails
	return v
}

func (l *loginLimits) succeeded(ctx context.Context, client netip.Prefix) {
	l.local.Succeeded(ctx, client)
	if l.shared != nil {
		if err := l.shared.Succeeded(ctx, client); err != nil {
			l.failed(err)
		}
	}
}

func (l *loginLimits) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.logged) < time.Minute {
		return
	}
	l.logged = time.Now()
	l.log.Warn("dashboard login limits: shared counts unreachable; counting in this process meanwhile", "err", err)
}

// proxies are the reverse proxies whose X-Forwarded-For is believed.
type proxies []netip.Prefix

func (p proxies) trusted(a netip.Addr) bool {
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address a request comes from. That is the
// connection's peer, unless the peer is a trusted proxy: then it is the
// rightmost X-Forwarded-For entry that is not itself a trusted proxy
// (entries further left are whatever the client chose to send). A client
// that is not a trusted proxy cannot change its address by sending the
// header.
func (p proxies) clientAddr(r *http.Request) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if len(p) == 0 || !peer.IsValid() || !p.trusted(peer) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseHostAddr(strings.TrimSpace(hops[i]))
		if !a.IsValid() {
			// Not an address a proxy of ours wrote: stop at the last
			// hop known good.
			break
		}
		addr = a
		if !p.trusted(a) {
			break
		}
	}
	return addr
}

// parseHostAddr reads "1.2.3.4", "1.2.3.4:80", "::1" or "[::1]:80".
func parseHostAddr(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}
