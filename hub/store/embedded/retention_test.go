package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
)

// Retention is bounded by default (it once kept 50,000 events whatever
// their age): a week and 1 GiB of disk.
func TestDefaultRetentionBounded(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	if s.opts.MaxAge != DefaultMaxAge || s.opts.MaxBytes != DefaultMaxBytes || DefaultMaxAge <= 0 || DefaultMaxBytes <= 0 {
		t.Fatalf("default retention: max age %v, max bytes %d", s.opts.MaxAge, s.opts.MaxBytes)
	}
}

// MaxBytes bounds the disk the log takes: retained events fill at most half
// of it and compaction keeps the file within it.
func TestRetentionByDiskSize(t *testing.T) {
	dir := t.TempDir()
	const maxBytes = 64 << 10
	s := openT(t, Options{Dir: dir, MaxBytes: maxBytes, compactMinBytes: -1})
	ctx := context.Background()
	var last []string
	for i := range 2000 {
		ids, err := s.Append(ctx, []alert.Alert{sample(fmt.Sprint("e", i))})
		if err != nil {
			t.Fatal(err)
		}
		last = ids
	}
	h := s.Health(ctx)
	if h.Events == 0 || h.Events >= 2000 {
		t.Fatalf("retained %d of 2000 events under a %d byte limit", h.Events, maxBytes)
	}
	if _, err := s.Get(ctx, last[0]); err != nil {
		t.Fatalf("newest event: %v", err)
	}
	s.mu.RLock()
	live := s.liveBytes
	s.mu.RUnlock()
	if live > maxBytes/2 {
		t.Errorf("retained %d bytes, limit %d", live, maxBytes/2)
	}
	s.Close()
	st, err := os.Stat(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > maxBytes+(4<<10) {
		t.Errorf("log is %d bytes, limit %d", st.Size(), maxBytes)
	}
	t.Logf("%d events retained, %d live bytes, log %d bytes", h.Events, live, st.Size())
}
