package redis

import (
	"os"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// BenchmarkEntryCodec compresses the Falco payload of testdata as a stream
// entry is (S2) and as releases before did (S2 with the dictionary; zstd,
// the fastest level, with and without the same dictionary): ns/op is the
// CPU Append spends on it per alert, bytes the entry's size.
func BenchmarkEntryCodec(b *testing.B) {
	raw, err := os.ReadFile("testdata/falco_alert.json")
	if err != nil {
		b.Fatal(err)
	}
	zenc := func(opts ...zstd.EOption) func([]byte) []byte {
		e, err := zstd.NewWriter(nil, append([]zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { e.Close() })
		return func(p []byte) []byte { return e.EncodeAll(p, make([]byte, 0, len(p)/2)) }
	}
	for _, c := range []struct {
		name string
		f    func([]byte) []byte
	}{
		{"s2", func(p []byte) []byte { _, v := encodeEntry(p); return v }},
		{"s2-dict", func(p []byte) []byte { return sdict().Encode(nil, p) }},
		{"zstd-dict", zenc(zstd.WithEncoderDictRaw(zdictID, zdict))},
		{"zstd", zenc()},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for i := 0; i < b.N; i++ {
				n = len(c.f(raw))
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}
