package output

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// syncBuffer is a bytes.Buffer safe for the stdout worker and the test.
type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

func sample(p alert.Priority, out string) *alert.Alert {
	return &alert.Alert{Output: out, Priority: p, Rule: "r", Time: time.Date(2026, 11, 23, 9, 0, 0, 5, time.UTC),
		OutputFields: map[string]any{"proc.name": "cat", "proc.tty": 0}, Source: Source, Tags: []string{"a"}, Hostname: "h"}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLocalSinks(t *testing.T) {
	dir := t.TempDir()
	stdout := newSyncBuffer()
	fileKA, filePer := filepath.Join(dir, "ka.log"), filepath.Join(dir, "per.log")
	progKA, progPer := filepath.Join(dir, "prog-ka.log"), filepath.Join(dir, "prog-per.log")

	// A real syslog peer: a unixgram socket.
	sockPath := filepath.Join(dir, "log.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	outs, err := New(Config{Priority: alert.PriorityNotice,
		Stdout:  &StdoutOptions{W: stdout},
		File:    &FileOptions{Filename: fileKA, KeepAlive: true},
		Syslog:  &SyslogOptions{Network: "unixgram", Addr: sockPath, Tag: "saker-test"},
		Program: &ProgramOptions{Program: "cat >> " + progKA, KeepAlive: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	outs2, err := New(Config{JSON: true, JSONOptions: DefaultJSONOptions,
		File:    &FileOptions{Filename: filePer},
		Program: &ProgramOptions{Program: "cat >> " + progPer},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := []*alert.Alert{
		sample(alert.PriorityWarning, "09:00:00.000000005: Warning first"),
		sample(alert.PriorityDebug, "09:00:00.000000005: Debug below threshold"),
		sample(alert.PriorityCritical, "09:00:00.000000005: Critical second"),
	}
	for _, a := range lines {
		if err := outs.Emit(a); err != nil {
			t.Fatal(err)
		}
		if err := outs2.Emit(a); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := outs.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := outs2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := "09:00:00.000000005: Warning first\n09:00:00.000000005: Critical second\n"
	for name, got := range map[string]string{"stdout": stdout.String(), "file keep_alive": readFile(t, fileKA), "program keep_alive": readFile(t, progKA)} {
		if got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	wantJSON := `{"hostname":"h","output":"09:00:00.000000005: Warning first","output_fields":{"proc.name":"cat","proc.tty":0},"priority":"Warning","rule":"r","source":"syscall","tags":["a"],"time":"2026-11-23T09:00:00.000000005Z"}`
	for name, got := range map[string]string{"file": readFile(t, filePer), "program": readFile(t, progPer)} {
		ls := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if len(ls) != 3 || ls[0] != wantJSON {
			t.Errorf("%s json lines: %q", name, ls)
		}
	}
	// syslog: two datagrams with Falco's priority mapping (LOG_USER=8 +
	// LOG_WARNING=4 → <12>, LOG_CRIT=2 → <10>).
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	var got []string
	for i := 0; i < 2; i++ {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("syslog read: %v", err)
		}
		got = append(got, string(buf[:n]))
	}
	if !strings.HasPrefix(got[0], "<12>") || !strings.Contains(got[0], "saker-test") || !strings.HasSuffix(strings.TrimSpace(got[0]), "Warning first") {
		t.Errorf("syslog 1: %q", got[0])
	}
	if !strings.HasPrefix(got[1], "<10>") || !strings.HasSuffix(strings.TrimSpace(got[1]), "Critical second") {
		t.Errorf("syslog 2: %q", got[1])
	}
	for _, s := range outs.Stats() {
		if s.Sent != 2 || s.Failed != 0 || s.Dropped != 0 {
			t.Errorf("stats %+v", s)
		}
	}
}

func TestOutputsHTTPAndThreshold(t *testing.T) {
	p := newPeer(t)
	outs, err := New(Config{Priority: alert.PriorityError, HTTP: &HTTPOptions{URL: p.srv.URL, MinBackoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	outs.Emit(sample(alert.PriorityWarning, "w"))
	outs.Emit(sample(alert.PriorityCritical, "c"))
	if err := outs.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.count() != 1 || outs.HTTP().Stats().Sent != 1 {
		t.Fatalf("delivered %d, want only the Critical one", p.count())
	}
	if err := outs.Emit(sample(alert.PriorityCritical, "late")); err == nil {
		t.Fatal("emit after close: want error")
	}
}

func TestSinkOptionErrors(t *testing.T) {
	if _, err := New(Config{File: &FileOptions{}}); err == nil {
		t.Error("file without filename: want error")
	}
	if _, err := New(Config{Program: &ProgramOptions{}}); err == nil {
		t.Error("program without command: want error")
	}
	if _, err := New(Config{File: &FileOptions{Filename: "/nonexistent-dir/x", KeepAlive: true}}); err == nil {
		t.Error("unwritable file: want error")
	}
}

// TestEmitCloseRace: Emit racing Close never panics.
func TestEmitCloseRace(t *testing.T) {
	for i := 0; i < 20; i++ {
		outs, err := New(Config{Stdout: &StdoutOptions{W: newSyncBuffer()}, QueueSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for j := 0; j < 200; j++ {
				outs.Emit(sample(alert.PriorityWarning, "x"))
			}
		}()
		outs.Close(context.Background())
		<-done
	}
}
