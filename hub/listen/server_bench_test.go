package listen

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkHTTPServer is the choice of the ingestion port's HTTP server:
// net/http (Server) against fasthttp (FastServer), each reading a
// Falco-sized JSON body and answering 200 with no body, as POST / does,
// for one keep-alive client and for 50. The client is the same raw
// HTTP/1.1 loop for both, so the difference per op is the server's.
// Run: go test -run '^$' -bench HTTPServer -benchtime 3s ./hub/listen
func BenchmarkHTTPServer(b *testing.B) {
	body := `{"output":"` + strings.Repeat("x", 1000) + `","priority":"Warning","rule":"r","time":"2026-11-23T09:00:00Z"}`
	req := []byte(fmt.Sprintf("POST / HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	servers := map[string]func(net.Listener) func(){
		"net-http": func(ln net.Listener) func() {
			srv := Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var buf bytes.Buffer
				buf.Grow(int(r.ContentLength) + bytes.MinRead)
				if _, err := buf.ReadFrom(r.Body); err != nil || buf.Len() != len(body) {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				w.WriteHeader(http.StatusOK)
			}), nil)
			go srv.Serve(ln)
			return func() { srv.Close() }
		},
		"fasthttp": func(ln net.Listener) func() {
			srv := FastServer(func(ctx *fasthttp.RequestCtx) {
				if len(ctx.PostBody()) != len(body) {
					ctx.SetStatusCode(http.StatusBadRequest)
					return
				}
				ctx.SetStatusCode(http.StatusOK)
			}, nil)
			go srv.Serve(ln)
			return func() { srv.Shutdown() }
		},
	}
	for _, name := range []string{"net-http", "fasthttp"} {
		for _, conns := range []int{1, 50} {
			b.Run(fmt.Sprintf("%s/%dconns", name, conns), func(b *testing.B) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				defer servers[name](ln)()
				b.SetParallelism((conns + 1) / 2) // × GOMAXPROCS (2 here) clients
				if conns == 1 {
					b.SetParallelism(1)
				}
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					c, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					br := bufio.NewReader(c)
					for pb.Next() {
						if _, err := c.Write(req); err != nil {
							b.Error(err)
							return
						}
						if err := readEmptyOK(br); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// readEmptyOK reads one "200, no body" response's status line and headers.
func readEmptyOK(br *bufio.Reader) error {
	status, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		return fmt.Errorf("status %q", status)
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 2 {
			return nil
		}
		if bytes.HasPrefix(bytes.ToLower(line), []byte("content-length:")) && !bytes.Contains(line, []byte(" 0")) {
			return io.ErrUnexpectedEOF
		}
	}
}
