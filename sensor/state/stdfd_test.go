package state

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// TestStdFDs starts a real process whose stdin is a loopback TCP
// connection (a reverse shell's shape), stdout a file and stderr a pipe,
// and reads them as the table does at exec.
func TestStdFDs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	stdin, err := client.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	outPath := filepath.Join(t.TempDir(), "out.log")
	stdout, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()

	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sleep, "60")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, pw
	if err := cmd.Start(); err != nil { // returns once the exec succeeded
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	th := NewTable(Options{}).Get(int64(cmd.Process.Pid))
	if th == nil {
		t.Fatal("process not found")
	}
	want := client.LocalAddr().String() + "->" + client.RemoteAddr().String()
	if th.Std[0].Type != event.FDIPv4 || th.Std[0].Name != want {
		t.Errorf("stdin %+v, want ipv4 %s", th.Std[0], want)
	}
	if th.Std[1].Type != event.FDFile || th.Std[1].Name != outPath {
		t.Errorf("stdout %+v, want file %s", th.Std[1], outPath)
	}
	if th.Std[2].Type != event.FDPipe || !strings.HasPrefix(th.Std[2].Name, "pipe:[") {
		t.Errorf("stderr %+v, want a pipe", th.Std[2])
	}
}

func TestHexEndpoint(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000:0016", "0.0.0.0:22"},
		{"00000000000000000000000001000000:01BB", "[::1]:443"},
		{"0000000000000000FFFF00000100007F:0050", "127.0.0.1:80"}, // v4-mapped
	} {
		if got, ok := hexEndpoint(tc.in); !ok || got != tc.want {
			t.Errorf("%s = %q,%v, want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"zz:0050", "0100007F", "0100:0050", "0100007F:XYZ"} {
		if got, ok := hexEndpoint(bad); ok {
			t.Errorf("%s = %q, want an error", bad, got)
		}
	}
}
