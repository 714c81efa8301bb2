package embedded

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store/storetest"
)

// BenchmarkAppendWhileCompacting appends from 16 senders to a store whose
// disk limit (128 MiB) makes retention and compaction run again and again
// (64 MiB of retained alerts copied each time), and reports the appends'
// p99 and longest latency: what a compaction costs the senders.
func BenchmarkAppendWhileCompacting(b *testing.B) {
	s := openB(b, Options{Dir: b.TempDir(), MaxBytes: 128 << 20})
	a := sample("x")
	a.Output = strings.Repeat("o", 1000)
	enc, err := json.Marshal(&a)
	if err != nil {
		b.Fatal(err)
	}
	a.Encoded = enc
	var n atomic.Int64
	lat := storetest.AppendLatencies(b, s, func() []alert.Alert {
		x := a
		x.UUID = fmt.Sprint("u", n.Add(1))
		return []alert.Alert{x}
	})
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}
