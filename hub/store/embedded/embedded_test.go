package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"

	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/storetest"
)

func openT(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, lim storetest.Limits) storetest.Backend {
		dir := t.TempDir()
		return storetest.Backend{Open: func(t *testing.T) store.Store {
			return openT(t, Options{Dir: dir, MaxEvents: lim.MaxEvents, MaxAge: lim.MaxAge})
		}}
	})
}

func sample(name string) alert.Alert {
	return alert.Alert{UUID: name, Output: "out " + name, Priority: alert.PriorityWarning, Rule: "r",
		Time: time.Now().UTC(), OutputFields: map[string]any{"proc.name": name, "evt.num": json.Number("7")},
		Source: "syscalls", Hostname: "h", Tags: []string{"t"}}
}

func uuids(t *testing.T, s *Store) []string {
	t.Helper()
	p, err := s.Query(context.Background(), store.Query{Limit: store.MaxLimit})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	var out []string
	for _, e := range p.Events {
		out = append(out, e.UUID)
	}
	return out
}

// A crash mid-write leaves a torn or corrupt last record; reopening drops
// exactly that batch (it was never acknowledged) and keeps the rest.
func TestTornTailRecovered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, lastStart int64)
	}{
		{"short record", func(t *testing.T, path string, last int64) {
			st, _ := os.Stat(path)
			if err := os.Truncate(path, st.Size()-7); err != nil {
				t.Fatal(err)
			}
		}},
		{"half header", func(t *testing.T, path string, last int64) {
			if err := os.Truncate(path, last+3); err != nil {
				t.Fatal(err)
			}
		}},
		{"bad checksum", func(t *testing.T, path string, last int64) {
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			defer f.Close()
			f.WriteAt([]byte{'X'}, last+headerSize+5)
		}},
		{"zero-filled tail", func(t *testing.T, path string, last int64) {
			f, _ := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
			defer f.Close()
			f.Write(make([]byte, 4096))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			s.Append(ctx, []alert.Alert{sample("a1"), sample("a2")})
			s.Append(ctx, []alert.Alert{sample("b1")})
			st, _ := os.Stat(filepath.Join(dir, logName))
			lastStart := st.Size()
			s.Append(ctx, []alert.Alert{sample("c1"), sample("c2")})
			s.Close()
			tc.damage(t, filepath.Join(dir, logName), lastStart)

			s2 := openT(t, Options{Dir: dir})
			want := []string{"b1", "a2", "a1"}
			if tc.name == "zero-filled tail" {
				want = []string{"c2", "c1", "b1", "a2", "a1"}
			}
			if got := uuids(t, s2); !slices.Equal(got, want) {
				t.Fatalf("after recovery: %v, want %v", got, want)
			}
			if _, err := s2.Append(ctx, []alert.Alert{sample("d1")}); err != nil {
				t.Fatalf("Append after recovery: %v", err)
			}
			s2.Close()
			s3 := openT(t, Options{Dir: dir})
			if got := uuids(t, s3); !slices.Equal(got, append([]string{"d1"}, want...)) {
				t.Fatalf("after second reopen: %v", got)
			}
		})
	}
}

func TestDirLockedAgainstSecondOpen(t *testing.T) {
	dir := t.TempDir()
	openT(t, Options{Dir: dir})
	if s, err := Open(Options{Dir: dir}); err == nil {
		s.Close()
		t.Fatal("second Open of a locked directory succeeded")
	}
}

