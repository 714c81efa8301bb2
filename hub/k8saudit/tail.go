package k8saudit

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// FollowOptions tune Follow.
type FollowOptions struct {
	// FromStart reads the file from its beginning; otherwise from its
	// end, as tail -F does.
	FromStart bool
	// Poll is how often Follow looks for new data and rotation at the
	// end of the file (default 250 ms).
	Poll time.Duration
	// MaxLine bounds one line (default 4 MiB, the API server's largest
	// events at level RequestResponse stay far below); longer lines are
	// reported to Skipped and dropped.
	MaxLine int
	// Skipped, when set, is told about each dropped line.
	Skipped func(reason string)
}

// Follow reads the JSON Lines audit log at path (an API server's
// --audit-log-path), calling line for each complete line, and follows the
// file across rotation: when path names a new file (the log backend's
// rename rotation, or logrotate's create), the old one is read to its end
// first; when the file shrinks (copytruncate), reading restarts at its
// beginning. A path that does not exist yet is waited for. line must not
// retain its argument. Follow returns nil when ctx ends, or line's error.
func Follow(ctx context.Context, path string, o FollowOptions, line func([]byte) error) error {
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.MaxLine <= 0 {
		o.MaxLine = 4 << 20
	}
	skipped := o.Skipped
	if skipped == nil {
		skipped = func(string) {}
	}
	wait := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(o.Poll):
			return true
		}
	}
	var f *os.File
	for {
		var err error
		if f, err = os.Open(path); err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if !wait() {
			return nil
		}
	}
	defer func() { f.Close() }()
	if !o.FromStart {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var buf []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		switch {
		case err == nil:
			if !tooLong {
				buf = append(buf, chunk...)
				if len(buf) > o.MaxLine {
					skipped("line longer than the limit")
				} else if l := trimEOL(buf); len(l) > 0 {
					if err := line(l); err != nil {
						return err
					}
				}
			}
			buf, tooLong = buf[:0], false
			continue
		case errors.Is(err, bufio.ErrBufferFull):
			if !tooLong {
				buf = append(buf, chunk...)
				if len(buf) > o.MaxLine {
					skipped("line longer than the limit")
					buf, tooLong = buf[:0], true
				}
			}
			continue
		case !errors.Is(err, io.EOF):
			return err
		}
		// At the end: keep a partial line for later, then look for
		// rotation or truncation before waiting.
		if !tooLong {
			buf = append(buf, chunk...)
		}
		cur, err := f.Stat()
		if err != nil {
			return err
		}
		if st, err := os.Stat(path); err == nil && !os.SameFile(st, cur) {
			nf, err := os.Open(path)
			if err == nil {
				if l := trimEOL(buf); len(l) > 0 && !tooLong {
					// The old file ended without a newline.
					if err := line(l); err != nil {
						nf.Close()
						return err
					}
				}
				f.Close()
				f = nf
				r.Reset(f)
				buf, tooLong = buf[:0], false
				continue
			}
		}
		if pos, err := f.Seek(0, io.SeekCurrent); err == nil && cur.Size() < pos {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			r.Reset(f)
			buf, tooLong = buf[:0], false
			continue
		}
		if !wait() {
			return nil
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
