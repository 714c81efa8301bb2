package embedded

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// FsyncPolicy says when appended records reach stable storage.
type FsyncPolicy int

const (
	// FsyncInterval (the zero value, the default) writes (write(2)) before
	// Append returns and fsyncs at most every Options.FsyncInterval in the
	// background: an acknowledged alert survives a crash or kill -9 of the
	// hub, but an OS crash or power loss can lose the last interval
	// (Redis's appendfsync everysec).
	FsyncInterval FsyncPolicy = iota
	// FsyncAlways fsyncs before Append (and Ack, DeadLetter…) returns: an
	// acknowledged alert survives a power loss too.
	FsyncAlways
)

// DefaultFsyncInterval is FsyncInterval's period when Options leave it 0.
const DefaultFsyncInterval = time.Second

func (p FsyncPolicy) String() string {
	if p == FsyncInterval {
		return "interval"
	}
	return "always"
}

// The committer. Writers frame their records into s.pend (under s.mu, so
// the log's order is the order IDs were assigned in) and hold a ticket.
// The first writer to find no flush in flight becomes the leader, on its
// own goroutine: it takes everything queued, writes it with one write()
// and, when a record needs it, one fsync, then completes every ticket of
// the group. Records queued meanwhile wait for that flush to finish and
// then go out together in the next one, led by one of their writers. A
// lone writer thus flushes inline, and under load one write and one fsync
// carry every record that arrived during the previous flush.

// ticket is one queued record's completion.
type ticket struct {
	sync  bool     // needs fsync before done (FsyncAlways)
	recs  []*rec   // events to publish once written (offsets in the queue)
	uuids []string // their uuids
	// one and oneUUID back recs and uuids for a lone alert, the
	// common single POST: one allocation less each.
	one     [1]*rec
	oneUUID [1]string
	apply   func() // state change to make once written (under s.mu)
	undo    func() // called under s.mu when the write fails
	done    bool
	err     error
}

// appendRecord frames a typed payload onto dst: header, type byte, body.
func appendRecord(dst []byte, typ byte, body []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, headerSize)...)
	dst = append(dst, typ)
	dst = append(dst, body...)
	sealRecord(dst[start:])
	return dst
}

// sealRecord fills in the header of a record framed in place.
func sealRecord(r []byte) {
	binary.LittleEndian.PutUint32(r[0:4], uint32(len(r)-headerSize))
	binary.LittleEndian.PutUint32(r[4:8], crc32.Checksum(r[headerSize:], castagnoli))
}

// queueLocked queues a framed record (or nothing: a barrier, done once every
// earlier record is) and returns its ticket.
func (s *Store) queueLocked(framed []byte, t *ticket) *ticket {
	s.pend = append(s.pend, framed...)
	s.pendT = append(s.pendT, t)
	return t
}

// syncs reports whether acknowledged writes are fsynced first.
func (s *Store) syncs() bool { return s.opts.Fsync == FsyncAlways }

// queueRecordLocked frames and queues a record.
func (s *Store) queueRecordLocked(typ byte, body []byte, t *ticket) *ticket {
	s.pend = appendRecord(s.pend, typ, body)
	s.pendT = append(s.pendT, t)
	return t
}

// awaitLocked returns once t is done, leading flushes while none is in
// flight. Called and returns with s.mu held; releases it meanwhile.
func (s *Store) awaitLocked(t *ticket) error {
	for !t.done {
		if s.flushing {
			ch := s.flushDoneLocked()
			s.mu.Unlock()
			<-ch
			s.mu.Lock()
			continue
		}
		s.flushLocked(false)
	}
	return t.err
}

