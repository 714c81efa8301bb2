package redis

import (
	_ "embed"
	"sync"

	"github.com/klauspost/compress/zstd"
)

//go:generate go run gendict.go ../../../sensor/rules/testdata/falco_rules.yaml

// Stream entries hold the alert's JSON compressed with zstd and the
// dictionary zdict.txt (ID zdictID) in field "d": an alert alone is too
// small for zstd to find much to reuse, the dictionary gives it the
// vocabulary of Falco alerts (see gendict.go). Older entries may hold it
// compressed without a dictionary in field "z", or plain in field "a" (also
// used when compression does not shrink it). Redis memory per alert is the
// store's main cost.
const (
	fieldDict  = "d"
	fieldZstd  = "z"
	fieldPlain = "a"
)

// zdict is the raw dictionary of field "d"; it must never change (a new
// one needs a new field and ID).
//
//go:embed zdict.txt
var zdict []byte

const zdictID = 1

// The encoder and decoder are safe for concurrent EncodeAll/DecodeAll and
// costly to build, so one of each serves the process. Frames carry no
// checksum: Redis keeps its own (RDB and AOF), and 4 bytes is 1% of an
// entry.
var (
	zenc = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), zstd.WithEncoderDictRaw(zdictID, zdict))
		if err != nil {
			panic(err) // only on invalid options
		}
		return e
	})
	zdec = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<20),
			zstd.WithDecoderDictRaw(zdictID, zdict))
		if err != nil {
			panic(err) // only on invalid options
		}
		return d
	})
)

func compress(body []byte) []byte { return zenc().EncodeAll(body, make([]byte, 0, len(body)/2)) }

// entryJSON returns the alert JSON of a stream entry.
func entryJSON(values map[string]any) ([]byte, bool) {
	for _, f := range []string{fieldDict, fieldZstd} {
		if z, ok := values[f].(string); ok {
			b, err := zdec().DecodeAll([]byte(z), nil)
			return b, err == nil
		}
	}
	if a, ok := values[fieldPlain].(string); ok {
		return []byte(a), true
	}
	return nil, false
}
