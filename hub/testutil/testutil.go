// Package testutil holds the helpers Saker's tests share: waiting for a
// condition with a deadline instead of sleeping, and small fixtures such as
// a restartable loopback server. Only test code (and forwardertest, which
// benchmarks use) imports it.
package testutil

import (
	"net"
	"testing"
	"time"
)

// pollEvery is how often Eventually re-checks its condition.
const pollEvery = 5 * time.Millisecond

// Eventually checks cond until it holds, failing the test (naming what
// it waited for) when timeout passes first. The timeout is a bound on a
// broken run, never a synchronisation delay: a passing run returns as soon
// as cond holds.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// WaitDial waits until addr accepts TCP connections and returns the first
// one accepted (the caller closes it).
func WaitDial(t testing.TB, timeout time.Duration, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	Eventually(t, timeout, "a listener on "+addr, func() bool {
		c, err = net.Dial("tcp", addr)
		return err == nil
	})
	return c
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// code that takes a port number rather than a listener.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
