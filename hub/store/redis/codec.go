package redis

import (
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Stream entries hold the alert's JSON compressed with zstd in field "z"
// (about half the bytes of a Falco payload: Redis memory per alert is the
// store's main cost), or plain in field "a" when compression does not
// shrink it (small alerts, and every entry written before compression).
const (
	fieldZstd  = "z"
	fieldPlain = "a"
)

// The encoder and decoder are safe for concurrent EncodeAll/DecodeAll and
// costly to build, so one of each serves the process.
var (
	zenc = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err) // only on invalid options
		}
		return e
	})
	zdec = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			panic(err) // only on invalid options
		}
		return d
	})
)

func compress(body []byte) []byte { return zenc().EncodeAll(body, make([]byte, 0, len(body)/2)) }

// entryJSON returns the alert JSON of a stream entry.
func entryJSON(values map[string]any) ([]byte, bool) {
	if z, ok := values[fieldZstd].(string); ok {
		b, err := zdec().DecodeAll([]byte(z), nil)
		return b, err == nil
	}
	if a, ok := values[fieldPlain].(string); ok {
		return []byte(a), true
	}
	return nil, false
}
