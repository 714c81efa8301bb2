package embedded

import (
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Canonical uuids are kept as 16 bytes, others as sent: both are
// recognised within the window and forgotten after it, and two spellings
// of one uuid stay two uuids, as when every uuid was a string.
func TestDedupeCanonicalAndOtherUUIDs(t *testing.T) {
	d := newDedupe(time.Minute)
	t0 := time.UnixMilli(1_700_000_000_000)
	canon := "0b7b6c1e-5d0a-4a47-9a3e-00000000abcd"
	cases := []struct {
		uuid  string
		canon bool
	}{
		{canon, true},
		{strings.ToUpper(canon), false},
		{"{" + canon[1:] + "}", false},
		{"0b7b6c1e-5d0a-4a47-9a3e-00000000abcg", false},
		{"0b7b6c1e05d0a-4a47-9a3e-00000000abcd", false},
		{"not-a-uuid", false},
		{"0b7b6c1e-5d0a-4a47-9a3e-00000000abc", false},
	}
	for i, c := range cases {
		if _, ok := canonicalUUID(c.uuid); ok != c.canon {
			t.Errorf("canonicalUUID(%q) = %v, want %v", c.uuid, ok, c.canon)
		}
		d.add(c.uuid, eventID{uint64(t0.UnixMilli()), uint64(i)}, t0.UnixMilli(), t0)
	}
	for i, c := range cases {
		want := eventID{uint64(t0.UnixMilli()), uint64(i)}.String()
		if got, ok := d.lookup(c.uuid, t0.Add(time.Second)); !ok || got != want {
			t.Errorf("lookup(%q) = %q, %v; want %q", c.uuid, got, ok, want)
		}
	}
	if k, _ := canonicalUUID(canon); k != [16]byte{0x0b, 0x7b, 0x6c, 0x1e, 0x5d, 0x0a, 0x4a, 0x47, 0x9a, 0x3e, 0, 0, 0, 0, 0xab, 0xcd} {
		t.Errorf("canonicalUUID(%q) = %x", canon, k)
	}
	// A failed write forgets its uuids, of either kind.
	d.forget(canon, eventID{uint64(t0.UnixMilli()), 0})
	d.forget("not-a-uuid", eventID{uint64(t0.UnixMilli()), 5})
	for _, u := range []string{canon, "not-a-uuid"} {
		if _, ok := d.lookup(u, t0.Add(time.Second)); ok {
			t.Errorf("%q remembered after forget", u)
		}
	}
	// Past the window every entry goes.
	for _, c := range cases {
		if _, ok := d.lookup(c.uuid, t0.Add(time.Minute+time.Millisecond)); ok {
			t.Errorf("%q remembered past the window", c.uuid)
		}
	}
	if len(d.ids)+len(d.others)+len(d.order)+len(d.otherOrder) != 0 {
		t.Errorf("left after expiry: %d+%d entries, %d+%d in order", len(d.ids), len(d.others), len(d.order), len(d.otherOrder))
	}
}

// A remembered uuid must not keep the buffer it was read from alive: at
// open, uuids are read out of log records (a whole record per uuid was
// held for the window, 1.2 KB per alert in BenchmarkMemoryPerAlert).
func TestDedupeKeepsNoBufferAlive(t *testing.T) {
	d := newDedupe(time.Minute)
	t0 := time.UnixMilli(1_700_000_000_000)
	record := strings.Repeat("x", 4096) + "sender-uuid-1"
	u := record[4096:]
	d.add(u, eventID{1, 0}, t0.UnixMilli(), t0)
	for k := range d.others {
		if unsafe.StringData(k) == unsafe.StringData(u) {
			t.Errorf("remembered uuid %q shares the record's memory", k)
		}
	}
	if len(d.others) != 1 {
		t.Errorf("%d non-canonical uuids remembered, want 1", len(d.others))
	}
}
