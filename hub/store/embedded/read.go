package embedded

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/bytedance/sonic"

	"github.com/saker-sec/saker/hub/store"
)

// Events are read from the log on demand: an index entry (rec) knows where
// its event's JSON lies in the current file. Records are published only
// once written, so every visible entry's bytes are there. Compaction swaps
// the file and moves the offsets under s.fileMu and s.mu: a reader either
// holds s.mu while it reads, or copies the entries' locations under s.mu
// and reads them holding only s.fileMu (read) — so reading and decoding a
// page of events does not hold up appends.

// loc is where an event lies in the log, copied from its rec under s.mu.
type loc struct {
	ms, seq uint64
	off     int64
	n       int32
}

func (r *rec) loc() loc { return loc{ms: r.ms, seq: r.seq, off: r.off, n: r.n} }

func (l loc) id() string { return store.FormatID(l.ms, l.seq) }

var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// withRaw calls fn with the JSON at l in f as it is in the log (the bytes
// are only valid during the call).
func (s *Store) withRaw(f *os.File, l loc, fn func(raw []byte) error) error {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	if cap(*bp) < int(l.n) {
		*bp = make([]byte, l.n)
	}
	raw := (*bp)[:l.n]
	if _, err := f.ReadAt(raw, l.off); err != nil {
		return fmt.Errorf("embedded store: read event %s at offset %d: %w", l.id(), l.off, err)
	}
	return fn(raw)
}

// read reads and decodes the event at l in f (or copies it from the
// recently read ones).
func (s *Store) read(f *os.File, l loc) (store.Event, error) {
	id := eventID{l.ms, l.seq}
	if e, ok := s.recent.get(id); ok {
		return e, nil
	}
	var e store.Event
	err := s.withRaw(f, l, func(raw []byte) error {
		var err error
		e, err = s.decodeAt(l, raw)
		return err
	})
	if err == nil {
		s.recent.put(id, e)
	}
	return e, err
}

// readAll reads the events at locs in f, in order.
func (s *Store) readAll(f *os.File, locs []loc) ([]store.Event, error) {
	if len(locs) == 0 {
		return nil, nil // as Tail always answered nothing new
	}
	out := make([]store.Event, 0, len(locs))
	for _, l := range locs {
		e, err := s.read(f, l)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// event reads and decodes r's event (s.mu held).
func (s *Store) event(r *rec) (store.Event, error) { return s.read(s.f, r.loc()) }

// decodeAt decodes the event at l from raw, checking that the bytes are
// that event's.
func (s *Store) decodeAt(l loc, raw []byte) (store.Event, error) {
	s.decodes.Add(1)
	e, err := decodeEvent(raw)
	if err == nil && e.ID != l.id() {
		err = fmt.Errorf("found event %s there", e.ID)
	}
	if err != nil {
		return e, fmt.Errorf("embedded store: event %s at offset %d of %s: %w", l.id(), l.off, s.path, err)
	}
	e.Received = time.UnixMilli(int64(l.ms)).UTC()
	return e, nil
}

// eventJSON decodes stored events: numbers as json.Number, keys matched
// as encoding/json matches them. sonic, which ingest chose by measurement,
// reads an event in a fraction of encoding/json's time; encoding/json
// takes over for anything it refuses, to word the error.
var eventJSON = sonic.Config{UseNumber: true}.Froze()

// decodeEvent decodes one event's JSON.
func decodeEvent(raw []byte) (store.Event, error) {
	var e store.Event
	if eventJSON.Unmarshal(raw, &e) == nil {
		return e, nil
	}
	e = store.Event{}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&e); err != nil {
		return e, fmt.Errorf("decode event: %w", err)
	}
	return e, nil
}
