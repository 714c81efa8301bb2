package embedded

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/bytedance/sonic"

	"github.com/saker-sec/saker/hub/store"
)

// Events are read from the log on demand: an index entry (rec) knows where
// its event's JSON lies in the current file. Callers hold s.mu (read or
// write), so compaction cannot swap the file meanwhile; records are
// published only once written, so every visible entry's bytes are there.

var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// withRaw calls fn with r's JSON as it is in the log (the bytes are only
// valid during the call).
func (s *Store) withRaw(r *rec, fn func(raw []byte) error) error {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	if cap(*bp) < int(r.n) {
		*bp = make([]byte, r.n)
	}
	raw := (*bp)[:r.n]
	if _, err := s.f.ReadAt(raw, r.off); err != nil {
		return fmt.Errorf("embedded store: read event %s at offset %d: %w", r.id(), r.off, err)
	}
	return fn(raw)
}

// event reads and decodes r's event.
func (s *Store) event(r *rec) (store.Event, error) {
	var e store.Event
	err := s.withRaw(r, func(raw []byte) error {
		var err error
		e, err = s.decodeAt(r, raw)
		return err
	})
	return e, err
}

// decodeAt decodes r's event from raw, checking that the bytes are r's.
func (s *Store) decodeAt(r *rec, raw []byte) (store.Event, error) {
	e, err := decodeEvent(raw)
	if err == nil && e.ID != r.id() {
		err = fmt.Errorf("found event %s there", e.ID)
	}
	if err != nil {
		return e, fmt.Errorf("embedded store: event %s at offset %d of %s: %w", r.id(), r.off, s.path, err)
	}
	e.Received = time.UnixMilli(int64(r.ms)).UTC()
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
