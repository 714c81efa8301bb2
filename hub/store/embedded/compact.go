package embedded

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// Compaction rewrites the log as the retained events and the delivery
// state, without holding up appends while it copies:
//
//  1. Under s.mu, with nothing queued or in flight, it takes a snapshot: the
//     retained events' locations, the groups' state and the log's length,
//     cut. Memory then reflects exactly the records before cut (a claim is
//     applied in memory when it is queued, so a snapshot taken while one
//     waited in the queue would count it, and the log, once replayed, a
//     second time).
//  2. With no lock, it writes the new file: the snapshot, then the records
//     appended to the old file after cut, copied as they are, while the
//     old file keeps taking appends and serving reads.
//  3. Under the locks again it copies the last records appended meanwhile,
//     fsyncs, renames the new file over the old one and moves the index
//     entries' offsets: the records after cut shift by the same amount.
//
// A crash before the rename leaves the old log; after it, the new one holds
// everything the old one did.

// snapshot is the state compaction writes: as of log offset cut.
type snapshot struct {
	cut       int64
	highWater string
	recs      []*rec // retained events, s.evs order
	locs      []loc  // where each lies in the old file
	lastMs    uint64 // the newest event in recs (records after cut follow it)
	lastSeq   uint64
	groups    []groupSnapshot
}

// tailChunk is the amount of appended records left for the final copy,
// under the lock; more is copied beforehand.
const tailChunk = 1 << 20

// compact rewrites the log (see above). With onlyOver, it compacts only if
// the log is still over the disk limit once it holds the lock (another
// appender may have compacted meanwhile).
func (s *Store) compact(onlyOver bool) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	snap, old, ok := s.takeSnapshot(onlyOver)
	if !ok {
		return nil
	}
	if s.duringCompaction != nil {
		s.duringCompaction()
	}
	tmp := s.path + ".tmp"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("compact: create %s: %w", tmp, err)
	}
	fail := func(err error) error {
		nf.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", s.path, err)
	}
	size, offs, err := writeSnapshot(nf, old, snap)
	if err != nil {
		return fail(err)
	}
	// Copy what was appended since the snapshot until little is left, and
	// fsync; appends go on meanwhile, so again while the fsync let much
	// pile up: what is left for the lock stays small.
	copied := snap.cut
	for range 3 {
		for {
			s.mu.RLock()
			end := s.fileSize
			s.mu.RUnlock()
			if end-copied <= tailChunk {
				break
			}
			if err := copyRange(nf, old, copied, end, size+copied-snap.cut); err != nil {
				return fail(err)
			}
			copied = end
		}
		if err := nf.Sync(); err != nil {
			return fail(err)
		}
		s.mu.RLock()
		left := s.fileSize - copied
		s.mu.RUnlock()
		if left <= tailChunk {
			break
		}
	}

	// The old file is closed once the locks are released: it is unlinked
	// by then, so closing it frees its page cache (hundreds of MiB at the
	// default limit: 0.3 s and more), which appends must not wait for.
	swapped := false
	defer func() {
		if swapped {
			if s.closingOldLog != nil {
				s.closingOldLog()
			}
			old.Close()
		}
	}()
	s.syncMu.Lock() // no background fsync of the file being replaced
	defer s.syncMu.Unlock()
	s.fileMu.Lock() // no reader of the old offsets
	defer s.fileMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waitIdleLocked() // no write to the old file in flight
	if s.closed || s.err != nil {
		// Closing, or a write failed (each append reports it): keep the
		// old file.
		nf.Close()
		os.Remove(tmp)
		return nil
	}
	end := s.fileSize
	err = copyRange(nf, old, copied, end, size+copied-snap.cut)
	if err == nil {
		err = nf.Sync()
	}
	if err == nil {
		// Appends write at the file offset: past the copied records.
		_, err = nf.Seek(0, io.SeekEnd)
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		return fail(err)
	}
	if err := syncDir(s.opts.Dir); err != nil {
		// The new file is in place and complete; only the rename's
		// durability is in doubt. Carry on with the new file.
		s.log.Warn("embedded store: sync directory after compaction", "dir", s.opts.Dir, "err", err)
	}
	for i, r := range snap.recs {
		r.off = offs[i]
	}
	shift := size - snap.cut
	for i := len(s.evs) - 1; i >= 0 && s.evs[i].after(snap.lastMs, snap.lastSeq); i-- {
		s.evs[i].off += shift
	}
	s.f = nf
	s.fileSize = size + end - snap.cut
	s.dirty = false
	swapped = true
	s.tidyLocked()
	return nil
}

