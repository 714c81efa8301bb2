package sharded_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	redisstore "github.com/saker-sec/saker/hub/store/redis"
	"github.com/saker-sec/saker/hub/store/redistest"
	"github.com/saker-sec/saker/hub/store/sharded"
	"github.com/saker-sec/saker/hub/store/storetest"
)

var prefixSeq atomic.Int64

// openT opens a store of n shards on the addresses under a fresh prefix
// (or the given one).
func openT(t *testing.T, addrs []string, prefix string, n int, lim storetest.Limits) *sharded.Store {
	t.Helper()
	if prefix == "" {
		prefix = fmt.Sprintf("t%d:", prefixSeq.Add(1))
	}
	s, err := sharded.OpenRedis(context.Background(), redisstore.Options{Addresses: addrs, KeyPrefix: prefix,
		MaxEvents: int64(lim.MaxEvents), MaxAge: lim.MaxAge}, n)
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mk(uuid string) alert.Alert {
	return alert.Alert{UUID: uuid, Output: "out " + uuid, Priority: alert.PriorityWarning, Rule: "r", Source: "syscalls",
		Hostname: "h", Time: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
}

// One three-master cluster for every test of the package: starting one
// takes a few seconds.
func TestOnCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	t.Run("Contract", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, lim storetest.Limits) storetest.Backend {
			prefix := fmt.Sprintf("t%d:", prefixSeq.Add(1))
			return storetest.Backend{Concurrent: true, Open: func(t *testing.T) store.Store {
				return openT(t, c.Addrs(), prefix, 3, lim)
			}}
		})
	})
	t.Run("ShardsOnEveryMaster", func(t *testing.T) { testSpread(t, c) })
	t.Run("SameMillisecond", func(t *testing.T) { testSameMillisecond(t, c.Addrs()) })
	t.Run("TailMissesNothing", func(t *testing.T) { testTailMissesNothing(t, c.Addrs()) })
	t.Run("ClaimBoundedAndOnce", func(t *testing.T) { testClaim(t, c.Addrs()) })
	t.Run("LostGroupOnOneShard", func(t *testing.T) { testLostGroup(t, c) })
}

// Three shards land on three different masters, and alerts spread over
// all of them.
func testSpread(t *testing.T, c *redistest.Cluster) {
	s := openT(t, c.Addrs(), "spread:", 3, storetest.Limits{})
	var batch []alert.Alert
	for i := range 300 {
		batch = append(batch, mk(fmt.Sprintf("u%03d", i)))
	}
	if _, err := s.Append(ctxT(t), batch); err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Masters {
		n := redistest.Keys(t, m.Addr, "spread:*events")
		if len(n) != 1 {
			t.Errorf("master %s holds streams %v, want one shard's", m.Addr, n)
			continue
		}
		if l := redistest.Do(t, m.Addr, "XLEN", n[0]); l < 50 {
			t.Errorf("master %s: %s holds %d of 300 alerts", m.Addr, n[0], l)
		}
	}
}

// Alerts of one batch, stored in the same millisecond on different shards,
// come back once each, in ID order, from pages of any size and from a
// Tail that does not block.
func testSameMillisecond(t *testing.T, addrs []string) {
	prefix := fmt.Sprintf("t%d:", prefixSeq.Add(1))
	s := openT(t, addrs, prefix, 3, storetest.Limits{})
	var batch []alert.Alert
	for i := range 30 {
		batch = append(batch, mk(fmt.Sprintf("u%02d", i)))
	}
	ids, err := s.Append(ctxT(t), batch)
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, store.CompareIDs)
	// A Tail that does not block may hand out a safe prefix first; the
	// rest follows on the next call, none skipped.
	var tailed []string
	for after := "0"; ; {
		evs, err := s.Tail(ctxT(t), after, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		tailed = append(tailed, eventIDs(evs)...)
		after = evs[len(evs)-1].ID
	}
	if !slices.Equal(tailed, sorted) {
		t.Errorf("Tail(0) = %v\nwant %v", tailed, sorted)
	}
	slices.Reverse(sorted)
	for _, limit := range []int{1, 2, 7, 30, 100} {
		var got []string
		q := store.Query{Limit: limit}
		for range 100 {
			p, err := s.Query(ctxT(t), q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, eventIDs(p.Events)...)
			if p.Next == "" {
				break
			}
			q.Before = p.Next
		}
		if !slices.Equal(got, sorted) {
			t.Errorf("limit %d: paged %v\nwant %v", limit, got, sorted)
		}
	}
	for _, id := range ids {
		if e, err := s.Get(ctxT(t), id); err != nil || e.ID != id {
			t.Errorf("Get(%s) = %s, %v", id, e.ID, err)
		}
	}
	if _, err := s.Query(ctxT(t), store.Query{Before: "not-a-cursor"}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("a bad cursor: err = %v, want store.ErrBadCursor", err)
	}
}

