package testutil

import (
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Server is a loopback HTTP server that can go away — listener and every
// connection closed, as a target in an outage — and come back on the same
// address: the peer that forwarder benchmarks and fault tests take down.
type Server struct {
	tb      testing.TB
	handler http.Handler
	addr    string

	mu  sync.Mutex
	srv *http.Server
}

// NewServer serves h on 127.0.0.1, port 0, until the test ends.
func NewServer(tb testing.TB, h http.Handler) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{tb: tb, handler: h, addr: ln.Addr().String()}
	s.serve(ln)
	tb.Cleanup(s.Down)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s.handler}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Down closes the listener and every connection.
func (s *Server) Down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Up listens again on the same address.
func (s *Server) Up() {
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port is released asynchronously
	}
	if err != nil {
		s.tb.Fatalf("relisten %s: %v", s.addr, err)
	}
	s.serve(ln)
}
