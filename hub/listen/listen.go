// Package listen opens the hub's TCP listeners (ingestion, its plain-HTTP
// and k8s audit ports, the dashboard) with a cap on simultaneous
// connections each, and gives the HTTP servers on them their timeouts. The
// caps share out the process's file descriptors, so no port's clients (a
// thousand slow dashboard sockets, say) can take the descriptors another
// port needs: a port at its cap leaves new connections waiting in the
// kernel's accept queue instead of failing every accept with EMFILE.
package listen

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/netutil"
)

// Caps bound simultaneous connections per listener.
type Caps struct {
	Ingest    int // :2801, the alert ingestion port
	Dashboard int // :2802
	Aux       int // each auxiliary port: plain-HTTP probe paths, k8s audit
}

// DefaultCaps shares out the open-file limit (Go raises the soft limit to
// the hard one at start): half for ingestion, an eighth for the dashboard,
// a sixteenth per auxiliary port; the rest stays for the store, the
// forwarders' outgoing connections and files.
func DefaultCaps() Caps {
	var rl syscall.Rlimit
	n := 1024
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > 0 && rl.Cur < 1<<30 {
		n = int(rl.Cur)
	}
	return CapsFor(n)
}

// CapsFor is DefaultCaps for a given open-file limit.
func CapsFor(nofile int) Caps {
	return Caps{
		Ingest:    clamp(nofile/2, 32, 16384),
		Dashboard: clamp(nofile/8, 16, 4096),
		Aux:       clamp(nofile/16, 8, 1024),
	}
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// TCP listens on addr and accepts at most max connections at a time.
func TCP(addr string, max int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, fmt.Errorf("listen %s: connection cap %d must be positive", addr, max)
	}
	return netutil.LimitListener(ln, max), nil
}

// Timeouts of the HTTP servers (falcosidekick's for reading and writing).
const (
	readTimeout  = 60 * time.Second
	writeTimeout = 60 * time.Second
	idleTimeout  = 120 * time.Second
)

// Server returns an http.Server with timeouts on every phase of a request:
// falcosidekick's 60 s to read a request and write its answer, 10 s for
// the headers (slow-loris clients), 120 s idle between keep-alive requests.
// A hijacked connection (a dashboard websocket) has its deadlines cleared
// by net/http and keeps its own.
func Server(handler http.Handler, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}

// HeaderBufferSize bounds a request's line and headers on a fasthttp
// server (431 beyond): Falco's and the API servers' requests carry well
// under 2 KiB; a long bearer token or a proxy's headers fit too.
const HeaderBufferSize = 16 << 10

// FastServer returns a fasthttp server with the same timeouts as Server
// (reading a request and writing its answer 60 s each, 120 s idle between
// keep-alive requests; fasthttp has no separate header timeout, so a
// slow-loris client is cut off after 60 s and the listener's connection
// cap bounds how many it holds meanwhile), no Server header, no default
// Content-Type, and multipart bodies left unparsed. The caller sets the
// handler's hooks (body limits, error answers).
func FastServer(handler fasthttp.RequestHandler, log *slog.Logger) *fasthttp.Server {
	srv := &fasthttp.Server{
		Handler:                      handler,
		ReadTimeout:                  readTimeout,
		WriteTimeout:                 writeTimeout,
		IdleTimeout:                  idleTimeout,
		ReadBufferSize:               HeaderBufferSize,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
	}
	if log != nil {
		srv.Logger = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}