// Retention makes most of the log dead; compaction rewrites it to the
// retained events and delivery state, and a reopen sees the same data.
func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, MaxEvents: 50, compactMinBytes: 64 << 10})
	ctx := context.Background()
	l, err := s.Deliveries(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		batch := make([]alert.Alert, 10)
		for j := range batch {
			batch[j] = sample(fmt.Sprintf("e%04d", i*10+j))
			batch[j].Output = strings.Repeat("x", 400)
		}
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := l.Claim(ctx, "c", 3, time.Minute, 0)
	if err != nil || len(ds) != 3 {
		t.Fatalf("Claim: %d, %v", len(ds), err)
	}
	l.Ack(ctx, ds[0].ID)
	l.DeadLetter(ctx, ds[1], "bad")
	// Trigger and wait for a compaction.
	s.mu.Lock()
	s.maybeKickLocked()
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := os.Stat(filepath.Join(dir, logName))
		if st.Size() < 200<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log not compacted: %d bytes", st.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := uuids(t, s)
	if len(before) != 50 || before[0] != "e0999" {
		t.Fatalf("retained %d, newest %v", len(before), before[:1])
	}
	if _, err := s.Append(ctx, []alert.Alert{sample("after")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := openT(t, Options{Dir: dir, MaxEvents: 50, compactMinBytes: 64 << 10})
	got := uuids(t, s2)
	if !slices.Equal(got, append([]string{"after"}, before[:49]...)) {
		t.Fatalf("after reopen: %v", got)
	}
	l2, _ := s2.Deliveries(ctx, "g")
	if dl, _ := l2.DeadLetters(ctx, 10); len(dl) != 1 || dl[0].Reason != "bad" {
		t.Errorf("dead letters after compaction: %+v", dl)
	}
	// The claim took the oldest retained e0950-e0952: e0950 acked, e0951
	// dead, e0952 pending; then e0953..e0999 and "after" never handed out.
	if n, _, _ := l2.Lag(ctx); n != 49 {
		t.Errorf("lag after compaction = %d, want 49", n)
	}
	ds2, _ := l2.Claim(ctx, "c2", 2, 0, 0)
	if len(ds2) != 2 || ds2[0].UUID != "e0952" || ds2[0].Attempts != 2 || ds2[1].UUID != "e0953" {
		t.Errorf("claim after compaction = %+v", ds2)
	}
}

// FuzzOpenLog feeds arbitrary bytes as the log: Open must either fail
// cleanly or recover a usable store, never panic.
func FuzzOpenLog(f *testing.F) {
	v1, _ := json.Marshal([]store.Event{{ID: "1-0", Alert: sample("x")}})
	f.Add(encodeRecord(recEventsV1, v1))
	body, _ := json.Marshal(store.Event{ID: "1-0", Alert: sample("x")})
	f.Add(encodeRecord(recEvents, body))
	f.Add(append(encodeRecord(recEvents, body), encodeRecord(recAck, []byte(`{"g":"a","ids":["1-0"]}`))...))
	f.Add(encodeRecord(recClaim, []byte(`{"g":"a","c":"x","ids":["junk"]}`)))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, logName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{Dir: dir})
		if err != nil {
			return
		}
		defer s.Close()
		if _, err := s.Append(context.Background(), []alert.Alert{sample("y")}); err != nil {
			t.Fatalf("Append after recovery: %v", err)
		}
		if _, err := s.Query(context.Background(), store.Query{}); err != nil {
			t.Fatalf("Query: %v", err)
		}
	})
}

// BenchmarkStore measures the store with its defaults (SAKER_FSYNC=interval).
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return openB(b, Options{Dir: b.TempDir()}) })
}

// BenchmarkStoreFsyncAlways is BenchmarkStore under SAKER_FSYNC=always.
func BenchmarkStoreFsyncAlways(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		return openB(b, Options{Dir: b.TempDir(), Fsync: FsyncAlways})
	})
}

