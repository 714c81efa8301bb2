package sharded

import "testing"

// Slot agrees with Redis's CLUSTER KEYSLOT (values from Redis 7).
func TestSlot(t *testing.T) {
	for tag, want := range map[string]int{"": 0, "123456789": 12739, "foo": 12182, "bar": 5061, "saker": 7586, "saker-1": 13903} {
		if got := Slot(tag); got != want {
			t.Errorf("Slot(%q) = %d, want %d", tag, got, want)
		}
	}
}

func TestTagsOnePerRange(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 6, 16} {
		tags := Tags("saker", n)
		if len(tags) != n || tags[0] != "saker" {
			t.Fatalf("Tags(saker, %d) = %v", n, tags)
		}
		seen := map[int]string{}
		span := ClusterSlots / n
		for _, tag := range tags {
			r := min(Slot(tag)/span, n-1)
			if other, dup := seen[r]; dup {
				t.Errorf("n=%d: %q and %q share slot range %d", n, tag, other, r)
			}
			seen[r] = tag
		}
	}
}