// takeSnapshot waits until nothing is queued or in flight and takes the
// snapshot under s.mu; ok is false when there is nothing to do.
func (s *Store) takeSnapshot(onlyOver bool) (snap snapshot, old *os.File, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		s.waitIdleLocked()
		if len(s.pendT) == 0 {
			break
		}
		s.flushLocked(false)
	}
	if s.closed || s.err != nil || onlyOver && !s.overDiskLimitLocked() {
		return snap, nil, false
	}
	s.trimLocked(s.clock())
	snap = snapshot{cut: s.fileSize, highWater: store.FormatID(s.lastMs, s.lastSeq),
		recs: append([]*rec(nil), s.evs...), locs: make([]loc, len(s.evs)),
		lastMs: s.visMs, lastSeq: s.visSeq}
	for i, r := range s.evs {
		snap.locs[i] = r.loc()
	}
	for _, g := range s.groups {
		snap.groups = append(snap.groups, g.snapshot(s))
	}
	return snap, s.f, true
}

// copyRange copies old's bytes [from, to) to nf at offset at.
func copyRange(nf, old *os.File, from, to, at int64) error {
	if to <= from {
		return nil
	}
	n, err := io.Copy(io.NewOffsetWriter(nf, at), io.NewSectionReader(old, from, to-from))
	if err == nil && n != to-from {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("copy records appended during compaction: %w", err)
	}
	return nil
}

// writeSnapshot writes snap to f, reading the events from old, and returns
// its size and each event's offset in it (snap.recs order).
func writeSnapshot(f, old *os.File, snap snapshot) (int64, []int64, error) {
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
	if err := write(recHighWater, idRec{ID: snap.highWater}); err != nil {
		return total, nil, err
	}
	// Events are copied as they are in the old file; their new offsets
	// apply once the new file has replaced it.
	offs := make([]int64, len(snap.locs))
	var buf []byte
	inRec := 0
	// The old file is read in windows of 1 MiB, not one pread per event:
	// retained events lie in it in order, mostly side by side.
	var win []byte
	var winOff int64
	read := func(dst []byte, l loc) error {
		if l.off < winOff || l.off+int64(l.n) > winOff+int64(len(win)) {
			size := max(1<<20, int(l.n))
			if cap(win) < size {
				win = make([]byte, size)
			}
			n, err := old.ReadAt(win[:size], l.off)
			if n < int(l.n) {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
			win, winOff = win[:n], l.off
		}
		copy(dst, win[l.off-winOff:])
		return nil
	}
	flush := func() error {
		if inRec == 0 {
			return nil
		}
		sealRecord(buf)
		n, err := f.Write(buf)
		total += int64(n)
		buf, inRec = buf[:0], 0
		return err
	}
	for i, l := range snap.locs {
		if inRec == 0 {
			buf = append(buf, make([]byte, headerSize+1)...)
			buf[headerSize] = recEvents
		} else {
			buf = append(buf, '\n')
		}
		offs[i] = total + int64(len(buf))
		at := len(buf)
		buf = append(buf, make([]byte, l.n)...)
		if err := read(buf[at:], l); err != nil {
			return total, nil, fmt.Errorf("read event %s: %w", l.id(), err)
		}
		// Records of at most 500 events and a few MiB.
		if inRec++; inRec == 500 || len(buf) >= 4<<20 {
			if err := flush(); err != nil {
				return total, nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return total, nil, err
	}
	for _, g := range snap.groups {
		if err := write(recGroupState, g); err != nil {
			return total, nil, err
		}
	}
	return total, offs, nil
}

// compactInBackground runs the janitor's compaction. A failure (a full
// disk, say) leaves the old log in place and whole, so it is logged and the
// compaction tried again later; the store keeps taking appends.
func (s *Store) compactInBackground() {
	if err := s.compact(false); err != nil {
		// Not again at every append meanwhile: in a while.
		s.compactRetry.Store(time.Now().Add(compactRetryDelay).UnixNano())
		s.log.Error("embedded store: compaction failed; the log is kept as it is and compaction will be retried",
			"err", err, "retry in", compactRetryDelay)
	}
}

// compactRetryDelay is how long the janitor waits after a failed compaction.
const compactRetryDelay = 10 * time.Second

// tidyLocked drops index lists and pending deliveries that only refer to
// events retention has removed (keys of long-gone hosts or rules would
// otherwise stay in memory for good).
func (s *Store) tidyLocked() {
	s.cutIndexes()
	now := s.clock()
	for _, g := range s.groups {
		for id, p := range g.pending {
			if s.find(p.ms, p.seq, now) == nil {
				delete(g.pending, id)
			}
		}
	}
}
