package listen

import (
	"net"
	"testing"
	"time"
)

func TestCapsLeaveDescriptorsForEveryPort(t *testing.T) {
	for _, n := range []int{256, 1024, 20000, 1 << 20} {
		c := CapsFor(n)
		if sum := c.Ingest + c.Dashboard + 2*c.Aux; n >= 1024 && sum > n*7/8 {
			t.Errorf("nofile %d: caps %+v use %d descriptors, leaving too few for the store and forwarders", n, c, sum)
		}
		if c.Ingest <= c.Dashboard {
			t.Errorf("nofile %d: ingestion cap %d not above the dashboard's %d", n, c.Ingest, c.Dashboard)
		}
	}
}

// A listener at its cap accepts the next connection only once one closes.
func TestTCPCapsConnections(t *testing.T) {
	ln, err := TCP("127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first := <-accepted
	<-accepted
	select {
	case <-accepted:
		t.Fatal("third connection accepted above the cap of 2")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("third connection not accepted after one closed")
	}
}