func eventIDs(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// A tailer resuming after the last event it got, while several writers
// append to every shard, gets each event exactly once, in ID order.
func testTailMissesNothing(t *testing.T, addrs []string) {
	s := openT(t, addrs, "", 3, storetest.Limits{})
	const writers, each = 4, 50
	var wg sync.WaitGroup
	want := make(chan string, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ids, err := s.Append(context.Background(), []alert.Alert{mk(fmt.Sprintf("w%d-%d", w, i))})
				if err != nil {
					t.Error(err)
					return
				}
				want <- ids[0]
			}
		}()
	}
	after := "0"
	var got []string
	ctx := ctxT(t)
	for len(got) < writers*each {
		evs, err := s.Tail(ctx, after, 7, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Fatalf("tail stalled after %d of %d events", len(got), writers*each)
		}
		for _, e := range evs {
			if len(got) > 0 && store.CompareIDs(got[len(got)-1], e.ID) >= 0 {
				t.Fatalf("tail out of order: %s after %s", e.ID, got[len(got)-1])
			}
			got = append(got, e.ID)
		}
		after = got[len(got)-1]
	}
	wg.Wait()
	close(want)
	var all []string
	for id := range want {
		all = append(all, id)
	}
	slices.SortFunc(all, store.CompareIDs)
	if !slices.Equal(got, all) {
		t.Errorf("tailed %d events, stored %d; first difference at %d", len(got), len(all), firstDiff(got, all))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Claim never hands out more than asked, and two consumers sharing a group
// get every event once between them; a blocked Claim wakes for an event
// on any shard.
func testClaim(t *testing.T, addrs []string) {
	s := openT(t, addrs, "", 3, storetest.Limits{})
	l, err := s.Deliveries(ctxT(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	var batch []alert.Alert
	for i := range 40 {
		batch = append(batch, mk(fmt.Sprintf("c%02d", i)))
	}
	ids, err := s.Append(ctxT(t), batch)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for consumer := 0; len(seen) < len(ids); consumer = 1 - consumer {
		ds, err := l.Claim(ctxT(t), fmt.Sprint("c", consumer), 3, time.Minute, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 || len(ds) > 3 {
			t.Fatalf("Claim(3) handed out %d events (%d of %d seen)", len(ds), len(seen), len(ids))
		}
		for _, d := range ds {
			seen[d.ID]++
			if err := l.Ack(ctxT(t), d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("event %s handed out %d times", id, seen[id])
		}
	}
	if n, _, err := l.Lag(ctxT(t)); err != nil || n != 0 {
		t.Errorf("Lag = %d, %v; want 0", n, err)
	}
	got := make(chan []store.Delivery, 1)
	go func() {
		ds, err := l.Claim(context.Background(), "c0", 10, time.Minute, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- ds
	}()
	// Whichever shard it lands on, the blocked Claim wakes for it.
	late, err := s.Append(ctxT(t), []alert.Alert{mk("late")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ds := <-got:
		if len(ds) != 1 || ds[0].ID != late[0] {
			t.Errorf("blocked Claim got %v, want %s", ds, late[0])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked Claim did not wake for an event")
	}
}

// One master loses the consumer group (XGROUP DESTROY, as a restore of an
// old dump would): the next Claim re-creates it on that shard at the last
// acknowledged position, every unacknowledged event of every shard is
// still delivered, and the reset is reported with the shard in its
// position.
func testLostGroup(t *testing.T, c *redistest.Cluster) {
	ctx := ctxT(t)
	prefix := fmt.Sprintf("t%d:", prefixSeq.Add(1))
	s := openT(t, c.Addrs(), prefix, 3, storetest.Limits{})
	l, err := s.Deliveries(ctx, "webhook")
	if err != nil {
		t.Fatal(err)
	}
	var batch []alert.Alert
	for i := range 30 {
		batch = append(batch, mk(fmt.Sprintf("g%02d", i)))
	}
	ids, err := s.Append(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	first, err := l.Claim(ctx, "c1", 10, time.Minute, 0)
	if err != nil || len(first) != 10 {
		t.Fatalf("Claim = %d, %v", len(first), err)
	}
	acked := map[string]bool{}
	for _, d := range first {
		if err := l.Ack(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		acked[d.ID] = true
	}
	if _, _, err := l.Lag(ctx); err != nil { // an observation, as the dispatcher makes
		t.Fatal(err)
	}
	// Shard 1's stream: find its master and destroy the group there.
	tag := sharded.Tags(redisstore.DefaultHashTag, 3)[1]
	stream := prefix + "{" + tag + "}:events"
	destroyed := false
	for _, m := range c.Masters {
		if len(redistest.Keys(t, m.Addr, stream)) == 1 {
			destroyed = redistest.Do(t, m.Addr, "XGROUP", "DESTROY", stream, "webhook") == 1
		}
	}
	if !destroyed {
		t.Fatalf("no master destroyed the group of %s", stream)
	}
	got := map[string]int{}
	for range 20 {
		ds, err := l.Claim(ctx, "c1", 100, time.Minute, 50*time.Millisecond)
		if err != nil {
			t.Fatalf("Claim after shard 1 lost its group: %v", err)
		}
		for _, d := range ds {
			got[d.ID]++
		}
		if len(got) >= len(ids)-len(acked) {
			break
		}
	}
	for _, id := range ids {
		if want := map[bool]int{true: 0, false: 1}[acked[id]]; got[id] != want {
			t.Errorf("event %s handed out %d times after the loss, want %d", id, got[id], want)
		}
	}
	resets := l.(interface{ TakeResets() []store.GroupReset }).TakeResets()
	if len(resets) != 1 || resets[0].Lost != 0 || !strings.HasSuffix(resets[0].After, ".1") {
		t.Errorf("resets = %+v, want one on shard 1 with nothing lost", resets)
	}
}
