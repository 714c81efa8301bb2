package redis

import (
	_ "embed"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

//go:generate go run gendict.go ../../../sensor/rules/testdata/falco_rules.yaml

// Stream entries hold the alert's JSON compressed as an S2 block in field
// "n" (codec.go's encodeEntry), or plain in field "b" when compression
// does not shrink it. Entries written before hold it S2-compressed with
// the dictionary zdict.txt in field "c": the dictionary gives an alert the
// vocabulary of Falco alerts and saves about 330 bytes of Redis memory per
// alert, but S2 has no assembly encoder for it and zeroes a 64 KiB table
// per alert, which took 14 % of the hub's CPU at 50 connections (pprof
// under make bench-hub; BenchmarkEntryCodec: s2-dict against s2). Without
// it Redis holds about 1.1-1.2 times the payload's JSON per alert
// (BenchmarkMemoryPerAlert), within the 1.5 the store allows itself.
//
// The field also says how the alert was counted in the per-minute
// counters, which retention must undo: "n", "c" and "b" entries in one
// combined field (counterKey), older ones per dimension (counterFields):
// "s" (S2 with the dictionary, as "c"), "d" (zstd with the same
// dictionary, ID zdictID), "z" (zstd alone) and "a" (plain).
const (
	fieldS2     = "n"
	fieldS2Dict = "c"
	fieldJSON   = "b"

	fieldS2Dims = "s"
	fieldDict   = "d"
	fieldZstd   = "z"
	fieldPlain  = "a"
)

// zdict is the raw dictionary of fields "c", "s" and "d"; it must never change
// (a new one needs a new field and ID).
//
//go:embed zdict.txt
var zdict []byte

const zdictID = 1

// maxEntryJSON bounds the JSON an entry may decode to, so a damaged entry
// cannot make a read allocate without limit.
const maxEntryJSON = 64 << 20

// sdict is the S2 form of zdict. Its repeat offset (the serialised
// dictionary's leading uvarint) is fixed at 0 rather than searched for by
// s2.MakeDict, so entries stay readable whatever a later version of the
// library would pick.
var sdict = sync.OnceValue(func() *s2.Dict {
	d := s2.NewDict(append([]byte{0}, zdict...))
	if d == nil {
		panic("redis store: zdict.txt is not a valid S2 dictionary") // only if the file shrank below 16 bytes or grew past 64 KiB
	}
	return d
})

// The zstd decoder reads the entries older releases wrote; it is safe for
// concurrent DecodeAll and costly to build, so one serves the process.
var zdec = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxEntryJSON),
		zstd.WithDecoderDictRaw(zdictID, zdict))
	if err != nil {
		panic(err) // only on invalid options
	}
	return d
})

// encodeEntry returns the stream entry field and value for an alert's JSON.
func encodeEntry(body []byte) (field string, value []byte) {
	return encodeEntryTo(nil, body)
}

// encodeEntryTo is encodeEntry compressing into dst when it has room.
func encodeEntryTo(dst, body []byte) (field string, value []byte) {
	if z := s2.Encode(dst, body); len(z) < len(body) {
		return fieldS2, z
	}
	return fieldJSON, body
}

// countedPerDimension reports whether an entry's alert was counted per
// dimension (entries older than the combined counter field).
func countedPerDimension(values map[string]any) bool {
	for _, f := range []string{fieldS2, fieldS2Dict, fieldJSON} {
		if _, ok := values[f]; ok {
			return false
		}
	}
	return true
}

// entryJSON returns the alert JSON of a stream entry.
func entryJSON(values map[string]any) ([]byte, bool) {
	if z, ok := values[fieldS2].(string); ok {
		if n, err := s2.DecodedLen([]byte(z)); err != nil || n > maxEntryJSON {
			return nil, false
		}
		b, err := s2.Decode(nil, []byte(z))
		return b, err == nil
	}
	for _, f := range []string{fieldS2Dict, fieldS2Dims} {
		z, ok := values[f].(string)
		if !ok {
			continue
		}
		if n, err := s2.DecodedLen([]byte(z)); err != nil || n > maxEntryJSON {
			return nil, false
		}
		b, err := sdict().Decode(nil, []byte(z))
		return b, err == nil
	}
	for _, f := range []string{fieldDict, fieldZstd} {
		if z, ok := values[f].(string); ok {
			b, err := zdec().DecodeAll([]byte(z), nil)
			return b, err == nil
		}
	}
	for _, f := range []string{fieldJSON, fieldPlain} {
		if a, ok := values[f].(string); ok {
			return []byte(a), true
		}
	}
	return nil, false
}

// maxPooledEntry bounds the compressed entries whose buffers are reused.
const maxPooledEntry = 64 << 10

// entryBufs reuses the buffers the stream entries are compressed into,
// once their script run has returned: a Falco alert's is about 1.3 KB, half
// of what an Append allocated.
type entryBufs struct{ p sync.Pool } // of *[]byte

func (e *entryBufs) get() *[]byte {
	if b, ok := e.p.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

func (e *entryBufs) put(b *[]byte) {
	if cap(*b) <= maxPooledEntry {
		e.p.Put(b)
	}
}
