package embedded

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// On-disk format: a sequence of records, each
//
//	uint32 little-endian payload length | uint32 CRC-32C of payload | payload
//
// where payload is one type byte followed by JSON. A crash can leave a torn
// last record (short or failing its checksum); recovery truncates the file
// at the end of the last good record. Because a whole Append batch is one
// record, a torn batch disappears entirely: batches are atomic on disk.
//
// A bad record followed by good ones is not a torn tail but corruption
// (a flipped bit, a bad sector): recovery skips the damaged bytes up to the
// next intact record, so one bad record costs that record only, and
// reports the span (see span).

// Record types.
const (
	recEvents     = 'e' // store.Event objects one after another, one Append batch (or a compaction chunk)
	recEventsV1   = 'E' // []store.Event: the earlier form, read but no longer written; the array wrapped each alert one level deeper
	recHighWater  = 'H' // highWater: the last ID ever assigned
	recGroup      = 'G' // groupCreate
	recClaim      = 'C' // claimRec
	recAck        = 'A' // ackRec
	recDeadLetter = 'D' // deadRec
	recGroupState = 'S' // groupSnapshot (compaction)
	recDeadDrop   = 'X' // ackRec: dead letters removed
)

// plausibleType is a cheap filter while searching damaged bytes for the
// next record: every record type is an ASCII letter.
func plausibleType(t byte) bool { return t >= 'A' && t <= 'Z' || t >= 'a' && t <= 'z' }

const (
	headerSize = 8
	// maxRecord bounds a record so a corrupt length cannot make recovery
	// allocate gigabytes.
	maxRecord = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeRecord frames a typed JSON payload.
func encodeRecord(typ byte, body []byte) []byte {
	buf := make([]byte, headerSize+1+len(body))
	buf[headerSize] = typ
	copy(buf[headerSize+1:], body)
	binary.LittleEndian.PutUint32(buf[0:4], uint32(1+len(body)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(buf[headerSize:], castagnoli))
	return buf
}

// span is a damaged byte range [Off, End) of the log that recovery skipped.
// Reason says why: a bad frame, or an intact frame whose content could not
// be replayed.
type span struct {
	Off, End int64
	Reason   string
}

// logScan is the result of reading a log.
type logScan struct {
	// good is the offset just past the last intact record: the file's
	// length once a torn tail is cut off.
	good int64
	// damaged lists corrupt spans followed by intact records.
	damaged []span
}

// readLog calls fn for every intact record, in order, with its offset. A bad record followed
// by an intact one is skipped and reported in damaged, as is an intact
// record fn cannot replay (fn's error names why); a bad record with no
// intact one after it is a torn tail and ends the log at good.
func readLog(f *os.File, fn func(off int64, typ byte, body []byte) error) (logScan, error) {
	var res logScan
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("stat log: %w", err)
	}
	size := st.Size()
	off := int64(0)
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20)
	var hdr [headerSize]byte
	for off < size {
		bad := ""
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			bad = "short record header"
		}
		var payload []byte
		if bad == "" {
			n := binary.LittleEndian.Uint32(hdr[0:4])
			switch {
			case n == 0 || n > maxRecord || int64(n) > size-off-headerSize:
				bad = fmt.Sprintf("bad record length %d", n)
			default:
				payload = make([]byte, n)
				if _, err := io.ReadFull(r, payload); err != nil {
					return res, fmt.Errorf("read log: %w", err)
				}
				if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
					bad = "checksum mismatch"
				}
			}
		}
		if bad == "" {
			end := off + headerSize + int64(len(payload))
			if err := fn(off, payload[0], payload[1:]); err != nil {
				res.damaged = append(res.damaged, span{Off: off, End: end, Reason: fmt.Sprintf("record type %q: %v", payload[0], err)})
			}
			off, res.good = end, end
			continue
		}
		next, err := nextRecord(f, off+1, size)
		if err != nil {
			return res, err
		}
		if next < 0 {
			return res, nil // torn tail
		}
		res.damaged = append(res.damaged, span{Off: off, End: next, Reason: bad})
		off = next
		r.Reset(io.NewSectionReader(f, off, size-off))
	}
	return res, nil
}

// nextRecord finds the first offset at or after from where an intact
// record starts (sane length, known type, matching checksum), or -1.
func nextRecord(f *os.File, from, size int64) (int64, error) {
	const window = 1 << 20
	buf := make([]byte, window+headerSize+1)
	for base := from; base+headerSize+1 <= size; base += window {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-base)], base)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read log: %w", err)
		}
		for i := 0; i < min(n-headerSize, window); i++ {
			if i+headerSize >= n {
				break
			}
			l := int64(binary.LittleEndian.Uint32(buf[i:]))
			off := base + int64(i)
			if l == 0 || l > maxRecord || l > size-off-headerSize || !plausibleType(buf[i+headerSize]) {
				continue
			}
			payload := make([]byte, l)
			if _, err := f.ReadAt(payload, off+headerSize); err != nil {
				return 0, fmt.Errorf("read log: %w", err)
			}
			if crc32.Checksum(payload, castagnoli) == binary.LittleEndian.Uint32(buf[i+4:]) {
				return off, nil
			}
		}
	}
	return -1, nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
