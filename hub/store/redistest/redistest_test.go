package redistest

import (
	"bufio"
	"net"
	"testing"
)

func TestStartAnswersPing(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr); err != nil {
		t.Fatalf("ping %s: %v", s.Addr, err)
	}
}

func TestCrashKeepsAOFData(t *testing.T) {
	s := Start(t, "--appendonly", "yes", "--appendfsync", "always")
	if err := send(s.Addr, "SET k v\r\n"); err != nil {
		t.Fatal(err)
	}
	s.Crash(t)
	if err := ping(s.Addr); err != nil {
		t.Fatalf("after crash: %v", err)
	}
}

func send(addr, cmd string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte(cmd)); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}
