// Package storetest is the contract suite every store.Store implementation
// must pass. An implementation's test calls Run with a Factory that makes
// fresh, empty storage:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, lim storetest.Limits) storetest.Backend {
//			dir := t.TempDir()
//			return storetest.Backend{Open: func(t *testing.T) store.Store { ... open on dir ... }}
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/testutil"
)

// Limits are the retention settings a test needs; zero = the store's default.
type Limits struct {
	MaxEvents int
	MaxAge    time.Duration
}

// Backend is fresh, empty storage that stores can be opened on.
type Backend struct {
	// Open opens a store on the storage; the test closes it (Close must be
	// idempotent, Open must close it at test cleanup too).
	Open func(t *testing.T) store.Store
	// Concurrent reports that several stores may be open on the storage at
	// once, like hub replicas sharing one Redis. When false (an embedded
	// data directory) the suite closes a store before opening the next.
	Concurrent bool
}

// Factory makes fresh storage with the given retention.
type Factory func(t *testing.T, lim Limits) Backend

// Run runs the contract suite.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"RoundTrip", testRoundTrip},
		{"IDsMonotonic", testIDsMonotonic},
		{"BatchAtomic", testBatchAtomic},
		{"PagingNewestFirst", testPaging},
		{"Filters", testFilters},
		{"FilterTimeRange", testTimeRange},
		{"EventTimeLateAlert", testLateAlert},
		{"EventTimeMissingOrSkewed", testMissingOrSkewedTime},
		{"PagingEqualTimes", testPagingEqualTimes},
		{"PagingFromEventCursor", testPagingFromEventCursor},
		{"Stats", testStats},
		{"TailFromID", testTailFromID},
		{"TailBlocking", testTailBlocking},
		{"HeadIsNewestArrival", testHead},
		{"TailAcrossInstances", testTailAcrossInstances},
		{"RetentionByCount", testRetentionCount},
		{"RetentionByAge", testRetentionAge},
		{"DeliveriesClaimAck", testDeliveriesClaimAck},
		{"DeliveriesRedelivery", testDeliveriesRedelivery},
		{"DeliveriesSharedGroup", testDeliveriesShared},
		{"DeliveriesBlockingClaim", testDeliveriesBlocking},
		{"DeliveriesDeadLetters", testDeadLetters},
		{"DeliveriesIndependentGroups", testIndependentGroups},
		{"DeliveriesSurviveReopen", testDeliveriesReopen},
		{"DeliveriesAfterRetention", testDeliveriesRetention},
		{"CursorStableUnderAppends", testCursorStable},
		{"PersistAcrossReopen", testPersist},
		{"DeepAlertsReadable", testDeepAlerts},
		{"AppendIdempotentByUUID", testIdempotentAppend},
		{"ConcurrentAppends", testConcurrentAppends},
		{"Health", testHealth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// open opens a store and closes it at cleanup.
func open(t *testing.T, b Backend) store.Store {
	t.Helper()
	s := b.Open(t)
	t.Cleanup(func() { s.Close() })
	return s
}

// decodeAlert parses a Falco payload the way the hub's decoder does
// (json.Number for numbers), so expectations match what a store returns.
func decodeAlert(t testing.TB, js string) alert.Alert {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(js)))
	d.UseNumber()
	var a alert.Alert
	if err := d.Decode(&a); err != nil {
		t.Fatalf("decode sample alert: %v", err)
	}
	return a
}

// mk builds an alert timed now; name goes into output and the uuid so tests
// can identify events. Alerts made in the order they are appended are in
// query order (event time, then ID) as well as in arrival order.
func mk(name string, p alert.Priority, rule, source, host string, tags ...string) alert.Alert {
	return alert.Alert{
		UUID:     name,
		Output:   "12:00:00 " + p.String() + " event " + name,
		Priority: p,
		Rule:     rule,
		Time:     time.Now().UTC(),
		OutputFields: map[string]any{
			"proc.name":      "proc-" + name,
			"container.name": "ctr-" + host,
			"evt.num":        json.Number("42"),
		},
		Source:   source,
		Tags:     tags,
		Hostname: host,
	}
}

// sharded is a store spread over independent shards (hub/store/sharded).
// Its guarantees are weaker in two ways the suite allows for: events of
// different shards stored within one millisecond order by shard, not by
// arrival, and retention by count keeps MaxEvents/Shards per shard.
type sharded interface{ ShardCount() int }

func shardCount(s store.Store) int {
	if sh, ok := s.(sharded); ok {
		return sh.ShardCount()
	}
	return 1
}

// appendAll appends the alerts as one batch; on a sharded store one by
// one, each in a later millisecond than the one before, so the suite's
// expectations about arrival order hold there too.
func appendAll(t *testing.T, s store.Store, alerts ...alert.Alert) []string {
	t.Helper()
	if shardCount(s) > 1 {
		var ids []string
		for _, a := range alerts {
			ids = append(ids, appendBatch(t, s, a)...)
			ms, _, _ := store.ParseID(ids[len(ids)-1])
			for time.Now().UnixMilli() <= int64(ms) {
				time.Sleep(100 * time.Microsecond) // the clock is the event waited for
			}
		}
		return ids
	}
	return appendBatch(t, s, alerts...)
}

func appendBatch(t *testing.T, s store.Store, alerts ...alert.Alert) []string {
	t.Helper()
	ids, err := s.Append(ctxT(t), alerts)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if len(ids) != len(alerts) {
		t.Fatalf("Append returned %d ids for %d alerts", len(ids), len(alerts))
	}
	return ids
}

func names(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.UUID
	}
	return out
}

func queryAll(t *testing.T, s store.Store, f store.Filter) []store.Event {
	t.Helper()
	var all []store.Event
	q := store.Query{Filter: f, Limit: store.MaxLimit}
	for i := 0; i < 100; i++ {
		p, err := s.Query(ctxT(t), q)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		all = append(all, p.Events...)
		if p.Next == "" {
			return all
		}
		q.Before = p.Next
	}
	t.Fatal("Query paging did not end")
	return nil
}

const falcoSample = `{
 "uuid": "6f4a6a4e-3f5c-4f5e-9c43-3f0d9b6a1c11",
 "output": "09:00:00.123456789: Notice A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 user_loginuid=-1 process=bash proc_exepath=/usr/bin/bash parent=runc command=bash terminal=34816 exe_flags=EXE_WRITABLE container_id=8b1f2b8d0c4e container_name=web)",
 "priority": "Notice",
 "rule": "Terminal shell in container",
 "time": "2026-11-23T09:00:00.123456789Z",
 "output_fields": {
  "container.id": "8b1f2b8d0c4e",
  "container.name": "web",
  "container.image.repository": "nginx",
  "container.image.tag": "1.27",
  "evt.time": 1795510800123456789,
  "evt.type": "execve",
  "proc.cmdline": "bash",
  "proc.pid": 4242,
  "proc.tty": 34816,
  "user.loginuid": -1,
  "user.name": "root",
  "evt.arg.flags": "EXE_WRITABLE",
  "fd.num": null,
  "k8s.ns.name": null,
  "ratio": 0.25,
  "is_open": true
 },
 "source": "syscalls",
 "tags": ["container", "shell", "mitre_execution", "T1059"],
 "hostname": "node-1"
}`

func testRoundTrip(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	a := decodeAlert(t, falcoSample)
	ids := appendAll(t, s, a)
	got, err := s.Get(ctxT(t), ids[0])
	if err != nil {
		t.Fatalf("Get(%s): %v", ids[0], err)
	}
	checkEqualAlert(t, got.Alert, a)
	if got.ID != ids[0] {
		t.Errorf("Get ID = %q, want %q", got.ID, ids[0])
	}
	if !got.Received.Equal(store.IDTime(ids[0])) || time.Since(got.Received) > time.Minute {
		t.Errorf("Received = %v, want the arrival time in the ID (%v)", got.Received, store.IDTime(ids[0]))
	}
	if n, ok := got.OutputFields["evt.time"].(json.Number); !ok || n.String() != "1795510800123456789" {
		t.Errorf("evt.time = %#v (%T), want json.Number 1795510800123456789", got.OutputFields["evt.time"], got.OutputFields["evt.time"])
	}
	// Mutating a returned event must not change the store.
	got.OutputFields["proc.pid"] = "changed"
	again, _ := s.Get(ctxT(t), ids[0])
	if again.OutputFields["proc.pid"] != json.Number("4242") {
		t.Errorf("store shares output_fields with callers: %v", again.OutputFields["proc.pid"])
	}
	// The JSON a store returns is the JSON Falco sent (plus id).
	var want, have map[string]any
	json.Unmarshal([]byte(falcoSample), &want)
	b, _ := json.Marshal(again)
	json.Unmarshal(b, &have)
	if have["id"] != ids[0] {
		t.Errorf("event JSON id = %v", have["id"])
	}
	if r, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(have["received"])); !r.Equal(got.Received) {
		t.Errorf("event JSON received = %v, want %v", have["received"], got.Received)
	}
	delete(have, "id")
	delete(have, "received")
	if !reflect.DeepEqual(want, have) {
		t.Errorf("JSON round trip differs:\n got %s\nwant %s", b, falcoSample)
	}
	for _, id := range []string{"1-0", "0-0", "99999999999999-5", "garbage", ""} {
		if _, err := s.Get(ctxT(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q) err = %v, want ErrNotFound", id, err)
		}
	}
	p, err := s.Query(ctxT(t), store.Query{})
	if err != nil || len(p.Events) != 1 {
		t.Fatalf("Query = %d events, %v; want 1", len(p.Events), err)
	}
	checkEqualAlert(t, p.Events[0].Alert, a)
}

