package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

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
		s.dedupe.add(uuids[i], eventID{r.ms, r.seq}, int64(r.ms), now)
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

// maybeKickLocked starts a compaction in the background once dead records
// dominate the log, or once it passes 3/4 of MaxBytes with at least 1/8 of
// it dead: appends keep going meanwhile, so it starts early enough to end
// before they take the log over the disk limit, where they would wait for
// it (the copy of up to MaxBytes/2 of retained events must outrun the
// appends by 2×, not 4× as when it started at 7/8).
func (s *Store) maybeKickLocked() {
	dead := s.fileSize - s.liveBytes
	near := s.opts.MaxBytes > 0 && s.fileSize > s.opts.MaxBytes/4*3 && dead > max(s.opts.compactMinBytes, s.opts.MaxBytes/8)
	if s.fileSize > s.opts.compactMinBytes && (s.fileSize > 2*s.liveBytes+s.opts.compactMinBytes || near) &&
		time.Now().UnixNano() >= s.compactRetry.Load() {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// overDiskLimit reports whether the log has outgrown MaxBytes by more than
// the slack compaction leaves (Options.compactMinBytes).
func (s *Store) overDiskLimit() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.overDiskLimitLocked()
}

func (s *Store) overDiskLimitLocked() bool {
	return s.opts.MaxBytes > 0 && s.fileSize > s.opts.MaxBytes+s.opts.compactMinBytes
}

func (s *Store) maybeCompact() {
	s.mu.Lock()
	s.maybeKickLocked()
	s.mu.Unlock()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
