package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/saker-sec/saker/hub/alert"
)

// errSpoolFull is returned when the spool reached its byte bound.
var errSpoolFull = errors.New("spool full")

// spool is the HTTP sink's on-disk overflow: NDJSON segment files
// seg-<seq>.ndjson in a directory, written in order and consumed oldest
// first. A segment is removed only after all its alerts were delivered, so
// a crash re-sends at most one segment (the hub deduplicates by uuid).
// Not safe for concurrent use: the HTTP sink serialises access.
type spool struct {
	dir      string
	maxBytes int64
	segMax   int

	seq   uint64
	segs  []segment // closed segments, oldest first
	cur   *os.File
	curSg segment

	bytes int64 // on disk, all segments
	count int   // alerts on disk
}

type segment struct {
	path  string
	bytes int64
	count int
}

const segPrefix, segSuffix = "seg-", ".ndjson"

func openSpool(dir string, maxBytes int64, segMax int) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: read %s: %w", dir, err)
	}
	sp := &spool{dir: dir, maxBytes: maxBytes, segMax: segMax}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, segPrefix) && strings.HasSuffix(n, segSuffix) && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names) // zero-padded sequence numbers sort numerically
	for _, n := range names {
		var seq uint64
		if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(n, segPrefix), segSuffix), "%d", &seq); err != nil {
			continue
		}
		p := filepath.Join(dir, n)
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("spool: read %s: %w", p, err)
		}
		sg := segment{path: p, bytes: int64(len(data)), count: bytes.Count(data, []byte{'\n'})}
		if sg.count == 0 {
			os.Remove(p)
			continue
		}
		sp.segs = append(sp.segs, sg)
		sp.bytes += sg.bytes
		sp.count += sg.count
		if seq >= sp.seq {
			sp.seq = seq + 1
		}
	}
	return sp, nil
}

// append writes one alert at the end of the spool.
func (sp *spool) append(a *alert.Alert) error {
	line, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("spool: encode: %w", err)
	}
	line = append(line, '\n')
	if sp.bytes+int64(len(line)) > sp.maxBytes {
		return errSpoolFull
	}
	if sp.cur == nil {
		p := filepath.Join(sp.dir, fmt.Sprintf("%s%020d%s", segPrefix, sp.seq, segSuffix))
		sp.seq++
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("spool: create segment: %w", err)
		}
		sp.cur, sp.curSg = f, segment{path: p}
	}
	if _, err := sp.cur.Write(line); err != nil {
		return fmt.Errorf("spool: write %s: %w", sp.curSg.path, err)
	}
	sp.curSg.bytes += int64(len(line))
	sp.curSg.count++
	sp.bytes += int64(len(line))
	sp.count++
	if sp.curSg.count >= sp.segMax {
		return sp.rotate()
	}
	return nil
}

// rotate closes the segment being written, making it readable.
func (sp *spool) rotate() error {
	if sp.cur == nil {
		return nil
	}
	err := sp.cur.Sync()
	if cerr := sp.cur.Close(); err == nil {
		err = cerr
	}
	if sp.curSg.count > 0 {
		sp.segs = append(sp.segs, sp.curSg)
	} else {
		os.Remove(sp.curSg.path)
	}
	sp.cur, sp.curSg = nil, segment{}
	if err != nil {
		return fmt.Errorf("spool: close segment: %w", err)
	}
	return nil
}

// oldest returns the oldest segment's alerts, rotating the current segment
// when it is the only one. ok is false when the spool is empty. Lines that
// do not decode (a torn write at a crash) are skipped and counted in bad.
func (sp *spool) oldest() (sg segment, as []alert.Alert, bad int, ok bool, err error) {
	if len(sp.segs) == 0 && sp.cur != nil {
		if err := sp.rotate(); err != nil {
			return segment{}, nil, 0, false, err
		}
	}
	if len(sp.segs) == 0 {
		return segment{}, nil, 0, false, nil
	}
	sg = sp.segs[0]
	f, err := os.Open(sg.path)
	if err != nil {
		return segment{}, nil, 0, false, fmt.Errorf("spool: open %s: %w", sg.path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var a alert.Alert
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&a); err != nil {
			bad++
			continue
		}
		as = append(as, a)
	}
	if err := sc.Err(); err != nil {
		return segment{}, nil, 0, false, fmt.Errorf("spool: read %s: %w", sg.path, err)
	}
	return sg, as, bad, true, nil
}

// remove deletes a consumed segment (the oldest).
func (sp *spool) remove(sg segment) error {
	if len(sp.segs) == 0 || sp.segs[0].path != sg.path {
		return fmt.Errorf("spool: %s is not the oldest segment", sg.path)
	}
	sp.segs = sp.segs[1:]
	sp.bytes -= sg.bytes
	sp.count -= sg.count
	if err := os.Remove(sg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: remove %s: %w", sg.path, err)
	}
	return nil
}

// pending is the number of alerts on disk.
func (sp *spool) pending() int { return sp.count }

// close syncs and closes the segment being written.
func (sp *spool) close() error { return sp.rotate() }
