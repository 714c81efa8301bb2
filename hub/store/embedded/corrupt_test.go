package embedded

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
)

// A damaged record in the middle of the log (a flipped byte, a zeroed
// sector) costs that record only: the records after it are kept, the
// damage is logged and counted, its bytes are kept under quarantine/, and
// the log is rewritten so the next open is clean. (A bad checksum at 10 %
// of the file once silently dropped the 90 % after it.)
func TestDamagedRecordSkipped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(f *os.File, off int64)
	}{
		{"flipped payload byte", func(f *os.File, off int64) { f.WriteAt([]byte{'#'}, off+headerSize+12) }},
		{"bad length", func(f *os.File, off int64) { f.WriteAt([]byte{0xff, 0xff, 0xff, 0x7f}, off) }},
		{"zeroed header", func(f *os.File, off int64) { f.WriteAt(make([]byte, headerSize), off) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, Options{Dir: dir})
			ctx := context.Background()
			var offs []int64
			var want []string
			for i := range 20 {
				st, _ := os.Stat(filepath.Join(dir, logName))
				offs = append(offs, st.Size())
				name := fmt.Sprintf("a%02d", i)
				if _, err := s.Append(ctx, []alert.Alert{sample(name)}); err != nil {
					t.Fatal(err)
				}
				if i != 2 {
					want = append([]string{name}, want...)
				}
			}
			s.Close()
			f, err := os.OpenFile(filepath.Join(dir, logName), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(f, offs[2])
			f.Close()

			var logs bytes.Buffer
			s2 := openT(t, Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if got := uuids(t, s2); !slices.Equal(got, want) {
				t.Fatalf("after recovery: %v, want every event but a02 (%v)", got, want)
			}
			spans, n := s2.Corruption()
			if spans != 1 || n != offs[3]-offs[2] {
				t.Errorf("Corruption() = %d spans, %d bytes; want 1, %d", spans, n, offs[3]-offs[2])
			}
			if !strings.Contains(logs.String(), "damaged log record skipped") {
				t.Errorf("damage not logged; log:\n%s", logs.String())
			}
			q, _ := filepath.Glob(filepath.Join(dir, "quarantine", "*.damaged"))
			if len(q) != 1 {
				t.Fatalf("quarantine files = %v, want 1", q)
			}
			if st, _ := os.Stat(q[0]); st.Size() != offs[3]-offs[2] {
				t.Errorf("quarantined %d bytes, want %d", st.Size(), offs[3]-offs[2])
			}
			if _, err := s2.Append(ctx, []alert.Alert{sample("z")}); err != nil {
				t.Fatal(err)
			}
			s2.Close()
			s3 := openT(t, Options{Dir: dir})
			if got := uuids(t, s3); !slices.Equal(got, append([]string{"z"}, want...)) {
				t.Fatalf("after second reopen: %v", got)
			}
			if spans, _ := s3.Corruption(); spans != 0 {
				t.Errorf("damage reported again after the log was rewritten")
			}
		})
	}
}
