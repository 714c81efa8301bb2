package embedded

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// TestDeliveriesFollowTheStoreClock: consumer groups decide retention,
// idleness and lag by the store's clock (Options.Clock), as appends,
// queries and retention do. Before, they read the wall clock: events the
// store still returned (young by its clock) were dropped from delivery as
// past retention, and a reclaim could only be tested by waiting MinIdle.
func TestDeliveriesFollowTheStoreClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // years behind the wall clock
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ctx := context.Background()
	s := openT(t, Options{Dir: t.TempDir(), Clock: clock})
	dl, err := s.Deliveries(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []alert.Alert{sample("a1"), sample("a2")}); err != nil {
		t.Fatal(err)
	}
	if got := len(uuids(t, s)); got != 2 {
		t.Fatalf("query returns %d events, want 2", got)
	}
	ds, err := dl.Claim(ctx, "c1", 10, time.Minute, 0)
	if err != nil || len(ds) != 2 {
		t.Fatalf("claim: %d events, %v; want the 2 the store holds", len(ds), err)
	}
	n, age, err := dl.Lag(ctx)
	if err != nil || n != 2 || age != 0 {
		t.Fatalf("lag: %d pending, oldest %v, %v; want 2 and 0 (the store's clock has not moved)", n, age, err)
	}
	if again, err := dl.Claim(ctx, "c2", 10, time.Minute, 0); err != nil || len(again) != 0 {
		t.Fatalf("reclaimed %d events before they were idle a minute by the store's clock (%v)", len(again), err)
	}
	advance(2 * time.Minute)
	again, err := dl.Claim(ctx, "c2", 10, time.Minute, 0)
	if err != nil || len(again) != 2 || again[0].Attempts != 2 {
		t.Fatalf("after 2 minutes by the store's clock: reclaimed %d (%v); want both, second attempt", len(again), err)
	}
	if _, age, _ := dl.Lag(ctx); age != 2*time.Minute {
		t.Fatalf("lag age %v, want 2m by the store's clock", age)
	}
	if err := dl.DeadLetter(ctx, again[0], "test"); err != nil {
		t.Fatal(err)
	}
	dead, err := dl.DeadLetters(ctx, 10)
	if err != nil || len(dead) != 1 || !dead[0].At.Equal(now) {
		t.Fatalf("dead letter %+v (%v); want one stamped %v by the store's clock", dead, err, now)
	}
}
