package embedded

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// TestIDsIncreaseAcrossReopen freezes the clock so an append right after a
// reopen falls in the same millisecond as the last stored event: its ID must
// still be newer, or the next replay drops it as a duplicate.
func TestIDsIncreaseAcrossReopen(t *testing.T) {
	frozen := time.UnixMilli(1_800_000_000_000)
	clock := func() time.Time { return frozen }

	dir := t.TempDir()
	ctx := context.Background()
	s := openT(t, Options{Dir: dir, Clock: clock})
	first, err := s.Append(ctx, []alert.Alert{sample("a1"), sample("a2")})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2 := openT(t, Options{Dir: dir, Clock: clock})
	second, err := s2.Append(ctx, []alert.Alert{sample("b1")})
	if err != nil {
		t.Fatal(err)
	}
	if store.CompareIDs(second[0], first[1]) <= 0 {
		t.Fatalf("id after reopen %s is not newer than %s", second[0], first[1])
	}
	s2.Close()

	s3 := openT(t, Options{Dir: dir, Clock: clock})
	if got, want := uuids(t, s3), []string{"b1", "a2", "a1"}; !slices.Equal(got, want) {
		t.Fatalf("after reopen: %v, want %v", got, want)
	}
}
