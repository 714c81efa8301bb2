// Package embedded is the single-process Store used when no Redis is
// configured: alerts live in memory (bounded by count and age) and in an
// append-only log file under a data directory, so they survive a restart.
//
// Durability: Append writes the batch as one checksummed record and returns
// only after fsync; concurrent Appends share one fsync (group commit). A
// torn last record left by a crash is cut off on open. The log is rewritten
// (compacted) to the retained events once dead records dominate it.
//
// Events become visible to readers (Query, Tail, Claim) only once durable,
// and in ID order, so a cursor never skips an event.
package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// Defaults for zero Options fields.
const (
	// DefaultMaxAge and DefaultMaxBytes bound the store by default: a
	// week of alerts, at most 1 GiB of disk.
	DefaultMaxAge         = 7 * 24 * time.Hour
	DefaultMaxBytes       = 1 << 30
	DefaultMaxDeadLetters = 1000
	// logName is the log file inside Options.Dir.
	logName = "events.log"
)

// compactMinBytes is the log size below which compaction never runs (a
// variable so tests can lower it).
var compactMinBytes int64 = 4 << 20

// Options configure an embedded store.
type Options struct {
	// Dir is the data directory; it is created when missing and locked
	// against a second process.
	Dir string
	// MaxEvents bounds retained events; 0 = no count limit.
	MaxEvents int
	// MaxAge drops events older than this (by arrival); 0 =
	// DefaultMaxAge, negative = no age limit.
	MaxAge time.Duration
	// MaxBytes bounds the log file: retained events take at most half of
	// it (the log is compacted once dead records fill the rest), so disk
	// use stays below MaxBytes plus a few MiB. 0 = DefaultMaxBytes,
	// negative = no size limit. Retained events are also held in memory,
	// decoded: plan for a few times the retained bytes of RAM.
	MaxBytes int64
	// MaxDeadLetters bounds each group's dead-letter list; 0 = default.
	MaxDeadLetters int
	// DedupeWindow is how long an appended alert's uuid is remembered: an
	// alert with the same uuid appended again within it is not stored
	// again (its first ID is returned). 0 = DefaultDedupeWindow, negative =
	// no deduplication.
	DedupeWindow time.Duration
	// Logger receives recovery reports (torn tail cut, damaged records
	// skipped); nil = slog.Default().
	Logger *slog.Logger
	// Clock is the time source for IDs, retention and reports; nil =
	// time.Now. Tests freeze it.
	Clock func() time.Time
}

type rec struct {
	ms, seq uint64
	ev      store.Event
	size    int64 // approximate bytes in the log
}

func (r *rec) after(ms, seq uint64) bool  { return r.ms > ms || (r.ms == ms && r.seq > seq) }
func (r *rec) before(ms, seq uint64) bool { return r.ms < ms || (r.ms == ms && r.seq < seq) }

type batch struct {
	end  int64 // logical log offset at the end of the batch's record
	recs []*rec
}

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	opts Options
	path string
	lock *os.File

	mu       sync.RWMutex
	f        *os.File
	written  int64 // logical bytes ever written (not reset by compaction)
	durable  int64 // logical bytes known to be on stable storage
	fileSize int64 // bytes in the current file
	err      error // sticky write/sync failure
	closed   bool

	evs       []*rec // visible events, oldest first
	base      uint64 // position of evs[0]; positions never repeat
	idx       map[string][]uint64
	liveBytes int64
	unsynced  []batch
	lastMs    uint64 // last assigned ID
	lastSeq   uint64
	visMs     uint64 // last visible ID
	visSeq    uint64
	groups    map[string]*group
	notify    chan struct{} // closed and replaced when events become visible
	// minutes counts retained events per unix minute and per Stats
	// dimension ("p:Warning", "rule:…"), kept exact as events come and go.
	minutes map[int64]map[string]int64

	log          *slog.Logger
	clock        func() time.Time
	dedupe       *dedupe
	corruptSpans atomic.Int64
	corruptBytes atomic.Int64

	syncMu  sync.Mutex // serialises fsync and compaction
	kick    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
	closeMu sync.Once
}

