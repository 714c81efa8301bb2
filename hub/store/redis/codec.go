package redis

import (
	_ "embed"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

//go:generate go run gendict.go ../../../sensor/rules/testdata/falco_rules.yaml

// Stream entries hold the alert's JSON compressed as an S2 block with the
// dictionary zdict.txt in field "c": an alert alone is too small for a
// compressor to find much to reuse, the dictionary gives it the vocabulary
// of Falco alerts (see gendict.go). S2 rather than zstd because Append pays
// for it on every alert: with the dictionary S2 takes about a tenth of
// zstd's CPU (zstd copies its 256 KiB dictionary tables into the encoder
// per alert) for about 15 % more bytes (BenchmarkEntryCodec). Field "b"
// holds the JSON plain, when compression does not shrink it. Redis memory
// per alert is the store's main cost.
//
// The field also says how the alert was counted in the per-minute
// counters, which retention must undo: "c" and "b" entries in one
// combined field (counterKey), older ones per dimension (counterFields):
// "s" (S2, as "c"), "d" (zstd with the same dictionary, ID zdictID), "z"
// (zstd alone) and "a" (plain).
const (
	fieldS2   = "c"
	fieldJSON = "b"

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
	if z := sdict().Encode(nil, body); len(z) < len(body) {
		return fieldS2, z
	}
	return fieldJSON, body
}

// countedPerDimension reports whether an entry's alert was counted per
// dimension (entries older than the combined counter field).
func countedPerDimension(values map[string]any) bool {
	_, c := values[fieldS2]
	_, b := values[fieldJSON]
	return !c && !b
}

// entryJSON returns the alert JSON of a stream entry.
func entryJSON(values map[string]any) ([]byte, bool) {
	for _, f := range []string{fieldS2, fieldS2Dims} {
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
