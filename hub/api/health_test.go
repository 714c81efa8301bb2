package api

import (
	"errors"
	"testing"
	"time"
)

// Store failures are logged once per interval with a count of those held
// back, not one line per rejected request (issue 17 #9: 6,171 lines in 12 s
// on a full disk).
func TestThrottleLogsOncePerIntervalWithCount(t *testing.T) {
	var th throttle
	t0 := time.Unix(1000, 0)
	logged := 0
	for i := 0; i < 1000; i++ {
		if ok, _ := th.allow(t0.Add(time.Duration(i) * 12 * time.Millisecond)); ok {
			logged++
		}
	}
	if logged != 2 { // at 0 s and at 10 s of the 12 s
		t.Fatalf("%d lines for 1000 failures over 12 s, want 2", logged)
	}
	ok, held := th.allow(t0.Add(30 * time.Second))
	if !ok || held != 165 {
		t.Fatalf("next line: ok=%v held=%d, want true and the 165 not logged since the line at 10.008 s", ok, held)
	}
}

func TestWriteHealthWindow(t *testing.T) {
	var w writeHealth
	if e := w.failing(time.Now()); e != "" {
		t.Fatalf("no write yet: failing %q", e)
	}
	w.failed(errors.New("no space left on device"))
	if e := w.failing(time.Now()); e == "" {
		t.Fatal("a write just failed: not reported")
	}
	if e := w.failing(time.Now().Add(writeFailWindow + time.Second)); e != "" {
		t.Fatalf("failure older than the window still reported: %q", e)
	}
	w.succeeded()
	if e := w.failing(time.Now()); e != "" {
		t.Fatalf("a write succeeded since: still failing %q", e)
	}
}