// Open opens (creating if needed) the store in opts.Dir and replays its log.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("embedded store: no data directory")
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxDeadLetters <= 0 {
		opts.MaxDeadLetters = DefaultMaxDeadLetters
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded store: create %s: %w", opts.Dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(opts.Dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("embedded store: lock %s: %w", opts.Dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("embedded store: %s is in use by another process: %w", opts.Dir, err)
	}
	s := &Store{
		opts:    opts,
		path:    filepath.Join(opts.Dir, logName),
		lock:    lock,
		idx:     map[string][]uint64{},
		groups:  map[string]*group{},
		minutes: map[int64]map[string]int64{},
		notify:  make(chan struct{}),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		log:     opts.Logger,
		clock:   opts.Clock,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if opts.DedupeWindow == 0 {
		opts.DedupeWindow = DefaultDedupeWindow
	}
	s.dedupe = newDedupe(opts.DedupeWindow)
	if err := s.load(); err != nil {
		if s.f != nil {
			s.f.Close()
		}
		lock.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.background()
	return s, nil
}

// load replays the log and truncates a torn tail.
func (s *Store) load() error {
	_, statErr := os.Stat(s.path)
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("embedded store: open %s: %w", s.path, err)
	}
	if os.IsNotExist(statErr) {
		// Make the new file's directory entry durable too.
		if err := syncDir(s.opts.Dir); err != nil {
			f.Close()
			return fmt.Errorf("embedded store: sync %s: %w", s.opts.Dir, err)
		}
	}
	scan, err := readLog(f, s.replay)
	if err != nil {
		f.Close()
		return fmt.Errorf("embedded store: replay %s: %w", s.path, err)
	}
	good := scan.good
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("embedded store: stat %s: %w", s.path, err)
	}
	if st.Size() != good {
		// A crash tore the last record: it was never acknowledged.
		s.log.Warn("embedded store: cut torn last record (an append a crash interrupted, never acknowledged)",
			"path", s.path, "offset", good, "bytes", st.Size()-good)
		if err := f.Truncate(good); err != nil {
			f.Close()
			return fmt.Errorf("embedded store: truncate torn tail of %s: %w", s.path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("embedded store: sync %s: %w", s.path, err)
		}
	}
	if _, err := f.Seek(good, 0); err != nil {
		f.Close()
		return fmt.Errorf("embedded store: seek %s: %w", s.path, err)
	}
	s.f = f
	s.fileSize, s.written, s.durable = good, good, good
	s.trimLocked(s.clock())
	if len(scan.damaged) > 0 {
		return s.quarantine(f, scan.damaged)
	}
	return nil
}

// quarantine reports damaged spans of the log, copies their bytes to a
// file under Dir/quarantine for inspection, and rewrites the log without
// them, so the damage is reported once and later appends follow intact
// records.
func (s *Store) quarantine(f *os.File, damaged []span) error {
	qdir := filepath.Join(s.opts.Dir, "quarantine")
	qpath := filepath.Join(qdir, fmt.Sprintf("%s.%d.damaged", logName, s.clock().UnixNano()))
	var total int64
	for _, d := range damaged {
		total += d.End - d.Off
	}
	s.corruptSpans.Add(int64(len(damaged)))
	s.corruptBytes.Add(total)
	const shown = 10
	for i, d := range damaged[:min(len(damaged), shown)] {
		s.log.Error("embedded store: damaged log record skipped", "path", s.path, "offset", d.Off, "bytes", d.End-d.Off,
			"reason", d.Reason, "span", i+1, "of", len(damaged))
	}
	s.log.Error("embedded store: log damage skipped; intact records before and after it are kept",
		"path", s.path, "spans", len(damaged), "bytes", total, "quarantine", qpath)
	if err := os.MkdirAll(qdir, 0o750); err != nil {
		return fmt.Errorf("embedded store: create %s: %w", qdir, err)
	}
	q, err := os.OpenFile(qpath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("embedded store: quarantine: %w", err)
	}
	for _, d := range damaged {
		if _, err = io.Copy(q, io.NewSectionReader(f, d.Off, d.End-d.Off)); err != nil {
			break
		}
	}
	if err == nil {
		err = q.Sync()
	}
	if cerr := q.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("embedded store: quarantine %s: %w", qpath, err)
	}
	if err := s.compact(); err != nil {
		return fmt.Errorf("embedded store: rewrite damaged log: %w", err)
	}
	return nil
}

// Corruption reports the damaged log spans skipped since the store opened
// and their size in bytes (0, 0 for an intact log).
func (s *Store) Corruption() (spans, bytes int64) {
	return s.corruptSpans.Load(), s.corruptBytes.Load()
}

