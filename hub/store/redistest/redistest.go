// Package redistest starts a throw-away redis-server for tests: on a free
// loopback port, in a temporary directory, with persistence off, stopped
// when the test ends. Tests that need Redis call Start; it skips with the
// reason when redis-server is not installed, and fails instead when
// SAKER_REQUIRE_REDIS=1 (CI), so a missing Redis never passes silently.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	// Addr is "127.0.0.1:<port>".
	Addr string
	// Dir is the server's working directory (its RDB/AOF files live here).
	Dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
	bin    string
	port   int
	extra  []string
}

// Start runs a fresh redis-server for the test and returns its address.
// Extra arguments are passed on the command line (e.g. "--appendonly",
// "yes"). The server is killed in t.Cleanup.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("SAKER_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis-server not found in PATH and SAKER_REQUIRE_REDIS=1: %v", err)
		}
		t.Skipf("redis-server not found in PATH (install redis-server; set SAKER_REQUIRE_REDIS=1 to fail instead): %v", err)
	}
	dir := t.TempDir()
	// A port picked by the kernel may be taken again before redis binds it;
	// retry a few times rather than flake.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{Dir: dir, bin: bin, port: port, extra: args}
		if err := s.start(); err == nil {
			t.Cleanup(s.stop)
			return s
		} else {
			lastErr = err
		}
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

// Addr is a shorthand for Start(t).Addr.
func Addr(t testing.TB) string {
	t.Helper()
	return Start(t).Addr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop kills the server (it is not restarted), to test what clients do
// when Redis is gone.
func (s *Server) Stop() { s.stop() }

// Crash kills the server with SIGKILL, as a power cut or OOM kill would,
// and starts it again on the same port and directory: whatever it had
// persisted (with "--appendonly", "yes") is reloaded.
func (s *Server) Crash(t testing.TB) {
	t.Helper()
	s.stop()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart redis-server: %v", err)
}

func (s *Server) start() error {
	bin, dir, port, extra := s.bin, s.Dir, s.port, s.extra
	args := []string{
		"--port", fmt.Sprint(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", filepath.Join(dir, fmt.Sprintf("redis-%d.log", port)),
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	s.Addr, s.cmd, s.exited = fmt.Sprintf("127.0.0.1:%d", port), cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			err := waitErr
			log, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("redis-%d.log", port)))
			return fmt.Errorf("redis-server exited (%v): %s", err, lastLines(string(log), 5))
		default:
		}
		if ping(s.Addr) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return errors.New("redis-server did not answer PING within 10s")
}

// ping speaks just enough RESP to check the server answers.
func ping(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected PING reply %q", line)
	}
	return nil
}

func (s *Server) stop() {
	_ = s.cmd.Process.Kill()
	// Wait so the temporary directory is removed after the process is gone.
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Freeze stops the server with SIGSTOP, as a stalled host or a long fork
// would: connections stay open but nothing is answered until Thaw.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("freeze redis-server: %v", err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Signal(syscall.SIGCONT) })
}

// Thaw resumes a frozen server.
func (s *Server) Thaw(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("thaw redis-server: %v", err)
	}
}
