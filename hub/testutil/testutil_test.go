package testutil

import (
	"net"
	"testing"
	"time"
)

func TestEventuallyReturnsOnceTrue(t *testing.T) {
	n := 0
	Eventually(t, time.Second, "three checks", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("checked %d times", n)
	}
}

// fakeTB records a Fatalf instead of ending the test.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f)
}

func TestEventuallyFailsAtDeadline(t *testing.T) {
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Fatalf("no failure: %v", r)
			}
		}()
		Eventually(f, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if f.failed == "" {
		t.Fatal("Eventually did not fail")
	}
}

func TestWaitDialAndFreePort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	WaitDial(t, time.Second, l.Addr().String()).Close()
	if p := FreePort(t); p <= 0 {
		t.Fatal(p)
	}
}