func openB(b *testing.B, o Options) *Store {
	s, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// Time-only Stats come from per-minute counters that retention decrements;
// they must equal aggregating the retained events.
func TestStatsCountersAgreeWithScan(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir(), MaxEvents: 30})
	ctx := context.Background()
	for i := 0; i < 100; i += 5 {
		var batch []alert.Alert
		for j := i; j < i+5; j++ {
			a := sample(fmt.Sprint(j))
			a.Priority = alert.Priorities[j%8]
			a.Rule = fmt.Sprintf("rule-%d", j%7)
			a.Tags = []string{"t", fmt.Sprintf("t%d", j%3)}
			a.OutputFields["container.name"] = fmt.Sprintf("c%d", j%4)
			batch = append(batch, a)
		}
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []store.Filter{{}, {Since: time.Now().Add(-time.Hour)}, {Until: time.Now().Add(time.Hour)}} {
		counters, err := s.Stats(ctx, store.StatsQuery{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		f.Sources = []string{"syscalls"}
		scanned, err := s.Stats(ctx, store.StatsQuery{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		if counters.Total != 30 {
			t.Errorf("total %d, want 30", counters.Total)
		}
		counters.Series, scanned.Series = nil, nil
		if !reflect.DeepEqual(counters, scanned) {
			t.Errorf("counters %+v\nscan     %+v", counters, scanned)
		}
	}
	// Dropping all but one event leaves counters for exactly that event.
	s.mu.Lock()
	s.dropFront(len(s.evs) - 1)
	var metas int
	var total int64
	for _, c := range s.minutes {
		metas += len(c)
		for m, n := range c {
			if m != s.evs[0].m {
				t.Errorf("a counter of another meta (%s) is left", m.a.Rule)
			}
			total += n
		}
	}
	s.mu.Unlock()
	if total != 1 || metas != 1 {
		t.Errorf("after dropping to one event: total %d in %d counters, want 1 in 1", total, metas)
	}
}

// Dropped dead letters stay dropped after a reopen (the drop is logged).
func TestDropDeadLettersSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Deliveries(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []alert.Alert{sample("a"), sample("b")}); err != nil {
		t.Fatal(err)
	}
	ds, err := l.Claim(ctx, "c", 10, time.Minute, 0)
	if err != nil || len(ds) != 2 {
		t.Fatalf("Claim = %v, %v", ds, err)
	}
	for _, d := range ds {
		if err := l.DeadLetter(ctx, d, "refused"); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.DropDeadLetters(ctx, ds[0].ID); n != 1 || err != nil {
		t.Fatalf("DropDeadLetters = %d, %v", n, err)
	}
	s.Close()
	s = openT(t, Options{Dir: dir})
	l, _ = s.Deliveries(ctx, "g")
	if dl, err := l.DeadLetters(ctx, 10); err != nil || len(dl) != 1 || dl[0].UUID != "b" {
		t.Fatalf("DeadLetters after reopen = %+v, %v; want [b]", dl, err)
	}
}

// Logs written before events records stopped wrapping their batch in an
// array still open.
func TestReadsArrayEventsRecords(t *testing.T) {
	dir := t.TempDir()
	v1, err := json.Marshal([]store.Event{{ID: "5-0", Alert: sample("a")}, {ID: "5-1", Alert: sample("b")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, logName), encodeRecord(recEventsV1, v1), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openT(t, Options{Dir: dir, MaxAge: -1}) // IDs from 1970
	if got := uuids(t, s); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("events from an array record = %v, want [b a]", got)
	}
}

// An alert ingest encoded already is written as those bytes, not encoded
// again: the encoding here differs from the fields on purpose, and the
// store reads the encoding back, before and after a reopen (events are read
// from the log, not held in memory).
func TestAppendWritesEncodedBytes(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	a := sample("enc")
	variant := sample("enc")
	variant.OutputFields["proc.name"] = "from the encoding"
	var err error
	if a.Encoded, err = json.Marshal(&variant); err != nil {
		t.Fatal(err)
	}
	ids, err := s.Append(context.Background(), []alert.Alert{a})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if name, _ := got.Field("proc.name"); name != "from the encoding" {
		t.Fatalf("proc.name = %q: the store encoded the alert again", name)
	}
	s.Close()
	s2 := openT(t, Options{Dir: dir})
	got, err = s2.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if name, _ := got.Field("proc.name"); name != "from the encoding" {
		t.Fatalf("after reopen proc.name = %q: the store encoded the alert again", name)
	}
}

// An alert whose uuid the hub made up (the sender gave none) is not
// remembered: no retry can carry that uuid, and remembering every one of
// them cost a map entry per alert for five minutes.
func TestGeneratedUUIDNotRemembered(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	ctx := context.Background()
	made := sample("0b7b6c1e-0000-4000-8000-000000000001")
	made.UUIDGenerated = true
	given := sample("0b7b6c1e-0000-4000-8000-000000000002")
	if _, err := s.Append(ctx, []alert.Alert{made, given}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	_, madeKept := s.dedupe.lookup(made.UUID, s.clock())
	_, givenKept := s.dedupe.lookup(given.UUID, s.clock())
	s.mu.Unlock()
	if madeKept || !givenKept {
		t.Errorf("remembered: generated uuid %v (want false), sender's uuid %v (want true)", madeKept, givenKept)
	}
	first, err := s.Append(ctx, []alert.Alert{given})
	if err != nil {
		t.Fatal(err)
	}
	if h := s.Health(ctx); h.Events != 2 {
		t.Errorf("%d events after a retry of the sender's uuid, want 2 (stored once, id %s)", h.Events, first[0])
	}
}
