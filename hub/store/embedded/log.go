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

// errTorn marks the end of the readable log.
var errTorn = errors.New("torn record")

// readLog calls fn for every intact record and returns the offset just past
// the last one. A torn or corrupt record ends the log (err == nil, good <
// file size); fn's own errors are returned as is.
func readLog(f *os.File, fn func(typ byte, body []byte) error) (good int64, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("seek log: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [headerSize]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return good, nil
			}
			return good, fmt.Errorf("read log: %w", err)
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n == 0 || n > maxRecord {
			return good, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return good, nil
			}
			return good, fmt.Errorf("read log: %w", err)
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return good, nil
		}
		if err := fn(payload[0], payload[1:]); err != nil {
			return good, err
		}
		good += int64(headerSize) + int64(n)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