func (s *Store) replay(typ byte, body []byte) error {
	switch typ {
	case recEvents, recEventsV1:
		evs, err := decodeEvents(typ, body)
		if err != nil {
			return err
		}
		size := int64(len(body)+headerSize+1) / int64(max(len(evs), 1))
		recs := make([]*rec, 0, len(evs))
		for _, e := range evs {
			ms, seq, err := store.ParseID(e.ID)
			if err != nil {
				return err
			}
			if len(s.evs) > 0 && !(&rec{ms: ms, seq: seq}).after(s.visMs, s.visSeq) {
				continue // already present (a compaction chunk overlapping a batch); keep first
			}
			recs = append(recs, &rec{ms: ms, seq: seq, ev: e, size: size})
		}
		s.publishRecs(recs)
		now := s.clock()
		for _, r := range recs {
			s.dedupe.add(r.ev.UUID, r.ev.ID, int64(r.ms), now)
		}
		// New IDs must follow every replayed one, even when the log holds no
		// high-water record after this batch; otherwise an append right after
		// reopening, in the same millisecond, reuses an ID and is dropped as a
		// duplicate on the next replay.
		if (&rec{ms: s.visMs, seq: s.visSeq}).after(s.lastMs, s.lastSeq) {
			s.lastMs, s.lastSeq = s.visMs, s.visSeq
		}
		s.trimSize()
	case recHighWater:
		var h idRec
		if err := json.Unmarshal(body, &h); err != nil {
			return err
		}
		ms, seq, err := store.ParseID(h.ID)
		if err != nil {
			return err
		}
		if (&rec{ms: ms, seq: seq}).after(s.visMs, s.visSeq) {
			s.visMs, s.visSeq = ms, seq
		}
		if (&rec{ms: ms, seq: seq}).after(s.lastMs, s.lastSeq) {
			s.lastMs, s.lastSeq = ms, seq
		}
	default:
		return s.replayGroup(typ, body)
	}
	return nil
}

// decodeEvents reads an events record: a sequence of event objects (an
// array of them in the earlier format).
func decodeEvents(typ byte, body []byte) ([]store.Event, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var evs []store.Event
	if typ == recEventsV1 {
		if err := d.Decode(&evs); err != nil {
			return nil, fmt.Errorf("decode events: %w", err)
		}
		return evs, nil
	}
	for d.More() {
		var e store.Event
		if err := d.Decode(&e); err != nil {
			return nil, fmt.Errorf("decode event %d: %w", len(evs), err)
		}
		evs = append(evs, e)
	}
	return evs, nil
}

type idRec struct {
	ID string `json:"id"`
}

