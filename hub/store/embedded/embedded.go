// Package embedded is the single-process Store used when no Redis is
// configured: alerts live in memory (bounded by count and age) and in an
// append-only log file under a data directory, so they survive a restart.
//
// Durability: Append frames the batch as one checksummed record; the
// records of concurrent Appends go out in one write() and one fsync (group
// commit, see commit.go). With FsyncInterval (the default) Append returns
// after the write() and a background fsync follows within the interval;
// with FsyncAlways it returns only after that fsync. A torn last record
// left by a crash is cut off on open. The log is rewritten (compacted) to
// the retained events once dead records dominate it.
//
// Events become visible to readers (Query, Tail, Claim) only once written
// (and, with FsyncAlways, fsynced), in ID order, so a cursor never skips an
// event.
package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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

// defaultCompactMinBytes is the log size below which compaction never runs.
const defaultCompactMinBytes = 4 << 20

// Options configure an embedded store.
type Options struct {
	// Dir is the data directory; it is created when missing and locked
	// against a second process.
	Dir string
	// MaxEvents bounds retained events; 0 = no count limit.
	MaxEvents int
	// MaxAge drops events that arrived longer ago than this; 0 =
	// DefaultMaxAge, negative = no age limit.
	MaxAge time.Duration
	// MaxBytes bounds the log file: retained events take at most half of
	// it (the log is compacted once dead records fill the rest), so disk
	// use stays below MaxBytes plus a few MiB. 0 = DefaultMaxBytes,
	// negative = no size limit. Memory holds an index entry per retained
	// event (about 150 bytes, see BenchmarkMemoryPerAlert), not the events:
	// they are read from the log when asked for.
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
	// Fsync is when appends reach stable storage: FsyncInterval (the zero
	// value) or FsyncAlways.
	Fsync FsyncPolicy
	// FsyncInterval is FsyncInterval's longest time between fsyncs; 0 =
	// DefaultFsyncInterval.
	FsyncInterval time.Duration
	// Clock is the time source for IDs, retention and reports; nil =
	// time.Now. Tests freeze it.
	Clock func() time.Time

	// compactMinBytes is the log size below which compaction never runs;
	// 0 = defaultCompactMinBytes, negative = none (tests lower it).
	compactMinBytes int64
}

// rec is a retained event's index entry; the event itself stays in the log.
type rec struct {
	ms, seq uint64 // arrival: the ID
	evMs    int64  // event time (store.EventMs), the query order
	off     int64  // the event's JSON in the current log file
	n       int32  // its length
	size    int32  // approximate bytes it takes in the log
	dead    bool   // dropped by retention; index lists skip it
	// flat: no nested output field, so the JSON holds every value a text
	// search looks at (see literalRun).
	flat bool
	m    *meta // the fields queries filter on and stats count by
}

// id is the event's ID.
func (r *rec) id() string { return store.FormatID(r.ms, r.seq) }

func (r *rec) after(ms, seq uint64) bool { return r.ms > ms || (r.ms == ms && r.seq > seq) }

