package redis

import (
	"context"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/redistest"
)

type resetTaker interface{ TakeResets() []store.GroupReset }

func appendN(t *testing.T, s *Store, from, n int) []string {
	t.Helper()
	var ids []string
	for i := from; i < from+n; i++ {
		got, err := s.Append(context.Background(), []alert.Alert{sample(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	return ids
}

func claimAll(t *testing.T, l store.DeliveryLog, want int) []store.Delivery {
	t.Helper()
	var out []store.Delivery
	for i := 0; i < 20 && len(out) < want; i++ {
		ds, err := l.Claim(context.Background(), "c1", 100, time.Minute, 50*time.Millisecond)
		if err != nil {
			t.Fatalf("Claim after the group was lost: %v", err)
		}
		out = append(out, ds...)
	}
	return out
}

// When only the consumer group disappears (XGROUP DESTROY, or a restore of a
// dump taken before the group existed), the next Claim re-creates it at the
// last fully acknowledged position: unacknowledged events are delivered,
// nothing is skipped and nothing is reported lost (issue 17 #3).
func TestLostGroupResumesFromLastAck(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{srv.Addr}})
	l, err := s.Deliveries(ctx, "webhook")
	if err != nil {
		t.Fatal(err)
	}
	ids := appendN(t, s, 0, 10)
	ds := claimAll(t, l, 4)
	if err := l.Ack(ctx, ds[0].ID, ds[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Lag(ctx); err != nil { // an observation, as the dispatcher makes every few seconds
		t.Fatal(err)
	}
	if err := s.c.XGroupDestroy(ctx, s.stream, "webhook").Err(); err != nil {
		t.Fatal(err)
	}
	got := claimAll(t, l, 8)
	if len(got) != 8 || got[0].ID != ids[2] || got[7].ID != ids[9] {
		t.Fatalf("after the group was lost: got %d events starting at %v, want the 8 unacknowledged %s..%s", len(got), idsOf(got), ids[2], ids[9])
	}
	resets := l.(resetTaker).TakeResets()
	if len(resets) != 1 || resets[0].Lost != 0 {
		t.Fatalf("resets = %+v, want one with nothing lost", resets)
	}
	n, _, err := l.Lag(ctx)
	if err != nil || n != 8 {
		t.Fatalf("queue depth after re-creation = %d, %v; want 8 pending", n, err)
	}
}

// FLUSHALL (or a restart without persistence) loses the stream and the
// group: delivery resumes with the alerts stored afterwards, and the
// unacknowledged ones that vanished are counted (issue 17 #3).
func TestFlushedStoreResumesAndCountsLost(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{srv.Addr}})
	l, err := s.Deliveries(ctx, "webhook")
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 0, 5)
	ds := claimAll(t, l, 5)
	if err := l.Ack(ctx, ds[0].ID, ds[1].ID); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 5, 3) // 3 pending + 3 never read = 6 unacknowledged
	if n, _, err := l.Lag(ctx); err != nil || n != 6 {
		t.Fatalf("Lag before flush = %d, %v; want 6", n, err)
	}
	if err := s.c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _, err := l.Lag(ctx); err != nil || n != 0 {
		t.Fatalf("Lag right after flush = %d, %v; want 0 (the group is re-created, the stream empty)", n, err)
	}
	after := appendN(t, s, 100, 4)
	got := claimAll(t, l, 4)
	if len(got) != 4 || got[0].ID != after[0] {
		t.Fatalf("after FLUSHALL: got %v, want the 4 alerts stored since %v", idsOf(got), after)
	}
	resets := l.(resetTaker).TakeResets()
	if len(resets) != 1 || resets[0].Lost != 6 {
		t.Fatalf("resets = %+v, want one with 6 lost", resets)
	}
}

func idsOf(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}
