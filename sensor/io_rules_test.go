//go:build linux

package sensor

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// classHead is the start of a Java class file: the magic CAFEBABE and a
// version.
var classHead = []byte("\xca\xfe\xba\xbe\x00\x00\x00\x34 saker class download")

// TestHelperJavaClient is not a test: run as a program named java (see
// TestOfficialRulesFireIO), it connects to SAKER_JAVA_SERVER and reads
// with recvfrom(2), as the JVM's socket reads do.
func TestHelperJavaClient(t *testing.T) {
	addr := os.Getenv("SAKER_JAVA_SERVER")
	if addr == "" {
		t.Skip("helper process only")
	}
	ap := net.ParseIP(strings.Split(addr, ":")[0]).To4()
	port := strings.Split(addr, ":")[1]
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte(ap), Port: p}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, _, err := unix.Recvfrom(fd, buf, 0); err != nil {
		t.Fatal(err)
	}
}

// TestOfficialRulesFireIO proves the rules that read I/O buffers
// (evt.buffer): the probe captures the first 80 bytes of each transfer,
// Falco's default snaplen.
func TestOfficialRulesFireIO(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RulesFiles = officialRules
	// Ships disabled; users enable it in falco.yaml.
	cfg.Rules = []RuleSelection{{Enable: &RuleMatch{Rule: "Java Process Class File Download"}}}
	c := startSensorConfig(t, cfg)

	t.Run("Java Process Class File Download", func(t *testing.T) {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Write(classHead)
			conn.Close()
		}()
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		java := filepath.Join(t.TempDir(), "java")
		if err := os.Symlink(self, java); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(java, "-test.run=^TestHelperJavaClient$")
		cmd.Env = append(os.Environ(), "SAKER_JAVA_SERVER="+ln.Addr().String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("java helper: %v\n%s", err, out)
		}
		port := strings.Split(ln.Addr().String(), ":")[1]
		c.expectOnly(t, "Java Process Class File Download", "proc.cmdline", "java -test.run=^TestHelperJavaClient$", map[string]string{"fd.sip": "127.0.0.1",
			"evt.type": "recvfrom", "fd.type": "ipv4", "fd.sport": port, "fd.l4proto": "tcp", "proc.exepath": java,
		})
	})
}