func (s *Store) background() {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.opts.MaxAge > 0 {
		every := min(max(s.opts.MaxAge/4, 50*time.Millisecond), time.Minute)
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.done:
			return
		case <-tick:
			s.mu.Lock()
			s.trimLocked(s.clock())
			s.mu.Unlock()
			s.maybeCompact()
		case <-s.kick:
			if err := s.compact(); err != nil {
				s.mu.Lock()
				if s.err == nil {
					s.err = err
				}
				s.mu.Unlock()
			}
		}
	}
}

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, alerts []alert.Alert) ([]string, error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := range alerts {
		if !alerts[i].Priority.Valid() {
			return nil, fmt.Errorf("append alert %d: invalid priority %d", i, int(alerts[i].Priority))
		}
	}
	// Encode and normalise outside the lock: what readers get is what a
	// reader after a restart would decode (numbers as json.Number, no
	// aliasing of the caller's maps).
	bodies := make([][]byte, len(alerts))
	evs := make([]store.Event, len(alerts))
	for i := range alerts {
		b, err := json.Marshal(&alerts[i])
		if err == nil && (len(b) < 2 || b[0] != '{' || b[1] == '}') {
			err = errors.New("unexpected JSON shape")
		}
		if err == nil {
			err = alert.CheckDepth(b)
		}
		if err == nil {
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			err = d.Decode(&evs[i].Alert)
		}
		if err != nil {
			return nil, fmt.Errorf("append alert %d: encode: %w", i, err)
		}
		bodies[i] = b
	}
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	prevMs, prevSeq := s.lastMs, s.lastSeq
	now := s.clock()
	ms := uint64(now.UnixMilli())
	ids := make([]string, len(alerts))
	var body bytes.Buffer
	fresh := evs[:0:0]
	batchIDs := map[string]string{} // uuids earlier in this batch
	for i := range alerts {
		u := alerts[i].UUID
		if id, ok := s.dedupe.lookup(u, now); ok {
			ids[i] = id
			continue
		}
		if id, ok := batchIDs[u]; ok && u != "" {
			ids[i] = id
			continue
		}
		if ms <= s.lastMs {
			// Same millisecond, or the clock went back: keep IDs increasing.
			ms, s.lastSeq = s.lastMs, s.lastSeq+1
		} else {
			s.lastSeq = 0
		}
		s.lastMs = ms
		ids[i] = store.FormatID(ms, s.lastSeq)
		batchIDs[u] = ids[i]
		evs[i].ID = ids[i]
		fresh = append(fresh, evs[i])
		if body.Len() > 0 {
			body.WriteByte('\n')
		}
		// {"id":"<id>", + the alert's own fields: the store.Event JSON.
		body.WriteString(`{"id":"`)
		body.WriteString(ids[i])
		body.WriteString(`",`)
		body.Write(bodies[i][1:])
	}
	if len(fresh) == 0 {
		// Every alert was stored before; answer once that write is durable.
		end := s.written
		s.mu.Unlock()
		if err := s.syncTo(end); err != nil {
			return nil, err
		}
		return ids, nil
	}
	if body.Len() >= maxRecord {
		s.lastMs, s.lastSeq = prevMs, prevSeq
		s.mu.Unlock()
		return nil, fmt.Errorf("append: batch of %d bytes exceeds the %d byte limit", body.Len(), maxRecord)
	}
	if err := s.writeLocked(encodeRecord(recEvents, body.Bytes())); err != nil {
		s.lastMs, s.lastSeq = prevMs, prevSeq
		s.mu.Unlock()
		return nil, err
	}
	size := int64(body.Len()+headerSize+1) / int64(len(fresh))
	b := batch{end: s.written, recs: make([]*rec, len(fresh))}
	for i, e := range fresh {
		m, q, _ := store.ParseID(e.ID)
		b.recs[i] = &rec{ms: m, seq: q, ev: e, size: size}
		s.dedupe.add(e.UUID, e.ID, int64(m), now)
	}
	// A duplicate of an earlier, still unsynced batch is durable with this
	// one: that batch's record precedes it in the log.
	s.unsynced = append(s.unsynced, b)
	s.mu.Unlock()
	if err := s.syncTo(b.end); err != nil {
		return nil, err
	}
	return ids, nil
}

func (s *Store) usableLocked() error {
	if s.closed {
		return errors.New("embedded store: closed")
	}
	if s.err != nil {
		return fmt.Errorf("embedded store: unusable after write failure: %w", s.err)
	}
	return nil
}

// writeLocked appends a framed record to the log (no fsync). A failed
// write is cut back so the log stays well-formed.
func (s *Store) writeLocked(buf []byte) error {
	n, err := s.f.Write(buf)
	if err != nil {
		if n > 0 {
			if terr := s.f.Truncate(s.fileSize); terr != nil {
				s.err = fmt.Errorf("truncate after failed write: %w", terr)
			} else if _, serr := s.f.Seek(s.fileSize, 0); serr != nil {
				s.err = fmt.Errorf("seek after failed write: %w", serr)
			}
		}
		return fmt.Errorf("embedded store: write %s: %w", s.path, err)
	}
	s.fileSize += int64(n)
	s.written += int64(n)
	return nil
}

// syncTo returns once the log is durable up to logical offset end. One
// fsync covers every record written before it (group commit).
func (s *Store) syncTo(end int64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.RLock()
	durable, written, werr, f := s.durable, s.written, s.err, s.f
	s.mu.RUnlock()
	if durable >= end {
		return nil
	}
	if werr != nil {
		return fmt.Errorf("embedded store: %w", werr)
	}
	err := f.Sync()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = fmt.Errorf("fsync %s: %w", s.path, err)
		s.unsynced = nil
		return fmt.Errorf("embedded store: %w", s.err)
	}
	s.durable = written
	s.publishLocked(s.clock())
	return nil
}

// publishLocked makes durable batches visible, in order.
func (s *Store) publishLocked(now time.Time) {
	n := 0
	for _, b := range s.unsynced {
		if b.end > s.durable {
			break
		}
		s.publishRecs(b.recs)
		n++
	}
	if n == 0 {
		return
	}
	s.unsynced = append(s.unsynced[:0], s.unsynced[n:]...)
	s.trimLocked(now)
	close(s.notify)
	s.notify = make(chan struct{})
	s.maybeKickLocked()
}