func checkEqualAlert(t *testing.T, got, want alert.Alert) {
	t.Helper()
	if !got.Time.Equal(want.Time) {
		t.Errorf("time = %v, want %v", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alert differs:\n got %#v\nwant %#v", got, want)
	}
}

func testIDsMonotonic(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	var all []string
	for i := 0; i < 5; i++ {
		all = append(all, appendAll(t, s, mk(fmt.Sprint("a", i), alert.PriorityNotice, "r", "syscalls", "h"), mk(fmt.Sprint("b", i), alert.PriorityNotice, "r", "syscalls", "h"))...)
	}
	for i, id := range all {
		ms, _, err := store.ParseID(id)
		if err != nil || ms == 0 {
			t.Fatalf("id %q not <ms>-<seq>: %v", id, err)
		}
		if d := time.Since(time.UnixMilli(int64(ms))); d < -time.Minute || d > time.Minute {
			t.Errorf("id %q time is %v away from now", id, d)
		}
		if i > 0 && store.CompareIDs(all[i-1], id) >= 0 {
			t.Errorf("ids not increasing: %s then %s", all[i-1], id)
		}
	}
	if ids, err := s.Append(ctxT(t), nil); err != nil || len(ids) != 0 {
		t.Errorf("Append(nil) = %v, %v; want no ids, no error", ids, err)
	}
}

func testBatchAtomic(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	appendAll(t, s, mk("first", alert.PriorityNotice, "r", "syscalls", "h"))
	bad := []alert.Alert{mk("ok1", alert.PriorityNotice, "r", "syscalls", "h"), mk("bad", alert.PriorityUnset, "r", "syscalls", "h"), mk("ok2", alert.PriorityNotice, "r", "syscalls", "h")}
	if ids, err := s.Append(ctxT(t), bad); err == nil {
		t.Fatalf("Append with an invalid priority succeeded: %v", ids)
	}
	if got := names(queryAll(t, s, store.Filter{})); !slices.Equal(got, []string{"first"}) {
		t.Errorf("after failed batch, events = %v; want only [first]", got)
	}
	batch := make([]alert.Alert, 100)
	for i := range batch {
		batch[i] = mk(fmt.Sprintf("b%03d", i), alert.PriorityNotice, "r", "syscalls", "h")
	}
	ids := appendAll(t, s, batch...)
	for i, id := range ids {
		e, err := s.Get(ctxT(t), id)
		if err != nil || e.UUID != batch[i].UUID {
			t.Fatalf("batch item %d: Get(%s) = %q, %v", i, id, e.UUID, err)
		}
	}
}

func testPaging(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	var want []string
	for b := 0; b < 5; b++ {
		var batch []alert.Alert
		for i := 0; i < 5; i++ {
			batch = append(batch, mk(fmt.Sprintf("e%02d", b*5+i), alert.PriorityNotice, "r", "syscalls", "h"))
		}
		appendAll(t, s, batch...)
	}
	for i := 24; i >= 0; i-- {
		want = append(want, fmt.Sprintf("e%02d", i))
	}
	var got []string
	q := store.Query{Limit: 10}
	pages := 0
	for {
		p, err := s.Query(ctxT(t), q)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		pages++
		if len(p.Events) > 10 {
			t.Fatalf("page of %d events, limit 10", len(p.Events))
		}
		got = append(got, names(p.Events)...)
		for i := 1; i < len(p.Events); i++ {
			if store.CompareEvents(&p.Events[i-1], &p.Events[i]) <= 0 {
				t.Errorf("page not newest first: %s before %s", p.Events[i-1].ID, p.Events[i].ID)
			}
		}
		if p.Next == "" || pages > 10 {
			break
		}
		q.Before = p.Next
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged events = %v\nwant %v", got, want)
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
	// A cursor the store never made is the caller's error (the API's 400).
	if _, err := s.Query(ctxT(t), store.Query{Before: "abc"}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("Query(before=abc) err = %v, want store.ErrBadCursor", err)
	}
	// Default and capped limits.
	p, err := s.Query(ctxT(t), store.Query{Limit: store.MaxLimit * 10})
	if err != nil || len(p.Events) != 25 || p.Next != "" {
		t.Errorf("Query(huge limit) = %d events next %q, %v", len(p.Events), p.Next, err)
	}
	for _, c := range []string{"not-an-id", "12_junk", "x_1-0", "-5_1-0"} {
		if _, err := s.Query(ctxT(t), store.Query{Before: c}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("Query with the malformed cursor %q: err %v, want ErrBadCursor", c, err)
		}
	}
}

func filterDataset() []alert.Alert {
	a := []alert.Alert{
		mk("n1", alert.PriorityNotice, "Terminal shell in container", "syscalls", "node-1", "container", "shell"),
		mk("w1", alert.PriorityWarning, "Read sensitive file untrusted", "syscalls", "node-2", "filesystem", "mitre_credential_access"),
		mk("c1", alert.PriorityCritical, "Drop and execute new binary in container", "syscalls", "node-1", "container", "mitre_persistence"),
		mk("e1", alert.PriorityError, "Attach to cluster-admin Role", "k8s_audit", "", "k8s"),
		mk("d1", alert.PriorityDebug, "Terminal shell in container", "syscalls", "node-3", "container", "shell", "T1059"),
		mk("i1", alert.PriorityInformational, "Custom rule", "aws_cloudtrail", "node-2"),
		mk("m1", alert.PriorityEmergency, "Read sensitive file untrusted", "syscalls", "node-1", "filesystem", "container"),
	}
	a[1].OutputFields["fd.name"] = "/etc/SHADOW"
	a[2].OutputFields["proc.pid"] = json.Number("31337")
	a[3].Output = "K8s Attach to CLUSTER-admin"
	return a
}

func testFilters(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	data := filterDataset()
	// Two batches so events straddle batch boundaries.
	appendAll(t, s, data[:3]...)
	appendAll(t, s, data[3:]...)
	tests := []struct {
		name   string
		filter store.Filter
		want   []string // newest first
	}{
		{"all", store.Filter{}, []string{"m1", "i1", "d1", "e1", "c1", "w1", "n1"}},
		{"min priority warning", store.Filter{MinPriority: alert.PriorityWarning}, []string{"m1", "e1", "c1", "w1"}},
		{"min priority debug is everything", store.Filter{MinPriority: alert.PriorityDebug}, []string{"m1", "i1", "d1", "e1", "c1", "w1", "n1"}},
		{"min priority emergency", store.Filter{MinPriority: alert.PriorityEmergency}, []string{"m1"}},
		{"exact priority", store.Filter{Priorities: []alert.Priority{alert.PriorityWarning}}, []string{"w1"}},
		{"exact priorities, not contiguous", store.Filter{Priorities: []alert.Priority{alert.PriorityDebug, alert.PriorityCritical, alert.PriorityEmergency}}, []string{"m1", "d1", "c1"}},
		{"exact priorities and a minimum", store.Filter{Priorities: []alert.Priority{alert.PriorityDebug, alert.PriorityCritical}, MinPriority: alert.PriorityWarning}, []string{"c1"}},
		{"exact priorities below the minimum", store.Filter{Priorities: []alert.Priority{alert.PriorityNotice}, MinPriority: alert.PriorityError}, []string{}},
		{"exact priority and host", store.Filter{Priorities: []alert.Priority{alert.PriorityNotice, alert.PriorityInformational}, Hostnames: []string{"node-2", "node-1"}}, []string{"i1", "n1"}},
		{"one rule", store.Filter{Rules: []string{"Terminal shell in container"}}, []string{"d1", "n1"}},
		{"two rules", store.Filter{Rules: []string{"Terminal shell in container", "Custom rule"}}, []string{"i1", "d1", "n1"}},
		{"unknown rule", store.Filter{Rules: []string{"nope"}}, []string{}},
		{"source", store.Filter{Sources: []string{"k8s_audit", "aws_cloudtrail"}}, []string{"i1", "e1"}},
		{"hostname", store.Filter{Hostnames: []string{"node-1"}}, []string{"m1", "c1", "n1"}},
		{"one tag", store.Filter{Tags: []string{"shell"}}, []string{"d1", "n1"}},
		{"all tags", store.Filter{Tags: []string{"container", "filesystem"}}, []string{"m1"}},
		{"tags none match", store.Filter{Tags: []string{"container", "k8s"}}, []string{}},
		{"text in output, any case", store.Filter{Text: "cluster-ADMIN"}, []string{"e1"}},
		{"text in rule", store.Filter{Text: "drop and"}, []string{"c1"}},
		{"text in string field", store.Filter{Text: "/etc/shadow"}, []string{"w1"}},
		{"text in number field", store.Filter{Text: "31337"}, []string{"c1"}},
		{"text no match", store.Filter{Text: "zzz-nothing"}, []string{}},
		{"field equals", store.Filter{Fields: map[string][]string{"fd.name": {"/etc/SHADOW"}}}, []string{"w1"}},
		{"field equals, not a substring or another case", store.Filter{Fields: map[string][]string{"fd.name": {"/etc/shadow"}}}, []string{}},
		{"number field as text", store.Filter{Fields: map[string][]string{"proc.pid": {"31337"}}}, []string{"c1"}},
		{"field with an indexed criterion", store.Filter{Sources: []string{"syscalls"}, Fields: map[string][]string{"container.name": {"ctr-node-1"}}}, []string{"m1", "c1", "n1"}},
		{"field, any of its values", store.Filter{Fields: map[string][]string{"proc.name": {"proc-d1", "proc-e1", "proc-nope"}}}, []string{"d1", "e1"}},
		{"two fields", store.Filter{Fields: map[string][]string{"container.name": {"ctr-node-1"}, "proc.pid": {"31337"}}}, []string{"c1"}},
		{"absent field", store.Filter{Fields: map[string][]string{"no.such.field": {""}}}, []string{}},
		{"uuids", store.Filter{UUIDs: []string{"w1", "i1", "zz"}}, []string{"i1", "w1"}},
		{"uuid and rule", store.Filter{UUIDs: []string{"w1", "m1"}, Rules: []string{"Read sensitive file untrusted"}, Hostnames: []string{"node-2"}}, []string{"w1"}},
		{"combined", store.Filter{MinPriority: alert.PriorityNotice, Hostnames: []string{"node-1"}, Tags: []string{"container"}, Sources: []string{"syscalls"}}, []string{"m1", "c1", "n1"}},
		{"combined with text", store.Filter{Rules: []string{"Read sensitive file untrusted"}, Text: "shadow"}, []string{"w1"}},
		{"priority and rule disjoint", store.Filter{MinPriority: alert.PriorityCritical, Rules: []string{"Terminal shell in container"}}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := names(queryAll(t, s, tc.filter))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			// Paging one at a time through a filter gives the same list.
			var paged []string
			q := store.Query{Filter: tc.filter, Limit: 1}
			for i := 0; i < 20; i++ {
				p, err := s.Query(ctxT(t), q)
				if err != nil {
					t.Fatalf("Query: %v", err)
				}
				paged = append(paged, names(p.Events)...)
				if p.Next == "" {
					break
				}
				q.Before = p.Next
			}
			if !slices.Equal(paged, tc.want) {
				t.Errorf("paged one by one: %v, want %v", paged, tc.want)
			}
		})
	}
}

// at returns mk's alert timed t.
func at(t time.Time, name string, p alert.Priority, rule string) alert.Alert {
	a := mk(name, p, rule, "syscalls", "h")
	a.Time = t
	return a
}

func testTimeRange(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	// Event times a second apart, appended in one batch (one arrival
	// millisecond): the bounds apply to the alerts' own times.
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	tb := t0.Add(time.Second)
	appendAll(t, s, at(t0, "a1", alert.PriorityNotice, "r"), at(t0.Add(999*time.Millisecond), "a2", alert.PriorityWarning, "r"),
		at(tb.Add(500*time.Microsecond), "b1", alert.PriorityNotice, "r"), at(t0.Add(2*time.Second), "c1", alert.PriorityNotice, "r2"))
	tests := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"since b (inclusive, at ms precision)", store.Filter{Since: tb}, []string{"c1", "b1"}},
		{"until b (inclusive)", store.Filter{Until: tb}, []string{"b1", "a2", "a1"}},
		{"exactly b", store.Filter{Since: tb, Until: tb}, []string{"b1"}},
		{"until before everything", store.Filter{Until: t0.Add(-time.Millisecond)}, []string{}},
		{"since after everything", store.Filter{Since: t0.Add(3 * time.Second)}, []string{}},
		{"since with rule", store.Filter{Since: tb, Rules: []string{"r"}}, []string{"b1"}},
		{"until with priority", store.Filter{Until: tb, MinPriority: alert.PriorityWarning}, []string{"a2"}},
		{"until before since", store.Filter{Since: tb, Until: t0}, []string{}},
	}
	for _, tc := range tests {
		if got := names(queryAll(t, s, tc.f)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A late alert (a sensor spooled it through a 6-hour outage) lands under
// its own time: not in "last 15 minutes", in the window where it happened,
// after newer alerts in a page, in the stats bucket of its time; it
// arrives now (received) and the tail shows it as it arrives.
func testLateAlert(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	now := time.Now()
	ids := appendAll(t, s, mk("on-time-1", alert.PriorityNotice, "r", "syscalls", "h"), mk("on-time-2", alert.PriorityNotice, "r", "syscalls", "h"))
	late := at(now.Add(-6*time.Hour), "late", alert.PriorityCritical, "r")
	lateID := appendAll(t, s, late)[0]
	for _, tc := range []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"last 15 minutes", store.Filter{Since: now.Add(-15 * time.Minute)}, []string{"on-time-2", "on-time-1"}},
		{"when it happened", store.Filter{Since: now.Add(-7 * time.Hour), Until: now.Add(-5 * time.Hour)}, []string{"late"}},
		{"everything, by event time", store.Filter{}, []string{"on-time-2", "on-time-1", "late"}},
		{"indexed, by event time", store.Filter{Rules: []string{"r"}}, []string{"on-time-2", "on-time-1", "late"}},
		{"indexed, last 15 minutes", store.Filter{Rules: []string{"r"}, Since: now.Add(-15 * time.Minute)}, []string{"on-time-2", "on-time-1"}},
		{"priority, when it happened", store.Filter{MinPriority: alert.PriorityCritical, Until: now.Add(-5 * time.Hour)}, []string{"late"}},
	} {
		if got := names(queryAll(t, s, tc.f)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	e, err := s.Get(ctxT(t), lateID)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Time.Equal(late.Time) || time.Since(e.Received) > time.Minute || e.Received.Before(now.Add(-time.Second)) {
		t.Errorf("late alert: time %v received %v; want time %v and received now", e.Time, e.Received, late.Time)
	}
	if got, err := s.Tail(ctxT(t), ids[1], 10, 0); err != nil || !slices.Equal(names(got), []string{"late"}) {
		t.Errorf("Tail after the on-time alerts = %v, %v; want [late] (arrival order)", names(got), err)
	}
	// Stats: the late alert counts in the bucket of its time, by both the
	// counter path (time-only) and the scanning path (filtered).
	for _, q := range []store.StatsQuery{
		{Filter: store.Filter{Since: now.Add(-7 * time.Hour), Until: now.Add(time.Minute)}, Bucket: time.Hour},
		{Filter: store.Filter{Since: now.Add(-7 * time.Hour), Until: now.Add(time.Minute), Rules: []string{"r"}}, Bucket: time.Hour},
	} {
		st, err := s.Stats(ctxT(t), q)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total != 3 {
			t.Errorf("Stats(%v) total %d, want 3", q.Rules, st.Total)
		}
		checkSeries(t, st, 3)
		for _, b := range st.Series {
			n := b.Counts["Critical"]
			in := !late.Time.Before(b.Start) && late.Time.Before(b.Start.Add(st.Bucket))
			if in && n != 1 || !in && n != 0 {
				t.Errorf("Stats(%v): bucket %v has %d Critical, want the late alert only in its own hour", q.Rules, b.Start, n)
			}
		}
		recent, err := s.Stats(ctxT(t), store.StatsQuery{Filter: store.Filter{Since: now.Add(-15 * time.Minute), Rules: q.Rules}})
		if err != nil || recent.Total != 2 || recent.ByPriority["Critical"] != 0 {
			t.Errorf("Stats(last 15m, %v) = total %d by %v, %v; want the 2 on-time alerts", q.Rules, recent.Total, recent.ByPriority, err)
		}
	}
}

// An alert without a usable time, or timed far ahead of its arrival (a
// sender's clock runs fast), is filed under its arrival; its time field is
// kept as sent.
func testMissingOrSkewedTime(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	start := time.Now()
	old := at(start.Add(-time.Hour), "hour-ago", alert.PriorityNotice, "r")
	zero := at(time.Time{}, "no-time", alert.PriorityNotice, "r")
	future := at(start.Add(24*time.Hour), "tomorrow", alert.PriorityNotice, "r")
	near := at(start.Add(store.MaxSkew/2), "near-future", alert.PriorityNotice, "r")
	ids := appendAll(t, s, old, zero, future, near)
	recent := store.Filter{Since: start.Add(-time.Minute), Until: start.Add(time.Minute)}
	if got := names(queryAll(t, s, recent)); !slices.Equal(got, []string{"tomorrow", "no-time"}) {
		t.Errorf("last minute: got %v, want [tomorrow no-time] (filed at arrival)", got)
	}
	if got := names(queryAll(t, s, store.Filter{})); !slices.Equal(got, []string{"near-future", "tomorrow", "no-time", "hour-ago"}) {
		t.Errorf("all: got %v, want near-future (trusted within MaxSkew) first", got)
	}
	for i, want := range []time.Time{time.Time{}, future.Time} {
		e, err := s.Get(ctxT(t), ids[i+1])
		if err != nil || !e.Time.Equal(want) {
			t.Errorf("Get(%s) time = %v, %v; want %v as sent", ids[i+1], e.Time, err, want)
		}
		if ms := e.EventMs(); ms != e.Received.UnixMilli() {
			t.Errorf("%s: EventMs %d, want its arrival %d", e.UUID, ms, e.Received.UnixMilli())
		}
	}
	st, err := s.Stats(ctxT(t), store.StatsQuery{Filter: recent})
	if err != nil || st.Total != 2 {
		t.Errorf("Stats(last minute) total %d, %v; want 2", st.Total, err)
	}
}

// Paging runs in query order through runs of equal event times (a batch
// of one sensor's alerts often shares one), without gaps or repeats, and
// a cursor taken before more alerts of that time arrive stays exact.
func testPagingEqualTimes(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	t1 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	t2 := t1.Add(time.Second)
	var batch []alert.Alert
	var want []string // newest first: t2 by ID desc, then t1 by ID desc
	for i := 0; i < 7; i++ {
		batch = append(batch, at(t1, fmt.Sprintf("t1-%d", i), alert.PriorityNotice, "r"))
	}
	for i := 0; i < 5; i++ {
		batch = append(batch, at(t2, fmt.Sprintf("t2-%d", i), alert.PriorityWarning, "r"))
	}
	appendAll(t, s, batch[:4]...)
	appendAll(t, s, batch[4:]...)
	for i := 4; i >= 0; i-- {
		want = append(want, fmt.Sprintf("t2-%d", i))
	}
	for i := 6; i >= 0; i-- {
		want = append(want, fmt.Sprintf("t1-%d", i))
	}
	for _, f := range []store.Filter{{}, {Rules: []string{"r"}}, {Since: t1, Until: t2}} {
		for _, limit := range []int{1, 3, 5} {
			var got []string
			q := store.Query{Filter: f, Limit: limit}
			for i := 0; i < 20; i++ {
				p, err := s.Query(ctxT(t), q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, names(p.Events)...)
				if p.Next == "" {
					break
				}
				q.Before = p.Next
			}
			if !slices.Equal(got, want) {
				t.Errorf("filter %+v, pages of %d: %v\nwant %v", f, limit, got, want)
			}
		}
	}
	// A cursor inside the run of t1, then more alerts timed t1 arrive:
	// they sort after the cursor (newer IDs) and do not show on later pages.
	p, err := s.Query(ctxT(t), store.Query{Limit: 8})
	if err != nil || p.Next == "" {
		t.Fatalf("Query = %v, %v", names(p.Events), err)
	}
	appendAll(t, s, at(t1, "t1-later", alert.PriorityNotice, "r"))
	rest := queryAll(t, s, store.Filter{})
	p2, err := s.Query(ctxT(t), store.Query{Limit: 100, Before: p.Next})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p2.Events); !slices.Equal(got, want[8:]) {
		t.Errorf("after the cursor: %v, want %v", got, want[8:])
	}
	if len(rest) != 13 || rest[5].UUID != "t1-later" {
		t.Errorf("all events: %v; want t1-later first among t1 (newest ID)", names(rest))
	}
	// A bare event ID (a cursor from before event-time order, an old link)
	// pages from that event's own position on a single store (a sharded
	// store's cursors were never bare IDs).
	if shardCount(s) == 1 {
		p, err := s.Query(ctxT(t), store.Query{Limit: 100, Before: rest[5].ID})
		if got := names(p.Events); err != nil || !slices.Equal(got, names(rest[6:])) {
			t.Errorf("Query before the bare ID of %s = %v, %v; want %v", rest[5].UUID, got, err, names(rest[6:]))
		}
	}
}

func testStats(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	data := filterDataset()
	data[0].OutputFields["container.image.repository"] = "nginx"
	data[2].OutputFields["container.image.repository"] = "nginx"
	data[4].OutputFields["container.image.repository"] = "alpine"
	data[5].OutputFields["container.name"] = "host"
	before := time.Now()
	appendAll(t, s, data...)
	// Two more events like the first (distinct uuids: the same uuid would
	// be one alert appended again).
	again1, again2 := data[0], data[0]
	again1.UUID, again2.UUID = data[0].UUID+"-again1", data[0].UUID+"-again2"
	appendAll(t, s, again1, again2)
	after := time.Now()

	st, err := s.Stats(ctxT(t), store.StatsQuery{})
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Total != 9 {
		t.Errorf("Total = %d, want 9", st.Total)
	}
	wantPrio := map[string]int64{"Notice": 3, "Warning": 1, "Critical": 1, "Error": 1, "Debug": 1, "Informational": 1, "Emergency": 1}
	if !reflect.DeepEqual(st.ByPriority, wantPrio) {
		t.Errorf("ByPriority = %v, want %v", st.ByPriority, wantPrio)
	}
	wantRules := []store.Count{{Key: "Terminal shell in container", Count: 4}, {Key: "Read sensitive file untrusted", Count: 2},
		{Key: "Attach to cluster-admin Role", Count: 1}, {Key: "Custom rule", Count: 1}, {Key: "Drop and execute new binary in container", Count: 1}}
	if !reflect.DeepEqual(st.Rules, wantRules) {
		t.Errorf("Rules = %v\nwant %v", st.Rules, wantRules)
	}
	wantHosts := []store.Count{{Key: "node-1", Count: 5}, {Key: "node-2", Count: 2}, {Key: "node-3", Count: 1}}
	if !reflect.DeepEqual(st.Hostnames, wantHosts) {
		t.Errorf("Hostnames = %v, want %v", st.Hostnames, wantHosts)
	}
	wantSources := []store.Count{{Key: "syscalls", Count: 7}, {Key: "aws_cloudtrail", Count: 1}, {Key: "k8s_audit", Count: 1}}
	if !reflect.DeepEqual(st.Sources, wantSources) {
		t.Errorf("Sources = %v, want %v", st.Sources, wantSources)
	}
	wantTags := []store.Count{{Key: "container", Count: 6}, {Key: "shell", Count: 4}, {Key: "filesystem", Count: 2},
		{Key: "T1059", Count: 1}, {Key: "k8s", Count: 1}, {Key: "mitre_credential_access", Count: 1}, {Key: "mitre_persistence", Count: 1}}
	if !reflect.DeepEqual(st.Tags, wantTags) {
		t.Errorf("Tags = %v, want %v", st.Tags, wantTags)
	}
	// container.name "host" is not a container; e1 (no hostname) has "ctr-".
	wantCtrs := []store.Count{{Key: "ctr-node-1", Count: 5}, {Key: "ctr-", Count: 1}, {Key: "ctr-node-2", Count: 1}, {Key: "ctr-node-3", Count: 1}}
	if !reflect.DeepEqual(st.Containers, wantCtrs) {
		t.Errorf("Containers = %v, want %v", st.Containers, wantCtrs)
	}
	wantImages := []store.Count{{Key: "nginx", Count: 4}, {Key: "alpine", Count: 1}}
	if !reflect.DeepEqual(st.Images, wantImages) {
		t.Errorf("Images = %v, want %v", st.Images, wantImages)
	}
	checkSeries(t, st, 9)

	// Top bounds the ranked lists.
	st, err = s.Stats(ctxT(t), store.StatsQuery{Top: 2})
	if err != nil || len(st.Rules) != 2 || st.Rules[0].Count != 4 || len(st.Tags) != 2 {
		t.Errorf("Stats(Top 2): rules %v tags %v, %v", st.Rules, st.Tags, err)
	}
	// A filtered window.
	st, err = s.Stats(ctxT(t), store.StatsQuery{Filter: store.Filter{Since: before.Add(-time.Minute), Until: after.Add(time.Minute), Hostnames: []string{"node-1"}, MinPriority: alert.PriorityNotice}, Bucket: time.Minute})
	if err != nil {
		t.Fatalf("Stats(filtered): %v", err)
	}
	if st.Total != 5 || st.ByPriority["Notice"] != 3 || st.ByPriority["Emergency"] != 1 || len(st.Hostnames) != 1 {
		t.Errorf("Stats(node-1, >= Notice) = total %d by %v hosts %v; want 5", st.Total, st.ByPriority, st.Hostnames)
	}
	if st.Bucket != time.Minute {
		t.Errorf("Bucket = %v, want 1m", st.Bucket)
	}
	if n := len(st.Series); n < 3 || n > 4 {
		t.Errorf("series over a ~2 minute window has %d buckets, want 3-4", n)
	}
	checkSeries(t, st, 5)
	// Exact priorities over a time window are not a time-only filter: no
	// counter may answer them.
	st, err = s.Stats(ctxT(t), store.StatsQuery{Filter: store.Filter{Since: before.Add(-time.Minute), Priorities: []alert.Priority{alert.PriorityNotice, alert.PriorityDebug}}})
	if err != nil || st.Total != 4 || st.ByPriority["Notice"] != 3 || st.ByPriority["Debug"] != 1 || len(st.ByPriority) != 2 {
		t.Errorf("Stats(Notice, Debug) = total %d by %v, %v; want 4 (3 Notice, 1 Debug)", st.Total, st.ByPriority, err)
	} else {
		checkSeries(t, st, 4)
	}
	// Time-only filters (which a store may answer from counters).
	st, err = s.Stats(ctxT(t), store.StatsQuery{Filter: store.Filter{Since: before.Add(-time.Hour)}})
	if err != nil || st.Total != 9 {
		t.Errorf("Stats(since 1h) total = %d, %v; want 9", st.Total, err)
	} else {
		if st.Bucket != time.Minute {
			t.Errorf("auto bucket for 1h = %v, want 1m", st.Bucket)
		}
		if n := len(st.Series); n < 60 || n > 62 {
			t.Errorf("1h window: %d buckets, want 61", n)
		}
		checkSeries(t, st, 9)
	}
	st, err = s.Stats(ctxT(t), store.StatsQuery{Filter: store.Filter{Since: after.Add(time.Hour)}})
	if err != nil || st.Total != 0 || len(st.Rules) != 0 {
		t.Errorf("Stats(future) = %d %v, %v; want empty", st.Total, st.Rules, err)
	}
}

func checkSeries(t *testing.T, st store.Stats, total int64) {
	t.Helper()
	var sum int64
	for i, b := range st.Series {
		if b.Start.Unix()%int64(st.Bucket/time.Second) != 0 {
			t.Errorf("bucket %d starts at %v, not aligned to %v", i, b.Start, st.Bucket)
		}
		if i > 0 && !b.Start.Equal(st.Series[i-1].Start.Add(st.Bucket)) {
			t.Errorf("bucket %d at %v does not follow %v", i, b.Start, st.Series[i-1].Start)
		}
		for _, n := range b.Counts {
			sum += n
		}
	}
	if sum != total {
		t.Errorf("series sums to %d, want %d", sum, total)
	}
}

func testTailFromID(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	ids := appendAll(t, s, mk("t1", alert.PriorityNotice, "r", "syscalls", "h"), mk("t2", alert.PriorityNotice, "r", "syscalls", "h"), mk("t3", alert.PriorityNotice, "r", "syscalls", "h"))
	ids = append(ids, appendAll(t, s, mk("t4", alert.PriorityNotice, "r", "syscalls", "h"))...)
	tests := []struct {
		after string
		max   int
		want  []string
	}{
		{"", 10, []string{"t1", "t2", "t3", "t4"}},
		{"0", 2, []string{"t1", "t2"}},
		{ids[0], 10, []string{"t2", "t3", "t4"}},
		{ids[2], 10, []string{"t4"}},
		{ids[3], 10, nil},
		{"$", 10, nil},
	}
	for _, tc := range tests {
		got, err := s.Tail(ctxT(t), tc.after, tc.max, 0)
		if err != nil {
			t.Fatalf("Tail(%q): %v", tc.after, err)
		}
		if !slices.Equal(names(got), tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Tail(%q, %d) = %v, want %v", tc.after, tc.max, names(got), tc.want)
		}
	}
	if _, err := s.Tail(ctxT(t), "junk", 10, 0); err == nil {
		t.Errorf("Tail(junk) succeeded")
	}
}

// testHead: Head names the newest arrival, even when it is a late alert
// that Query lists last, so a Tail from it sees only what comes next.
func testHead(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	if h, err := s.Head(ctxT(t)); err != nil {
		t.Fatalf("Head of an empty store: %v", err)
	} else if got, err := s.Tail(ctxT(t), h, 10, 0); err != nil || len(got) != 0 {
		t.Fatalf("Tail(Head %q) of an empty store = %v, %v", h, names(got), err)
	}
	appendAll(t, s, mk("on-time", alert.PriorityNotice, "r", "syscalls", "h"))
	appendAll(t, s, at(time.Now().Add(-6*time.Hour), "late", alert.PriorityNotice, "r"))
	if p, err := s.Query(ctxT(t), store.Query{Limit: 1}); err != nil || len(p.Events) != 1 || p.Events[0].UUID != "on-time" {
		t.Fatalf("newest by event time = %v, %v; want on-time", p.Events, err)
	}
	time.Sleep(2 * time.Millisecond) // past the newest millisecond, which a sharded store may hold back
	h, err := s.Head(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Tail(ctxT(t), h, 10, 0); err != nil || len(got) != 0 {
		t.Fatalf("Tail(Head %q) = %v, %v; want nothing (the late alert arrived last)", h, names(got), err)
	}
	appendAll(t, s, mk("next", alert.PriorityNotice, "r", "syscalls", "h"))
	got, err := s.Tail(ctxT(t), h, 10, time.Second)
	if err != nil || !slices.Equal(names(got), []string{"next"}) {
		t.Fatalf("Tail(Head) after one more append = %v, %v; want [next]", names(got), err)
	}
}

func testTailBlocking(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	appendAll(t, s, mk("old", alert.PriorityNotice, "r", "syscalls", "h"))

	// Times out empty.
	start := time.Now()
	got, err := s.Tail(ctxT(t), "$", 10, 150*time.Millisecond)
	if err != nil || len(got) != 0 {
		t.Errorf("Tail($, no new events) = %v, %v", names(got), err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("Tail returned after %v, before its block time", d)
	}
	// Wakes up for a new event.
	res := make(chan []store.Event, 1)
	go func() {
		evs, err := s.Tail(context.Background(), "$", 10, 10*time.Second)
		if err != nil {
			t.Errorf("Tail: %v", err)
		}
		res <- evs
	}()
	time.Sleep(300 * time.Millisecond)
	start = time.Now()
	appendAll(t, s, mk("new", alert.PriorityNotice, "r", "syscalls", "h"))
	select {
	case evs := <-res:
		if !slices.Equal(names(evs), []string{"new"}) {
			t.Errorf("blocked Tail($) = %v, want [new]", names(evs))
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Tail woke %v after the append", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("blocked Tail never returned")
	}
	// A cancelled context ends a blocked Tail.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Tail(ctx, "$", 10, 10*time.Second)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Tail ignored context cancellation")
	}
}

func testTailAcrossInstances(t *testing.T, f Factory) {
	b := f(t, Limits{})
	s1 := b.Open(t)
	defer s1.Close()
	ids := appendAll(t, s1, mk("x1", alert.PriorityNotice, "r", "syscalls", "h"))
	if !b.Concurrent {
		appendAll(t, s1, mk("x2", alert.PriorityNotice, "r", "syscalls", "h"))
		s1.Close()
		s2 := open(t, b)
		got, err := s2.Tail(ctxT(t), ids[0], 10, time.Second)
		if err != nil || !slices.Equal(names(got), []string{"x2"}) {
			t.Errorf("Tail after reopen = %v, %v; want [x2]", names(got), err)
		}
		return
	}
	s2 := open(t, b)
	res := make(chan []store.Event, 1)
	go func() {
		evs, err := s2.Tail(context.Background(), ids[0], 10, 10*time.Second)
		if err != nil {
			t.Errorf("Tail on second instance: %v", err)
		}
		res <- evs
	}()
	time.Sleep(200 * time.Millisecond)
	appendAll(t, s1, mk("x2", alert.PriorityNotice, "r", "syscalls", "h"))
	select {
	case evs := <-res:
		if !slices.Equal(names(evs), []string{"x2"}) {
			t.Errorf("second instance tailed %v, want [x2]", names(evs))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("second instance never saw the event")
	}
}

func testRetentionCount(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{MaxEvents: 10}))
	var ids []string
	for b := 0; b < 5; b++ {
		var batch []alert.Alert
		for i := 0; i < 5; i++ {
			batch = append(batch, mk(fmt.Sprintf("e%02d", b*5+i), alert.PriorityNotice, "r", "syscalls", "h", "tag"))
		}
		ids = append(ids, appendAll(t, s, batch...)...)
	}
	want := []string{"e24", "e23", "e22", "e21", "e20", "e19", "e18", "e17", "e16", "e15"}
	// Stores may apply retention in the background, off the append path;
	// a sharded one keeps its newest ceil(10/n) per shard.
	limit := len(want)
	if n := shardCount(s); n > 1 {
		limit = n * ((10 + n - 1) / n)
	}
	var got []string
	testutil.Eventually(t, 20*time.Second, "retention by count", func() bool {
		got = names(queryAll(t, s, store.Filter{}))
		return len(got) <= limit
	})
	if n := shardCount(s); n > 1 {
		// Each shard keeps its newest ceil(10/n): the newest event stays,
		// the oldest goes, and no shard keeps more than its share.
		perShard := (10 + n - 1) / n
		if len(got) > n*perShard || len(got) < 10-n || got[0] != "e24" || slices.Contains(got, "e00") {
			t.Errorf("retained %v, want about the newest 10 (%d per shard)", got, perShard)
		}
		if h := s.Health(ctxT(t)); h.Events != int64(len(got)) {
			t.Errorf("Health.Events = %d, want %d", h.Events, len(got))
		}
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("retained %v, want %v", got, want)
	}
	if got := names(queryAll(t, s, store.Filter{Tags: []string{"tag"}, Rules: []string{"r"}})); !slices.Equal(got, want) {
		t.Errorf("retained via index %v, want %v", got, want)
	}
	if _, err := s.Get(ctxT(t), ids[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(trimmed) err = %v, want ErrNotFound", err)
	}
	if h := s.Health(ctxT(t)); h.Events != 10 {
		t.Errorf("Health.Events = %d, want 10", h.Events)
	}
	tail, err := s.Tail(ctxT(t), "0", 100, 0)
	if err != nil || len(tail) != 10 || tail[0].UUID != "e15" {
		t.Errorf("Tail(0) after trim = %v, %v", names(tail), err)
	}
}

func testRetentionAge(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{MaxAge: time.Second}))
	old := appendAll(t, s, mk("old", alert.PriorityNotice, "r", "syscalls", "h", "tag"))
	time.Sleep(1300 * time.Millisecond)
	appendAll(t, s, mk("new", alert.PriorityNotice, "r", "syscalls", "h", "tag"))
	if got := names(queryAll(t, s, store.Filter{})); !slices.Equal(got, []string{"new"}) {
		t.Errorf("after max age, events = %v, want [new]", got)
	}
	if got := names(queryAll(t, s, store.Filter{Tags: []string{"tag"}})); !slices.Equal(got, []string{"new"}) {
		t.Errorf("after max age, indexed query = %v, want [new]", got)
	}
	if _, err := s.Get(ctxT(t), old[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(expired) err = %v, want ErrNotFound", err)
	}
	if st, err := s.Stats(ctxT(t), store.StatsQuery{Filter: store.Filter{Rules: []string{"r"}}}); err != nil || st.Total != 1 {
		t.Errorf("Stats after expiry = %d, %v; want 1", st.Total, err)
	}
}

func deliveries(t *testing.T, s store.Store, group string) store.DeliveryLog {
	t.Helper()
	l, err := s.Deliveries(ctxT(t), group)
	if err != nil {
		t.Fatalf("Deliveries(%s): %v", group, err)
	}
	return l
}

func claim(t *testing.T, l store.DeliveryLog, consumer string, max int, minIdle time.Duration) []store.Delivery {
	t.Helper()
	ds, err := l.Claim(ctxT(t), consumer, max, minIdle, 0)
	if err != nil {
		t.Fatalf("Claim(%s): %v", consumer, err)
	}
	return ds
}

func dnames(ds []store.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s#%d", d.UUID, d.Attempts))
	}
	return out
}

func checkLag(t *testing.T, l store.DeliveryLog, want int64) {
	t.Helper()
	n, age, err := l.Lag(ctxT(t))
	if err != nil || n != want {
		t.Errorf("Lag = %d, %v; want %d", n, err, want)
	}
	if want == 0 && age != 0 {
		t.Errorf("Lag age = %v with nothing pending", age)
	}
	if want > 0 && (age < 0 || age > time.Minute) {
		t.Errorf("Lag age = %v", age)
	}
}

func testDeliveriesClaimAck(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	appendAll(t, s, mk("before", alert.PriorityNotice, "r", "syscalls", "h"))
	l := deliveries(t, s, "slack")
	checkLag(t, l, 0)
	if ds := claim(t, l, "c1", 10, time.Minute); len(ds) != 0 {
		t.Fatalf("new group handed out older events: %v", dnames(ds))
	}
	appendAll(t, s, mk("a", alert.PriorityNotice, "r", "syscalls", "h"), mk("b", alert.PriorityNotice, "r", "syscalls", "h"))
	appendAll(t, s, mk("c", alert.PriorityNotice, "r", "syscalls", "h"))
	checkLag(t, l, 3)
	ds := claim(t, l, "c1", 2, time.Minute)
	if got := dnames(ds); !slices.Equal(got, []string{"a#1", "b#1"}) {
		t.Fatalf("Claim = %v, want [a#1 b#1]", got)
	}
	checkLag(t, l, 3) // handed out but not acknowledged
	if err := l.Ack(ctxT(t), ds[0].ID); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	checkLag(t, l, 2)
	ds2 := claim(t, l, "c1", 10, time.Minute)
	if got := dnames(ds2); !slices.Equal(got, []string{"c#1"}) {
		t.Fatalf("second Claim = %v, want [c#1]", got)
	}
	if err := l.Ack(ctxT(t), ds[1].ID, ds2[0].ID); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	checkLag(t, l, 0)
	if ds := claim(t, l, "c1", 10, 0); len(ds) != 0 {
		t.Errorf("acknowledged events handed out again: %v", dnames(ds))
	}
	// Acking twice or an unknown id is harmless.
	if err := l.Ack(ctxT(t), ds[0].ID, "1-1"); err != nil {
		t.Errorf("Ack again: %v", err)
	}
	// Deliveries on an existing group returns the same cursor.
	if ds := claim(t, deliveries(t, s, "slack"), "c2", 10, 0); len(ds) != 0 {
		t.Errorf("reopened group handed out %v", dnames(ds))
	}
}

func testDeliveriesRedelivery(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	l := deliveries(t, s, "webhook")
	appendAll(t, s, mk("a", alert.PriorityNotice, "r", "syscalls", "h"), mk("b", alert.PriorityNotice, "r", "syscalls", "h"))
	if got := dnames(claim(t, l, "c1", 10, time.Minute)); !slices.Equal(got, []string{"a#1", "b#1"}) {
		t.Fatalf("Claim = %v", got)
	}
	// Not idle long enough yet: nothing.
	if got := dnames(claim(t, l, "c2", 10, 300*time.Millisecond)); len(got) != 0 {
		t.Fatalf("claimed busy events: %v", got)
	}
	time.Sleep(400 * time.Millisecond)
	ds := claim(t, l, "c2", 1, 300*time.Millisecond)
	if got := dnames(ds); !slices.Equal(got, []string{"a#2"}) {
		t.Fatalf("reclaim = %v, want [a#2]", got)
	}
	time.Sleep(400 * time.Millisecond)
	appendAll(t, s, mk("c", alert.PriorityNotice, "r", "syscalls", "h"))
	// Idle ones first (b, then a again), then new ones.
	got := dnames(claim(t, l, "c3", 10, 300*time.Millisecond))
	if !slices.Equal(got, []string{"a#3", "b#2", "c#1"}) {
		t.Fatalf("Claim after idle = %v, want [a#3 b#2 c#1]", got)
	}
	checkLag(t, l, 3)
}

func testDeliveriesShared(t *testing.T, f Factory) {
	b := f(t, Limits{})
	s1 := open(t, b)
	s2 := s1
	if b.Concurrent {
		s2 = open(t, b) // a second replica
	}
	l1 := deliveries(t, s1, "loki")
	l2 := deliveries(t, s2, "loki")
	const n = 60
	for i := 0; i < n; i += 10 {
		var batch []alert.Alert
		for j := 0; j < 10; j++ {
			batch = append(batch, mk(fmt.Sprintf("e%02d", i+j), alert.PriorityNotice, "r", "syscalls", "h"))
		}
		appendAll(t, s1, batch...)
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for c, l := range []store.DeliveryLog{l1, l2, l1, l2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consumer := fmt.Sprintf("c%d", c)
			for i := 0; i < 100; i++ {
				ds, err := l.Claim(context.Background(), consumer, 3, time.Minute, 0)
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					if prev, dup := seen[d.UUID]; dup {
						t.Errorf("%s handed to %s and %s", d.UUID, prev, consumer)
					}
					seen[d.UUID] = consumer
					if d.Attempts != 1 {
						t.Errorf("%s attempts %d, want 1", d.UUID, d.Attempts)
					}
				}
				mu.Unlock()
				ids := make([]string, len(ds))
				for i, d := range ds {
					ids[i] = d.ID
				}
				if err := l.Ack(context.Background(), ids...); err != nil {
					t.Errorf("Ack: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("delivered %d distinct events, want %d", len(seen), n)
	}
	checkLag(t, l1, 0)
	checkLag(t, l2, 0)
}

func testDeliveriesBlocking(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	l := deliveries(t, s, "es")
	start := time.Now()
	ds, err := l.Claim(ctxT(t), "c1", 10, time.Minute, 150*time.Millisecond)
	if err != nil || len(ds) != 0 {
		t.Fatalf("Claim on empty = %v, %v", dnames(ds), err)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("Claim returned before its block time")
	}
	res := make(chan []store.Delivery, 1)
	go func() {
		ds, err := l.Claim(context.Background(), "c1", 10, time.Minute, 10*time.Second)
		if err != nil {
			t.Errorf("Claim: %v", err)
		}
		res <- ds
	}()
	time.Sleep(200 * time.Millisecond)
	appendAll(t, s, mk("wake", alert.PriorityNotice, "r", "syscalls", "h"))
	select {
	case ds := <-res:
		if got := dnames(ds); !slices.Equal(got, []string{"wake#1"}) {
			t.Errorf("blocked Claim = %v, want [wake#1]", got)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("blocked Claim never returned")
	}
}

func testDeadLetters(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	l := deliveries(t, s, "slack")
	appendAll(t, s, mk("a", alert.PriorityNotice, "r", "syscalls", "h"), mk("b", alert.PriorityNotice, "r", "syscalls", "h"), mk("c", alert.PriorityNotice, "r", "syscalls", "h"))
	ds := claim(t, l, "c1", 10, time.Minute)
	if len(ds) != 3 {
		t.Fatalf("Claim = %v", dnames(ds))
	}
	if err := l.DeadLetter(ctxT(t), ds[0], "HTTP 400: invalid_payload"); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	if err := l.DeadLetter(ctxT(t), ds[2], "HTTP 404"); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	dl, err := l.DeadLetters(ctxT(t), 10)
	if err != nil || len(dl) != 2 {
		t.Fatalf("DeadLetters = %v, %v", dl, err)
	}
	if dl[0].UUID != "c" || dl[0].Reason != "HTTP 404" || dl[1].UUID != "a" || dl[1].Reason != "HTTP 400: invalid_payload" || dl[1].Attempts != 1 {
		t.Errorf("DeadLetters = %+v", dl)
	}
	if dl[0].ID != ds[2].ID || dl[0].Rule != "r" || time.Since(dl[0].At) > time.Minute {
		t.Errorf("dead letter lost its event or time: %+v", dl[0])
	}
	if dl, _ := l.DeadLetters(ctxT(t), 1); len(dl) != 1 || dl[0].UUID != "c" {
		t.Errorf("DeadLetters(1) = %+v", dl)
	}
	checkLag(t, l, 1) // b
	// Dead letters are never handed out again.
	if got := dnames(claim(t, l, "c2", 10, 0)); !slices.Equal(got, []string{"b#2"}) {
		t.Errorf("Claim after dead letters = %v, want [b#2]", got)
	}
	other := deliveries(t, s, "other")
	if dl, _ := other.DeadLetters(ctxT(t), 10); len(dl) != 0 {
		t.Errorf("dead letters leak across groups: %v", dl)
	}
	// Dropping removes exactly the named ones, in this group only.
	if n, err := other.DropDeadLetters(ctxT(t), ds[0].ID); err != nil || n != 0 {
		t.Errorf("DropDeadLetters in another group = %d, %v", n, err)
	}
	if n, err := l.DropDeadLetters(ctxT(t), ds[0].ID, ds[1].ID); err != nil || n != 1 {
		t.Errorf("DropDeadLetters(a, b) = %d, %v; want 1 (b is no dead letter)", n, err)
	}
	if dl, err := l.DeadLetters(ctxT(t), 10); err != nil || len(dl) != 1 || dl[0].UUID != "c" {
		t.Errorf("DeadLetters after drop = %+v, %v; want [c]", dl, err)
	}
}

func testIndependentGroups(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	a := deliveries(t, s, "a")
	b := deliveries(t, s, "b")
	appendAll(t, s, mk("x", alert.PriorityNotice, "r", "syscalls", "h"))
	da := claim(t, a, "c", 10, time.Minute)
	if err := a.Ack(ctxT(t), da[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := dnames(claim(t, b, "c", 10, time.Minute)); !slices.Equal(got, []string{"x#1"}) {
		t.Errorf("group b = %v; each group must see every event", got)
	}
	checkLag(t, a, 0)
	checkLag(t, b, 1)
}

func testDeliveriesReopen(t *testing.T, f Factory) {
	b := f(t, Limits{})
	s1 := b.Open(t)
	defer s1.Close()
	l := deliveries(t, s1, "webhook")
	appendAll(t, s1, mk("acked", alert.PriorityNotice, "r", "syscalls", "h"), mk("held", alert.PriorityNotice, "r", "syscalls", "h"), mk("dead", alert.PriorityNotice, "r", "syscalls", "h"))
	ds := claim(t, l, "crashing-replica", 10, time.Minute)
	if len(ds) != 3 {
		t.Fatalf("Claim = %v", dnames(ds))
	}
	if err := l.Ack(ctxT(t), ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := l.DeadLetter(ctxT(t), ds[2], "gone"); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s1, mk("fresh", alert.PriorityNotice, "r", "syscalls", "h"))
	if !b.Concurrent {
		if err := s1.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	s2 := open(t, b)
	l2 := deliveries(t, s2, "webhook")
	checkLag(t, l2, 2)
	time.Sleep(50 * time.Millisecond)
	got := dnames(claim(t, l2, "survivor", 10, 20*time.Millisecond))
	if !slices.Equal(got, []string{"held#2", "fresh#1"}) {
		t.Errorf("after restart, Claim = %v, want [held#2 fresh#1]", got)
	}
	if dl, err := l2.DeadLetters(ctxT(t), 10); err != nil || len(dl) != 1 || dl[0].UUID != "dead" || dl[0].Reason != "gone" {
		t.Errorf("dead letters after restart = %+v, %v", dl, err)
	}
}

func testPersist(t *testing.T, f Factory) {
	b := f(t, Limits{})
	s1 := b.Open(t)
	defer s1.Close()
	a := decodeAlert(t, falcoSample)
	ids := appendAll(t, s1, a, mk("second", alert.PriorityCritical, "r", "syscalls", "h", "x"))
	if !b.Concurrent {
		if err := s1.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	s2 := open(t, b)
	got, err := s2.Get(ctxT(t), ids[0])
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	checkEqualAlert(t, got.Alert, a)
	if got := names(queryAll(t, s2, store.Filter{Tags: []string{"x"}})); !slices.Equal(got, []string{"second"}) {
		t.Errorf("indexed query after reopen = %v", got)
	}
	ids2 := appendAll(t, s2, mk("third", alert.PriorityNotice, "r", "syscalls", "h"))
	if store.CompareIDs(ids2[0], ids[1]) <= 0 {
		t.Errorf("id after reopen %s not after %s", ids2[0], ids[1])
	}
	if got := names(queryAll(t, s2, store.Filter{})); !slices.Equal(got, []string{"third", "second", a.UUID}) {
		t.Errorf("events after reopen = %v", got)
	}
}

func testConcurrentAppends(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	const workers, per = 8, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []string
	// One event time for all: query order is then ID order.
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				ids, err := s.Append(context.Background(), []alert.Alert{at(t0, fmt.Sprintf("w%d-%d", w, i), alert.PriorityNotice, "r")})
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				all = append(all, ids...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	evs := queryAll(t, s, store.Filter{})
	if len(evs) != workers*per {
		t.Fatalf("stored %d events, want %d", len(evs), workers*per)
	}
	got := make([]string, len(evs))
	for i, e := range evs {
		got[len(evs)-1-i] = e.ID
	}
	sort.Slice(all, func(i, j int) bool { return store.CompareIDs(all[i], all[j]) < 0 })
	if !slices.Equal(got, all) {
		t.Errorf("query order differs from id order")
	}
	tail, err := s.Tail(ctxT(t), "0", 1000, 0)
	if err != nil || len(tail) != workers*per {
		t.Fatalf("Tail = %d, %v", len(tail), err)
	}
	for i := range tail {
		if tail[i].ID != all[i] {
			t.Fatalf("Tail order differs at %d: %s vs %s", i, tail[i].ID, all[i])
		}
	}
}

func testHealth(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	appendAll(t, s, mk("a", alert.PriorityNotice, "r", "syscalls", "h"))
	h := s.Health(ctxT(t))
	if !h.OK || h.Kind == "" || h.Detail == "" || h.Events != 1 || h.Error != "" {
		t.Errorf("Health = %+v", h)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Events retention drops are gone for consumers too: they are neither
// counted as lag nor handed out.
func testDeliveriesRetention(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{MaxEvents: 5}))
	l := deliveries(t, s, "g")
	appendAll(t, s, mk("a", alert.PriorityNotice, "r", "syscalls", "h"), mk("b", alert.PriorityNotice, "r", "syscalls", "h"))
	if got := dnames(claim(t, l, "c", 10, time.Minute)); !slices.Equal(got, []string{"a#1", "b#1"}) {
		t.Fatalf("Claim = %v", got)
	}
	var batch []alert.Alert
	for i := 0; i < 7; i++ {
		batch = append(batch, mk(fmt.Sprintf("n%d", i), alert.PriorityNotice, "r", "syscalls", "h"))
	}
	appendAll(t, s, batch...)
	// Stores may apply retention in the background, off the append path
	// (per shard on a sharded store: ceil(5/n) each).
	limit := 5
	if n := shardCount(s); n > 1 {
		limit = n * ((5 + n - 1) / n)
	}
	testutil.Eventually(t, 20*time.Second, "retention by count", func() bool {
		kept, err := s.Tail(ctxT(t), "0", 100, 0)
		return err == nil && len(kept) <= limit
	})
	want := []string{"n2#1", "n3#1", "n4#1", "n5#1", "n6#1"}
	if shardCount(s) > 1 {
		// Retention by count is per shard: what is left of the batch.
		kept, err := s.Tail(ctxT(t), "0", 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		want = nil
		for _, e := range kept {
			if e.UUID != "a" && e.UUID != "b" {
				want = append(want, e.UUID+"#1")
			}
		}
	}
	checkLag(t, l, int64(len(want)))
	got := dnames(claim(t, l, "c2", 10, 0))
	if !slices.Equal(got, want) {
		t.Errorf("Claim after trimming = %v, want n2..n6 once each", got)
	}
}

// A cursor keeps paging through the same events while new ones arrive.
func testCursorStable(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	for i := 0; i < 6; i++ {
		appendAll(t, s, mk(fmt.Sprintf("e%d", i), alert.PriorityNotice, "r", "syscalls", "h"))
	}
	p1, err := s.Query(ctxT(t), store.Query{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, mk("late", alert.PriorityNotice, "r", "syscalls", "h"))
	p2, err := s.Query(ctxT(t), store.Query{Limit: 3, Before: p1.Next})
	if err != nil {
		t.Fatal(err)
	}
	if got := append(names(p1.Events), names(p2.Events)...); !slices.Equal(got, []string{"e5", "e4", "e3", "e2", "e1", "e0"}) {
		t.Errorf("pages = %v", got)
	}
}

// nested returns a value nesting depth arrays around a string.
func nested(depth int) any {
	var v any = "leaf"
	for range depth {
		v = []any{v}
	}
	return v
}

// testDeepAlerts: whatever an alert contains, a store either refuses it or
// can read it back, after a reopen too (a deeply nested alert once made the
// embedded log unreadable). Alerts up to alert.MaxDepth are accepted.
func testDeepAlerts(t *testing.T, f Factory) {
	b := f(t, Limits{})
	s1 := b.Open(t)
	defer s1.Close()
	ok := mk("deep-ok", alert.PriorityWarning, "r", "syscalls", "h")
	// alert object (1) + output_fields (2) + arrays up to MaxDepth.
	ok.OutputFields["deep"] = nested(alert.MaxDepth - 2)
	okIDs := appendAll(t, s1, ok)
	var accepted []string
	for _, depth := range []int{alert.MaxDepth - 1, 9_998, 10_000} {
		a := mk(fmt.Sprintf("deep-%d", depth), alert.PriorityWarning, "r", "syscalls", "h")
		a.OutputFields["deep"] = nested(depth)
		ids, err := s1.Append(ctxT(t), []alert.Alert{a})
		if err == nil {
			accepted = append(accepted, ids...)
		}
	}
	if len(accepted) > 0 {
		t.Errorf("alerts nesting deeper than alert.MaxDepth were accepted: %v", accepted)
	}
	after := appendAll(t, s1, mk("after-deep", alert.PriorityWarning, "r", "syscalls", "h"))
	if !b.Concurrent {
		if err := s1.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	s2 := open(t, b)
	for _, id := range append(append(okIDs, after...), accepted...) {
		if _, err := s2.Get(ctxT(t), id); err != nil {
			t.Errorf("Get(%s) after reopen: %v", id, err)
		}
	}
	got, err := s2.Get(ctxT(t), okIDs[0])
	if err != nil {
		t.Fatalf("Get deep alert: %v", err)
	}
	if alert.JSONDepth(mustJSON(t, got.Alert)) != alert.MaxDepth {
		t.Errorf("deep alert read back with depth %d, want %d", alert.JSONDepth(mustJSON(t, got.Alert)), alert.MaxDepth)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testIdempotentAppend: appending an alert again with the same uuid (a
// sender's retry) returns its first ID and stores it once, in a later call
// or within one batch, and after a reopen; alerts without a uuid are never
// merged.
func testIdempotentAppend(t *testing.T, f Factory) {
	b := f(t, Limits{})
	s1 := b.Open(t)
	defer s1.Close()
	first := appendAll(t, s1, mk("once", alert.PriorityWarning, "r", "syscalls", "h"), mk("other", alert.PriorityNotice, "r", "syscalls", "h"))
	again := appendAll(t, s1, mk("once", alert.PriorityWarning, "r", "syscalls", "h"), mk("new", alert.PriorityNotice, "r", "syscalls", "h"),
		mk("new", alert.PriorityNotice, "r", "syscalls", "h"))
	if again[0] != first[0] {
		t.Errorf("retried append got id %s, want the first one %s", again[0], first[0])
	}
	if again[2] != again[1] {
		t.Errorf("same uuid twice in one batch got ids %s and %s", again[1], again[2])
	}
	anon := mk("", alert.PriorityNotice, "r", "syscalls", "h")
	appendAll(t, s1, anon, anon)
	if !b.Concurrent {
		if err := s1.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	s2 := open(t, b)
	if ids := appendAll(t, s2, mk("once", alert.PriorityWarning, "r", "syscalls", "h")); ids[0] != first[0] {
		t.Errorf("append after reopen got id %s, want %s", ids[0], first[0])
	}
	got := names(queryAll(t, s2, store.Filter{}))
	if want := []string{"", "", "new", "other", "once"}; !slices.Equal(got, want) {
		t.Errorf("stored events = %q, want %q", got, want)
	}
	st, err := s2.Stats(ctxT(t), store.StatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 5 {
		t.Errorf("stats total = %d, want 5 (duplicates counted?)", st.Total)
	}
}

// testPagingFromEventCursor: the position cursor of any listed event
// (store.PositionOf(e).Cursor(), what the API hands out with each event)
// pages from right after that event, including inside runs of equal times
// and across shards.
func testPagingFromEventCursor(t *testing.T, f Factory) {
	s := open(t, f(t, Limits{}))
	t1 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var batch []alert.Alert
	for i := 0; i < 9; i++ {
		batch = append(batch, at(t1.Add(time.Duration(i/3)*time.Second), fmt.Sprintf("c%d", i), alert.PriorityNotice, "r"))
	}
	appendAll(t, s, batch[:5]...)
	appendAll(t, s, batch[5:]...)
	all := queryAll(t, s, store.Filter{})
	if len(all) != len(batch) {
		t.Fatalf("stored %d events, want %d", len(all), len(batch))
	}
	for i := range all {
		cursor := store.PositionOf(&all[i]).Cursor()
		p, err := s.Query(ctxT(t), store.Query{Limit: 100, Before: cursor})
		if err != nil {
			t.Fatalf("Query(before=%s): %v", cursor, err)
		}
		if got, want := names(p.Events), names(all[i+1:]); !slices.Equal(got, want) {
			t.Errorf("after %s (%s): %v, want %v", all[i].UUID, cursor, got, want)
		}
	}
}
