package store

import (
	"errors"
	"testing"
	"time"
)

func TestEventMs(t *testing.T) {
	recv := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	r := recv.UnixMilli()
	for _, tc := range []struct {
		name string
		t    time.Time
		want int64
	}{
		{"on time", recv.Add(-time.Second), r - 1000},
		{"late by hours", recv.Add(-6 * time.Hour), recv.Add(-6 * time.Hour).UnixMilli()},
		{"sub-millisecond truncated", recv.Add(-1500 * time.Microsecond), r - 2},
		{"zero", time.Time{}, r},
		{"before 1970", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), r},
		{"ahead within skew", recv.Add(MaxSkew), r + MaxSkew.Milliseconds()},
		{"ahead beyond skew", recv.Add(MaxSkew + time.Millisecond), r},
		{"far future", recv.AddDate(10, 0, 0), r},
	} {
		if got := EventMs(tc.t, r); got != tc.want {
			t.Errorf("%s: EventMs = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, p := range []Position{{Ms: 0, ID: "0-1"}, {Ms: 1795425225987, ID: "1795446825000-12"}} {
		got, err := ParseCursor(p.Cursor())
		if err != nil || got != p {
			t.Errorf("ParseCursor(%q) = %+v, %v; want %+v", p.Cursor(), got, err, p)
		}
	}
	// A bare ID: its arrival time and itself.
	if got, err := ParseCursor("1795446825000-3"); err != nil || got != (Position{Ms: 1795446825000, ID: "1795446825000-3"}) {
		t.Errorf("ParseCursor(bare id) = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "abc", "12", "_1-0", "1_", "1_x", "-1_1-0", "1.5_1-0", "1_1-x"} {
		if _, err := ParseCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q) err = %v, want ErrBadCursor", bad, err)
		}
	}
}

func TestPositionOrder(t *testing.T) {
	ps := []Position{{10, "5-0"}, {10, "5-1"}, {10, "20-0"}, {11, "1-0"}}
	for i := 1; i < len(ps); i++ {
		if ps[i-1].Compare(ps[i]) != -1 || ps[i].Compare(ps[i-1]) != 1 || ps[i].Compare(ps[i]) != 0 {
			t.Errorf("%+v and %+v out of order", ps[i-1], ps[i])
		}
	}
}