func indexKeys(a *alert.Alert) []string {
	keys := make([]string, 0, 4+len(a.Tags))
	keys = append(keys, "p\x00"+a.Priority.String(), "r\x00"+a.Rule, "s\x00"+a.Source, "h\x00"+a.Hostname)
	for _, t := range a.Tags {
		keys = append(keys, "t\x00"+t)
	}
	return keys
}

func (s *Store) publishRecs(recs []*rec) {
	for _, r := range recs {
		pos := s.base + uint64(len(s.evs))
		s.evs = append(s.evs, r)
		s.liveBytes += r.size
		for _, k := range indexKeys(&r.ev.Alert) {
			l := s.idx[k]
			if len(l) > 0 && l[0] < s.base {
				// Drop positions trimmed since; copy when mostly dead.
				cut := sort.Search(len(l), func(i int) bool { return l[i] >= s.base })
				if cut > len(l)/2 {
					l = append([]uint64(nil), l[cut:]...)
				} else {
					l = l[cut:]
				}
			}
			s.idx[k] = append(l, pos)
		}
		s.visMs, s.visSeq = r.ms, r.seq
		s.count(r, 1)
	}
}

// count adds d to the per-minute counters of one event.
func (s *Store) count(r *rec, d int64) {
	m := int64(r.ms / 60000)
	c := s.minutes[m]
	if c == nil {
		c = map[string]int64{}
		s.minutes[m] = c
	}
	a := &r.ev.Alert
	c["p:"+a.Priority.String()] += d
	for _, dim := range store.Dimensions(a) {
		k := dim[0] + ":" + dim[1]
		if c[k] += d; c[k] == 0 {
			delete(c, k)
		}
	}
	if c["p:"+a.Priority.String()] == 0 {
		delete(c, "p:"+a.Priority.String())
		if len(c) == 0 {
			delete(s.minutes, m)
		}
	}
}

// trimLocked applies retention by count, size and age.
func (s *Store) trimLocked(now time.Time) {
	s.trimSize()
	if s.opts.MaxAge > 0 {
		cut := s.ageStart(now)
		s.dropFront(cut)
	}
}

// trimSize applies retention by count and by bytes.
func (s *Store) trimSize() {
	if over := len(s.evs) - s.opts.MaxEvents; s.opts.MaxEvents > 0 && over > 0 {
		s.dropFront(over)
	}
	if limit := s.opts.MaxBytes / 2; s.opts.MaxBytes > 0 && s.liveBytes > limit {
		k, excess := 0, s.liveBytes-limit
		for ; k < len(s.evs) && excess > 0; k++ {
			excess -= s.evs[k].size
		}
		s.dropFront(k)
	}
}

func (s *Store) dropFront(k int) {
	if k <= 0 {
		return
	}
	for _, r := range s.evs[:k] {
		s.liveBytes -= r.size
		s.count(r, -1)
	}
	clear(s.evs[:k])
	s.evs = s.evs[k:]
	s.base += uint64(k)
	if cap(s.evs) > 2*len(s.evs)+1024 {
		s.evs = append(make([]*rec, 0, len(s.evs)+len(s.evs)/4+16), s.evs...)
	}
	if len(s.evs) == 0 {
		// Every index entry is dead: start afresh instead of keeping lists.
		clear(s.idx)
		clear(s.minutes)
	}
}

// ageStart is the index of the first event young enough to keep.
func (s *Store) ageStart(now time.Time) int {
	if s.opts.MaxAge <= 0 {
		return 0
	}
	cutoff := uint64(max(now.Add(-s.opts.MaxAge).UnixMilli(), 0))
	return sort.Search(len(s.evs), func(i int) bool { return s.evs[i].ms >= cutoff })
}

func (s *Store) maybeKickLocked() {
	if s.fileSize > compactMinBytes && s.fileSize > 2*s.liveBytes+compactMinBytes {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

func (s *Store) maybeCompact() {
	s.mu.Lock()
	s.maybeKickLocked()
	s.mu.Unlock()
}

// compact rewrites the log as a snapshot of retained events and delivery
// state, atomically replacing the old file (write, fsync, rename, fsync dir).
func (s *Store) compact() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.path, err)
	}
	s.durable = s.written
	s.publishLocked(s.clock())
	s.trimLocked(s.clock())

	tmp := s.path + ".tmp"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("compact: create %s: %w", tmp, err)
	}
	size, err := s.writeSnapshot(nf)
	if err == nil {
		err = nf.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err == nil {
		err = syncDir(s.opts.Dir)
	}
	if err != nil {
		nf.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", s.path, err)
	}
	old := s.f
	s.f = nf
	s.fileSize = size
	old.Close()
	s.tidyLocked()
	return nil
}