// waitIdleLocked waits until no flush is in flight (s.mu held).
func (s *Store) waitIdleLocked() {
	for s.flushing {
		ch := s.flushDoneLocked()
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
}

// flushDoneLocked is the channel closed when the flush in flight ends,
// made when a writer first waits for it: a lone writer makes none.
func (s *Store) flushDoneLocked() chan struct{} {
	if s.flushed == nil {
		s.flushed = make(chan struct{})
	}
	return s.flushed
}

// flushLocked writes every queued record in one write() and fsyncs when one
// of them needs it (or force), then completes their tickets. Called with
// s.mu held and no flush in flight; releases s.mu during the I/O.
func (s *Store) flushLocked(force bool) {
	buf, ts := s.pend, s.pendT
	s.pend, s.pendT = s.spare[:0], s.spareT[:0]
	s.spare, s.spareT = nil, nil
	needSync := force && (len(buf) > 0 || s.dirty)
	for _, t := range ts {
		needSync = needSync || t.sync
	}
	f, off, err := s.f, s.fileSize, s.err
	if err != nil {
		err = fmt.Errorf("embedded store: unusable after write failure: %w", err)
	}
	s.flushing = true
	s.mu.Unlock()

	var n int
	var sticky error
	if err == nil && len(buf) > 0 {
		if s.beforeWrite != nil {
			s.beforeWrite()
		}
		s.writes.Add(1)
		n, err = f.Write(buf)
		if err != nil {
			if n > 0 {
				// Cut the partial write so the log stays well-formed.
				if terr := f.Truncate(off); terr != nil {
					sticky = fmt.Errorf("truncate after failed write: %w", terr)
				} else if _, serr := f.Seek(off, 0); serr != nil {
					sticky = fmt.Errorf("seek after failed write: %w", serr)
				}
			}
			n = 0
			err = fmt.Errorf("embedded store: write %s: %w", s.path, err)
		}
	}
	synced := false
	if err == nil && needSync {
		s.fsyncs.Add(1)
		if serr := f.Sync(); serr != nil {
			// The page cache may have dropped what it could not write:
			// nothing written since the last good fsync can be trusted.
			sticky = fmt.Errorf("fsync %s: %w", s.path, serr)
			err = fmt.Errorf("embedded store: %w", sticky)
		}
		synced = true
	}

	s.mu.Lock()
	s.fileSize += int64(n)
	if sticky != nil && s.err == nil {
		s.err = sticky
	}
	switch {
	case err == nil && synced:
		s.dirty = false
	case err == nil && n > 0:
		s.dirty = true
	}
	published := false
	for _, t := range ts {
		t.done, t.err = true, err
		if err != nil {
			if t.undo != nil {
				t.undo()
			}
			for i, r := range t.recs {
				s.dedupe.forget(t.uuids[i], eventID{r.ms, r.seq})
			}
			continue
		}
		if t.apply != nil {
			t.apply()
		}
		if len(t.recs) > 0 {
			for _, r := range t.recs {
				r.off += off // the queue's offsets were relative to buf
			}
			s.publishRecs(t.recs)
			published = true
		}
	}
	if cap(buf) <= 4<<20 {
		s.spare = buf[:0]
	}
	clear(ts) // the tickets' events stay reachable from the index only
	s.spareT = ts[:0]
	s.flushing = false
	if s.flushed != nil {
		close(s.flushed)
		s.flushed = nil
	}
	if published {
		s.trimLocked(s.clock())
		s.notifyLocked()
		s.maybeKickLocked()
	}
}

// notifyChan is the channel closed when more events become visible;
// readers take it under s.mu (read or write), before waiting on it.
func (s *Store) notifyChan() chan struct{} {
	s.notifyWanted.Store(true)
	return s.notify
}

// notifyLocked wakes the readers waiting for new events (s.mu held for
// writing). With none waiting it makes no new channel: the common case
// at ingest, where nobody tails.
func (s *Store) notifyLocked() {
	if s.notifyWanted.Load() {
		close(s.notify)
		s.notify = make(chan struct{})
		s.notifyWanted.Store(false)
	}
}

// syncDirty fsyncs what FsyncInterval left unsynced (the background loop).
func (s *Store) syncDirty() {
	s.syncMu.Lock() // not during a compaction: it swaps the file
	defer s.syncMu.Unlock()
	s.mu.Lock()
	if !s.dirty || s.closed {
		s.mu.Unlock()
		return
	}
	s.dirty = false
	f := s.f
	s.mu.Unlock()
	s.fsyncs.Add(1)
	if err := f.Sync(); err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = fmt.Errorf("fsync %s: %w", s.path, err)
		}
		s.mu.Unlock()
	}
}