func (r *rec) before(ms, seq uint64) bool { return r.ms < ms || (r.ms == ms && r.seq < seq) }

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	opts Options
	path string
	lock *os.File

	mu       sync.RWMutex
	f        *os.File
	fileSize int64 // bytes in the current file
	err      error // sticky write/sync failure
	closed   bool

	// The committer's queue (commit.go).
	pend     []byte        // framed records not yet written
	pendT    []*ticket     // their tickets, in order
	spare    []byte        // the last written buffer, for reuse
	spareT   []*ticket     // the last flush's ticket list, for reuse
	flushing bool          // a flush's write/fsync is in flight
	flushed  chan struct{} // closed when the flush in flight ends; nil until a writer waits
	dirty    bool          // written but not fsynced (FsyncInterval)
	// writes and fsyncs count the committer's system calls, decodes the
	// events decoded from the log.
	writes, fsyncs, decodes atomic.Int64
	// beforeWrite, when set (tests), runs before each flush's write.
	beforeWrite func()

	evs       []*rec              // visible events, oldest first
	idx       map[string]*idxList // index key → events by event time (index.go)
	liveBytes int64
	lastMs    uint64 // last assigned ID
	lastSeq   uint64
	visMs     uint64 // last visible ID
	visSeq    uint64
	groups    map[string]*group
	metas     map[string]*meta // interned index fields (index.go)
	keyBuf    []byte           // Append's metaKey scratch (under mu)
	notify    chan struct{}    // closed and replaced when events become visible (notifyLocked)
	// notifyWanted: a reader took notify since it was last replaced.
	notifyWanted atomic.Bool
	// minutes counts retained events per unix minute (event time) and
	// per interned meta (so per priority and Stats dimension), kept exact
	// as events come and go.
	minutes map[int64]map[*meta]int64

	log          *slog.Logger
	clock        func() time.Time
	dedupe       *dedupe
	recent       *recentEvents // decoded events recently read (recent.go)
	corruptSpans atomic.Int64
	corruptBytes atomic.Int64

	// compactMu serialises compactions (compact.go) and Close.
	compactMu sync.Mutex
	// compactRetry is when (unix ns) the janitor may compact again after
	// a failed compaction.
	compactRetry atomic.Int64
	// duringCompaction, when set (tests), runs while a compaction copies.
	duringCompaction func()
	// closingOldLog, when set (tests), runs just before a compaction
	// closes the log it replaced.
	closingOldLog func()
	syncMu        sync.Mutex // keeps background fsyncs off a file being swapped
	// fileMu keeps the log file and the entries' offsets for readers that
	// read without s.mu (read.go); compaction and Close take it to swap or
	// close the file. Lock order: compactMu, syncMu, fileMu, mu.
	fileMu  sync.RWMutex
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
	switch {
	case opts.compactMinBytes == 0:
		opts.compactMinBytes = defaultCompactMinBytes
	case opts.compactMinBytes < 0:
		opts.compactMinBytes = 0
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.FsyncInterval <= 0 {
		opts.FsyncInterval = DefaultFsyncInterval
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
		idx:     map[string]*idxList{},
		groups:  map[string]*group{},
		metas:   map[string]*meta{},
		minutes: map[int64]map[*meta]int64{},
		notify:  make(chan struct{}),
		recent:  newRecentEvents(recentSize),
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
	// Encode outside the lock (an alert ingest encoded already is written
	// as it is), and build the index entries: readers decode the events
	// from the log, as a reader after a restart would.
	bodies := make([][]byte, len(alerts))
	// One allocation holds a batch's index entries (retention drops a
	// batch's events together, so none pins the others long).
	entries := make([]rec, len(alerts))
	for i := range alerts {
		b, err := alerts[i].Encoded, error(nil)
		if len(b) == 0 {
			b, err = json.Marshal(&alerts[i])
			if err == nil {
				err = alert.CheckDepth(b)
			}
		}
		if err == nil && (len(b) < 2 || b[0] != '{' || b[1] == '}') {
			err = errors.New("unexpected JSON shape")
		}
		if err != nil {
			return nil, fmt.Errorf("append alert %d: encode: %w", i, err)
		}
		bodies[i] = b
		entries[i].flat = flat(&alerts[i])
	}
	if s.overDiskLimit() {
		// The janitor's compaction fell behind the appends: compact here,
		// so the log stays within MaxBytes plus the compaction slack
		// whatever the append rate (MaxBytes is a promise about disk use).
		if err := s.compact(true); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return nil, err
	}
	prevMs, prevSeq := s.lastMs, s.lastSeq
	now := s.clock()
	ms := uint64(now.UnixMilli())
	ids := make([]string, len(alerts))
	// The record is framed in place at the end of the queue: header, type,
	// then the events, one per line. Entries hold their offsets in the
	// queue until the flush knows where it wrote it.
	start := len(s.pend)
	s.pend = append(s.pend, make([]byte, headerSize+1)...)
	s.pend[start+headerSize] = recEvents
	t := &ticket{sync: s.syncs()}
	fresh, freshUUIDs := t.one[:0], t.oneUUID[:0]
	if len(alerts) > 1 {
		fresh, freshUUIDs = make([]*rec, 0, len(alerts)), make([]string, 0, len(alerts))
	}
	var dups map[string]string     // id → uuid of alerts stored before
	var batchIDs map[string]string // uuids earlier in this batch
	for i := range alerts {
		u := alerts[i].UUID
		if alerts[i].UUIDGenerated {
			u = "" // no retry can carry it: not remembered
		}
		if id, ok := s.dedupe.lookup(u, now); ok {
			ids[i] = id
			if dups == nil {
				dups = map[string]string{}
			}
			dups[id] = u
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
		if u != "" && len(alerts) > 1 {
			if batchIDs == nil {
				batchIDs = map[string]string{}
			}
			batchIDs[u] = ids[i]
		}
		if len(fresh) > 0 {
			s.pend = append(s.pend, '\n')
		}
		r := &entries[i]
		s.keyBuf = store.AppendShapeKey(s.keyBuf[:0], &alerts[i])
		r.m = s.metaLocked(&alerts[i], s.keyBuf)
		r.ms, r.seq, r.evMs, r.off = ms, s.lastSeq, store.EventMs(alerts[i].Time, int64(ms)), int64(len(s.pend))
		// {"id":"<id>", + the alert's own fields: the store.Event JSON.
		s.pend = append(s.pend, `{"id":"`...)
		s.pend = append(s.pend, ids[i]...)
		s.pend = append(s.pend, `",`...)
		s.pend = append(s.pend, bodies[i][1:]...)
		r.n = int32(int64(len(s.pend)) - r.off)
		fresh = append(fresh, r)
		freshUUIDs = append(freshUUIDs, u)
	}
	bodyLen := len(s.pend) - start - headerSize - 1
	if len(fresh) == 0 || bodyLen >= maxRecord {
		s.pend = s.pend[:start]
		s.lastMs, s.lastSeq = prevMs, prevSeq
		if len(fresh) > 0 {
			return nil, fmt.Errorf("append: batch of %d bytes exceeds the %d byte limit", bodyLen, maxRecord)
		}
		// Every alert was stored before, or is on its way: answer once
		// every record queued before this point is done.
		if err := s.awaitLocked(s.queueLocked(nil, &ticket{})); err != nil {
			return nil, err
		}
		return ids, s.checkDupsLocked(dups, now)
	}
	sealRecord(s.pend[start:])
	size := int32((bodyLen + headerSize + 1) / len(fresh))
	for i, r := range fresh {
		r.size = size
		// Remembered now, so a retry arriving before the write finishes
		// waits for it instead of storing the alert again.
		s.dedupe.add(freshUUIDs[i], eventID{r.ms, r.seq}, int64(r.ms), now)
	}
	t.recs, t.uuids = fresh, freshUUIDs
	s.pendT = append(s.pendT, t)
	if err := s.awaitLocked(t); err != nil {
		return nil, err
	}
	return ids, s.checkDupsLocked(dups, now)
}

// checkDupsLocked confirms that the alerts an Append found stored before
// (id → uuid) are: an earlier write that failed has made its uuids
// forgotten, and the sender must retry them.
func (s *Store) checkDupsLocked(dups map[string]string, now time.Time) error {
	for id, u := range dups {
		if got, ok := s.dedupe.lookup(u, now); !ok || got != id {
			return fmt.Errorf("embedded store: alert %s: its earlier append failed; retry", u)
		}
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
	h.Detail += "; fsync " + s.opts.Fsync.String()
	if s.opts.Fsync == FsyncInterval {
		h.Detail += " " + s.opts.FsyncInterval.String()
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
		s.compactMu.Lock() // an appender's compaction finishes first
		defer s.compactMu.Unlock()
		s.syncMu.Lock()
		defer s.syncMu.Unlock()
		s.fileMu.Lock()
		defer s.fileMu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		// Write and fsync what is queued or unsynced (claims, FsyncInterval).
		s.waitIdleLocked()
		s.flushLocked(true)
		if s.err != nil {
			err = fmt.Errorf("embedded store: sync on close: %w", s.err)
		}
		if e := s.f.Close(); e != nil && err == nil {
			err = fmt.Errorf("embedded store: close: %w", e)
		}
		s.lock.Close()
	})
	return err
}

var _ store.Store = (*Store)(nil)
