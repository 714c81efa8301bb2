package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/alert"

	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/redistest"
	"github.com/saker-sec/saker/hub/store/storetest"
	"github.com/saker-sec/saker/hub/testutil"
)

var prefixSeq atomic.Int64

func TestContract(t *testing.T) {
	addr := redistest.Addr(t)
	storetest.Run(t, func(t *testing.T, lim storetest.Limits) storetest.Backend {
		prefix := fmt.Sprintf("t%d:", prefixSeq.Add(1))
		return storetest.Backend{Concurrent: true, Open: func(t *testing.T) store.Store {
			s, err := New(context.Background(), Options{Addresses: []string{addr}, KeyPrefix: prefix,
				MaxEvents: int64(lim.MaxEvents), MaxAge: lim.MaxAge, TrimInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}}
	})
}

func newT(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sample(i int) alert.Alert {
	return alert.Alert{UUID: fmt.Sprintf("u%d", i), Output: fmt.Sprintf("event %d", i), Priority: alert.Priorities[i%len(alert.Priorities)],
		Rule: fmt.Sprintf("rule-%d", i%3), Time: time.Now().UTC(), Source: []string{"syscalls", "k8s_audit"}[i%2],
		Hostname: fmt.Sprintf("node-%d", i%4), Tags: []string{"t", fmt.Sprintf("t%d", i%2)},
		OutputFields: map[string]any{"container.name": fmt.Sprintf("c%d", i%5), "evt.num": json.Number(fmt.Sprint(i))}}
}

// With appendonly/appendfsync always, an acknowledged Append survives
// Redis being killed, and so does the delivery state.
func TestAppendSurvivesRedisCrash(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{srv.Addr}})
	l, err := s.Deliveries(ctx, "webhook")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 50; i++ {
		got, err := s.Append(ctx, []alert.Alert{sample(i), sample(i + 1000)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	ds, err := l.Claim(ctx, "replica-1", 10, time.Minute, 0)
	if err != nil || len(ds) != 10 {
		t.Fatalf("Claim: %d, %v", len(ds), err)
	}
	srv.Crash(t)
	s2 := newT(t, Options{Addresses: []string{srv.Addr}})
	for _, id := range ids {
		if _, err := s2.Get(ctx, id); err != nil {
			t.Fatalf("Get(%s) after crash: %v", id, err)
		}
	}
	l2, err := s2.Deliveries(ctx, "webhook")
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := l2.Lag(ctx); err != nil || n != 100 {
		t.Errorf("Lag after crash = %d, %v; want 100", n, err)
	}
	ds2, err := l2.Claim(ctx, "replica-2", 10, 0, 0)
	if err != nil || len(ds2) != 10 || ds2[0].ID != ds[0].ID || ds2[0].Attempts != 2 {
		t.Errorf("reclaim after crash = %d (first %+v), %v", len(ds2), ds2, err)
	}
}

// Every key carries the {saker} hash tag, so a cluster keeps them in one
// slot and the Lua script and MULTI work there.
func TestKeysShareHashTag(t *testing.T) {
	addr := redistest.Addr(t)
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{addr}, KeyPrefix: "p:", MaxAge: time.Hour})
	l, _ := s.Deliveries(ctx, "g")
	for i := 0; i < 10; i++ {
		if _, err := s.Append(ctx, []alert.Alert{sample(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ds, _ := l.Claim(ctx, "c", 1, 0, 0)
	if err := l.DeadLetter(ctx, ds[0], "x"); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Client().Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 10 {
		t.Fatalf("only %d keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		open := strings.IndexByte(k, '{')
		end := strings.IndexByte(k[open+1:], '}')
		if !strings.HasPrefix(k, "p:") || open < 0 || end < 0 || k[open+1:open+1+end] != "saker" {
			t.Errorf("key %q does not hash on {saker}", k)
		}
	}
	if _, err := New(ctx, Options{Addresses: []string{addr}, KeyPrefix: "bad{"}); err == nil {
		t.Error("a key prefix with a brace was accepted")
	}
}

// Retention runs off the append path: appends leave the stream as it is,
// and the background pass removes the oldest events together with their
// index entries and their counts.
func TestRetentionPassTrimsIndexesAndCounters(t *testing.T) {
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}, MaxEvents: 5, TrimInterval: time.Hour})
	for i := 0; i < 20; i++ {
		if _, err := s.Append(ctx, []alert.Alert{sample(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Client().XLen(ctx, s.stream).Val(); n != 20 {
		t.Errorf("stream length %d before the retention pass, want 20 (no trimming on append)", n)
	}
	removed, err := s.trimOnce(ctx, time.Now())
	if err != nil || removed != 15 {
		t.Fatalf("trimOnce = %d, %v; want 15 removed", removed, err)
	}
	if n := s.Client().XLen(ctx, s.stream).Val(); n != 5 {
		t.Errorf("stream length %d, want 5", n)
	}
	var inHosts int64
	for h := range 4 {
		inHosts += s.Client().ZCard(ctx, s.pfx+fmt.Sprintf("x:h:node-%d", h)).Val()
	}
	if inHosts != 5 {
		t.Errorf("hostname indexes hold %d members, want 5", inHosts)
	}
	var inRules int64
	for r := range 3 {
		inRules += s.Client().ZCard(ctx, s.pfx+fmt.Sprintf("x:r:rule-%d", r)).Val()
	}
	if inRules != 5 {
		t.Errorf("rule indexes hold %d members, want 5", inRules)
	}
	st, err := s.Stats(ctx, store.StatsQuery{Filter: store.Filter{Since: time.Now().Add(-time.Hour)}})
	if err != nil || st.Total != 5 {
		t.Errorf("counter stats after the pass: total %d, %v; want 5", st.Total, err)
	}
	// A second pass finds nothing to do.
	if removed, err := s.trimOnce(ctx, time.Now()); err != nil || removed != 0 {
		t.Errorf("second trimOnce = %d, %v; want 0", removed, err)
	}
}

// Time-only stats come from the per-minute counters; they must agree with
// aggregating the events themselves (the path other filters take).
func TestStatsCountersAgreeWithScan(t *testing.T) {
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}})
	for i := 0; i < 40; i += 4 {
		batch := []alert.Alert{sample(i), sample(i + 1), sample(i + 2), sample(i + 3)}
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now().Add(-2 * time.Hour)
	for _, q := range []store.StatsQuery{
		{Filter: store.Filter{Since: since}},
		{},
		{Filter: store.Filter{Since: since, Until: time.Now().Add(time.Minute)}, Bucket: 5 * time.Minute},
	} {
		counters, err := s.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		scanQ := q
		scanQ.Sources = []string{"syscalls", "k8s_audit"} // not time-only: reads events
		scanned, err := s.Stats(ctx, scanQ)
		if err != nil {
			t.Fatal(err)
		}
		if counters.Total != 40 || scanned.Total != 40 {
			t.Fatalf("totals: counters %d, scan %d; want 40", counters.Total, scanned.Total)
		}
		if !reflect.DeepEqual(counters.ByPriority, scanned.ByPriority) || !reflect.DeepEqual(counters.Rules, scanned.Rules) ||
			!reflect.DeepEqual(counters.Hostnames, scanned.Hostnames) || !reflect.DeepEqual(counters.Tags, scanned.Tags) ||
			!reflect.DeepEqual(counters.Containers, scanned.Containers) {
			t.Errorf("counters %+v\nscan %+v", counters, scanned)
		}
		// Both end "now"; compare when no minute boundary fell between the calls.
		if len(counters.Series) == len(scanned.Series) && counters.Series[0].Start.Equal(scanned.Series[0].Start) {
			if !reflect.DeepEqual(counters.Series, scanned.Series) {
				t.Errorf("series differ:\n%v\n%v", counters.Series, scanned.Series)
			}
		}
	}
}

func BenchmarkStore(b *testing.B) {
	addr := redistest.Addr(b)
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := New(context.Background(), Options{Addresses: []string{addr}, KeyPrefix: fmt.Sprintf("b%d:", prefixSeq.Add(1))})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

// With Redis gone, Health says so and Append fails instead of pretending.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	s := newT(t, Options{Addresses: []string{srv.Addr}})
	ctx := context.Background()
	if h := s.Health(ctx); !h.OK || !strings.HasPrefix(h.Detail, "redis 7") {
		t.Fatalf("Health = %+v", h)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if h := s.Health(ctx); h.OK || h.Error == "" {
		t.Errorf("Health with Redis down = %+v", h)
	}
	if _, err := s.Append(ctx, []alert.Alert{sample(1)}); err == nil {
		t.Error("Append with Redis down succeeded")
	}
}

// A Redis freeze longer than the read timeout must not store an alert
// twice: the client does not retry the append script (it once did, and
// every retry queued in the frozen server ran after it thawed), and the
// sender's own retry after the 503 is deduplicated on the uuid.
func TestFreezeStoresOnce(t *testing.T) {
	srv := redistest.Start(t)
	s := newT(t, Options{Addresses: []string{srv.Addr}, ReadTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	if _, err := s.Append(ctx, []alert.Alert{sample(0)}); err != nil { // loads the script
		t.Fatal(err)
	}
	a := sample(1)
	srv.Freeze(t)
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := s.Append(actx, []alert.Alert{a})
	cancel()
	if err == nil {
		t.Fatal("Append succeeded while Redis was frozen")
	}
	srv.Thaw(t)
	// The sender retries after its 503.
	var ids []string
	for range 50 {
		if ids, err = s.Append(ctx, []alert.Alert{a}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Append after thaw: %v", err)
	}
	n, err := s.Client().XLen(ctx, s.stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("stream holds %d entries for one alert appended before and one appended during a freeze and retried; want 2", n)
	}
	if e, err := s.Get(ctx, ids[0]); err != nil || e.UUID != a.UUID {
		t.Fatalf("Get(%s) = %v, %v", ids[0], e.UUID, err)
	}
}

// Index entries of trimmed events are removed from every index key, not
// only from the keys later appends touch: hostnames that stop appearing
// once kept their entries for good (300k→500k entries while the stream
// held 20k).
func TestIndexEntriesDoNotLeak(t *testing.T) {
	srv := redistest.Start(t)
	s := newT(t, Options{Addresses: []string{srv.Addr}, MaxEvents: 10, TrimInterval: 20 * time.Millisecond})
	ctx := context.Background()
	for i := range 30 {
		a := sample(i)
		a.Hostname = fmt.Sprintf("gone-%d", i) // each host appears once
		if i >= 20 {
			a.Hostname = "stays"
		}
		if _, err := s.Append(ctx, []alert.Alert{a}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys, err := s.Client().Keys(ctx, s.pfx+"x:h:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		var entries int64
		for _, k := range keys {
			entries += s.Client().ZCard(ctx, k).Val()
		}
		if len(keys) == 1 && entries == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hostname index keys %v hold %d entries for 10 retained events", keys, entries)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Retention is bounded by age by default (it once kept 1,000,000 events
// whatever their age).
func TestDefaultRetentionBounded(t *testing.T) {
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}})
	if s.opts.MaxAge != DefaultMaxAge || DefaultMaxAge <= 0 || s.opts.MaxEvents != DefaultMaxEvents {
		t.Fatalf("default retention: max age %v, max events %d", s.opts.MaxAge, s.opts.MaxEvents)
	}
}

// Stream entries are stored S2-compressed (field "n"); entries written
// before, S2-compressed with the dictionary (field "c"), zstd-compressed
// with the dictionary (field "d") or without it (field "z"), or as plain
// JSON (field "a"), still read.
func TestEntriesCompressedOldOnesRead(t *testing.T) {
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}, KeyPrefix: "codec:"})
	ctx := context.Background()
	a := sample(7)
	a.Output = strings.Repeat("A shell was spawned in a container with an attached terminal ", 10)
	ids, err := s.Append(ctx, []alert.Alert{a})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Client().XRange(ctx, s.stream, ids[0], ids[0]).Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("XRANGE: %v %v", msgs, err)
	}
	plain, _ := json.Marshal(&a)
	z, ok := msgs[0].Values[fieldS2].(string)
	if !ok || len(z) >= len(plain) {
		t.Fatalf("entry fields %v: want field %q smaller than the %d-byte JSON", msgs[0].Values, fieldS2, len(plain))
	}
	ids = append(ids, "")
	for _, old := range []struct {
		field string
		value []byte
	}{
		{fieldPlain, plain},
		{fieldS2Dict, sdict().Encode(nil, plain)},
		{fieldZstd, compressZstd(t, plain)},
		{fieldDict, compressZstd(t, plain, zstd.WithEncoderDictRaw(zdictID, zdict))},
	} {
		id, err := s.Client().XAdd(ctx, &goredis.XAddArgs{Stream: s.stream, Values: []any{old.field, string(old.value)}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == "" })
	for _, id := range ids {
		e, err := s.Get(ctx, id)
		if err != nil || e.UUID != a.UUID || e.OutputFields["evt.num"] != json.Number("7") {
			t.Errorf("Get(%s) = %+v, %v", id, e.Alert, err)
		}
	}
}

// Data written by layout 1 (arrival-ordered "i:*" indexes, plain and
// compressed entries) or 2 (tags indexed per event) is re-indexed when a
// store opens it: its events are found by their own time and by tag, and
// the old index keys go.
func TestLayout1DataMigrated(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer c.Close()
	pfx := "{saker}:"
	now := time.Now()
	var ids []string
	for i := 0; i < 3; i++ {
		a := sample(i)
		a.Time = now.Add(-time.Duration(3-i) * time.Hour) // oldest first
		body, _ := json.Marshal(&a)
		field, entry := fieldPlain, string(body)
		if i == 1 {
			field, entry = fieldZstd, string(compressZstd(t, body))
		}
		id, err := c.XAdd(ctx, &goredis.XAddArgs{Stream: pfx + "events", Values: []any{field, entry}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		ms, seq, _ := store.ParseID(id)
		for _, k := range indexSuffixes(&a) {
			c.ZAdd(ctx, pfx+"i:"+k, goredis.Z{Member: fmt.Sprintf("%015d-%012d", ms, seq)})
		}
	}
	// A layout 2 key: tags were indexed per event.
	c.ZAdd(ctx, pfx+"x:t:t", goredis.Z{Member: "0123456789abcdef"})
	s := newT(t, Options{Addresses: []string{srv.Addr}})
	testutil.Eventually(t, 20*time.Second, "layout marked", func() bool {
		return s.Client().Get(ctx, pfx+"layout").Val() == layout
	})
	p, err := s.Query(ctx, store.Query{Filter: store.Filter{Since: now.Add(-150 * time.Minute)}})
	if err != nil || len(p.Events) != 2 || p.Events[0].ID != ids[2] || p.Events[1].ID != ids[1] {
		t.Errorf("Query(since 2.5h) = %v, %v; want %v", p.Events, err, []string{ids[2], ids[1]})
	}
	p, err = s.Query(ctx, store.Query{Filter: store.Filter{Rules: []string{sample(0).Rule}}})
	if err != nil || len(p.Events) != 1 || p.Events[0].ID != ids[0] {
		t.Errorf("Query(rule) = %v, %v; want [%s]", p.Events, err, ids[0])
	}
	p, err = s.Query(ctx, store.Query{Filter: store.Filter{Tags: []string{"t1"}, Sources: []string{"syscalls"}}})
	if err != nil || len(p.Events) != 0 {
		t.Errorf("Query(tag t1, source syscalls) = %v, %v; want none (sample 1 is k8s_audit)", p.Events, err)
	}
	p, err = s.Query(ctx, store.Query{Filter: store.Filter{Tags: []string{"t1"}}})
	if err != nil || len(p.Events) != 1 || p.Events[0].ID != ids[1] {
		t.Errorf("Query(tag t1) = %v, %v; want [%s]", p.Events, err, ids[1])
	}
	for _, pattern := range []string{"i:*", "x:t:*"} {
		if old := s.Client().Keys(ctx, pfx+pattern).Val(); len(old) != 0 {
			t.Errorf("older layouts' index keys left: %v", old)
		}
	}
}

// Data written by layout 3 (every event also indexed by priority in
// "x:p:*"; no "g:p:*" sets) is found by unfiltered and priority queries
// while another replica holds the migration (through the priority
// indexes, each event once though it is in a rule index too) and after
// this store migrated it (through the rules of each priority); the
// priority indexes go.
func TestLayout3DataMigrated(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	w := newT(t, Options{Addresses: []string{srv.Addr}})
	var want []string // newest first
	for i := range 8 {
		a := sample(i)
		a.Time = time.Now().Add(time.Duration(i-8) * time.Minute)
		ids, err := w.Append(ctx, []alert.Alert{a})
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{ids[0]}, want...)
	}
	// Rewrite the indexes as layout 3 left them.
	c := w.Client()
	msgs, err := c.XRange(ctx, w.stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		e, ok := decodeMessage(m)
		if !ok {
			t.Fatalf("entry %s unreadable", m.ID)
		}
		ms, seq, _ := store.ParseID(e.ID)
		c.ZAdd(ctx, w.pfx+"x:p:"+e.Priority.String(), goredis.Z{Member: member(e.EventMs(), ms, seq)})
	}
	for _, p := range alert.Priorities {
		c.Del(ctx, w.pfx+"g:p:"+p.String())
	}
	c.Set(ctx, w.pfx+"layout", "3", 0)
	// Another replica holds the migration.
	c.Set(ctx, w.pfx+"migrating", "1", time.Minute)

	s := newT(t, Options{Addresses: []string{srv.Addr}, TrimInterval: 20 * time.Millisecond})
	critical := store.Filter{MinPriority: alert.PriorityCritical}
	check := func(when string) {
		t.Helper()
		p, err := s.Query(ctx, store.Query{Limit: 20})
		if got := eventIDs(p.Events); err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: Query() = %v, %v; want %v", when, got, err, want)
		}
		var crit []string
		for i, id := range want {
			if sample(7-i).Priority >= alert.PriorityCritical {
				crit = append(crit, id)
			}
		}
		p, err = s.Query(ctx, store.Query{Filter: critical, Limit: 20})
		if got := eventIDs(p.Events); err != nil || !slices.Equal(got, crit) {
			t.Errorf("%s: Query(critical and above) = %v, %v; want %v", when, got, err, crit)
		}
		st, err := s.Stats(ctx, store.StatsQuery{Filter: store.Filter{Since: time.Now().Add(-time.Hour)}})
		if err != nil || st.Total != 8 {
			t.Errorf("%s: Stats total %d, %v; want 8", when, st.Total, err)
		}
	}
	check("before the migration")
	c.Del(ctx, w.pfx+"migrating")
	testutil.Eventually(t, 20*time.Second, "layout marked", func() bool {
		return c.Get(ctx, w.pfx+"layout").Val() == layout
	})
	check("after the migration")
	if old := c.Keys(ctx, w.pfx+"x:p:*").Val(); len(old) != 0 {
		t.Errorf("layout 3 priority indexes left: %v", old)
	}
}

// eventIDs returns the IDs of evs.
func eventIDs(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// compressZstd compresses b as releases before S2 did (codec.go): zstd,
// with opts (the dictionary of field "d") or without (field "z").
func compressZstd(t testing.TB, b []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil, append([]zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	return e.EncodeAll(b, nil)
}

// A rule already added to its tag and source sets is not added again by
// every Append (the sets only ever gain rules), until the memo's TTL
// passes: then a set Redis lost is written again, and a filter by tag
// finds the rule's alerts again, those stored meanwhile included.
func TestRuleSetsWrittenOncePerTTL(t *testing.T) {
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}})
	ctx := context.Background()
	a := sample(1)
	byTag := func() int {
		t.Helper()
		p, err := s.Query(ctx, store.Query{Filter: store.Filter{Tags: []string{"t1"}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Events)
	}
	if _, err := s.Append(ctx, []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	if n := byTag(); n != 1 {
		t.Fatalf("tag query after the first alert: %d events", n)
	}
	set := s.pfx + "g:t:t1"
	if err := s.c.Del(ctx, set).Err(); err != nil { // Redis loses it
		t.Fatal(err)
	}
	a.UUID = "second"
	if _, err := s.Append(ctx, []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.c.Exists(ctx, set).Result(); err != nil || n != 0 {
		t.Fatalf("set %s written again within the TTL: exists=%d, %v", set, n, err)
	}
	s.sets.ttl = 0 // every memo entry expired
	a.UUID = "third"
	if _, err := s.Append(ctx, []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	if n := byTag(); n != 3 {
		t.Fatalf("tag query once the set is written again: %d events, want 3", n)
	}
}

// Requests coalesced into one script run (group commit) number their
// shapes and alerts from 1 each; the run renumbers them: every alert is
// stored once with its own rule, hostname and body, and a uuid sent again
// in a later request of the same run, or earlier in the same request, gets
// the first one's ID.
func TestCoalescedRequestsKeepTheirAlerts(t *testing.T) {
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}})
	ctx := context.Background()
	mk := func(i int, uuid string, generated bool) alert.Alert {
		a := sample(i)
		a.UUID, a.UUIDGenerated = uuid, generated
		return a
	}
	batches := [][]alert.Alert{
		{mk(0, "g0", true), mk(1, "a", false)},
		{mk(2, "g2", true), mk(3, "g3", true), mk(4, "b", false)},
		{mk(5, "b", false), mk(6, "c", false), mk(7, "c", false), mk(8, "g8", true)},
	}
	var reqs []*commitReq
	for _, b := range batches {
		req, _, err := s.request(b, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req.done = make(chan commitRes, 1)
		reqs = append(reqs, req)
	}
	s.write(reqs)
	var ids [][]string
	for i, req := range reqs {
		res := <-req.done
		if res.err != nil || len(res.ids) != len(batches[i]) {
			t.Fatalf("request %d: %v, %v", i, res.ids, res.err)
		}
		ids = append(ids, res.ids)
	}
	if ids[2][0] != ids[1][2] {
		t.Errorf("uuid b sent again in a later request: ID %s, want the first one's %s", ids[2][0], ids[1][2])
	}
	if ids[2][2] != ids[2][1] {
		t.Errorf("uuid c twice in one request: IDs %s and %s, want one", ids[2][1], ids[2][2])
	}
	if n := s.Client().XLen(ctx, s.stream).Val(); n != 7 {
		t.Errorf("stream holds %d entries, want 7 (9 alerts, 2 sent again)", n)
	}
	for i, b := range batches {
		for k, want := range b {
			e, err := s.Get(ctx, ids[i][k])
			if want.UUID == "b" && i == 2 || want.UUID == "c" && k == 2 {
				continue // the first one's
			}
			if err != nil || e.UUID != want.UUID || e.Rule != want.Rule || e.Hostname != want.Hostname || e.Output != want.Output {
				t.Errorf("request %d alert %d: Get(%s) = %s %s %s %q, %v; want %s %s %s %q", i, k, ids[i][k],
					e.UUID, e.Rule, e.Hostname, e.Output, err, want.UUID, want.Rule, want.Hostname, want.Output)
			}
			p, err := s.Query(ctx, store.Query{Filter: store.Filter{Rules: []string{want.Rule}, Hostnames: []string{want.Hostname}, Priorities: []alert.Priority{want.Priority}}, Limit: 20})
			if err != nil || !slices.Contains(eventIDs(p.Events), ids[i][k]) {
				t.Errorf("request %d alert %d: not found by its rule, hostname and priority: %v, %v", i, k, eventIDs(p.Events), err)
			}
		}
	}
}

// appendPerDimension stores alerts as releases before the combined counter
// field did: entries in field "s", and a counter field per dimension.
func appendPerDimension(t *testing.T, s *Store, alerts []alert.Alert) {
	t.Helper()
	req := &commitReq{n: len(alerts)}
	for i := range alerts {
		a := &alerts[i]
		body, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		req.addShape(indexSuffixes(a), a.Rule, ruleSets(a), counterFields(a))
		req.alerts = append(req.alerts, a.UUID, fieldS2Dims, sdict().Encode(nil, body), eventMsArg(a), req.shapes)
	}
	req.done = make(chan commitRes, 1)
	s.write([]*commitReq{req})
	if res := <-req.done; res.err != nil {
		t.Fatal(res.err)
	}
}

// Alerts counted per dimension by an older release and alerts counted in
// one combined field, in the same minutes, add up in Stats as the events
// themselves do, and retention takes each out of the counters the way it
// was counted: what is left agrees with the events left, and no field of
// a removed alert stays behind.
func TestCountersOfBothLayoutsReadAndTrimmed(t *testing.T) {
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}, MaxEvents: 3, TrimInterval: time.Hour})
	var old, fresh []alert.Alert
	for i := range 10 {
		old = append(old, sample(i))
		fresh = append(fresh, sample(i+100))
	}
	appendPerDimension(t, s, old)
	if _, err := s.Append(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Hour)
	agree := func(want int64) {
		t.Helper()
		counters, err := s.Stats(ctx, store.StatsQuery{Filter: store.Filter{Since: since}})
		if err != nil {
			t.Fatal(err)
		}
		scanned, err := s.Stats(ctx, store.StatsQuery{Filter: store.Filter{Since: since, Sources: []string{"syscalls", "k8s_audit"}}})
		if err != nil {
			t.Fatal(err)
		}
		if counters.Total != want || scanned.Total != want {
			t.Fatalf("totals: counters %d, scan %d; want %d", counters.Total, scanned.Total, want)
		}
		if !reflect.DeepEqual(counters.ByPriority, scanned.ByPriority) || !reflect.DeepEqual(counters.Rules, scanned.Rules) ||
			!reflect.DeepEqual(counters.Hostnames, scanned.Hostnames) || !reflect.DeepEqual(counters.Tags, scanned.Tags) ||
			!reflect.DeepEqual(counters.Sources, scanned.Sources) || !reflect.DeepEqual(counters.Containers, scanned.Containers) {
			t.Errorf("counters %+v\nscan %+v", counters, scanned)
		}
	}
	agree(20)
	if removed, err := s.trimOnce(ctx, time.Now()); err != nil || removed != 17 {
		t.Fatalf("trimOnce = %d, %v; want 17 removed", removed, err)
	}
	agree(3)
	keys, err := s.c.Keys(ctx, s.pfx+"m:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		fields, err := s.c.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		for f, v := range fields {
			if !strings.HasPrefix(f, "[") || v == "0" || strings.HasPrefix(v, "-") {
				t.Errorf("%s: field %s = %s left by a removed alert", k, f, v)
			}
		}
	}
}

// The combined counter field reads back as the alert's priority and
// dimensions, names that need JSON escaping included.
func TestCounterKeyRoundTrip(t *testing.T) {
	a := sample(3)
	a.Rule = "Write below \"etc\" \\ <root> & co\x01"
	a.Hostname = "nœud-1"
	p, dims, ok := parseCounterKey(counterKey(&a))
	if !ok || p != a.Priority.String() || !reflect.DeepEqual(dims, store.Dimensions(&a)) {
		t.Fatalf("parseCounterKey(%q) = %q, %v, %v; want %q, %v", counterKey(&a), p, dims, ok, a.Priority, store.Dimensions(&a))
	}
	for _, f := range []string{"p:Warning", "rule:x", "t", "[1]", "[\"a\",\"b\"]", "[broken"} {
		if _, _, ok := parseCounterKey(f); ok {
			t.Errorf("parseCounterKey(%q) accepted", f)
		}
	}
}

// A new store is in the current layout from the start: the janitor does
// not take the first appends for an older layout's events and re-index
// them (it logged "re-indexed the events of an older layout" on every
// fresh install).
func TestNewStoreStartsInCurrentLayout(t *testing.T) {
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}})
	if v, err := s.c.Get(ctx, s.pfx+"layout").Result(); err != nil || v != layout {
		t.Fatalf("layout of a new store = %q, %v; want %q", v, err, layout)
	}
}

// A FLUSHALL while hubs run erases the layout marker; the hubs' next
// appends recreate the stream in this layout. A hub started after that
// must not take those events for an older layout's: it marks the layout
// without re-indexing them (it logged "re-indexed the events of an older
// layout" and walked the whole stream before).
func TestFlushedStoreRestartsWithoutReindex(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s1, err := New(ctx, Options{Addresses: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Append(ctx, []alert.Alert{sample(0)}); err != nil {
		t.Fatal(err)
	}
	if err := s1.c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Append(ctx, []alert.Alert{sample(1), sample(2)}); err != nil {
		t.Fatal(err)
	}
	s1.Close()
	var logged strings.Builder
	s2, err := New(ctx, Options{Addresses: []string{srv.Addr}, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close() // its janitor has run its first migrate pass
	if strings.Contains(logged.String(), "re-indexed") {
		t.Errorf("a restart after FLUSHALL re-indexed current-layout events:\n%s", logged.String())
	}
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer c.Close()
	if v, err := c.Get(ctx, "{saker}:layout").Result(); err != nil || v != layout {
		t.Errorf("layout after the restart = %q, %v; want %q", v, err, layout)
	}
}

// Every dedupe bucket and counter key the append script creates expires
// (it sets their expiry once, when it creates them, not on every append),
// and a late alert counted in an old minute extends that minute's expiry
// to a full counter TTL from its arrival.
func TestAppendKeysExpire(t *testing.T) {
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}, KeyPrefix: fmt.Sprintf("exp%d", prefixSeq.Add(1))})
	ttlOf := func(pattern string) map[string]time.Duration {
		t.Helper()
		out := map[string]time.Duration{}
		for _, k := range s.c.Keys(ctx, s.pfx+pattern).Val() {
			out[k] = s.c.PTTL(ctx, k).Val()
		}
		if len(out) == 0 {
			t.Fatalf("no key %s%s", s.pfx, pattern)
		}
		return out
	}
	check := func(when string) {
		t.Helper()
		for k, d := range ttlOf("u:*") {
			if d <= 0 || d > 2*DefaultDedupeWindow+time.Second {
				t.Errorf("%s: dedupe bucket %s expires in %v; want (0, %v]", when, k, d, 2*DefaultDedupeWindow+time.Second)
			}
		}
		for k, d := range ttlOf("m:*") {
			if d <= 0 || d > s.counterTTL() {
				t.Errorf("%s: counter key %s expires in %v; want (0, %v]", when, k, d, s.counterTTL())
			}
		}
	}
	a := sample(0)
	if _, err := s.Append(ctx, []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	check("first append")
	a.UUID = "second"
	if _, err := s.Append(ctx, []alert.Alert{a, sample(1)}); err != nil {
		t.Fatal(err)
	}
	check("appends to existing keys")

	late := sample(2)
	late.Time = time.Now().Add(-2 * time.Hour)
	if _, err := s.Append(ctx, []alert.Alert{late}); err != nil {
		t.Fatal(err)
	}
	key := s.pfx + "m:" + strconv.FormatInt(late.Time.UnixMilli()/60000, 10)
	if err := s.c.Expire(ctx, key, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	late.UUID = "late-again"
	if _, err := s.Append(ctx, []alert.Alert{late}); err != nil {
		t.Fatal(err)
	}
	if d := s.c.PTTL(ctx, key).Val(); d < s.counterTTL()-time.Minute {
		t.Errorf("late alert's minute %s expires in %v after a second late alert; want about %v", key, d, s.counterTTL())
	}
}

// On a Redis Cluster each store's keys live on the master of its hash tag's
// slot; the migration must find an older layout's keys there (go-redis
// routes a SCAN whose pattern carries a hash tag to that slot's node; a
// SCAN sent to any node would take layout 1 data for current and never
// index it). Several tags, so they land on different nodes.
func TestLayout1DataMigratedOnCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	ctx := context.Background()
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs()})
	defer c.Close()
	a := sample(0)
	body, _ := json.Marshal(&a)
	for k := 0; k < 6; k++ {
		tag := fmt.Sprintf("old%d", k)
		pfx := "{" + tag + "}:"
		id, err := c.XAdd(ctx, &goredis.XAddArgs{Stream: pfx + "events", Values: []any{fieldPlain, string(body)}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ms, seq, _ := store.ParseID(id)
		old := pfx + "i:" + indexSuffixes(&a)[0]
		if err := c.ZAdd(ctx, old, goredis.Z{Member: fmt.Sprintf("%015d-%012d", ms, seq)}).Err(); err != nil {
			t.Fatal(err)
		}
		s, err := New(ctx, Options{Addresses: cl.Addrs(), HashTag: tag})
		if err != nil {
			t.Fatal(err)
		}
		s.Close() // its janitor has run its first migrate pass
		if n := c.ZCard(ctx, pfx+"x:"+indexSuffixes(&a)[0]).Val(); n != 1 {
			t.Errorf("tag %s: %d events indexed in this layout, want 1", tag, n)
		}
		if n := c.Exists(ctx, old).Val(); n != 0 {
			t.Errorf("tag %s: layout 1 index %s left", tag, old)
		}
	}
}

// An alert whose uuid the hub made up (Falco's http_output sends none) is
// stored without a dedupe entry: no sender can retry with it, and at a high
// rate the dedupe hashes would hold millions of them. A sender's uuid is
// still remembered, so its retry is stored once.
func TestGeneratedUUIDNotRemembered(t *testing.T) {
	ctx := context.Background()
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}, KeyPrefix: fmt.Sprintf("gen%d", prefixSeq.Add(1))})
	made := sample(0)
	made.UUIDGenerated = true
	ids, err := s.Append(ctx, []alert.Alert{made, made})
	if err != nil {
		t.Fatal(err)
	}
	if keys := s.c.Keys(ctx, s.pfx+"u:*").Val(); len(keys) != 0 {
		t.Fatalf("dedupe keys %q after alerts with generated uuids; want none", keys)
	}
	if ids[0] == ids[1] || s.c.XLen(ctx, s.stream).Val() != 2 {
		t.Fatalf("ids %v, stream length %d; want two stored alerts", ids, s.c.XLen(ctx, s.stream).Val())
	}
	sent := sample(1)
	first, err := s.Append(ctx, []alert.Alert{sent})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(ctx, []alert.Alert{sent})
	if err != nil {
		t.Fatal(err)
	}
	if first[0] != again[0] || len(s.c.Keys(ctx, s.pfx+"u:*").Val()) != 1 {
		t.Fatalf("a sender's uuid appended twice got ids %v and %v; want one stored alert", first, again)
	}
}
