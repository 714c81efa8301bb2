package api

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/saker-sec/saker/hub/ingest"
	"github.com/saker-sec/saker/hub/metrics"
	"github.com/saker-sec/saker/hub/store/embedded"
)

// BenchmarkFastIngest is the hub's own work on the ingestion port, without
// the network: the fasthttp handler of POST / (one alert) and of POST
// /api/v1/events (100 alerts of NDJSON) over the embedded store, as the
// hub runs it (SAKER_FSYNC=interval). The payload is a Falco alert without
// a uuid, as Falco sends it. allocs/op and B/op are exact; ns/op is CPU
// time only on a quiet machine.
func BenchmarkFastIngest(b *testing.B) {
	raw, err := os.ReadFile("../ingest/testdata/falco/terminal_shell.json")
	if err != nil {
		b.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		b.Fatal(err)
	}
	delete(m, "uuid")
	one, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		body       []byte
		alerts     int
	}{
		{"one", "/", one, 1},
		{"batch100", "/api/v1/events", bytes.Repeat(append(one, '\n'), 100), 100},
	} {
		b.Run(c.name, func(b *testing.B) {
			st, err := embedded.Open(embedded.Options{Dir: b.TempDir(), Fsync: embedded.FsyncInterval})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			enr, err := ingest.NewEnricher(ingest.Options{})
			if err != nil {
				b.Fatal(err)
			}
			s := &Server{Store: st, Enricher: enr, Metrics: metrics.New(prometheus.NewRegistry()),
				BodyLimit: 1 << 20, BatchBodyLimit: 10 << 20, BatchMaxEvents: 10000}
			h := s.Fast(s.Handler()).Handler
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod(fasthttp.MethodPost)
				ctx.Request.SetRequestURI(c.path)
				ctx.Request.Header.SetContentType("application/json")
				ctx.Request.SetBody(c.body)
				h(&ctx)
				if code := ctx.Response.StatusCode(); code != fasthttp.StatusOK {
					b.Fatalf("status %d: %s", code, ctx.Response.Body())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.alerts), "ns/alert")
		})
	}
}