// tidyLocked drops index lists and pending deliveries that only refer to
// events retention has removed (keys of long-gone hosts or rules would
// otherwise stay in memory for good).
func (s *Store) tidyLocked() {
	for k, l := range s.idx {
		cut := sort.Search(len(l), func(i int) bool { return l[i] >= s.base })
		switch {
		case cut == len(l):
			delete(s.idx, k)
		case cut > 0:
			s.idx[k] = append([]uint64(nil), l[cut:]...)
		}
	}
	now := s.clock()
	for _, g := range s.groups {
		for id, p := range g.pending {
			if s.find(p.ms, p.seq, now) == nil {
				delete(g.pending, id)
			}
		}
	}
}

func (s *Store) writeSnapshot(f *os.File) (int64, error) {
	var total int64
	write := func(typ byte, v any) error {
		body, err := json.Marshal(v)
		if err != nil {
			return err
		}
		n, err := f.Write(encodeRecord(typ, body))
		total += int64(n)
		return err
	}
	if err := write(recHighWater, idRec{ID: store.FormatID(s.lastMs, s.lastSeq)}); err != nil {
		return total, err
	}
	const chunk = 500
	var body bytes.Buffer
	for i := 0; i < len(s.evs); i += chunk {
		body.Reset()
		enc := json.NewEncoder(&body) // one object per line
		for _, r := range s.evs[i:min(i+chunk, len(s.evs))] {
			if err := enc.Encode(&r.ev); err != nil {
				return total, err
			}
		}
		n, err := f.Write(encodeRecord(recEvents, body.Bytes()))
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	for _, g := range s.groups {
		if err := write(recGroupState, g.snapshot(s)); err != nil {
			return total, err
		}
	}
	return total, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// find returns the visible, retained event with the ID, or nil.
func (s *Store) find(ms, seq uint64, now time.Time) *rec {
	lo := s.ageStart(now)
	i := lo + sort.Search(len(s.evs)-lo, func(i int) bool { return !s.evs[lo+i].before(ms, seq) })
	if i < len(s.evs) && s.evs[i].ms == ms && s.evs[i].seq == seq {
		return s.evs[i]
	}
	return nil
}

// firstAfter is the index of the first retained event with ID > (ms, seq).
func (s *Store) firstAfter(ms, seq uint64, now time.Time) int {
	lo := s.ageStart(now)
	return lo + sort.Search(len(s.evs)-lo, func(i int) bool { return s.evs[lo+i].after(ms, seq) })
}

func copyEvent(e store.Event) store.Event {
	e.OutputFields = maps.Clone(e.OutputFields)
	e.Tags = slices.Clone(e.Tags)
	return e
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (store.Event, error) {
	ms, seq, err := store.ParseID(id)
	if err != nil {
		return store.Event{}, store.ErrNotFound
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.find(ms, seq, s.clock()); r != nil {
		return copyEvent(r.ev), nil
	}
	return store.Event{}, store.ErrNotFound
}

// window returns the index range [lo, hi) of retained events inside the
// filter's time bounds and strictly before the cursor.
func (s *Store) window(f *store.Filter, before string, now time.Time) (lo, hi int, err error) {
	lo = s.ageStart(now)
	hi = len(s.evs)
	if !f.Since.IsZero() {
		since := uint64(max(f.Since.UnixMilli(), 0))
		lo = max(lo, sort.Search(len(s.evs), func(i int) bool { return s.evs[i].ms >= since }))
	}
	if !f.Until.IsZero() {
		until := f.Until.UnixMilli()
		if until < 0 {
			return 0, 0, nil
		}
		hi = sort.Search(len(s.evs), func(i int) bool { return s.evs[i].ms > uint64(until) })
	}
	if before != "" {
		ms, seq, err := store.ParseID(before)
		if err != nil {
			return 0, 0, fmt.Errorf("bad cursor: %w", err)
		}
		b := sort.Search(len(s.evs), func(i int) bool { return !s.evs[i].before(ms, seq) })
		hi = min(hi, b)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi, nil
}

// scan calls fn with each event in [lo, hi) matching f's non-time criteria,
// newest first, until fn returns false. It walks the smallest index that
// applies instead of every event.
func (s *Store) scan(f *store.Filter, lo, hi int, fn func(r *rec) bool) {
	var dims [][][]uint64
	addDim := func(keys []string) {
		var lists [][]uint64
		for _, k := range keys {
			if l := s.idx[k]; len(l) > 0 {
				lists = append(lists, l)
			}
		}
		dims = append(dims, lists)
	}
	if f.MinPriority > alert.PriorityDebug {
		var keys []string
		for p := f.MinPriority; p <= alert.PriorityEmergency; p++ {
			keys = append(keys, "p\x00"+p.String())
		}
		addDim(keys)
	}
	prefixed := func(prefix string, vals []string) []string {
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = prefix + v
		}
		return out
	}
	if len(f.Rules) > 0 {
		addDim(prefixed("r\x00", f.Rules))
	}
	if len(f.Sources) > 0 {
		addDim(prefixed("s\x00", f.Sources))
	}
	if len(f.Hostnames) > 0 {
		addDim(prefixed("h\x00", f.Hostnames))
	}
	for _, t := range f.Tags {
		addDim([]string{"t\x00" + t})
	}
	match := f.MatchAlert
	if f.Text != "" {
		// Lower-case the needle once, not per event.
		g := *f
		g.Text = ""
		lowered := strings.ToLower(f.Text)
		match = func(a *alert.Alert) bool { return g.MatchAlert(a) && store.MatchText(a, lowered) }
	}
	if len(dims) == 0 {
		for i := hi - 1; i >= lo; i-- {
			if r := s.evs[i]; match(&r.ev.Alert) && !fn(r) {
				return
			}
		}
		return
	}
	best, bestN := -1, 0
	for d, lists := range dims {
		n := 0
		for _, l := range lists {
			n += len(l)
		}
		if best < 0 || n < bestN {
			best, bestN = d, n
		}
	}
	if bestN == 0 {
		return
	}
	// Merge the chosen dimension's lists (disjoint: an event has one rule,
	// one priority…) from the newest position below hi down to lo.
	lists := dims[best]
	posLo, posHi := s.base+uint64(lo), s.base+uint64(hi)
	cur := make([]int, len(lists))
	for i, l := range lists {
		cur[i] = sort.Search(len(l), func(j int) bool { return l[j] >= posHi }) - 1
	}
	for {
		pick := -1
		for i, l := range lists {
			if cur[i] >= 0 && l[cur[i]] >= posLo && (pick < 0 || l[cur[i]] > lists[pick][cur[pick]]) {
				pick = i
			}
		}
		if pick < 0 {
			return
		}
		pos := lists[pick][cur[pick]]
		cur[pick]--
		if r := s.evs[pos-s.base]; match(&r.ev.Alert) && !fn(r) {
			return
		}
	}
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo, hi, err := s.window(&q.Filter, q.Before, s.clock())
	if err != nil {
		return store.Page{}, err
	}
	page := store.Page{Events: []store.Event{}}
	s.scan(&q.Filter, lo, hi, func(r *rec) bool {
		if len(page.Events) == limit {
			page.Next = page.Events[limit-1].ID
			return false
		}
		page.Events = append(page.Events, copyEvent(r.ev))
		return true
	})
	return page, nil
}

// Stats implements store.Store. Time-only windows are answered from the
// per-minute counters for whole minutes plus the events of partial edge
// minutes; other filters aggregate the matching events (in memory, exact).
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	now := s.clock()
	b := store.NewStatsBuilder(q)
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo, hi, err := s.window(&q.Filter, "", now)
	if err != nil {
		return store.Stats{}, err
	}
	add := func(r *rec) bool {
		b.Add(int64(r.ms), &r.ev.Alert)
		return true
	}
	if !q.TimeOnly() || lo >= hi {
		s.scan(&q.Filter, lo, hi, add)
		return b.Result(now), nil
	}
	minute := func(i int) int64 { return int64(s.evs[i].ms / 60000) }
	// A minute's counter is usable when every retained event of that
	// minute is inside [lo, hi).
	firstMin, lastMin := minute(lo), minute(hi-1)
	firstWhole := lo == 0 || minute(lo-1) < firstMin
	lastWhole := hi == len(s.evs) || minute(hi) > lastMin
	exact := func(a, z int) { // events [a, z)
		for i := a; i < z; i++ {
			add(s.evs[i])
		}
	}
	counter := func(m int64) {
		for field, n := range s.minutes[m] {
			dim, key, _ := strings.Cut(field, ":")
			if dim == "p" {
				b.AddTotal(key, n)
				b.AddSeries(m, key, n)
			} else {
				b.AddCount(dim, key, n)
			}
		}
	}
	// endOf is the index just past minute m's events, starting at i.
	endOf := func(i int, m int64) int {
		return i + sort.Search(hi-i, func(j int) bool { return minute(i+j) > m })
	}
	if firstMin == lastMin {
		if firstWhole && lastWhole {
			counter(firstMin)
		} else {
			exact(lo, hi)
		}
		return b.Result(now), nil
	}
	if firstWhole {
		counter(firstMin)
	} else {
		exact(lo, endOf(lo, firstMin))
	}
	if lastWhole {
		counter(lastMin)
	} else {
		exact(endOf(lo, lastMin-1), hi)
	}
	if span := lastMin - firstMin - 1; span > 0 && int64(len(s.minutes)) < span {
		for m := range s.minutes {
			if m > firstMin && m < lastMin {
				counter(m)
			}
		}
	} else {
		for m := firstMin + 1; m < lastMin; m++ {
			counter(m)
		}
	}
	return b.Result(now), nil
}

// Tail implements store.Store.
func (s *Store) Tail(ctx context.Context, after string, max int, block time.Duration) ([]store.Event, error) {
	if max <= 0 {
		max = store.DefaultLimit
	}
	var ams, aseq uint64
	fromStart := after == "" || after == "0"
	if after == "$" {
		s.mu.RLock()
		ams, aseq = s.visMs, s.visSeq
		s.mu.RUnlock()
	} else if !fromStart {
		var err error
		if ams, aseq, err = store.ParseID(after); err != nil {
			return nil, err
		}
	}
	var deadline time.Time
	if block > 0 {
		deadline = time.Now().Add(block)
	}
	for {
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return nil, errors.New("embedded store: closed")
		}
		now := s.clock()
		i := s.ageStart(now)
		if !fromStart {
			i = s.firstAfter(ams, aseq, now)
		}
		var out []store.Event
		for ; i < len(s.evs) && len(out) < max; i++ {
			out = append(out, copyEvent(s.evs[i].ev))
		}
		ch := s.notify
		s.mu.RUnlock()
		if len(out) > 0 || block <= 0 {
			return out, nil
		}
		if err := s.wait(ctx, ch, deadline); err != nil {
			return nil, err
		}
		if !time.Now().Before(deadline) {
			return nil, nil
		}
	}
}

// wait blocks until ch closes, the deadline passes, ctx ends or the store
// closes; only ctx ending is an error.
func (s *Store) wait(ctx context.Context, ch <-chan struct{}, deadline time.Time) error {
	d := time.Until(deadline)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Health implements store.Store.
func (s *Store) Health(ctx context.Context) store.Health {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := store.Health{Kind: "embedded", OK: true,
		Detail: "embedded store at " + s.opts.Dir + " (retention"}
	if s.opts.MaxAge > 0 {
		h.Detail += " max age " + s.opts.MaxAge.String()
	}
	if s.opts.MaxBytes > 0 {
		h.Detail += fmt.Sprintf(" max %d MiB", s.opts.MaxBytes>>20)
	}
	if s.opts.MaxEvents > 0 {
		h.Detail += fmt.Sprintf(" max %d events", s.opts.MaxEvents)
	}
	h.Detail += ")"
	h.Events = int64(len(s.evs) - s.ageStart(s.clock()))
	if err := s.usableLocked(); err != nil {
		h.OK, h.Error = false, err.Error()
	}
	return h
}

// Close implements store.Store: it syncs and closes the log and releases
// the directory lock. Blocked Tail and Claim calls return.
func (s *Store) Close() error {
	var err error
	s.closeMu.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		s.mu.Unlock()
		s.wg.Wait()
		s.syncMu.Lock()
		defer s.syncMu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		if e := s.f.Sync(); e != nil {
			err = fmt.Errorf("embedded store: sync on close: %w", e)
		} else {
			// Appends waiting for a sync are durable now.
			s.durable = s.written
		}
		if e := s.f.Close(); e != nil && err == nil {
			err = fmt.Errorf("embedded store: close: %w", e)
		}
		s.lock.Close()
	})
	return err
}

var _ store.Store = (*Store)(nil)
