package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/saker-sec/saker/hub/store"
)

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
	s.fileSize = good
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
	if err := s.compact(false); err != nil {
		return fmt.Errorf("embedded store: rewrite damaged log: %w", err)
	}
	return nil
}

// Corruption reports the damaged log spans skipped since the store opened
// and their size in bytes (0, 0 for an intact log).
func (s *Store) Corruption() (spans, bytes int64) {
	return s.corruptSpans.Load(), s.corruptBytes.Load()
}

func (s *Store) replay(off int64, typ byte, body []byte) error {
	switch typ {
	case recEvents, recEventsV1:
		return s.replayEvents(typ, body, off+headerSize+1)
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

// replayEvents indexes the events of a record whose body starts at file
// offset base.
func (s *Store) replayEvents(typ byte, body []byte, base int64) error {
	spans, err := eventSpans(typ, body)
	if err != nil {
		return err
	}
	size := int64(len(body)+headerSize+1) / int64(max(len(spans), 1))
	recs := make([]*rec, 0, len(spans))
	uuids := make([]string, 0, len(spans))
	for _, sp := range spans {
		raw := body[sp[0]:sp[1]]
		e, err := decodeEvent(raw)
		if err != nil {
			return err
		}
		ms, seq, err := store.ParseID(e.ID)
		if err != nil {
			return err
		}
		if len(s.evs) > 0 && !(&rec{ms: ms, seq: seq}).after(s.visMs, s.visSeq) {
			continue // already present (a compaction chunk overlapping a batch); keep first
		}
		recs = append(recs, newRec(ms, seq, &e.Alert, raw, base+int64(sp[0]), size))
		uuids = append(uuids, e.UUID)
	}
	s.publishRecs(recs)
	now := s.clock()
	for i, r := range recs {
		s.dedupe.add(uuids[i], r.id(), int64(r.ms), now)
	}
	// New IDs must follow every replayed one, even when the log holds no
	// high-water record after this batch; otherwise an append right after
	// reopening, in the same millisecond, reuses an ID and is dropped as a
	// duplicate on the next replay.
	if (&rec{ms: s.visMs, seq: s.visSeq}).after(s.lastMs, s.lastSeq) {
		s.lastMs, s.lastSeq = s.visMs, s.visSeq
	}
	s.trimSize()
	return nil
}

// eventSpans returns the byte ranges of the event objects in an events
// record's body: objects one after another (an array of them in the
// earlier format).
func eventSpans(typ byte, body []byte) ([][2]int, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	if typ == recEventsV1 {
		if t, err := d.Token(); err != nil || t != json.Delim('[') {
			return nil, fmt.Errorf("decode events: not an array (%v)", err)
		}
	}
	var out [][2]int
	for d.More() {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, fmt.Errorf("decode event %d: %w", len(out), err)
		}
		end := int(d.InputOffset())
		out = append(out, [2]int{end - len(raw), end})
	}
	return out, nil
}

type idRec struct {
	ID string `json:"id"`
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

func (s *Store) maybeKickLocked() {
	if s.fileSize > compactMinBytes && s.fileSize > 2*s.liveBytes+compactMinBytes {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// overDiskLimit reports whether the log has outgrown MaxBytes by more than
// the slack compaction leaves (compactMinBytes).
func (s *Store) overDiskLimit() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.overDiskLimitLocked()
}

func (s *Store) overDiskLimitLocked() bool {
	return s.opts.MaxBytes > 0 && s.fileSize > s.opts.MaxBytes+compactMinBytes
}

func (s *Store) maybeCompact() {
	s.mu.Lock()
	s.maybeKickLocked()
	s.mu.Unlock()
}

// compact rewrites the log as a snapshot of retained events and delivery
// state, atomically replacing the old file (write, fsync, rename, fsync dir).
// With onlyOver, it compacts only if the log is still over the disk limit
// once it holds the locks (another appender may have compacted meanwhile).
func (s *Store) compact(onlyOver bool) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Write and fsync what is queued: the snapshot is taken from memory,
	// which then holds every record of the old file.
	s.waitIdleLocked()
	if s.closed || onlyOver && !s.overDiskLimitLocked() {
		return nil
	}
	s.flushLocked(true)
	if s.err != nil {
		return nil // reported by every write meanwhile
	}
	s.trimLocked(s.clock())

	tmp := s.path + ".tmp"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("compact: create %s: %w", tmp, err)
	}
	size, offs, err := s.writeSnapshot(nf)
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
	for i, r := range s.evs {
		r.off = offs[i]
	}
	old.Close()
	s.tidyLocked()
	return nil
}

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

// writeSnapshot writes the retained events and delivery state to f and
// returns its size and each event's offset in it (s.evs order).
func (s *Store) writeSnapshot(f *os.File) (int64, []int64, error) {
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
		return total, nil, err
	}
	// Events are copied as they are in the old file; their new offsets
	// apply once the new file has replaced it.
	offs := make([]int64, len(s.evs))
	var buf []byte
	inRec := 0
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
	for i, r := range s.evs {
		if inRec == 0 {
			buf = append(buf, make([]byte, headerSize+1)...)
			buf[headerSize] = recEvents
		} else {
			buf = append(buf, '\n')
		}
		offs[i] = total + int64(len(buf))
		at := len(buf)
		buf = append(buf, make([]byte, r.n)...)
		if _, err := s.f.ReadAt(buf[at:], r.off); err != nil {
			return total, nil, fmt.Errorf("read event %s: %w", r.id(), err)
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
	for _, g := range s.groups {
		if err := write(recGroupState, g.snapshot(s)); err != nil {
			return total, nil, err
		}
	}
	return total, offs, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
